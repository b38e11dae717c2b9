//! Images must be pinned: an image with no tag (which means `latest`) or with
//! the tag `latest` is denied unless it names a digest (`@sha256:...`).
//! Image reference grammar: <https://kubernetes.io/docs/concepts/containers/images/#image-names>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

/// The tag of an image reference, if any: the text after the last `:` that
/// follows the last `/` (a `:` before it belongs to a registry port), with
/// any `@digest` removed.
fn tag(image: &str) -> Option<&str> {
    let name = image.split_once('@').map_or(image, |(name, _)| name);
    let last_component = name.rsplit_once('/').map_or(name, |(_, last)| last);
    last_component.rsplit_once(':').map(|(_, tag)| tag)
}

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        let image = c.container.image()?;
        if image.contains('@') && tag(image) != Some("latest") {
            return None;
        }
        let problem = match tag(image) {
            None => "has no tag (which means 'latest')",
            Some("latest") => "uses the 'latest' tag",
            Some(_) => return None,
        };
        Some(violation(
            [
                &c.describe(),
                ": image \"",
                image,
                "\" ",
                problem,
                "; pin a version tag or a digest",
            ]
            .concat(),
            c.field("image"),
        ))
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);

#[cfg(test)]
mod tests {
    use super::tag;

    #[test]
    fn tags_are_found_after_the_last_slash() {
        assert_eq!(tag("nginx"), None);
        assert_eq!(tag("nginx:1.27"), Some("1.27"));
        assert_eq!(tag("registry:5000/team/app"), None);
        assert_eq!(tag("registry:5000/team/app:latest"), Some("latest"));
        assert_eq!(tag("quay.io/x/y@sha256:abc"), None);
        assert_eq!(tag("quay.io/x/y:v1@sha256:abc"), Some("v1"));
    }
}
