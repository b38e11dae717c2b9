//! Pod Security Standards, Baseline, "HostProcess" (policy version v1.37):
//! `spec.securityContext.windowsOptions.hostProcess` and the same field of
//! every container, init container and ephemeral container must be unset or
//! `false`. Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `windowsHostProcess` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

const MESSAGE: &str = "HostProcess containers are forbidden: must not set securityContext.windowsOptions.hostProcess=true";

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let pod_level = pod.security_context().and_then(|sc| sc.windows_options());
        if pod_level.and_then(|w| w.host_process()) == Some(true) {
            violations.push(violation(
                [MESSAGE, ": pod"].concat(),
                pod.field("securityContext/windowsOptions/hostProcess"),
            ));
        }
        for c in pod.containers() {
            let options = c.security_context().and_then(|sc| sc.windows_options());
            if options.and_then(|w| w.host_process()) == Some(true) {
                violations.push(violation(
                    [MESSAGE, ": ", &c.describe()].concat(),
                    c.field("securityContext/windowsOptions/hostProcess"),
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
