//! Every built-in policy, run as Wasm through the engine on the fixtures in
//! `testdata/fixtures`, snapshot-tested with insta (one snapshot per policy).

use std::path::PathBuf;

use serde_json::{Value, json};
use wasm_validate_engine::{Engine, Limits};

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document).unwrap();
            let label = format!(
                "{} {}/{}",
                file.file_name().unwrap().to_string_lossy(),
                value["kind"].as_str().unwrap(),
                value["metadata"]["name"].as_str().unwrap()
            );
            out.push((label, value));
        }
    }
    out
}

#[test]
fn metadata_names_match_folders() {
    let engine = Engine::default();
    assert_eq!(wasm_validate_builtin::policies().len(), 6);
    for (name, bytes) in wasm_validate_builtin::policies() {
        let policy = engine.load(bytes, Limits::default()).unwrap();
        assert_eq!(policy.name(), *name);
        assert!(!policy.metadata().description.is_empty());
    }
}

#[test]
fn built_in_policies_on_fixtures() {
    let engine = Engine::default();
    let fixtures = fixtures();
    for (name, bytes) in wasm_validate_builtin::policies() {
        let policy = engine.load(bytes, Limits::default()).unwrap();
        let mut results = std::collections::BTreeMap::new();
        for (label, object) in &fixtures {
            let applies = policy.metadata().applies_to(
                object["apiVersion"].as_str().unwrap(),
                object["kind"].as_str().unwrap(),
            );
            let entry = if applies {
                let request = json!({"operation": "CREATE", "settings": {}, "object": object});
                let evaluation = engine
                    .evaluate(&policy, &serde_json::to_vec(&request).unwrap())
                    .unwrap_or_else(|e| panic!("{name} on {label}: {e}"));
                serde_json::to_value(&evaluation.response).unwrap()
            } else {
                json!("not applicable")
            };
            results.insert(label.clone(), entry);
        }
        insta::assert_json_snapshot!(*name, results);
    }
}
