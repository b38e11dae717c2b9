//! Pod Security Standards, Restricted, "Volume Types" (policy version v1.37):
//! every entry of `spec.volumes` must use one of the sources in [`ALLOWED`]
//! (`image` since Kubernetes v1.33). A volume that names no source at all is
//! what the API server defaults to `emptyDir`, and is allowed. Replaces
//! `host-path-volumes` in the restricted profile.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted>
//! and pod-security-admission's `restrictedVolumes` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{
    NoSettings, Object, Request, Response, escape_pointer_token, export_policy, violation,
};

/// The volume sources Restricted allows.
pub const ALLOWED: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for (index, volume) in pod.spec.volumes().enumerate() {
            for (source, _) in volume.sources() {
                if ALLOWED.contains(&source) {
                    continue;
                }
                violations.push(violation(
                    format!(
                        "restricted volume types: volume \"{}\" uses {source}; only {} volumes are allowed",
                        volume.name(),
                        ALLOWED.join(", ")
                    ),
                    pod.field(&format!("volumes/{index}/{}", escape_pointer_token(source))),
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
