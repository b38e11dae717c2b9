//! Pod Security Standards, Restricted, "Running as Non-root" (policy version
//! v1.37): `securityContext.runAsNonRoot` must be `true` at pod level, or else
//! on every container, init container and ephemeral container; no container
//! and not the pod may set it to `false`. Not checked for pods that run in a
//! user namespace (`spec.hostUsers: false`), since policy version v1.35.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `runAsNonRoot` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

const MESSAGE: &str = "runAsNonRoot != true";

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        if pod.in_user_namespace() {
            continue;
        }
        let pod_value = pod.security_context().and_then(|sc| sc.run_as_non_root());
        if pod_value == Some(false) {
            violations.push(violation(
                [
                    MESSAGE,
                    ": pod must not set securityContext.runAsNonRoot=false",
                ]
                .concat(),
                pod.field("securityContext/runAsNonRoot"),
            ));
        }
        for c in pod.containers() {
            let message = match c.security_context().and_then(|sc| sc.run_as_non_root()) {
                Some(false) => [
                    MESSAGE,
                    ": ",
                    &c.describe(),
                    " must not set securityContext.runAsNonRoot=false",
                ]
                .concat(),
                None if pod_value != Some(true) => [
                    MESSAGE,
                    ": pod or ",
                    &c.describe(),
                    " must set securityContext.runAsNonRoot=true",
                ]
                .concat(),
                _ => continue,
            };
            violations.push(violation(message, c.field("securityContext/runAsNonRoot")));
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
