//! Hostile CEL in the CEL runtime: each is stopped by the engine's fuel or
//! memory limit (or refused when it is compiled) and becomes an error for
//! that policy, never a crash or a hang of the host; the runtime's next
//! evaluation is unaffected. And no host crate links a CEL interpreter.

use serde_json::{Value, json};
use wasm_validate_engine::Engine;

use crate::cel::outcome;

#[test]
fn a_huge_comprehension_is_stopped_by_fuel_or_memory() {
    let engine = Engine::default();
    for expression in [
        "lists.range(1000000).all(i, lists.range(1000000).all(j, i + j >= 0))",
        "lists.range(1000000).map(i, lists.range(1000)).size() > 0",
        "lists.range(20000).all(i, lists.range(20000).all(j, i + j >= 0))",
    ] {
        let error = outcome(&engine, expression).unwrap_err();
        assert!(
            error.contains("out of fuel")
                || error.contains("memory limit")
                || error.contains("unreachable"),
            "{expression}: {error}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_when_compiled() {
    let engine = Engine::default();
    let expression = format!("{}true{}", "(".repeat(5_000), ")".repeat(5_000));
    let error = outcome(&engine, &expression).unwrap_err();
    assert!(error.starts_with("prepare:"), "{error}");
}

#[test]
fn a_regex_built_to_backtrack_runs_in_linear_time() {
    let engine = Engine::default();
    let expression = format!("'{}!'.matches('^(a+)+$')", "a".repeat(5_000));
    assert_eq!(outcome(&engine, &expression), Ok(vec!["denied".to_owned()]));
}

#[test]
fn the_runtime_keeps_working_after_a_hostile_program() {
    let engine = Engine::default();
    assert!(
        outcome(
            &engine,
            "lists.range(1000000).all(i, lists.range(1000000).all(j, j >= 0))"
        )
        .is_err()
    );
    assert_eq!(
        outcome(&engine, "object.metadata.name == 'q'"),
        Ok(vec!["denied".to_owned()])
    );
}

/// The host evaluates no CEL: no crate that ships (everything under
/// crates/ but the benchmark) depends on the CEL runtime or a CEL
/// interpreter.
#[test]
fn no_shipped_crate_links_a_cel_interpreter() {
    let crates = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut checked = 0;
    for entry in std::fs::read_dir(crates).unwrap() {
        let dir = entry.unwrap().path();
        if dir.file_name().is_some_and(|n| n == "bench") {
            continue;
        }
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let manifest: Value = toml_to_json(&manifest);
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for name in manifest[table]
                .as_object()
                .into_iter()
                .flat_map(|t| t.keys())
            {
                assert!(
                    !matches!(
                        name.as_str(),
                        "cel" | "runtime-cel" | "cel-interpreter" | "cel-parser"
                    ),
                    "{} depends on {name}",
                    dir.display()
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} crates");
}

/// The dependency tables of a Cargo.toml as JSON: `[table]` headers and
/// `name = ...` lines (enough for dependency names).
fn toml_to_json(text: &str) -> Value {
    let mut out = serde_json::Map::new();
    let mut table = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.to_owned();
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().split('.').next().unwrap_or_default().to_owned();
            if !key.is_empty() && !key.starts_with('#') {
                out.entry(table.clone())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .unwrap()
                    .insert(key, Value::Null);
            }
        }
    }
    Value::Object(out)
}

/// The runtime's stack (512 KiB, `crates/builtin/policy_build.rs`) outlasts
/// the engine's call-depth limit: a long chain of selections evaluates, and
/// deep nesting stops at the call depth, never at the end of the stack
/// (with 256 KiB, 200 selections trapped out of bounds).
#[test]
fn deep_programs_meet_the_call_depth_limit_before_the_end_of_the_stack() {
    let engine = Engine::default();
    let chain = format!("object{} == 1", ".?a".repeat(200));
    assert_eq!(outcome(&engine, &chain), Ok(vec!["denied".to_owned()]));
    for nested in [
        format!("{}true{}", "(".repeat(250), ")".repeat(250)),
        format!("{}1{}", "[".repeat(250), "]".repeat(250)),
    ] {
        let error = outcome(&engine, &nested).unwrap_err();
        assert!(error.contains("call depth"), "{error}");
    }
}
