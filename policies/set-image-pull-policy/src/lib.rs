//! Mutating: sets `imagePullPolicy` to the policy in the settings (default
//! `IfNotPresent`) on every container, init container and ephemeral container
//! that leaves it unset, instead of the API server's default (`Always` for
//! `:latest` and untagged images, `IfNotPresent` otherwise). It never denies.
//! Source: <https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy>.
#![deny(unsafe_code)]

use serde::Deserialize;
use serde_json::json;
use wasm_validate_sdk::patch::{add, response};
use wasm_validate_sdk::{Object, Request, Response, export_policy};

/// Settings: `{"imagePullPolicy": "IfNotPresent"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Settings {
    #[serde(default = "default_policy")]
    image_pull_policy: String,
}

fn default_policy() -> String {
    "IfNotPresent".to_owned()
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let mut operations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod.containers() {
            if c.container.image_pull_policy().is_none() {
                operations.push(add(
                    c.field("imagePullPolicy"),
                    json!(request.settings.image_pull_policy),
                ));
            }
        }
    }
    response(operations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
