//! `conftest verify`: the Rego unit tests kept beside Conftest policies,
//! run in the Rego runtime inside the sandbox (`runtimes/rego/src/verify.rs`
//! has the protocol).
//! Source: <https://www.conftest.dev/> (`conftest verify`) and
//! <https://www.openpolicyagent.org/docs/policy-testing> (what a test is).
//!
//! Every `.rego` file under the path is read, `*_test.rego` files included
//! (Conftest's `verify --policy PATH`). Every rule named `test_*`, in any
//! package, is a test: it passes when it evaluates to `true`, and fails
//! when it is `false` or undefined, or when its evaluation fails (an error,
//! or the fuel or memory limit). Rules named `todo_test_*` are skipped. The
//! modules are read as Rego v1, or as v0 when they do not compile as v1.
//! Each test runs in its own evaluation, from the program prepared once,
//! under the runtime's limits.

use std::path::Path;

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::{Engine, Limits, Policy};

use crate::{Module, load_runtime, modules_from, read_files_with};

/// What became of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// It evaluated to `true`.
    Passed,
    /// It was `false` or undefined, or its evaluation failed: why.
    Failed(String),
    /// A `todo_test_*` rule, not run.
    Skipped,
}

/// One test and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// Its full name, `data.<package>.<rule>` (`data.main.test_deny_latest`).
    pub name: String,
    /// What became of it.
    pub outcome: TestOutcome,
}

/// Whether `path` holds Rego unit tests: a `*_test.rego` file, or a
/// directory with one at any depth.
pub fn has_tests(path: &Path) -> bool {
    crate::rego_files_with(path, true).is_ok_and(|files| files.iter().any(|f| is_test_file(f)))
}

fn is_test_file(path: &Path) -> bool {
    path.to_string_lossy().ends_with("_test.rego")
}

/// Runs the unit tests of the `.rego` files under `path`, with `data` as
/// the policies' `data` document (Conftest's `--data`, [`crate::read_data`]),
/// each test under `limits`. Returns every test's outcome, in the modules'
/// order.
///
/// Errors: an unreadable file, a module without a package, Rego that
/// compiles neither as v1 nor as v0 (regorus's message for v1, with file
/// and line), no test at all.
pub fn verify(
    engine: &Engine,
    path: &Path,
    data: Option<&Value>,
    limits: Limits,
) -> Result<Vec<TestResult>, String> {
    let modules = modules_from(read_files_with(path, true)?)?;
    let runtime = load_runtime(engine, limits);
    let prepared = prepare(engine, &runtime, &modules, data)?;
    let ask = |object: Value| {
        let request = tape::request(
            Operation::Create,
            &tape::encode(&json!({})),
            &tape::encode(&object),
            None,
        );
        engine.evaluate(&prepared, &request)
    };
    let listed = ask(json!({"list": true})).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(error) = listed.response.error {
        return Err(format!("{}: {error}", path.display()));
    }
    if listed.response.warnings.is_empty() {
        return Err(format!(
            "{}: no test (a rule named test_*) in its Rego modules",
            path.display()
        ));
    }
    Ok(listed
        .response
        .warnings
        .into_iter()
        .map(|name| {
            let rule = name.rsplit('.').next().unwrap_or_default();
            let outcome = if rule.starts_with("todo_test_") {
                TestOutcome::Skipped
            } else {
                match ask(json!({"test": name})) {
                    Err(error) => TestOutcome::Failed(error.to_string()),
                    Ok(evaluation) => {
                        match (evaluation.response.error, evaluation.response.allowed) {
                            (Some(error), _) => TestOutcome::Failed(error),
                            (None, true) => TestOutcome::Passed,
                            (None, false) => TestOutcome::Failed(
                                evaluation
                                    .response
                                    .violations
                                    .into_iter()
                                    .map(|v| v.message)
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            ),
                        }
                    }
                }
            };
            TestResult { name, outcome }
        })
        .collect())
}

/// The runtime prepared with every module for its tests, as Rego v1, else
/// as v0.
fn prepare(
    engine: &Engine,
    runtime: &Policy,
    modules: &[Module],
    data: Option<&Value>,
) -> Result<Policy, String> {
    let program = |version: u8| {
        let mut program = json!({
            "modules": modules
                .iter()
                .map(|m| json!({"path": m.path.display().to_string(), "rego": m.rego}))
                .collect::<Vec<_>>(),
            "regoVersion": version,
            "input": "document",
            "tests": true,
        });
        if let Some(data) = data {
            program["data"] = data.clone();
        }
        program
    };
    match engine.prepare(runtime, &program(1)) {
        Ok(policy) => Ok(policy),
        Err(v1_error) => engine
            .prepare(runtime, &program(0))
            .map_err(|_| v1_error.to_string()),
    }
}
