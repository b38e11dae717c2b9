//! Pod Security Standards, Baseline, "/proc Mount Type" (policy version
//! v1.37): `securityContext.procMount` of every container, init container and
//! ephemeral container must be unset or `Default`, except in pods that run in
//! a user namespace (`spec.hostUsers: false`), which Baseline relaxes since
//! policy version v1.35. Source:
//! <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `procMount` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::pss::non_default_proc_mounts;
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let violations = request
        .object
        .pod_specs()
        .iter()
        .filter(|pod| !pod.in_user_namespace())
        .flat_map(non_default_proc_mounts)
        .collect();
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
