//! Every built-in policy, run as Wasm through the engine on the cases of
//! its test suite, `policies/<name>/tests/wasm-validate-test.yaml` (the
//! format `wasm-validate test` runs; the resources are in `resources.yaml`
//! beside it): each case states the expected result (`pass`/`fail`, and
//! for mutating policies the expected patch, `[]` for none) and the
//! policy entry it runs under may carry settings. The responses are
//! snapshot-tested with insta (one snapshot per policy), and every pod case
//! is also run wrapped in each workload kind.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use wasm_validate_engine::{Engine, Limits, Policy};

/// One test case: its name (`metadata.name`), the object, the expected
/// verdict (`pass`, `fail`, or for mutating policies `patch` or `none`)
/// and the settings.
struct Case {
    name: String,
    object: Value,
    expect: String,
    settings: Value,
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .collect()
}

fn cases(policy: &str) -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(policy)
        .join("tests");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{policy} has no {name} in {}: {e}", dir.display()))
    };
    let suite: Value = serde_yaml::from_str(&read("wasm-validate-test.yaml")).unwrap();
    let resources = yaml_documents(&read("resources.yaml"));
    let entries = suite["policies"].as_array().unwrap();
    let settings_of = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"].as_str().or(e["policy"].as_str()) == Some(id))
            .unwrap_or_else(|| panic!("{policy}: no policy entry {id}"))
            .get("settings")
            .cloned()
            .unwrap_or(json!({}))
    };
    suite["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            let id = result["policy"].as_str().unwrap_or(policy);
            let (kind, name) = result["resource"]
                .as_str()
                .unwrap()
                .split_once('/')
                .unwrap();
            let object = resources
                .iter()
                .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{policy}: no resource {kind}/{name}"))
                .clone();
            let expect = match result.get("patch").and_then(Value::as_array) {
                Some(ops) if ops.is_empty() => "none".to_owned(),
                Some(_) => "patch".to_owned(),
                None => result["result"].as_str().unwrap().to_owned(),
            };
            Case {
                name: name.to_owned(),
                object,
                expect,
                settings: settings_of(id),
            }
        })
        .collect()
}

fn load(engine: &Engine, name: &str) -> Policy {
    let bytes = wasm_validate_builtin::get(name).unwrap();
    engine.load(bytes, Limits::default()).unwrap()
}

fn evaluate(engine: &Engine, policy: &Policy, settings: &Value, object: &Value) -> Value {
    let request = json!({"operation": "CREATE", "settings": settings, "object": object});
    let evaluation = engine
        .evaluate(policy, &serde_json::to_vec(&request).unwrap())
        .unwrap_or_else(|e| panic!("{} on {}: {e}", policy.name(), object["metadata"]["name"]));
    serde_json::to_value(&evaluation.response).unwrap()
}

#[test]
fn catalogue_matches_the_modules() {
    let engine = Engine::default();
    let catalog = wasm_validate_builtin::catalog();
    assert_eq!(catalog.len(), wasm_validate_builtin::policies().len());
    let names: Vec<&str> = catalog.iter().map(|m| m.name.as_str()).collect();
    for (metadata, (folder, bytes)) in catalog.iter().zip(wasm_validate_builtin::policies()) {
        let policy = engine.load(bytes, Limits::default()).unwrap();
        assert_eq!(policy.name(), folder);
        assert_eq!(
            policy.metadata(),
            metadata,
            "{folder}: embedded metadata differs"
        );
        assert!(!metadata.description.is_empty());
        let pod_security = metadata.category.as_deref() == Some("pod-security");
        assert_eq!(pod_security, metadata.level.is_some(), "{folder}: level");
        assert_eq!(
            pod_security,
            metadata.control.is_some(),
            "{folder}: control"
        );
        for overridden in &metadata.overrides {
            assert!(
                names.contains(&overridden.as_str()),
                "{folder} overrides {overridden}"
            );
        }
        for alias in &metadata.aliases {
            assert!(
                !names.contains(&alias.as_str()),
                "alias {alias} is a policy name"
            );
            assert_eq!(
                wasm_validate_builtin::resolve(alias),
                Some(metadata.name.as_str())
            );
        }
    }
}

#[test]
fn every_policy_has_cases_of_both_verdicts() {
    for metadata in wasm_validate_builtin::catalog() {
        let cases = cases(&metadata.name);
        let (yes, no) = if metadata.mutating {
            ("patch", "none")
        } else {
            ("fail", "pass")
        };
        for expect in [yes, no] {
            assert!(
                cases.iter().any(|c| c.expect == expect),
                "{} has no case expecting {expect}",
                metadata.name
            );
        }
        for case in &cases {
            assert!([yes, no].contains(&case.expect.as_str()), "{}", case.name);
        }
    }
}

