//! Deployments and StatefulSets must set `spec.replicas` to at least the
//! minimum in the settings (default 2; an unset `replicas` means 1): with a
//! single replica, a PodDisruptionBudget either blocks every voluntary
//! eviction (node drains) or allows an outage.
//! Source: <https://kubernetes.io/docs/tasks/run-application/configure-pdb/>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{Object, Request, Response, export_policy, violation};

/// Settings: `{"minimum": 2}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_minimum")]
    minimum: i64,
}

fn default_minimum() -> i64 {
    2
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let minimum = request.settings.minimum;
    let replicas = request
        .object
        .spec()
        .and_then(|s| s.replicas())
        .unwrap_or(1);
    if replicas >= minimum {
        return Response::allow();
    }
    Response::from_violations(vec![violation(
        format!(
            "{} must run at least {minimum} replicas to allow a PodDisruptionBudget to evict one; spec.replicas is {replicas}",
            request.object.kind()
        ),
        "/spec/replicas",
    )])
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
