//! `kyverno test` files: a `cli.kyverno.io/v1alpha1` `Test`, by convention
//! named `kyverno-test.yaml` (often in a `.kyverno-test` directory), as
//! <https://kyverno.io/docs/kyverno-cli/usage/test/> describes it:
//!
//! ```yaml
//! apiVersion: cli.kyverno.io/v1alpha1
//! kind: Test
//! policies: [../policy.yaml]       # files or directories, relative to the test
//! resources: [resource.yaml]
//! variables: values.yaml           # optional: a Value file with `namespaces`
//! results:
//!   - policy: disallow-capabilities
//!     kind: Pod
//!     resources: [badpod01, badpod02]
//!     result: fail                 # pass, fail, skip, error or warn
//! ```
//!
//! Policies are Kyverno ValidatingPolicies and ValidatingAdmissionPolicies
//! (with their bindings); they run on the resources through the pipeline.
//! A resource's result is `pass`, `fail` (a violation, whatever the
//! policy's action; `warn` also for a `Warn` action), `error`, or `skip`
//! when the policy does not apply to it (its match, or a match condition).
//! A resource is named `name` or `namespace/name`. The Value file's
//! `namespaces` are the Namespace objects `namespaceObject` and namespace
//! selectors see. What else a Test may hold (`patchedResources`,
//! `generatedResource`, `exceptions`, `checks`, per-resource `values`) is
//! refused with a message naming it.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest as manifest;
use wasm_validate_pipeline::{Outcome, PolicySet};
use wasm_validate_validating_admission_policy as vap;