#[test]
fn policies_on_their_cases() {
    let engine = Engine::default();
    for metadata in wasm_validate_builtin::catalog() {
        let name = metadata.name.as_str();
        let policy = load(&engine, name);
        let mut results = BTreeMap::new();
        for case in cases(name) {
            wasm_validate_pipeline::validate_settings(metadata, &case.settings)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let response = evaluate(&engine, &policy, &case.settings, &case.object);
            assert!(
                response.get("error").is_none(),
                "{name} {}: {response}",
                case.name
            );
            if metadata.mutating {
                let patched = response.get("patch").is_some();
                assert_eq!(
                    patched,
                    case.expect == "patch",
                    "{name} {}: {response}",
                    case.name
                );
                if patched {
                    // The patch applies, and the fix is complete: a second pass has nothing to add.
                    let patch = serde_json::from_value(response["patch"].clone()).unwrap();
                    let fixed = wasm_validate_pipeline::apply_patch(&case.object, &patch).unwrap();
                    let again = evaluate(&engine, &policy, &case.settings, &fixed);
                    assert!(
                        again.get("patch").is_none(),
                        "{name} {}: {again}",
                        case.name
                    );
                }
            } else {
                let allowed = response["allowed"].as_bool().unwrap();
                assert_eq!(
                    allowed,
                    case.expect == "pass",
                    "{name} {}: {response}",
                    case.name
                );
                if !allowed {
                    for violation in response["violations"].as_array().unwrap() {
                        let path = violation["path"].as_str().unwrap();
                        assert!(path.starts_with('/'), "{name} {}: {path}", case.name);
                    }
                }
            }
            results.insert(case.name, response);
        }
        insta::assert_json_snapshot!(name, results);
    }
}

/// A Pod case as the same pod in a workload: `(kind, apiVersion, object,
/// pod spec pointer, pod metadata pointer)`.
fn wrapped(pod: &Value) -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let template = json!({"metadata": pod["metadata"], "spec": pod["spec"]});
    let meta = json!({"name": pod["metadata"]["name"]});
    let workload = |api: &str, kind: &str| {
        json!({"apiVersion": api, "kind": kind, "metadata": meta,
               "spec": {"replicas": 2, "template": template}})
    };
    let mut out = vec![(
        "PodTemplate",
        json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": meta, "template": template}),
        "/template/spec",
        "/template/metadata",
    )];
    for (api, kind) in [
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "ReplicationController"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
    ] {
        out.push((
            kind,
            workload(api, kind),
            "/spec/template/spec",
            "/spec/template/metadata",
        ));
    }
    out.push((
        "CronJob",
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
               "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}),
        "/spec/jobTemplate/spec/template/spec",
        "/spec/jobTemplate/spec/template/metadata",
    ));
    out
}

#[test]
fn pod_cases_hold_in_every_workload_kind() {
    let engine = Engine::default();
    let mut checked = 0;
    for metadata in wasm_validate_builtin::catalog() {
        if !metadata.applies_to("v1", "Pod") || metadata.applies_to("v1", "Service") {
            continue;
        }
        let policy = load(&engine, &metadata.name);
        for case in cases(&metadata.name)
            .iter()
            .filter(|c| c.object["kind"] == "Pod")
        {
            let direct = evaluate(&engine, &policy, &case.settings, &case.object);
            let rebase = |path: &str, spec: &str, meta: &str| {
                if let Some(rest) = path.strip_prefix("/spec") {
                    format!("{spec}{rest}")
                } else if let Some(rest) = path.strip_prefix("/metadata") {
                    format!("{meta}{rest}")
                } else {
                    path.to_owned()
                }
            };
            for (kind, object, spec, meta) in wrapped(&case.object) {
                let api = object["apiVersion"].as_str().unwrap();
                if !metadata.applies_to(api, kind) {
                    continue;
                }
                let response = evaluate(&engine, &policy, &case.settings, &object);
                let context = format!("{} {} as {kind}", metadata.name, case.name);
                assert_eq!(response["allowed"], direct["allowed"], "{context}");
                let paths = |r: &Value, f: &dyn Fn(&str) -> String| -> Vec<String> {
                    let mut out: Vec<String> = r["violations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| f(v["path"].as_str().unwrap()))
                        .collect();
                    if let Some(ops) = r["patch"].as_array() {
                        out.extend(ops.iter().map(|op| f(op["path"].as_str().unwrap())));
                    }
                    out
                };
                assert_eq!(
                    paths(&response, &|p| p.to_owned()),
                    paths(&direct, &|p| rebase(p, spec, meta)),
                    "{context}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} wrapped cases ran");
}

/// The library module loads with full validation (the binary loads it
/// with `load_prevalidated`), exports what a library exports, and links the
/// crates of `policies/` in the order `library_index` gives: its source
/// names each policy's `evaluate_tape` in the order of the folders' names.
#[test]
fn the_library_module_links_every_policy_in_order() {
    let engine = Engine::default();
    let library = engine
        .load(wasm_validate_builtin::library(), Limits::default())
        .unwrap();
    assert_eq!(library.name(), "library");
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("library/src/lib.rs"),
    )
    .unwrap();
    let linked: Vec<String> = source
        .lines()
        .filter_map(|line| line.trim().strip_suffix("::evaluate_tape,"))
        .map(|krate| {
            krate
                .strip_prefix("policy_")
                .unwrap_or(krate)
                .replace('_', "-")
        })
        .collect();
    let policies: Vec<&str> = wasm_validate_builtin::policies()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(linked, policies);
    for (index, name) in policies.iter().enumerate() {
        assert_eq!(
            wasm_validate_builtin::library_index(name),
            Some(index as u32)
        );
    }
    assert_eq!(wasm_validate_builtin::library_index("no-such-policy"), None);
}
