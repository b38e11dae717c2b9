//! gator's test suites (`kind: Suite`, `apiVersion:
//! test.gatekeeper.sh/v1alpha1`), run as `gator verify` runs them: each
//! test pairs a template with a constraint; each case reviews one object
//! (a plain object is a CREATE; an `AdmissionReview` gives its own
//! request: operation, userInfo, oldObject), with the objects of its
//! `inventory` as `data.inventory`, and checks its assertions.
//! Source: <https://open-policy-agent.github.io/gatekeeper/website/docs/gator>.
//!
//! An assertion counts the violations, or those whose message matches its
//! `message` regular expression, and expects `yes` (at least one, the
//! default), `no` (none) or an exact number.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::{Format, Parsed};

use crate::{GatekeeperError, Library, Namespaces, Runtimes, namespaces_of, prepare};

/// The apiVersion of a suite.
pub const SUITE_API_VERSION: &str = "test.gatekeeper.sh/v1alpha1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuiteFile {
    #[serde(default)]
    tests: Vec<TestSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestSpec {
    name: String,
    template: String,
    constraint: String,
    #[serde(default)]
    cases: Vec<CaseSpec>,
    #[serde(default)]
    skip: bool,
    /// The constraint is expected to be refused (gator's `invalid`).
    #[serde(default)]
    invalid: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CaseSpec {
    name: String,
    object: String,
    #[serde(default)]
    inventory: Vec<String>,
    #[serde(default)]
    assertions: Vec<Assertion>,
    #[serde(default)]
    skip: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Assertion {
    #[serde(default)]
    violations: Option<serde_yaml::Value>,
    #[serde(default)]
    message: Option<String>,
}

/// What became of one case (or of a whole test that could not run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// An assertion failed, or the case could not run: why.
    Failed(String),
    /// `skip: true`.
    Skipped,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The suite file.
    pub suite: PathBuf,
    /// The test's name.
    pub test: String,
    /// The case's name (empty for a result about the whole test).
    pub case: String,
    /// What happened.
    pub outcome: Outcome,
    /// The violation messages the case produced.
    pub messages: Vec<String>,
}

/// Whether the YAML at `path` is a gator suite.
pub fn is_suite(text: &str) -> bool {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|doc| serde_yaml::Value::deserialize(doc).ok())
        .any(|doc| {
            doc["kind"].as_str() == Some("Suite")
                && doc["apiVersion"].as_str() == Some(SUITE_API_VERSION)
        })
}

/// The suite files under `path` (a suite file, or a directory searched
/// recursively for `.yaml`/`.yml` files that are suites), sorted.
pub fn find_suites(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            found.extend(find_suites(&entry.path())?);
        }
    } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        && is_suite(&std::fs::read_to_string(path)?)
    {
        found.push(path.to_owned());
    }
    Ok(found)
}

fn read(path: &Path) -> Result<Arc<Parsed>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    let parsed = wasm_validate_manifest::parse(&name, bytes, Format::for_name(&name));
    if let Some(error) = parsed.errors.first() {
        return Err(error.to_string());
    }
    Ok(Arc::new(parsed))
}

