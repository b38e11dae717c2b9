//! Mutating: adds each label of the settings to `metadata.labels` of every
//! resource that does not have it; a label that is already set keeps its
//! value. It never denies.
//! Source: <https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>.
#![deny(unsafe_code)]

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use wasm_validate_sdk::patch::{add, response};
use wasm_validate_sdk::{Object, Request, Response, escape_pointer_token, export_policy};

/// Settings: `{"labels": {"key": "value", ...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    labels: BTreeMap<String, String>,
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let wanted = &request.settings.labels;
    let metadata = request.object.metadata();
    if !metadata.is_present() {
        return Response::error("the resource has no metadata to label");
    }
    let labels = metadata.labels();
    let operations = match labels.is_present() {
        false => vec![add("/metadata/labels", json!(wanted))],
        true => wanted
            .iter()
            .filter(|(key, _)| !labels.contains_key(key))
            .map(|(key, value)| {
                add(
                    ["/metadata/labels/", &escape_pointer_token(key)].concat(),
                    json!(value),
                )
            })
            .collect(),
    };
    response(operations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
