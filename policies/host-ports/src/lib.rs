//! Pod Security Standards, Baseline, "Host Ports" (policy version v1.37):
//! `ports[*].hostPort` of every container, init container and ephemeral
//! container must be unset or `0`.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `hostPorts` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        c.container
            .ports()
            .enumerate()
            .filter_map(|(index, port)| {
                let host_port = port.host_port().filter(|p| *p != 0)?;
                Some(violation(
                    format!(
                        "host ports are forbidden: {} uses hostPort {host_port}",
                        c.describe()
                    ),
                    c.field(&format!("ports/{index}/hostPort")),
                ))
            })
            .collect::<Vec<_>>()
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
