//! Hostile Rego in the Rego runtime: each is stopped by the engine's fuel
//! or memory limit (or refused when it is compiled) and becomes an error
//! for that policy, never a crash or a hang of the host; the runtime's next
//! evaluation is unaffected.

use serde_json::{Value, json};
use wasm_validate_engine::{Engine, EvalError, Limits, Policy};

fn runtime(engine: &Engine, limits: Limits) -> Policy {
    let wasm = wasm_validate_builtin::runtime("rego").unwrap();
    engine.load(wasm, limits).unwrap()
}

fn program(rego: &str) -> Value {
    json!({
        "modules": [{"path": "hostile.rego", "rego": rego}],
        "regoVersion": 1,
        "deny": ["deny"],
        "input": "document",
    })
}

/// Prepares `rego` and evaluates it on `object`: the preparation's error,
/// or the evaluation's (an engine error or the policy's error response).
fn outcome(
    engine: &Engine,
    limits: Limits,
    rego: &str,
    object: &Value,
) -> Result<Vec<String>, String> {
    let policy = engine
        .prepare(&runtime(engine, limits), &program(rego))
        .map_err(|e| format!("prepare: {e}"))?;
    let request = json!({"operation": "CREATE", "settings": {}, "object": object});
    let evaluation = engine
        .evaluate(&policy, &serde_json::to_vec(&request).unwrap())
        .map_err(|e| format!("evaluate: {e}"))?;
    match evaluation.response.error {
        Some(error) => Err(format!("policy: {error}")),
        None => Ok(evaluation
            .response
            .violations
            .into_iter()
            .map(|v| v.message)
            .collect()),
    }
}

fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
}

#[test]
fn a_huge_numbers_range_is_an_error() {
    let engine = Engine::default();
    let rego = "package hostile\nimport rego.v1\ndeny contains msg if {\n  n := count(numbers.range(1, 1000000000))\n  msg := sprintf(\"%d\", [n])\n}\n";
    let error = outcome(&engine, Limits::default(), rego, &pod()).unwrap_err();
    // A billion numbers do not fit a 32-bit guest: the allocation is
    // refused (Rust aborts on a capacity overflow: an unreachable trap) or
    // stops at the memory limit, whichever the size asks first.
    assert!(
        error.contains(&EvalError::MemoryLimit(Limits::default().memory_bytes).to_string())
            || error.contains(&EvalError::Unreachable.to_string())
            || error.contains("out of fuel"),
        "{error}"
    );
    // A range that fits the address space but not the limit meets the
    // limit itself.
    let rego = rego.replace("1000000000", "10000000");
    let error = outcome(&engine, Limits::default(), &rego, &pod()).unwrap_err();
    assert!(
        error.contains(&EvalError::MemoryLimit(Limits::default().memory_bytes).to_string())
            || error.contains("out of fuel"),
        "{error}"
    );
}

#[test]
fn endless_recursion_is_refused_or_stopped() {
    let engine = Engine::default();
    let rego = "package hostile\nimport rego.v1\nf(x) := y if {\n  y := f(x + 1)\n}\ndeny contains msg if {\n  msg := sprintf(\"%v\", [f(1)])\n}\n";
    let error = outcome(&engine, Limits::default(), rego, &pod()).unwrap_err();
    assert!(
        error.contains("recursi")
            || error.contains("stack overflow")
            || error.contains("out of fuel")
            || error.contains("memory limit"),
        "{error}"
    );
}

#[test]
fn walking_a_large_input_is_bounded_by_fuel() {
    let engine = Engine::default();
    // 20,000 labels; walk visits every node several times over.
    let labels: serde_json::Map<String, Value> = (0..20_000)
        .map(|i| (format!("label-{i}"), Value::from(format!("value-{i}"))))
        .collect();
    let mut object = pod();
    object["metadata"]["labels"] = Value::Object(labels);
    let rego = "package hostile\nimport rego.v1\ndeny contains msg if {\n  some i in numbers.range(1, 1000)\n  n := count([p | walk(input, [p, _])])\n  n > i\n  msg := sprintf(\"%d\", [i])\n}\n";
    let limits = Limits {
        fuel: 200_000_000,
        fuel_per_request_byte: 0,
        ..Limits::default()
    };
    let error = outcome(&engine, limits, rego, &object).unwrap_err();
    assert!(
        error.contains("out of fuel") || error.contains("memory limit"),
        "{error}"
    );
}

#[test]
fn a_regex_built_to_backtrack_runs_in_linear_time() {
    // Rust's regex engine does not backtrack: the classic (a+)+$ against
    // a long run of a's and one mismatch ends quickly, well inside the
    // default fuel.
    let engine = Engine::default();
    let mut object = pod();
    object["metadata"]["name"] = Value::from(format!("{}!", "a".repeat(5_000)));
    let rego = "package hostile\nimport rego.v1\ndeny contains \"matched\" if {\n  regex.match(`^(a+)+$`, input.metadata.name)\n}\n";
    assert_eq!(
        outcome(&engine, Limits::default(), rego, &object),
        Ok(vec![])
    );
}

#[test]
fn the_runtime_keeps_working_after_a_hostile_program() {
    let engine = Engine::default();
    let limits = Limits::default();
    let hostile = "package hostile\nimport rego.v1\ndeny contains msg if {\n  n := count(numbers.range(1, 1000000000))\n  msg := sprintf(\"%d\", [n])\n}\n";
    assert!(outcome(&engine, limits, hostile, &pod()).is_err());
    let fine =
        "package fine\nimport rego.v1\ndeny contains \"no labels\" if not input.metadata.labels\n";
    assert_eq!(
        outcome(&engine, limits, fine, &pod()),
        Ok(vec!["no labels".to_owned()])
    );
}

/// The runtime's stack (512 KiB, `crates/builtin/policy_build.rs`) holds
/// deep but finite programs: a chain of 100 rules, each reading the one
/// before, and of 100 functions, each calling the one before.
#[test]
fn deep_rule_and_function_chains_evaluate() {
    let engine = Engine::default();
    let mut rules = String::from("package hostile\nimport rego.v1\nr0 := 1\n");
    let mut functions = String::from("package hostile\nimport rego.v1\nf0(x) := x\n");
    for i in 1..100 {
        rules.push_str(&format!("r{i} := r{} + 1\n", i - 1));
        functions.push_str(&format!("f{i}(x) := f{}(x + 1)\n", i - 1));
    }
    rules.push_str("deny contains msg if {\n  msg := sprintf(\"%d\", [r99])\n}\n");
    functions.push_str("deny contains msg if {\n  msg := sprintf(\"%d\", [f99(0)])\n}\n");
    assert_eq!(
        outcome(&engine, Limits::default(), &rules, &pod()),
        Ok(vec!["100".to_owned()])
    );
    assert_eq!(
        outcome(&engine, Limits::default(), &functions, &pod()),
        Ok(vec!["99".to_owned()])
    );
}
