//! Pod Security Standards, Baseline, "Seccomp" (policy version v1.37):
//! `securityContext.seccompProfile.type` of the pod and of every container,
//! init container and ephemeral container must be unset, `RuntimeDefault` or
//! `Localhost` (so never `Unconfined`). The seccomp annotations are not part
//! of the standard since policy version v1.19 and are not read.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `seccompProfile_baseline` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::pss::seccomp_type_allowed;
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

const MESSAGE: &str = "seccomp profile must not be Unconfined";

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let pod_profile = pod.security_context().and_then(|sc| sc.seccomp_profile());
        if let Some(profile) = pod_profile.filter(|p| !seccomp_type_allowed(p.profile_type())) {
            violations.push(violation(
                [
                    MESSAGE,
                    ": pod must not set securityContext.seccompProfile.type to \"",
                    profile.profile_type(),
                    "\"",
                ]
                .concat(),
                pod.field("securityContext/seccompProfile/type"),
            ));
        }
        for c in pod.containers() {
            let profile = c.security_context().and_then(|sc| sc.seccomp_profile());
            if let Some(profile) = profile.filter(|p| !seccomp_type_allowed(p.profile_type())) {
                violations.push(violation(
                    [
                        MESSAGE,
                        ": ",
                        &c.describe(),
                        " must not set securityContext.seccompProfile.type to \"",
                        profile.profile_type(),
                        "\"",
                    ]
                    .concat(),
                    c.field("securityContext/seccompProfile/type"),
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
