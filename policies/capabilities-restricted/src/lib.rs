//! Pod Security Standards, Restricted, "Capabilities" (policy version v1.37):
//! every container, init container and ephemeral container must list `ALL`
//! in `securityContext.capabilities.drop` and may add only
//! `NET_BIND_SERVICE`. Linux-only: pods with `spec.os.name: windows` are
//! exempt (since policy version v1.25). Replaces `capabilities-baseline` in
//! the restricted profile.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `capabilities_restricted` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|pod, c| {
        let mut violations = Vec::new();
        if pod.is_windows() {
            return violations;
        }
        let caps = c.security_context().and_then(|sc| sc.capabilities());
        if !caps
            .and_then(|caps| caps.drop())
            .is_some_and(|drop| drop.contains("ALL"))
        {
            violations.push(violation(
                [
                    "unrestricted capabilities: ",
                    &c.describe(),
                    " must set securityContext.capabilities.drop=[\"ALL\"]",
                ]
                .concat(),
                c.field("securityContext/capabilities/drop"),
            ));
        }
        let add = caps.and_then(|caps| caps.add());
        for (index, capability) in add.into_iter().flat_map(|a| a.iter()).enumerate() {
            if capability != "NET_BIND_SERVICE" {
                violations.push(violation(
                    [
                        "unrestricted capabilities: ",
                        &c.describe(),
                        " must not include \"",
                        capability,
                        "\" in securityContext.capabilities.add (only NET_BIND_SERVICE)",
                    ]
                    .concat(),
                    c.field(&format!("securityContext/capabilities/add/{index}")),
                ));
            }
        }
        violations
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
