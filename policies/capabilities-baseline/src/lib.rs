//! Pod Security Standards, Baseline, "Capabilities" (policy version v1.37):
//! `securityContext.capabilities.add` of every container, init container and
//! ephemeral container may hold only the default capabilities listed in
//! [`ALLOWED`] (compared exactly, so `CAP_SYS_ADMIN` or `chown` are not
//! allowed). Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `capabilities_baseline` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

/// The capabilities Baseline allows a container to add.
pub const ALLOWED: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            let added = c
                .security_context()
                .and_then(|sc| sc.capabilities())
                .and_then(|caps| caps.add());
            for (index, capability) in added.into_iter().flat_map(|a| a.iter()).enumerate() {
                if ALLOWED.contains(&capability) {
                    continue;
                }
                violations.push(violation(
                    format!(
                        "non-default capabilities must not be added: {} adds {}",
                        c.describe(),
                        serde_json::Value::from(capability)
                    ),
                    c.field(&format!("securityContext/capabilities/add/{index}")),
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
