//! Every resource must carry each label in the settings in `metadata.labels`;
//! when a label has a `pattern`, its whole value must match that regular
//! expression (regex-lite syntax, a subset of Rust's `regex`).
//! Source: <https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{
    Object, Request, Response, escape_pointer_token, export_policy, violation,
};

/// Settings: `{"labels": [{"key": "team", "pattern": "^[a-z-]+$"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    labels: Vec<Required>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Required {
    key: String,
    pattern: Option<String>,
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let labels = request.object.metadata().labels();
    let mut violations = Vec::new();
    for required in &request.settings.labels {
        let path = format!("/metadata/labels/{}", escape_pointer_token(&required.key));
        let Some(value) = labels.get(&required.key) else {
            violations.push(violation(
                format!("metadata.labels must contain \"{}\"", required.key),
                path,
            ));
            continue;
        };
        let Some(pattern) = required.pattern.as_deref() else {
            continue;
        };
        let anchored = format!("^(?:{pattern})$");
        let regex = match regex_lite::Regex::new(&anchored) {
            Ok(regex) => regex,
            Err(error) => {
                return Response::error(format!(
                    "settings: label \"{}\": invalid pattern {pattern:?}: {error}",
                    required.key
                ));
            }
        };
        if !regex.is_match(value) {
            violations.push(violation(
                format!(
                    "label \"{}\" has the value \"{value}\", which does not match the pattern {pattern:?}",
                    required.key
                ),
                path,
            ));
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
