//! Pod Security Standards, Baseline, "SELinux" (policy version v1.37):
//! `securityContext.seLinuxOptions` of the pod and of every container, init
//! container and ephemeral container: `type` must be unset, empty or one of
//! [`ALLOWED_TYPES`]; `user` and `role` must be unset or empty (`level` is
//! free). Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `seLinuxOptions` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, SeLinuxOptions, Violation};
use wasm_validate_sdk::{export_policy, violation};

/// The SELinux types Baseline allows besides an empty type.
pub const ALLOWED_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

fn check(options: SeLinuxOptions, who: &str, base: &str, violations: &mut Vec<Violation>) {
    let message = "custom SELinux options are forbidden";
    if let Some(t) = options.selinux_type()
        && !t.is_empty()
        && !ALLOWED_TYPES.contains(&t)
    {
        violations.push(violation(
            format!("{message}: {who} sets seLinuxOptions.type=\"{t}\""),
            format!("{base}/seLinuxOptions/type"),
        ));
    }
    for (field, value) in [("user", options.user()), ("role", options.role())] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            violations.push(violation(
                format!("{message}: {who} sets seLinuxOptions.{field}=\"{value}\""),
                format!("{base}/seLinuxOptions/{field}"),
            ));
        }
    }
}

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        if let Some(options) = pod.security_context().and_then(|sc| sc.se_linux_options()) {
            check(
                options,
                "pod",
                &pod.field("securityContext"),
                &mut violations,
            );
        }
        for c in pod.containers() {
            if let Some(options) = c.security_context().and_then(|sc| sc.se_linux_options()) {
                let base = c.field("securityContext");
                check(options, &c.describe(), &base, &mut violations);
            }
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
