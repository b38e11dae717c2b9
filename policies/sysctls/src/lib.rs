//! Pod Security Standards, Baseline, "Sysctls" (policy version v1.37): every
//! `spec.securityContext.sysctls[*].name` must be one of the safe sysctls in
//! [`ALLOWED`] (the set of policy version v1.37, which added
//! `net.ipv4.tcp_slow_start_after_idle` and `net.ipv4.tcp_notsent_lowat`).
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `sysctls` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

/// The sysctls Baseline allows.
pub const ALLOWED: [&str; 14] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let sysctls = pod
            .security_context()
            .into_iter()
            .flat_map(|sc| sc.sysctls());
        for (index, sysctl) in sysctls.enumerate() {
            if !ALLOWED.contains(&sysctl.name()) {
                violations.push(violation(
                    format!(
                        "forbidden sysctls: \"{}\" is not a safe sysctl",
                        sysctl.name()
                    ),
                    pod.field(&format!("securityContext/sysctls/{index}/name")),
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
