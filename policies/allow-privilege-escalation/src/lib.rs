//! Pod Security Standards, Restricted, "Privilege Escalation" (policy version
//! v1.37): every container, init container and ephemeral container must set
//! `securityContext.allowPrivilegeEscalation: false`. Linux-only: pods with
//! `spec.os.name: windows` are exempt (since policy version v1.25).
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `allowPrivilegeEscalation` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|pod, c| {
        let escalation = c
            .security_context()
            .and_then(|sc| sc.allow_privilege_escalation());
        (!pod.is_windows() && escalation != Some(false)).then(|| {
            violation(
                [
                    "allowPrivilegeEscalation != false: ",
                    &c.describe(),
                    " must set securityContext.allowPrivilegeEscalation=false",
                ]
                .concat(),
                c.field("securityContext/allowPrivilegeEscalation"),
            )
        })
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
