//! Mutating. Pod Security Standards, Restricted, "Capabilities": containers
//! must drop `ALL`. For every container, init container and ephemeral
//! container of a Linux pod (not `spec.os.name: windows`) whose
//! `securityContext.capabilities.drop` lacks `ALL`, this policy answers with
//! an RFC 6902 patch that adds it, creating `securityContext`,
//! `capabilities` and `drop` as needed. It never denies.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.
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
            let base = c.field("securityContext");
            let operation = match c.security_context() {
                None => add(base, json!({"capabilities": {"drop": ["ALL"]}})),
                Some(sc) => match sc.capabilities() {
                    None => add(format!("{base}/capabilities"), json!({"drop": ["ALL"]})),
                    Some(caps) => match caps.drop() {
                        None => add(format!("{base}/capabilities/drop"), json!(["ALL"])),
                        Some(drop) if drop.contains("ALL") => continue,
                        Some(_) => add(format!("{base}/capabilities/drop/-"), json!("ALL")),
                    },
                },
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
