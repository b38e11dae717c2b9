//! Pod Security Standards, Baseline, "Host Probes / Lifecycle Hooks" (policy
//! version v1.34 and later): the `httpGet.host` and `tcpSocket.host` of the
//! liveness, readiness and startup probes and of the postStart and preStop
//! lifecycle handlers of every container, init container and ephemeral
//! container must be unset or empty (KEP-4940).
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `hostProbesAndHostLifecycle` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{Handler, NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        let container = c.container;
        let lifecycle = container.lifecycle();
        let handlers: [(&str, Option<Handler>); 5] = [
            ("livenessProbe", container.liveness_probe()),
            ("readinessProbe", container.readiness_probe()),
            ("startupProbe", container.startup_probe()),
            (
                "lifecycle/postStart",
                lifecycle.and_then(|l| l.post_start()),
            ),
            ("lifecycle/preStop", lifecycle.and_then(|l| l.pre_stop())),
        ];
        let mut violations = Vec::new();
        for (field, handler) in handlers {
            let Some(handler) = handler else { continue };
            for (action, host_action) in [
                ("httpGet", handler.http_get()),
                ("tcpSocket", handler.tcp_socket()),
            ] {
                let host = host_action.and_then(|a| a.host()).unwrap_or_default();
                if host.is_empty() {
                    continue;
                }
                violations.push(violation(
                    format!(
                        "probe or lifecycle host is forbidden: {} sets {}.{action}.host=\"{host}\"",
                        c.describe(),
                        field.replace('/', ".")
                    ),
                    c.field(&format!("{field}/{action}/host")),
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
