//! Hand-written modules from `testdata/wat`: well-behaved ones work, and each
//! hostile one yields its precise error within bounded time and memory,
//! without affecting the evaluations around it.

use std::path::PathBuf;

#[path = "support/repeat.rs"]
mod support;

#[path = "support/prepare.rs"]
mod prepare;

#[path = "support/reuse.rs"]
mod reuse;

use wasm_validate_engine::{Engine, EngineConfig, EvalError, Limits, LoadError, Policy};

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

/// The default limits with an exact budget of `fuel` units (as `--fuel`
/// gives: nothing added per byte of the request).
fn with_fuel(fuel: u64) -> Limits {
    Limits {
        fuel,
        fuel_per_request_byte: 0,
        ..Limits::default()
    }
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
    let limits = with_fuel(5_000_000);
    assert_eq!(
        evaluate_error("infinite-loop", limits),
        EvalError::OutOfFuel(5_000_000)
    );
}

#[test]
fn endless_start_function_runs_out_of_fuel() {
    let limits = with_fuel(1_000_000);
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

#[test]
fn a_response_of_gigabytes_is_refused_by_its_length() {
    assert_eq!(
        evaluate_error("huge-response", Limits::default()),
        EvalError::ResponseTooLarge {
            len: 0xffff_ffff,
            max: 16 << 20
        }
    );
    // Inside memory (32 MiB grown), but over the 16 MiB response limit.
    assert_eq!(
        evaluate_error("memory-sized-response", Limits::default()),
        EvalError::ResponseTooLarge {
            len: 32 << 20,
            max: 16 << 20
        }
    );
}

#[test]
fn invalid_json_and_wrong_shapes_are_malformed_responses() {
    for name in ["invalid-json", "wrong-shape-response"] {
        let error = evaluate_error(name, Limits::default());
        assert!(
            matches!(&error, EvalError::MalformedResponse(m) if m.contains("not a valid ABI response")),
            "{name}: {error}"
        );
    }
}

#[test]
fn huge_declared_memory_or_table_fail_instantiation_without_reserving_them() {
    // 65,536 pages is 4 GiB: refused against the 64 MiB cap.
    assert_eq!(
        evaluate_error("huge-initial-memory", Limits::default()),
        EvalError::MemoryLimit(64 << 20)
    );
    assert_eq!(
        evaluate_error("huge-table", Limits::default()),
        EvalError::TableLimit(10_000)
    );
}

#[test]
fn imports_the_host_does_not_define_are_refused_at_load() {
    let engine = Engine::default();
    let error = engine
        .load(&wat("nonexistent-import"), Limits::default())
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::ForbiddenImport { module, name }
            if module == "wasm_validate" && name == "exec"),
        "{error}"
    );
    let error = engine
        .load(&wat("log-wrong-type"), Limits::default())
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::ImportType { name, .. } if name == "log"),
        "{error}"
    );
    assert!(error.to_string().contains("[I64, I64] -> []"), "{error}");
}

/// Each required export, removed or given another type in the well-behaved
/// `allow-all.wat`, is refused at load naming the export and the problem.
#[test]
fn every_required_export_is_checked_by_name_and_type() {
    let engine = Engine::default();
    let text = String::from_utf8(wat("allow-all")).unwrap();
    let cases = [
        (
            r#"(memory (export "memory") 1)"#,
            r#"(memory 1)"#,
            "memory",
            "is missing",
        ),
        (
            r#"(func (export "wv_alloc") (param $len i32) (result i32)"#,
            r#"(func (export "wv_alloc") (param $len i32) (param i32) (result i32)"#,
            "wv_alloc",
            "must be",
        ),
        (
            r#"(func (export "wv_abi_version") (result i32) (i32.const 1))"#,
            r#"(func (result i32) (i32.const 1))"#,
            "wv_abi_version",
            "is missing",
        ),
        (
            r#"(func (export "wv_evaluate") (param i32 i32) (result i64)"#,
            r#"(func (export "wv_evaluate") (param i32 i32) (result i32)"#,
            "wv_evaluate",
            "must be",
        ),
    ];
    for (from, to, export, problem) in cases {
        assert!(text.contains(from), "{from}");
        let changed = text.replace(from, to);
        let changed = if export == "wv_evaluate" {
            changed.replace("(i64.const 0)", "(i32.const 0)")
        } else {
            changed
        };
        let error = engine
            .load(changed.as_bytes(), Limits::default())
            .unwrap_err();
        assert!(
            matches!(&error, LoadError::Export { name, problem: p } if *name == export && p.contains(problem)),
            "{export}: {error}"
        );
    }
}

