//! Services must not use the types in the settings (default `NodePort` and
//! `LoadBalancer`), which publish a workload outside the cluster.
//! Source: <https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{Object, Request, Response, export_policy, violation};

/// Settings: `{"types": ["NodePort", "LoadBalancer"]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_types")]
    types: Vec<String>,
}

fn default_types() -> Vec<String> {
    vec!["NodePort".to_owned(), "LoadBalancer".to_owned()]
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    // `spec.type`; the API server defaults it to `ClusterIP`.
    let service_type = request
        .object
        .value()
        .get("spec")
        .and_then(|spec| spec.str_field("type"))
        .unwrap_or("ClusterIP");
    if request.settings.types.iter().any(|t| t == service_type) {
        return Response::from_violations(vec![violation(
            format!(
                "Services of type {service_type} are not allowed (forbidden types: {})",
                request.settings.types.join(", ")
            ),
            "/spec/type",
        )]);
    }
    Response::allow()
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
