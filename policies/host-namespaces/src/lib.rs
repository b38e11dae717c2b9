//! Pod Security Standards, Baseline, "Host Namespaces" (policy version
//! v1.37): `spec.hostNetwork`, `spec.hostPID` and `spec.hostIPC` must be unset
//! or `false`. Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `hostNamespaces` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let spec = pod.spec;
        for (field, value, namespace) in [
            ("hostNetwork", spec.host_network(), "network"),
            ("hostPID", spec.host_pid(), "PID"),
            ("hostIPC", spec.host_ipc(), "IPC"),
        ] {
            if value == Some(true) {
                violations.push(violation(
                    format!(
                        "host namespaces must not be shared: {field}=true shares the host's {namespace} namespace"
                    ),
                    pod.field(field),
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