/// `slow-compile.wat` with its sections repeated: one function of `huge`
/// times four instructions nested in `depth` blocks.
fn slow_compile(huge: usize, depth: usize) -> String {
    let text = String::from_utf8(wat("slow-compile")).unwrap();
    support::repeat_sections(&text, |name| if name == "huge" { huge } else { depth })
}

#[test]
fn a_module_built_to_be_slow_to_compile_is_bounded() {
    let engine = Engine::default();
    // As committed: a small module that allows.
    let small = engine
        .load(slow_compile(1, 1).as_bytes(), Limits::default())
        .unwrap();
    assert!(engine.evaluate(&small, REQUEST).unwrap().response.allowed);
    // 800,000 instructions in one function, nested in 20,000 blocks: loads,
    // translates on first call (charged no fuel) and runs; the fuel used is
    // the instructions run, the same on the first call as on the second.
    let huge = slow_compile(200_000, 20_000);
    let policy = engine.load(huge.as_bytes(), Limits::default()).unwrap();
    let first = engine.evaluate(&policy, REQUEST).unwrap();
    assert!(first.response.allowed);
    assert!(first.fuel_used >= 800_000, "{}", first.fuel_used);
    assert_eq!(
        engine.evaluate(&policy, REQUEST).unwrap().fuel_used,
        first.fuel_used
    );
    // Under a fuel budget smaller than the function, it stops.
    let tight = engine.load(huge.as_bytes(), with_fuel(100_000)).unwrap();
    assert_eq!(
        engine.evaluate(&tight, REQUEST).unwrap_err(),
        EvalError::OutOfFuel(100_000)
    );
}

#[test]
fn modules_over_the_size_limit_are_refused_before_parsing() {
    let engine = Engine::new(EngineConfig {
        max_module_bytes: 1 << 20,
        ..EngineConfig::default()
    });
    let big = slow_compile(40_000, 1);
    assert!(big.len() > 1 << 20);
    let error = engine.load(big.as_bytes(), Limits::default()).unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { len, max: 0x10_0000 } if len == big.len()),
        "{error}"
    );
    // The default limit is 64 MiB: 65 MiB of zeros after a Wasm header is
    // refused by its size, not parsed.
    let mut zeros = b"\0asm\x01\0\0\0".to_vec();
    zeros.resize(65 << 20, 0);
    let error = Engine::default()
        .load(&zeros, Limits::default())
        .unwrap_err();
    assert!(matches!(error, LoadError::TooLarge { .. }), "{error}");
}

#[test]
fn read_response_checks_length_then_range_without_overflow() {
    use wasm_validate_engine::read_response;
    let memory = br#"....{"allowed":true}"#;
    let packed = |start: u64, len: u64| (start << 32) | len;
    assert!(read_response(memory, 0, 100, false).unwrap().allowed);
    assert!(
        read_response(memory, packed(4, 16), 100, false)
            .unwrap()
            .allowed
    );
    // The largest start and length: no overflow, a precise error.
    let error = read_response(memory, u64::MAX, usize::MAX, false).unwrap_err();
    assert!(
        matches!(&error, EvalError::MalformedResponse(m) if m.contains("4294967295..8589934590 lies outside the 20 bytes")),
        "{error}"
    );
    assert_eq!(
        read_response(memory, packed(4, 16), 15, false).unwrap_err(),
        EvalError::ResponseTooLarge { len: 16, max: 15 }
    );
}