/// The file name `kyverno test` looks for.
pub const TEST_FILE: &str = "kyverno-test.yaml";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile {
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    results: Vec<Expected>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expected {
    policy: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    resource: Option<String>,
    result: String,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

/// One checked expectation: a policy's result on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `policy kind/resource`.
    pub what: String,
    /// Why it failed; `None` when it held.
    pub failure: Option<String>,
}

/// Whether `text` is a Kyverno `Test`.
pub fn is_test(text: &str) -> bool {
    text.contains("cli.kyverno.io/") && text.lines().any(|l| l.trim() == "kind: Test")
}

/// Keys of a Test this runner reads (besides `apiVersion`, `kind`,
/// `metadata`).
const READ: [&str; 3] = ["apiVersion", "kind", "metadata"];
/// Keys of an expected result this runner reads or may ignore (the
/// `is...Policy` flags say what the policy is; the file says it too).
const EXPECTED_READ: [&str; 6] = [
    "isValidatingPolicy",
    "isValidatingAdmissionPolicy",
    "namespace",
    "status",
    "reason",
    "message",
];

/// Runs the Test at `path`: one [`Checked`] per expected resource result.
/// Errors: the file, a policy or a resource cannot be read, or holds what
/// this runner does not run.
pub fn run_test(engine: &Engine, runtime: &Policy, path: &Path) -> Result<Vec<Checked>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let test: TestFile = serde_yaml::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
    if let Some(key) = test.other.keys().find(|k| !READ.contains(&k.as_str())) {
        return Err(format!(
            "{name}: `{key}` is not supported by this runner (docs/cel.md)"
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let read = |list: &[String]| -> Result<Vec<manifest::Parsed>, String> {
        let paths: Vec<PathBuf> = list.iter().map(|p| dir.join(p)).collect();
        let inputs = manifest::collect_inputs(&paths, true).map_err(|e| format!("{name}: {e}"))?;
        let (parsed, errors) = manifest::read_inputs(&inputs, &manifest::ReadLimits::default());
        match errors.first() {
            Some(error) => Err(format!("{name}: {error}")),
            None => Ok(parsed),
        }
    };
    let policy_files = read(&test.policies)?;
    let mut kyverno = crate::Library::default();
    let mut admission = vap::Library::default();
    for parsed in &policy_files {
        kyverno.add_parsed(parsed).map_err(|e| e.to_string())?;
        admission.add_parsed(parsed).map_err(|e| e.to_string())?;
    }
    admission.check().map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let mut set = PolicySet {
        policies: kyverno
            .policies(engine, runtime)
            .map_err(|e| e.to_string())?,
        ..PolicySet::default()
    };
    set.policies.extend(
        admission
            .policies(engine, runtime)
            .map_err(|e| e.to_string())?,
    );
    let mut resources: Vec<manifest::Resource> = read(&test.resources)?
        .into_iter()
        .flat_map(|p| p.resources)
        .collect();
    let checked_count = resources.len();
    if let Some(values) = &test.variables {
        resources.extend(namespaces(&dir.join(values))?);
    }
    let results = wasm_validate_pipeline::run(engine, &set, &mut resources, 1);
    let mut out = Vec::new();
    for expected in &test.results {
        let names: Vec<&String> = expected
            .resources
            .iter()
            .chain(&expected.resource)
            .collect();
        let unsupported = expected
            .other
            .keys()
            .find(|k| !EXPECTED_READ.contains(&k.as_str()));
        for resource_name in names {
            let what = format!(
                "{} {}/{resource_name}",
                expected.policy,
                expected.kind.as_deref().unwrap_or("*")
            );
            let failure = match unsupported {
                Some(key) => Some(format!("`{key}` is not supported by this runner")),
                None => check_one(
                    &set,
                    &resources[..checked_count],
                    &results,
                    expected,
                    resource_name,
                ),
            };
            out.push(Checked { what, failure });
        }
    }
    Ok(out)
}

/// Compares one resource's actual result with `expected.result`.
fn check_one(
    set: &PolicySet,
    resources: &[manifest::Resource],
    results: &[Vec<wasm_validate_pipeline::PolicyResult>],
    expected: &Expected,
    resource_name: &str,
) -> Option<String> {
    if expected.rule.is_some() {
        return Some(
            "`rule` names a rule of a ClusterPolicy, which this runner does not run".into(),
        );
    }
    let (namespace, name) = match resource_name.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, resource_name),
    };
    let found: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.object["metadata"]["name"] == name
                && expected.kind.as_deref().is_none_or(|k| r.kind() == k)
                && namespace.is_none_or(|ns| r.object["metadata"]["namespace"] == ns)
        })
        .map(|(i, _)| i)
        .collect();
    if found.is_empty() {
        return Some("no such resource among the test's resources".into());
    }
    let Some(policy) = set.policies.iter().position(|p| p.id == expected.policy) else {
        return Some(format!(
            "no policy named {} among the test's policies",
            expected.policy
        ));
    };
    for index in found {
        let result = results[index].iter().find(|r| r.policy == policy);
        let action = set.policies[policy].action;
        let actual = match result.map(|r| &r.outcome) {
            None => "skip".to_owned(),
            Some(_) if result.is_some_and(|r| r.exemption.is_some()) => "skip".to_owned(),
            Some(Outcome::Pass) => "pass".to_owned(),
            Some(Outcome::Fail(_)) => "fail".to_owned(),
            Some(Outcome::Error(e)) => format!("error ({e})"),
        };
        let holds = actual == expected.result
            || (expected.result == "warn"
                && actual == "fail"
                && action == wasm_validate_pipeline::Action::Warn)
            || (expected.result == "error" && actual.starts_with("error"));
        if !holds {
            let detail = match result.map(|r| &r.outcome) {
                Some(Outcome::Fail(violations)) => violations
                    .first()
                    .map(|v| format!(": {}", v.message))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            return Some(format!(
                "expected {}, got {actual}{detail}",
                expected.result
            ));
        }
    }
    None
}

/// The Namespace objects of a Value file's `namespaces` (Kyverno accepts
/// `kind: namespace` in any case), as resources of the run.
fn namespaces(path: &Path) -> Result<Vec<manifest::Resource>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let values: Value = serde_yaml::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
    if let Some(key) = values
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .find(|k| {
            !matches!(
                k.as_str(),
                "apiVersion" | "kind" | "metadata" | "namespaces"
            )
        })
    {
        return Err(format!(
            "{name}: `{key}` is not supported by this runner (docs/cel.md)"
        ));
    }
    let file: std::sync::Arc<str> = std::sync::Arc::from(name.as_str());
    Ok(values["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, namespace)| {
            let mut object = namespace.clone();
            object["apiVersion"] = "v1".into();
            object["kind"] = "Namespace".into();
            manifest::Resource {
                object,
                source: manifest::Source {
                    file: file.clone(),
                    document: i + 1,
                    line: 1,
                    item: None,
                    helm_source: None,
                },
                modified: false,
            }
        })
        .collect())
}
