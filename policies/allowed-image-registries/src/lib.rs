//! Every container, init container and ephemeral container image must start
//! with one of the prefixes in the settings. A reference is also compared in
//! its fully qualified form, as the container runtime resolves it: `nginx`
//! is `docker.io/library/nginx` and `bitnami/redis` is
//! `docker.io/bitnami/redis` (the first component is a registry only when it
//! contains `.` or `:` or is `localhost`).
//! Source: <https://kubernetes.io/docs/concepts/containers/images/#image-names>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{Object, Request, Response, export_policy, violation};

/// Settings: `{"registries": ["ghcr.io/acme/", ...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    registries: Vec<String>,
}

/// The fully qualified form of an image reference (registry included).
pub fn qualified(image: &str) -> String {
    let (first, rest) = match image.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (image, None),
    };
    match rest {
        Some(_) if first.contains('.') || first.contains(':') || first == "localhost" => {
            image.to_owned()
        }
        Some(_) => format!("docker.io/{image}"),
        None => format!("docker.io/library/{image}"),
    }
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let registries = &request.settings.registries;
    Response::from_violations(request.object.check_containers(|_, c| {
        let image = c.container.image()?;
        let full = qualified(image);
        let allowed = registries
            .iter()
            .any(|prefix| image.starts_with(prefix.as_str()) || full.starts_with(prefix.as_str()));
        (!allowed).then(|| {
            violation(
                format!(
                    "{} uses image \"{image}\", which is not from an allowed registry ({})",
                    c.describe(),
                    registries.join(", ")
                ),
                c.field("image"),
            )
        })
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);

#[cfg(test)]
mod tests {
    use super::qualified;

    #[test]
    fn short_names_resolve_to_docker_hub() {
        assert_eq!(qualified("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(qualified("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(qualified("ghcr.io/acme/app"), "ghcr.io/acme/app");
        assert_eq!(qualified("localhost/app"), "localhost/app");
        assert_eq!(qualified("registry:5000/app"), "registry:5000/app");
    }
}