/// Hostile Kubewarden (waPC) guests meet the same limits: an endless
/// `validate`, a response of gigabytes, an answer that is not a
/// validation response.
#[test]
fn hostile_kubewarden_guests_give_precise_errors() {
    let limits = with_fuel(2_000_000);
    assert_eq!(
        evaluate_error("kubewarden-endless", limits),
        EvalError::OutOfFuel(2_000_000)
    );
    assert_eq!(
        evaluate_error("kubewarden-huge-response", Limits::default()),
        EvalError::ResponseTooLarge {
            len: 0x7fff_ffff,
            max: 16 << 20
        }
    );
    let error = evaluate_error("kubewarden-garbage", Limits::default());
    assert!(
        matches!(&error, EvalError::MalformedResponse(m) if m.contains("not a Kubewarden validation response")),
        "{error}"
    );
}

/// The default budget is the base plus 1,000 fuel per byte of the
/// request, so an endless loop stops later on a larger object but still
/// stops; an explicit budget is exact whatever the request's size.
#[test]
fn the_default_fuel_budget_grows_with_the_request() {
    let engine = Engine::default();
    let policy = engine
        .load(&wat("infinite-loop"), Limits::default())
        .unwrap();
    let expected = Limits::default().fuel + 1_000 * REQUEST.len() as u64;
    assert_eq!(Limits::default().fuel_for(REQUEST.len()), expected);
    assert_eq!(
        engine.evaluate(&policy, REQUEST).unwrap_err(),
        EvalError::OutOfFuel(expected)
    );
    let exact = engine
        .load(&wat("infinite-loop"), with_fuel(3_000_000))
        .unwrap();
    assert_eq!(
        engine.evaluate(&exact, REQUEST).unwrap_err(),
        EvalError::OutOfFuel(3_000_000)
    );
}

/// A version 2 request for REQUEST's object, as the pipeline sends it.
fn tape_request(object: &serde_json::Value) -> Vec<u8> {
    use wasm_validate_abi::{Operation, tape};
    tape::request(
        Operation::Create,
        &tape::encode(&serde_json::json!({})),
        &tape::encode(object),
        None,
    )
}

/// A version 2 module written by hand from docs/abi.md's layout reads the
/// tape the host writes: it finds `kind` among the root's members by
/// skipping subtrees, whatever comes before it.
#[test]
fn a_hand_written_version_2_module_reads_the_tape() {
    let engine = Engine::default();
    let policy = load(&engine, "v2-kind-reader");
    assert_eq!(policy.abi_version(), 2);
    let pod = serde_json::json!({"apiVersion": "v1",
        "metadata": {"name": "p", "labels": {"kind": "Pod"}, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "kind", "image": "Pod"}]}, "kind": "Pod"});
    let denied = engine.evaluate(&policy, &tape_request(&pod)).unwrap();
    assert!(!denied.response.allowed);
    assert_eq!(
        denied.response.violations[0].message,
        "a Pod, read from the tape"
    );
    let mut service = pod.clone();
    service["kind"] = "Service".into();
    assert!(
        engine
            .evaluate(&policy, &tape_request(&service))
            .unwrap()
            .response
            .allowed
    );
    // JSON handed to a version 2 module is converted by the engine.
    assert!(!engine.evaluate(&policy, REQUEST).unwrap().response.allowed);
    // A version 2 request handed to a version 1 module is refused.
    let v1 = load(&engine, "deny-all");
    assert!(matches!(
        engine.evaluate(&v1, &tape_request(&pod)).unwrap_err(),
        EvalError::Trap(m) if m.contains("version 2 request")
    ));
}

/// Version 2 guests that misread the tape: reading past it, believing a
/// count a thousand times too large, asking for a node that does not
/// exist. Each is an error result for that evaluation, and the engine
/// goes on (evaluate_error checks a healthy module afterwards).
#[test]
fn version_2_guests_that_misread_the_tape_are_errors() {
    for name in [
        "v2-reads-past-tape",
        "v2-lies-about-lengths",
        "v2-missing-node",
    ] {
        assert_eq!(
            evaluate_error(name, Limits::default()),
            EvalError::OutOfBounds,
            "{name}"
        );
    }
}

