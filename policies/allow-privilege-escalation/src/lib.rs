//! Pod Security Standards, Restricted, "Privilege Escalation" (policy version
//! v1.37): every container, init container and ephemeral container must set
//! `securityContext.allowPrivilegeEscalation: false`. Linux-only: pods with
//! `spec.os.name: windows` are exempt (since policy version v1.25).
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `allowPrivilegeEscalation` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request
        .object
        .pod_specs()
        .into_iter()
        .filter(|pod| !pod.is_windows())
    {
        for c in pod.containers() {
            if c.security_context()
                .and_then(|sc| sc.allow_privilege_escalation)
                != Some(false)
            {
                violations.push(violation(
                    format!(
                        "allowPrivilegeEscalation != false: {} must set securityContext.allowPrivilegeEscalation=false",
                        c.describe()
                    ),
                    format!("{}/securityContext/allowPrivilegeEscalation", c.pointer),
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
