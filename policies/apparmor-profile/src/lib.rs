//! Pod Security Standards, Baseline, "AppArmor" (policy version v1.37):
//! `securityContext.appArmorProfile.type` of the pod and of every container,
//! init container and ephemeral container must be unset, `RuntimeDefault` or
//! `Localhost`; the pod's annotations
//! `container.apparmor.security.beta.kubernetes.io/<container>` must be empty,
//! `runtime/default` or `localhost/<profile>`. For workloads the pod's
//! annotations are the pod template's.
//! Source: <https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline>
//! and pod-security-admission's `appArmorProfile` check.
#![deny(unsafe_code)]

use wasm_validate_sdk::{
    AppArmorProfile, NoSettings, Object, Request, Response, escape_pointer_token, export_policy,
    violation,
};

const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
const MESSAGE: &str = "forbidden AppArmor profile: the profile must be RuntimeDefault or Localhost";

fn allowed_type(profile: &AppArmorProfile) -> bool {
    matches!(profile.profile_type(), "RuntimeDefault" | "Localhost")
}

fn allowed_annotation(value: &str) -> bool {
    value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")
}

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        let mut annotations: Vec<_> = pod.metadata.annotations().iter().collect();
        annotations.sort_unstable();
        for (key, value) in annotations {
            if key.starts_with(ANNOTATION_PREFIX) && !allowed_annotation(value) {
                violations.push(violation(
                    format!("{MESSAGE}: annotation {key}=\"{value}\""),
                    format!(
                        "{}/annotations/{}",
                        pod.metadata_pointer,
                        escape_pointer_token(key)
                    ),
                ));
            }
        }
        let pod_profile = pod.security_context().and_then(|sc| sc.app_armor_profile());
        if let Some(profile) = pod_profile.filter(|p| !allowed_type(p)) {
            violations.push(violation(
                format!(
                    "{MESSAGE}: pod sets securityContext.appArmorProfile.type=\"{}\"",
                    profile.profile_type()
                ),
                pod.field("securityContext/appArmorProfile/type"),
            ));
        }
        for c in pod.containers() {
            let profile = c.security_context().and_then(|sc| sc.app_armor_profile());
            if let Some(profile) = profile.filter(|p| !allowed_type(p)) {
                violations.push(violation(
                    format!(
                        "{MESSAGE}: {} sets securityContext.appArmorProfile.type=\"{}\"",
                        c.describe(),
                        profile.profile_type()
                    ),
                    c.field("securityContext/appArmorProfile/type"),
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
