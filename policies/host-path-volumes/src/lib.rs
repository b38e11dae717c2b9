//! Pod Security Standards, Baseline, "HostPath Volumes" (policy version
//! v1.37): no entry of `spec.volumes` may have a `hostPath` source.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `hostPathVolumes` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for (index, volume) in pod.spec.volumes().enumerate() {
            if volume.source("hostPath").is_some() {
                violations.push(violation(
                    format!(
                        "hostPath volumes are forbidden: volume \"{}\"",
                        volume.name()
                    ),
                    pod.field(&format!("volumes/{index}/hostPath")),
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