/// Runs one suite file: a result per case, in order. A test that cannot
/// run (a file missing, a template that does not compile) is one failed
/// result for each of its cases.
pub fn run_suite(
    engine: &Engine,
    runtime: &Runtimes,
    path: &Path,
) -> Result<Vec<CaseResult>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tests = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value =
            serde_yaml::Value::deserialize(doc).map_err(|e| format!("{}: {e}", path.display()))?;
        if value["kind"].as_str() != Some("Suite") {
            continue;
        }
        let suite: SuiteFile =
            serde_yaml::from_value(value).map_err(|e| format!("{}: {e}", path.display()))?;
        tests.extend(suite.tests);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut results = Vec::new();
    for test in &tests {
        let result = |case: &str, outcome: Outcome, messages: Vec<String>| CaseResult {
            suite: path.to_owned(),
            test: test.name.clone(),
            case: case.to_owned(),
            outcome,
            messages,
        };
        if test.skip {
            results.extend(
                test.cases
                    .iter()
                    .map(|c| result(&c.name, Outcome::Skipped, vec![])),
            );
            continue;
        }
        let loaded = load_test(engine, runtime, dir, test);
        match (loaded, test.invalid) {
            (Err(_), true) => results.push(result("", Outcome::Passed, vec![])),
            (Ok(_), true) => results.push(result(
                "",
                Outcome::Failed(
                    "the constraint was expected to be invalid but was accepted".into(),
                ),
                vec![],
            )),
            (Err(error), false) => {
                let cases: Vec<&str> = match test.cases.is_empty() {
                    true => vec![""],
                    false => test.cases.iter().map(|c| c.name.as_str()).collect(),
                };
                results.extend(
                    cases
                        .into_iter()
                        .map(|case| result(case, Outcome::Failed(error.clone()), vec![])),
                );
            }
            (Ok(loaded), false) => {
                for case in &test.cases {
                    if case.skip {
                        results.push(result(&case.name, Outcome::Skipped, vec![]));
                        continue;
                    }
                    let (outcome, messages) = match run_case(engine, runtime, dir, &loaded, case) {
                        Ok(messages) => (check_assertions(&case.assertions, &messages), messages),
                        Err(error) => (Outcome::Failed(error), vec![]),
                    };
                    results.push(result(&case.name, outcome, messages));
                }
            }
        }
    }
    Ok(results)
}

/// A test's template and constraint, checked, and the runtime prepared
/// without inventory (what cases without one use).
struct LoadedTest {
    library: Library,
    prepared: Option<Policy>,
}