/// A guest that overwrites the request it was given changes nothing the
/// host or the next evaluation sees: the module traps if its request does
/// not start with the magic, so three evaluations in a row prove each got
/// a fresh instance and an intact request.
#[test]
fn a_guest_that_writes_into_the_tape_harms_nothing() {
    let engine = Engine::default();
    let policy = load(&engine, "v2-writes-tape");
    let object = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let request = tape_request(&object);
    let copy = request.clone();
    for _ in 0..3 {
        let evaluation = engine.evaluate(&policy, &request).unwrap();
        assert_eq!(evaluation.response.violations[0].message, "saw a tape");
    }
    assert_eq!(request, copy);
}

/// A request's deadline stops an endless policy whatever its fuel budget
/// (the fuel is handed out in slices and the clock read between them);
/// a policy that ends in time uses exactly the fuel it uses without a
/// deadline, and one that runs out of fuel first still reports that.
#[test]
fn a_deadline_stops_an_endless_policy_and_changes_no_fuel() {
    use std::time::{Duration, Instant};
    use wasm_validate_engine::Context;
    let engine = Engine::default();
    // About a day of interpretation: only the deadline can stop it.
    let endless = engine
        .load(&wat("infinite-loop"), with_fuel(1 << 50))
        .unwrap();
    let started = Instant::now();
    let context = Context::default().with_deadline(started + Duration::from_millis(200));
    match engine.evaluate_in(&endless, REQUEST, &context) {
        Err(EvalError::Deadline(used)) => assert!(used > 0),
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(60));

    let later = Context::default().with_deadline(Instant::now() + Duration::from_secs(3600));
    let short = engine
        .load(&wat("infinite-loop"), with_fuel(12_345_678))
        .unwrap();
    assert_eq!(
        engine.evaluate_in(&short, REQUEST, &later).unwrap_err(),
        EvalError::OutOfFuel(12_345_678)
    );
    for name in ["allow-all", "deny-all", "logger"] {
        let policy = load(&engine, name);
        let plain = engine.evaluate(&policy, REQUEST).unwrap();
        let sliced = engine.evaluate_in(&policy, REQUEST, &later).unwrap();
        assert_eq!(plain.fuel_used, sliced.fuel_used, "{name}");
        assert_eq!(plain.response, sliced.response, "{name}");
    }
}

/// A yield allowance shared by a context's evaluations stops the one that
/// would spend it (`Yielded`, not a verdict), marks the context, and
/// changes neither the answer nor the fuel of those that fit in it.
#[test]
fn a_yield_allowance_stops_an_evaluation_and_changes_no_fuel() {
    use wasm_validate_engine::Context;
    let engine = Engine::default();
    let endless = engine
        .load(&wat("infinite-loop"), with_fuel(1 << 50))
        .unwrap();
    let context = Context::default().with_yield_after(1_000_000);
    assert!(!context.yielded());
    match engine.evaluate_in(&endless, REQUEST, &context) {
        Err(EvalError::Yielded(used)) => assert!((1..=1_000_000).contains(&used), "{used}"),
        other => panic!("expected a yield, got {other:?}"),
    }
    assert!(context.yielded());
    // The context's later evaluations yield at once, even a short one.
    let allow = load(&engine, "allow-all");
    assert!(matches!(
        engine.evaluate_in(&allow, REQUEST, &context),
        Err(EvalError::Yielded(_))
    ));

    for name in ["allow-all", "deny-all", "logger"] {
        let policy = load(&engine, name);
        let plain = engine.evaluate(&policy, REQUEST).unwrap();
        // Room for the evaluation three times over: all three fit, and
        // the allowance shrinks by what each used.
        let roomy = Context::default().with_yield_after(plain.fuel_used * 3);
        for _ in 0..3 {
            let allowed = engine.evaluate_in(&policy, REQUEST, &roomy).unwrap();
            assert_eq!(plain.fuel_used, allowed.fuel_used, "{name}");
            assert_eq!(plain.response, allowed.response, "{name}");
        }
        assert!(roomy.yielded(), "{name}: the allowance is spent");
        // One unit short of the evaluation: it yields.
        let tight = Context::default().with_yield_after(plain.fuel_used - 1);
        assert!(
            matches!(
                engine.evaluate_in(&policy, REQUEST, &tight),
                Err(EvalError::Yielded(_))
            ),
            "{name}"
        );
    }
}
