//! The admission crate's integration tests, one test binary: a module per
//! topic.

mod cel;
mod gatekeeper;
mod replay;
mod reviews;
mod schema;

use serde_json::json;
use wasm_validate_builtin::Profile;
use wasm_validate_engine::{Engine, Limits};
use wasm_validate_pipeline::{ConfiguredPolicy, PolicySet};

/// The built-in policies of `profiles`, as `wasm-validate.yaml` would
/// choose them (those that need settings left out).
pub fn library(engine: &Engine, profiles: &[Profile]) -> PolicySet {
    PolicySet {
        policies: wasm_validate_builtin::select(profiles, |_| false)
            .into_iter()
            .map(|name| {
                let bytes = wasm_validate_builtin::get(name).unwrap();
                ConfiguredPolicy::new(engine.load(bytes, Limits::default()).unwrap(), json!({}))
            })
            .collect(),
        ..PolicySet::default()
    }
}

/// An AdmissionReview (`admission.k8s.io/v1`) of `request`, encoded as
/// the API server sends it.
pub fn review_body(request: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": request,
    }))
    .unwrap()
}
