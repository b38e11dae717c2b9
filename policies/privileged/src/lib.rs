//! Pod Security Standards, Baseline, "Privileged Containers" (policy version
//! v1.37): `securityContext.privileged` of every container, init container and
//! ephemeral container must be unset or `false`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `privileged` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        (c.security_context().and_then(|sc| sc.privileged()) == Some(true)).then(|| {
            violation(
                [
                    "privileged containers must not set securityContext.privileged=true: ",
                    &c.describe(),
                ]
                .concat(),
                c.field("securityContext/privileged"),
            )
        })
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
