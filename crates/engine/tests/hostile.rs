//! Hand-written modules from `testdata/wat`: well-behaved ones work, and each
//! hostile one yields its precise error within bounded time and memory,
//! without affecting the evaluations around it.

use std::path::PathBuf;

use wasm_validate_engine::{Engine, EvalError, Limits, LoadError, Policy};

fn wat(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../testdata/wat/{name}.wat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(engine: &Engine, name: &str) -> Policy {
    engine
        .load(&wat(name), Limits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

const REQUEST: &[u8] = br#"{"operation":"CREATE","settings":{},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}}"#;

#[test]
fn well_behaved_modules_allow_and_deny() {
    let engine = Engine::default();
    let allow = engine
        .evaluate(&load(&engine, "allow-all"), REQUEST)
        .unwrap();
    assert!(allow.response.allowed);
    assert!(allow.fuel_used > 0);
    let deny = engine
        .evaluate(&load(&engine, "deny-all"), REQUEST)
        .unwrap();
    assert!(!deny.response.allowed);
    assert_eq!(deny.response.violations[0].message, "denied by test");
    assert_eq!(deny.response.violations[0].path, "/metadata/name");
}

#[test]
fn metadata_is_read_from_the_custom_section() {
    let engine = Engine::default();
    let policy = load(&engine, "deny-all");
    assert_eq!(policy.name(), "deny-all");
    assert!(policy.metadata().applies_to("apps/v1", "Deployment"));
}

#[test]
fn log_calls_reach_the_host() {
    let engine = Engine::default();
    let evaluation = engine.evaluate(&load(&engine, "logger"), REQUEST).unwrap();
    assert_eq!(evaluation.logs.len(), 1);
    assert_eq!(evaluation.logs[0].message, "hello from the policy");
}

fn evaluate_error(name: &str, limits: Limits) -> EvalError {
    let engine = Engine::default();
    let policy = engine.load(&wat(name), limits).unwrap();
    let error = engine.evaluate(&policy, REQUEST).unwrap_err();
    // The engine is still usable after the failure.
    let healthy = load(&engine, "deny-all");
    assert!(!engine.evaluate(&healthy, REQUEST).unwrap().response.allowed);
    error
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 5_000_000,
        ..Limits::default()
    };
    assert_eq!(
        evaluate_error("infinite-loop", limits),
        EvalError::OutOfFuel(5_000_000)
    );
}

#[test]
fn endless_start_function_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 1_000_000,
        ..Limits::default()
    };
    assert_eq!(
        evaluate_error("endless-start", limits),
        EvalError::OutOfFuel(1_000_000)
    );
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let limits = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    assert_eq!(
        evaluate_error("memory-bomb", limits),
        EvalError::MemoryLimit(4 << 20)
    );
}

#[test]
fn deep_recursion_overflows_the_stack() {
    assert_eq!(
        evaluate_error("deep-recursion", Limits::default()),
        EvalError::StackOverflow(1024)
    );
}

#[test]
fn unreachable_is_reported() {
    assert_eq!(
        evaluate_error("unreachable", Limits::default()),
        EvalError::Unreachable
    );
}

#[test]
fn garbage_response_is_malformed() {
    let error = evaluate_error("garbage-response", Limits::default());
    assert!(
        matches!(&error, EvalError::MalformedResponse(m) if m.contains("not valid UTF-8")),
        "{error}"
    );
}

#[test]
fn response_outside_memory_is_malformed() {
    let error = evaluate_error("response-out-of-bounds", Limits::default());
    assert!(
        matches!(&error, EvalError::MalformedResponse(m) if m.contains("outside")),
        "{error}"
    );
    let small = Limits {
        response_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        evaluate_error("response-out-of-bounds", small),
        EvalError::ResponseTooLarge { len: 100, max: 10 }
    );
}

#[test]
fn forbidden_import_is_rejected_at_load_naming_it() {
    let error = Engine::default()
        .load(&wat("forbidden-import"), Limits::default())
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::ForbiddenImport { module, name }
            if module == "wasi_snapshot_preview1" && name == "path_open"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("\"wasi_snapshot_preview1\".\"path_open\"")
    );
}

#[test]
fn wrong_export_signature_is_rejected_at_load() {
    let error = Engine::default()
        .load(&wat("wrong-signature"), Limits::default())
        .unwrap_err();
    assert!(
        matches!(
            error,
            LoadError::Export {
                name: "wv_evaluate",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn modules_without_metadata_or_invalid_bytes_are_rejected() {
    let engine = Engine::default();
    let bare = br#"(module (memory (export "memory") 1)
        (func (export "wv_abi_version") (result i32) (i32.const 1))
        (func (export "wv_alloc") (param i32) (result i32) (i32.const 8))
        (func (export "wv_evaluate") (param i32 i32) (result i64) (i64.const 0)))"#;
    assert!(matches!(
        engine.load(bare, Limits::default()),
        Err(LoadError::Metadata(_))
    ));
    assert!(matches!(
        engine.load(b"\0asm\x01\0\0\0garbage", Limits::default()),
        Err(LoadError::Invalid(_))
    ));
}

#[test]
fn fuel_use_is_deterministic() {
    let engine = Engine::default();
    let policy = load(&engine, "deny-all");
    let first = engine.evaluate(&policy, REQUEST).unwrap().fuel_used;
    for _ in 0..3 {
        assert_eq!(engine.evaluate(&policy, REQUEST).unwrap().fuel_used, first);
    }
}

#[test]
fn invalid_function_bodies_are_refused_at_load_or_fail_when_called() {
    let engine = Engine::default();
    let error = engine
        .load(&wat("invalid-body"), Limits::default())
        .unwrap_err();
    assert!(matches!(error, LoadError::Invalid(_)), "{error}");
    let policy = engine
        .load_prevalidated(&wat("invalid-body"), Limits::default(), "invalid-body")
        .unwrap();
    let error = engine.evaluate(&policy, REQUEST).unwrap_err();
    assert!(error.to_string().contains("type mismatch"), "{error}");
}

/// Functions are translated on their first call and translation costs no
/// fuel, so the first evaluation (which translates) and later ones use the
/// same fuel, and so do evaluations on other threads.
#[test]
fn fuel_does_not_depend_on_which_evaluation_compiled_the_code() {
    let engine = Engine::default();
    for name in ["deny-all", "logger", "label-deployments"] {
        let policy = load(&engine, name);
        let first = engine.evaluate(&policy, REQUEST).unwrap().fuel_used;
        let second = engine.evaluate(&policy, REQUEST).unwrap().fuel_used;
        let elsewhere = std::thread::scope(|s| {
            s.spawn(|| engine.evaluate(&policy, REQUEST).unwrap().fuel_used)
                .join()
                .unwrap()
        });
        assert!(first > 0);
        assert_eq!((first, first), (second, elsewhere), "{name}");
    }
}
