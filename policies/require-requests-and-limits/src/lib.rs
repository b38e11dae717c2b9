//! Every container and init container must set `resources.requests` and
//! `resources.limits` for each resource in the settings (default `cpu` and
//! `memory`); ephemeral containers cannot set resources and are skipped.
//! Source: <https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{
    ContainerKind, Object, Request, Response, escape_pointer_token, export_policy, violation,
};

/// Settings: `{"resources": ["cpu", "memory"]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_resources")]
    resources: Vec<String>,
}

fn default_resources() -> Vec<String> {
    vec!["cpu".to_owned(), "memory".to_owned()]
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        let mut violations = Vec::new();
        if c.kind == ContainerKind::Ephemeral {
            return violations;
        }
        let resources = c.container.resources();
        for (field, present) in [
            ("requests", resources.and_then(|r| r.requests())),
            ("limits", resources.and_then(|r| r.limits())),
        ] {
            for resource in &request.settings.resources {
                if present.is_some_and(|m| m.contains_key(resource)) {
                    continue;
                }
                violations.push(violation(
                    [&c.describe(), " must set resources.", field, ".", resource].concat(),
                    c.field(&["resources/", field, "/", &escape_pointer_token(resource)].concat()),
                ));
            }
        }
        violations
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
