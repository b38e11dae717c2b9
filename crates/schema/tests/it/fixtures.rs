//! `testdata/schema/*.yaml`, in the style of kubectl-validate's test
//! cases: each document states above itself what the API server answers,
//! one `# error: MESSAGE` comment per problem (the message exactly), or
//! nothing when the document is valid. `# warning: MESSAGE` lines state the
//! warnings. A file may say `# kubernetes-version: 1.33` on its first line;
//! its CRDs are read before its documents are checked, as a chart that
//! ships its CRDs is.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wasm_validate_schema::{DEFAULT_VERSION, Schemas};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/schema")
}

struct Document {
    line: usize,
    errors: Vec<String>,
    warnings: Vec<String>,
    object: Value,
}

fn documents(text: &str) -> Vec<Document> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut chunk = String::new();
    let mut flush = |chunk: &mut String, start: usize| {
        let errors = chunk
            .lines()
            .filter_map(|l| l.strip_prefix("# error: "))
            .map(str::to_owned)
            .collect();
        let warnings = chunk
            .lines()
            .filter_map(|l| l.strip_prefix("# warning: "))
            .map(str::to_owned)
            .collect();
        let object: Value = serde_yaml::from_str(chunk).unwrap_or(Value::Null);
        if object.is_object() {
            out.push(Document {
                line: start,
                errors,
                warnings,
                object,
            });
        }
        chunk.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line == "---" {
            flush(&mut chunk, start);
            start = i + 2;
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    flush(&mut chunk, start);
    out
}

#[test]
fn every_fixture_gets_the_api_servers_answer() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fixtures missing: {files:?}");
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let version = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# kubernetes-version: "))
            .unwrap_or(DEFAULT_VERSION);
        let mut schemas = Schemas::new(version).unwrap();
        let docs = documents(&text);
        for doc in &docs {
            schemas.add_crd(&doc.object, &file.file_name().unwrap().to_string_lossy());
        }
        for doc in &docs {
            checked += 1;
            let outcome = schemas.validate(&doc.object);
            let mut got: Vec<String> = outcome.findings.iter().map(|f| f.message.clone()).collect();
            let mut want = doc.errors.clone();
            got.sort();
            want.sort();
            if got != want {
                failures.push(format!(
                    "{}:{}: expected errors\n  {}\ngot\n  {}",
                    file.display(),
                    doc.line,
                    want.join("\n  "),
                    got.join("\n  ")
                ));
            }
            if outcome.warnings != doc.warnings {
                failures.push(format!(
                    "{}:{}: expected warnings {:?}, got {:?}",
                    file.display(),
                    doc.line,
                    doc.warnings,
                    outcome.warnings
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} documents disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn cel_rules_of_a_crd_are_handed_to_the_caller_with_their_nodes() {
    let text = std::fs::read_to_string(fixture_dir().join("crds.yaml")).unwrap();
    let mut schemas = Schemas::new(DEFAULT_VERSION).unwrap();
    let docs = documents(&text);
    for doc in &docs {
        schemas.add_crd(&doc.object, "crds.yaml");
    }
    // The valid Widget: its spec carries the one rule.
    let widget = docs
        .iter()
        .find(|d| d.object["metadata"]["name"] == "small-one")
        .unwrap();
    let checks = schemas.validate(&widget.object).rule_checks.unwrap();
    assert_eq!(
        (checks.crd.as_str(), checks.version.as_str()),
        ("widgets.example.com", "v1")
    );
    assert_eq!(checks.nodes.len(), 1);
    assert_eq!(checks.nodes[0].pointer, "/spec");
    assert_eq!(checks.nodes[0].field, "spec");
    assert_eq!(checks.nodes[0].value, widget.object["spec"]);
    let rules = schemas.crd_rules("widgets.example.com", "v1").unwrap();
    assert_eq!(
        rules[checks.nodes[0].rules[0] as usize]["rule"],
        "self.replicas <= 10"
    );
}
