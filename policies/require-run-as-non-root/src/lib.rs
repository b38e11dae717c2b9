//! Pod Security Standards, Restricted, "Running as Non-root": the pod must set
//! `spec.securityContext.runAsNonRoot=true`, or every container must set
//! `securityContext.runAsNonRoot=true`; no container may set it to `false`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, Violation, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let pod_level = pod
            .spec
            .security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root);
        if pod_level == Some(false) {
            violations.push(Violation {
                message: "pod must not set securityContext.runAsNonRoot=false".to_owned(),
                path: pod.field("securityContext/runAsNonRoot"),
            });
        }
        for c in pod.containers() {
            let own = c
                .container
                .security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root);
            let message = match (own, pod_level) {
                (Some(false), _) => "must not set securityContext.runAsNonRoot=false",
                (None, None | Some(false)) => {
                    "must set securityContext.runAsNonRoot=true (or the pod must set it)"
                }
                _ => continue,
            };
            violations.push(Violation {
                message: format!("{} \"{}\" {message}", c.kind.noun(), c.container.name),
                path: format!("{}/securityContext/runAsNonRoot", c.pointer),
            });
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
