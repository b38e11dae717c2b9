//! Mutating. Pod Security Standards, Restricted, "Privilege Escalation":
//! sets `securityContext.allowPrivilegeEscalation: false` on every container,
//! init container and ephemeral container of a Linux pod (not
//! `spec.os.name: windows`) that leaves it unset, creating `securityContext`
//! as needed. Containers that are privileged or add `CAP_SYS_ADMIN` are left
//! alone, because the API server rejects `allowPrivilegeEscalation: false`
//! together with either. An explicit `true` is left alone too. It never denies.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>.
#![deny(unsafe_code)]

use serde_json::json;
use wasm_validate_sdk::patch::{add, response};
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut operations = Vec::new();
    for pod in request.object.pod_specs() {
        if pod.is_windows() {
            continue;
        }
        for c in pod.containers() {
            let operation = match c.security_context() {
                None => add(
                    c.field("securityContext"),
                    json!({"allowPrivilegeEscalation": false}),
                ),
                Some(sc) => {
                    let adds_sys_admin =
                        sc.capabilities()
                            .and_then(|caps| caps.add())
                            .is_some_and(|add| {
                                add.contains("SYS_ADMIN") || add.contains("CAP_SYS_ADMIN")
                            });
                    if sc.allow_privilege_escalation().is_some()
                        || sc.privileged() == Some(true)
                        || adds_sys_admin
                    {
                        continue;
                    }
                    add(
                        c.field("securityContext/allowPrivilegeEscalation"),
                        json!(false),
                    )
                }
            };
            operations.push(operation);
        }
    }
    response(operations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
