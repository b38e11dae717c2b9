//! Rego unit tests, as `opa test` and `conftest verify` run them: every
//! rule whose name starts with `test_`, in every package of the program's
//! modules, passes when it evaluates to `true` and fails when it is
//! `false`, undefined or an error; rules named `todo_test_*` are listed as
//! skipped and not run (OPA's convention).
//! Source: <https://www.openpolicyagent.org/docs/policy-testing> and
//! <https://www.conftest.dev/> (`conftest verify`).
//!
//! The program is prepared once ([`Program::tests`](crate::Program)), with
//! regorus's analysis done then; each evaluation's request object says what
//! to do, and each test runs in its own evaluation (a fresh instance
//! restored from the prepared snapshot, with its own fuel):
//! - `{"list": true}`: the answer's `warnings` are the tests' full names
//!   (`data.main.test_deny_latest`), in the modules' order, `todo_test_*`
//!   ones included;
//! - `{"test": NAME}`: runs that test; the answer allows when it is `true`,
//!   and otherwise denies with one violation whose message is what it was
//!   (`false` or another value as JSON, `undefined`, or `error: ` and the
//!   evaluation's error).

use regorus::{Engine, Value};
use wasm_validate_abi::{Response, Violation};

/// A program prepared for its unit tests.
pub struct Tests {
    engine: Engine,
    names: Vec<String>,
}

/// Whether a rule named `name` is a test (or a test marked to do).
fn is_test(name: &str) -> bool {
    name.starts_with("test_") || name.starts_with("todo_test_")
}

/// The tests of the modules (`(path, rego)`, each with its package as
/// regorus names it, `data.main`), and the engine prepared to run them.
/// Errors: regorus's analysis of the modules fails.
pub fn prepare(
    mut engine: Engine,
    modules: &[(&str, &str)],
    packages: &[String],
) -> Result<Tests, String> {
    let mut names: Vec<String> = Vec::new();
    for ((path, rego), package) in modules.iter().zip(packages) {
        for rule in crate::compat::rule_names(path, rego) {
            let name = format!("{package}.{rule}");
            if is_test(&rule) && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    // regorus analyses the modules on the first evaluation or compilation;
    // doing it now puts the analysis in the prepared snapshot, so that no
    // test pays for it.
    if let Some(first) = names.iter().find(|n| !is_todo(n)) {
        engine
            .compile_with_entrypoint(&first.as_str().into())
            .map_err(|e| format!("{first}: {e}"))?;
    }
    Ok(Tests { engine, names })
}

/// Whether the test's last name component starts with `todo_test_`.
fn is_todo(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .is_some_and(|n| n.starts_with("todo_"))
}

/// Answers one request object (see the module's documentation).
pub fn run(tests: &mut Tests, object: &Value) -> Response {
    let Ok(object) = object.as_object() else {
        return Response::error("a unit-test request is an object");
    };
    if object.get(&Value::from("list")) == Some(&Value::from(true)) {
        let mut response = Response::allow();
        response.warnings = tests.names.clone();
        return response;
    }
    let Some(Ok(name)) = object.get(&Value::from("test")).map(|n| n.as_string()) else {
        return Response::error("a unit-test request names a test (`test`) or asks for the list");
    };
    let name = name.to_string();
    if !tests.names.contains(&name) {
        return Response::error(format!("no test named {name}"));
    }
    let outcome = match tests.engine.eval_rule(name.clone()) {
        Ok(Value::Bool(true)) => return Response::allow(),
        Ok(Value::Undefined) => "undefined".to_owned(),
        Ok(other) => other
            .to_json_str()
            .unwrap_or_else(|_| "not true".to_owned()),
        Err(error) => format!("error: {error}"),
    };
    Response::from_violations(vec![Violation {
        message: outcome,
        path: String::new(),
    }])
}
