//! A second opinion: PyPI's `kubernetes-validate` (the same Kubernetes
//! schemas, through Python's jsonschema, `--strict`) over `testdata/real`
//! and the fixtures of `testdata/schema`, document by document. Every
//! disagreement must fall in one of the classes docs/schema.md explains
//! ("Second opinion"); any other fails the test. The Python package comes
//! from `$WASM_VALIDATE_PYTHON` (the virtualenv `.ci/run` installs it in);
//! without it the test prints a notice and checks nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use wasm_validate_schema::{Checked, DEFAULT_VERSION, Schemas};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// The documents of a file as Python's `yaml.safe_load_all` gives them
/// (empty documents left out).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

/// Why the two tools may disagree on a document (docs/schema.md).
fn class(ours: &Outcome, theirs: &str) -> Option<&'static str> {
    let ours_all = ours.messages.join("\n");
    match (ours.checked.clone(), ours.messages.is_empty(), theirs) {
        (_, _, t) if t.starts_with("ERROR") && t.contains("could not be validated") => {
            Some("a List: kubernetes-validate does not read its items")
        }
        (Checked::Crd(_), _, t) if t.starts_with("WARN") => {
            Some("a custom resource: kubernetes-validate has no CRD support")
        }
        (Checked::Removed, false, t) if t.starts_with("WARN") => {
            Some("a removed API version: kubernetes-validate finds no schema and passes it")
        }
        (Checked::NoSchema, true, t) if t.starts_with("WARN") => None,
        (_, false, t) if t.starts_with("INFO") => {
            let explained = ours.messages.iter().all(|m| {
                m.contains("Unsupported value")
                    || m.contains("quantities must match")
                    || m.contains("Duplicate value")
                    || m.contains("must be of type int32")
                    || m.contains("must be of type byte")
                    || m.contains("must be of type date-time")
                    || m.starts_with("metadata.")
                    || m.contains("storage version")
                    || m.contains("must be spec.names.plural")
                    || m.contains(".type: Required value")
                    || m.contains("valid regular expression")
            });
            if explained {
                Some(
                    "a check the API server makes outside the JSON schemas (Go validation, formats, metadata rules)",
                )
            } else {
                let _ = ours_all;
                Some("UNEXPLAINED: only wasm-validate rejects it")
            }
        }
        (_, true, t) if t.starts_with("ERROR") => {
            if t.contains("None is not of type")
                || t.contains("is not valid under any of the given schemas") && t.contains("None")
            {
                Some(
                    "null on an int-or-string or quantity field, which the API server treats as absent",
                )
            } else {
                Some("UNEXPLAINED: only kubernetes-validate rejects it")
            }
        }
        _ => None,
    }
}

struct Outcome {
    checked: Checked,
    messages: Vec<String>,
}

#[test]
fn kubernetes_validate_agrees_or_the_difference_is_explained() {
    let Ok(python) = std::env::var("WASM_VALIDATE_PYTHON") else {
        println!(
            "notice: WASM_VALIDATE_PYTHON is not set; the kubernetes-validate comparison did not run"
        );
        return;
    };
    let probe = Command::new(&python)
        .args(["-c", "import kubernetes_validate"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("notice: {python} has no kubernetes_validate; the comparison did not run");
        return;
    }
    let mut files = Vec::new();
    yaml_files(&root().join("testdata/real"), &mut files);
    yaml_files(&root().join("testdata/schema"), &mut files);
    // Every CRD of the inputs is known to the stage, as in a run over them all.
    let mut schemas = Schemas::new(DEFAULT_VERSION).unwrap();
    let docs: Vec<(PathBuf, Vec<Value>)> =
        files.iter().map(|f| (f.clone(), documents(f))).collect();
    for (file, documents) in &docs {
        for document in documents {
            schemas.add_crd(document, &file.display().to_string());
        }
    }
    let output = Command::new(&python)
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "-k",
            &format!("{DEFAULT_VERSION}.0"),
        ])
        .args(&files)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.splitn(3, ' ');
        let (Some(level), Some(file)) = (words.next(), words.next()) else {
            continue;
        };
        if matches!(level, "INFO" | "WARN" | "ERROR") {
            lines
                .entry(file.to_owned())
                .or_default()
                .push(line.to_owned());
        }
    }
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let (mut agreed, mut total) = (0, 0);
    for (file, documents) in &docs {
        let theirs = lines
            .get(&file.display().to_string())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            theirs.len(),
            documents.len(),
            "{}: one kubernetes-validate line per document:\n{}",
            file.display(),
            theirs.join("\n")
        );
        for (document, their) in documents.iter().zip(&theirs) {
            total += 1;
            let outcome = schemas.validate(document);
            let ours = Outcome {
                checked: outcome.checked.clone(),
                messages: outcome.findings.iter().map(|f| f.message.clone()).collect(),
            };
            let same = (ours.messages.is_empty() && their.starts_with("INFO"))
                || (!ours.messages.is_empty()
                    && their.starts_with("ERROR")
                    && !their.contains("could not be validated"))
                || (ours.checked == Checked::NoSchema && their.starts_with("WARN"));
            if same {
                agreed += 1;
                continue;
            }
            match class(&ours, their) {
                Some(c) if !c.starts_with("UNEXPLAINED") => *classes.entry(c).or_default() += 1,
                other => unexplained.push(format!(
                    "{}: {}\n  wasm-validate: {:?} {:?}\n  kubernetes-validate: {their}",
                    file.display(),
                    other.unwrap_or("UNEXPLAINED"),
                    ours.checked,
                    ours.messages
                )),
            }
        }
    }
    println!("kubernetes-validate {DEFAULT_VERSION}: {agreed} of {total} documents agree");
    for (class, count) in &classes {
        println!("  {count:4}  {class}");
    }
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements:\n{}",
        unexplained.join("\n")
    );
    assert!(agreed > total / 2, "{agreed} of {total}");
}
