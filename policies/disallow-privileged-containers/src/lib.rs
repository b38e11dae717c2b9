//! Pod Security Standards, Baseline, "Privileged Containers": the
//! `securityContext.privileged` field of every container, init container and
//! ephemeral container must be unset or `false`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, Violation, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            let privileged = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.privileged);
            if privileged == Some(true) {
                violations.push(Violation {
                    message: format!(
                        "privileged containers must not set securityContext.privileged=true: {} \"{}\"",
                        c.kind.noun(),
                        c.container.name
                    ),
                    path: format!("{}/securityContext/privileged", c.pointer),
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
