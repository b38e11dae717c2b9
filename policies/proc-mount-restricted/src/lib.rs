//! Pod Security Standards, Restricted, "/proc Mount Type" (policy version
//! v1.37): `securityContext.procMount` of every container, init container and
//! ephemeral container must be unset or `Default`, also in pods with
//! `spec.hostUsers: false`. Replaces `proc-mount` in the restricted profile.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `procMount_restricted` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::pss::non_default_proc_mounts;
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let violations = request
        .object
        .pod_specs()
        .iter()
        .flat_map(non_default_proc_mounts)
        .collect();
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
