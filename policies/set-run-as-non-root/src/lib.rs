//! Mutating. Pod Security Standards, Restricted, "Running as Non-root": sets
//! `spec.securityContext.runAsNonRoot: true` on pods that leave it unset and
//! have a container that does not set it either. Pods are left alone when
//! they run in a user namespace (`hostUsers: false`, where the control does
//! not apply), or when the pod or a container sets `runAsUser: 0` or
//! `runAsNonRoot: false`: those pods ask to run as root, and forcing
//! `runAsNonRoot` would only stop them from starting; the validating policies
//! report them. The kubelet refuses to start a container whose image runs as
//! root under `runAsNonRoot: true`, so this fix assumes images that declare a
//! non-root user. It never denies.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>.
#![deny(unsafe_code)]

use serde_json::json;
use wasm_validate_sdk::patch::{add, response};
use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut operations = Vec::new();
    for pod in request.object.pod_specs() {
        let pod_sc = pod.security_context();
        if pod.in_user_namespace()
            || pod_sc
                .is_some_and(|sc| sc.run_as_non_root().is_some() || sc.run_as_user() == Some(0))
        {
            continue;
        }
        let mut needed = false;
        let mut asks_for_root = false;
        for c in pod.containers() {
            let sc = c.security_context();
            match sc.and_then(|sc| sc.run_as_non_root()) {
                Some(false) => asks_for_root = true,
                Some(true) => {}
                None => needed = true,
            }
            asks_for_root |= sc.and_then(|sc| sc.run_as_user()) == Some(0);
        }
        if !needed || asks_for_root {
            continue;
        }
        operations.push(match pod_sc {
            None => add(pod.field("securityContext"), json!({"runAsNonRoot": true})),
            Some(_) => add(pod.field("securityContext/runAsNonRoot"), json!(true)),
        });
    }
    response(operations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
