//! Mutating. Pod Security Standards, Restricted, "Seccomp": sets
//! `spec.securityContext.seccompProfile.type: RuntimeDefault` on every Linux
//! pod (not `spec.os.name: windows`) that sets no pod-level seccomp profile,
//! creating `securityContext` as needed. A pod-level or container-level
//! profile that is already set is left alone (an explicit `Unconfined` is a
//! decision the validating policies report). It never denies.
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
        let profile = json!({"type": "RuntimeDefault"});
        match pod.security_context() {
            None => operations.push(add(
                pod.field("securityContext"),
                json!({"seccompProfile": profile}),
            )),
            Some(sc) if sc.seccomp_profile().is_none() => {
                operations.push(add(pod.field("securityContext/seccompProfile"), profile))
            }
            Some(_) => {}
        }
    }
    response(operations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
