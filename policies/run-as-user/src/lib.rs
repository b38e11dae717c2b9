//! Pod Security Standards, Restricted, "Running as Non-root user" (policy
//! version v1.37): `securityContext.runAsUser` of the pod and of every
//! container, init container and ephemeral container must not be `0`.
//! Not checked for pods that run in a user namespace (`spec.hostUsers:
//! false`), since policy version v1.35.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `runAsUser` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

const MESSAGE: &str = "runAsUser=0: containers must not run as the root user";

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        if !pod.in_user_namespace()
            && pod.security_context().and_then(|sc| sc.run_as_user()) == Some(0)
        {
            violations.push(violation(
                [MESSAGE, ": pod must not set securityContext.runAsUser=0"].concat(),
                pod.field("securityContext/runAsUser"),
            ));
        }
    }
    violations.extend(request.object.check_containers(|pod, c| {
        let root = c.security_context().and_then(|sc| sc.run_as_user()) == Some(0);
        (root && !pod.in_user_namespace()).then(|| {
            violation(
                [
                    MESSAGE,
                    ": ",
                    &c.describe(),
                    " must not set securityContext.runAsUser=0",
                ]
                .concat(),
                c.field("securityContext/runAsUser"),
            )
        })
    }));
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
