//! Pod Security Standards, Baseline, "Privileged Containers" (policy version
//! v1.37): `securityContext.privileged` of every container, init container and
//! ephemeral container must be unset or `false`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `privileged` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            if c.security_context().and_then(|sc| sc.privileged) == Some(true) {
                violations.push(violation(
                    format!(
                        "privileged containers must not set securityContext.privileged=true: {}",
                        c.describe()
                    ),
                    format!("{}/securityContext/privileged", c.pointer),
                ));
            }
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
