//! Pod Security Standards, Restricted, "Seccomp" (policy version v1.37):
//! `securityContext.seccompProfile.type` must be `RuntimeDefault` or
//! `Localhost`, set at pod level or else on every container, init container
//! and ephemeral container; a pod or container that sets any other type is
//! denied. Linux-only: pods with `spec.os.name: windows` are exempt (since
//! policy version v1.25). Replaces `seccomp-profile-baseline` in the
//! restricted profile.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `seccompProfile_restricted` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::pss::seccomp_type_allowed;
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

const MESSAGE: &str = "seccompProfile: the seccomp profile must be RuntimeDefault or Localhost";

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        if pod.is_windows() {
            continue;
        }
        let pod_profile = pod.security_context().and_then(|sc| sc.seccomp_profile());
        let pod_allowed = pod_profile.is_some_and(|p| seccomp_type_allowed(p.profile_type()));
        if let Some(profile) = pod_profile.filter(|_| !pod_allowed) {
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
            let message = match c.security_context().and_then(|sc| sc.seccomp_profile()) {
                Some(p) if !seccomp_type_allowed(p.profile_type()) => [
                    MESSAGE,
                    ": ",
                    &c.describe(),
                    " must not set securityContext.seccompProfile.type to \"",
                    p.profile_type(),
                    "\"",
                ]
                .concat(),
                None if !pod_allowed => [
                    MESSAGE,
                    ": pod or ",
                    &c.describe(),
                    " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                ]
                .concat(),
                _ => continue,
            };
            violations.push(violation(
                message,
                c.field("securityContext/seccompProfile/type"),
            ));
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
