//! Pod Security Standards, Baseline, "Host Ports" (policy version v1.37):
//! `ports[*].hostPort` of every container, init container and ephemeral
//! container must be unset or `0`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `hostPorts` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            for (index, port) in c.container.ports.iter().enumerate() {
                let Some(host_port) = port.host_port.filter(|p| *p != 0) else {
                    continue;
                };
                violations.push(violation(
                    format!(
                        "host ports are forbidden: {} uses hostPort {host_port}",
                        c.describe()
                    ),
                    format!("{}/ports/{index}/hostPort", c.pointer),
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