fn load_test(
    engine: &Engine,
    runtime: &Runtimes,
    dir: &Path,
    test: &TestSpec,
) -> Result<LoadedTest, String> {
    let mut library = Library::default();
    for file in [&test.template, &test.constraint] {
        library
            .add_parsed(read(&dir.join(file))?)
            .map_err(|e| e.to_string())?;
    }
    if library.templates.len() != 1 || library.constraints.len() != 1 {
        return Err(format!(
            "a test needs one ConstraintTemplate and one constraint; found {} and {}",
            library.templates.len(),
            library.constraints.len()
        ));
    }
    library.check().map_err(|errors| {
        errors
            .iter()
            .map(GatekeeperError::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let (template, constraint) = (&library.templates[0], &library.constraints[0]);
    let prepared = match template.reads_inventory() {
        true => None,
        false => {
            Some(prepare(engine, runtime, template, constraint, None).map_err(|e| e.to_string())?)
        }
    };
    Ok(LoadedTest { library, prepared })
}

/// Reviews the case's object; returns the violation messages.
fn run_case(
    engine: &Engine,
    runtime: &Runtimes,
    dir: &Path,
    test: &LoadedTest,
    case: &CaseSpec,
) -> Result<Vec<String>, String> {
    let object_file = read(&dir.join(&case.object))?;
    let object = match object_file.resources.as_slice() {
        [one] => one.object.clone(),
        other => {
            return Err(format!(
                "{}: a case's object file must hold one object, found {}",
                case.object,
                other.len()
            ));
        }
    };
    let mut inventory_objects = Vec::new();
    for file in &case.inventory {
        let parsed = read(&dir.join(file))?;
        inventory_objects.extend(parsed.resources.iter().map(|r| r.object.clone()));
    }
    let (template, constraint) = (&test.library.templates[0], &test.library.constraints[0]);
    let request = review_request(&object)?;
    let subject = match &request["object"] {
        Value::Null => &request["oldObject"],
        object => object,
    };
    let namespaces: Namespaces = namespaces_of(inventory_objects.iter().chain([subject]));
    if !constraint.matcher.matches(subject, &namespaces) {
        return Ok(Vec::new());
    }
    let with_inventory;
    let policy = match &test.prepared {
        Some(policy) => policy,
        None => {
            let data = json!({"inventory": crate::inventory(inventory_objects.iter())});
            with_inventory = prepare(engine, runtime, template, constraint, Some(data))
                .map_err(|e| e.to_string())?;
            &with_inventory
        }
    };
    let evaluation = engine
        .evaluate(policy, &serde_json::to_vec(&request).expect("JSON encodes"))
        .map_err(|e| format!("the policy failed: {e}"))?;
    if let Some(error) = evaluation.response.error {
        return Err(format!("the policy failed: {error}"));
    }
    Ok(evaluation
        .response
        .violations
        .into_iter()
        .map(|v| v.message)
        .collect())
}

/// The engine request for a case's object: a plain object is reviewed as
/// a CREATE; an `AdmissionReview` gives its request's operation, objects
/// and the rest of `input.review` (userInfo, dryRun, ...), which the Rego
/// runtime takes from the settings' `review`.
fn review_request(object: &Value) -> Result<Value, String> {
    if object["kind"] != "AdmissionReview" {
        return Ok(json!({"operation": "CREATE", "settings": {}, "object": object}));
    }
    let request = &object["request"];
    let operation = request["operation"].as_str().unwrap_or("CREATE");
    let mut review = request.as_object().cloned().unwrap_or_default();
    review.remove("object");
    review.remove("oldObject");
    let mut out = json!({
        "operation": operation,
        "settings": {"review": review},
        "object": request["object"],
    });
    if operation == "DELETE" && request["object"].is_null() {
        out["object"] = request["oldObject"].clone();
    } else if !request["oldObject"].is_null() {
        out["oldObject"] = request["oldObject"].clone();
    }
    if out["object"].is_null() {
        return Err("the AdmissionReview has neither request.object nor request.oldObject".into());
    }
    Ok(out)
}

fn check_assertions(assertions: &[Assertion], messages: &[String]) -> Outcome {
    for (index, assertion) in assertions.iter().enumerate() {
        let counted = match &assertion.message {
            None => messages.len(),
            Some(pattern) => match regex_lite::Regex::new(pattern) {
                Ok(regex) => messages.iter().filter(|m| regex.is_match(m)).count(),
                Err(e) => {
                    return Outcome::Failed(format!(
                        "assertion {index}: invalid message pattern {pattern:?}: {e}"
                    ));
                }
            },
        };
        let expected = match &assertion.violations {
            None => Expected::Yes,
            Some(serde_yaml::Value::String(s)) if s == "yes" => Expected::Yes,
            Some(serde_yaml::Value::String(s)) if s == "no" => Expected::Count(0),
            Some(serde_yaml::Value::Bool(true)) => Expected::Yes,
            Some(serde_yaml::Value::Bool(false)) => Expected::Count(0),
            Some(serde_yaml::Value::Number(n)) if n.as_u64().is_some() => {
                Expected::Count(n.as_u64().unwrap_or_default() as usize)
            }
            Some(other) => {
                return Outcome::Failed(format!(
                    "assertion {index}: violations must be yes, no or a count, not {other:?}"
                ));
            }
        };
        let holds = match expected {
            Expected::Yes => counted > 0,
            Expected::Count(n) => counted == n,
        };
        if !holds {
            let what = match &assertion.message {
                Some(pattern) => format!(" matching {pattern:?}"),
                None => String::new(),
            };
            let wanted = match expected {
                Expected::Yes => "at least one".to_owned(),
                Expected::Count(n) => n.to_string(),
            };
            return Outcome::Failed(format!(
                "assertion {index}: expected {wanted} violation(s){what}, got {counted}: {messages:?}"
            ));
        }
    }
    Outcome::Passed
}

enum Expected {
    Yes,
    Count(usize),
}
