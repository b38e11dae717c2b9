//! Pod Security Standards, Baseline, "Host Namespaces": `spec.hostNetwork`,
//! `spec.hostPID` and `spec.hostIPC` must be unset or `false`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, Violation, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let fields = [
            ("hostNetwork", pod.spec.host_network),
            ("hostPID", pod.spec.host_pid),
            ("hostIPC", pod.spec.host_ipc),
        ];
        for (field, value) in fields {
            if value == Some(true) {
                violations.push(Violation {
                    message: format!("host namespaces must not be shared: {field}=true"),
                    path: pod.field(field),
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
