//! A pod that runs as the `default` ServiceAccount (no `serviceAccountName`,
//! or `default`) must set `spec.automountServiceAccountToken: false`: the
//! default account exists in every namespace, and its token is rarely needed.
//! Source: <https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#opt-out-of-api-credential-automounting>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let spec = pod.spec;
        let account = spec
            .service_account_name()
            .or(spec.service_account())
            .filter(|name| !name.is_empty())
            .unwrap_or("default");
        if account == "default" && spec.automount_service_account_token() != Some(false) {
            violations.push(violation(
                "pods that run as the default ServiceAccount must set automountServiceAccountToken=false",
                pod.field("automountServiceAccountToken"),
            ));
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
