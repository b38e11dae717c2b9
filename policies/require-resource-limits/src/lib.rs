//! Every container and init container must set `resources.limits.cpu` and
//! `resources.limits.memory` (ephemeral containers cannot set resources).
//! Source: <https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{
    ContainerKind, NoSettings, Object, Request, Response, Violation, export_policy,
};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            if c.kind == ContainerKind::Ephemeral {
                continue;
            }
            let limits = c
                .container
                .resources
                .as_ref()
                .and_then(|r| r.limits.as_ref());
            for resource in ["cpu", "memory"] {
                if limits.is_some_and(|l| l.contains_key(resource)) {
                    continue;
                }
                violations.push(Violation {
                    message: format!(
                        "{} \"{}\" must set resources.limits.{resource}",
                        c.kind.noun(),
                        c.container.name
                    ),
                    path: format!("{}/resources/limits/{resource}", c.pointer),
                });
            }
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
