//! Every container, init container and ephemeral container must set
//! `securityContext.readOnlyRootFilesystem: true`, so that a compromised
//! process cannot change the image's files.
//! Source: <https://kubernetes.io/docs/tasks/configure-pod-container/security-context/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            if c.security_context()
                .and_then(|sc| sc.read_only_root_filesystem)
                != Some(true)
            {
                violations.push(violation(
                    format!(
                        "{} must set securityContext.readOnlyRootFilesystem=true",
                        c.describe()
                    ),
                    format!("{}/securityContext/readOnlyRootFilesystem", c.pointer),
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
