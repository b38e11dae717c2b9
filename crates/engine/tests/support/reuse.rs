//! Instance reuse (`crates/engine/src/reuse.rs`): a reused instance starts
//! each evaluation in exactly the state a fresh one would (memory, globals,
//! memory size), whatever the evaluation before it did (returned, grew
//! memory, trapped), on any thread and with the same fuel; modules whose
//! state the host cannot restore are never reused.

use wasm_validate_engine::{Engine, EvalError};

use crate::{REQUEST, load};

/// `REQUEST` with `last` appended (JSON allows trailing whitespace), which
/// `reused-state.wat` reads to pick what it does.
fn request(last: u8) -> Vec<u8> {
    let mut request = REQUEST.to_vec();
    request.push(last);
    request
}

#[test]
fn every_evaluation_of_a_reused_instance_starts_from_the_starting_state() {
    let engine = Engine::default();
    let policy = load(&engine, "reused-state");
    assert!(policy.reuses_instances());
    let normal = request(b'}');
    let mut fuel = Vec::new();
    for (step, last) in [b'}', b'}', b' ', b'}', b'\n', b'}', b'}']
        .iter()
        .enumerate()
    {
        match engine.evaluate(&policy, &request(*last)) {
            Ok(evaluation) => {
                assert!(evaluation.response.allowed, "step {step}: {evaluation:?}");
                if *last == b'}' {
                    fuel.push(evaluation.fuel_used);
                }
            }
            Err(error) => {
                assert_eq!((step, error), (4, EvalError::Unreachable));
            }
        }
    }
    assert_eq!(fuel.len(), 5);
    assert!(fuel.windows(2).all(|w| w[0] == w[1]), "{fuel:?}");
    // Two threads share the policy's idle instances.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..200 {
                    let evaluation = engine.evaluate(&policy, &normal).unwrap();
                    assert!(evaluation.response.allowed, "{evaluation:?}");
                    assert_eq!(evaluation.fuel_used, fuel[0]);
                }
            });
        }
    });
}

#[test]
fn modules_whose_state_cannot_be_restored_get_a_fresh_instance_each_time() {
    let engine = Engine::default();
    for name in ["hidden-state", "changes-table"] {
        let policy = load(&engine, name);
        assert!(!policy.reuses_instances(), "{name}");
        for _ in 0..3 {
            let evaluation = engine.evaluate(&policy, REQUEST).unwrap();
            assert!(evaluation.response.allowed, "{name}: {evaluation:?}");
        }
    }
}

#[test]
fn prepared_modules_are_reused_from_their_prepared_state() {
    let engine = Engine::default();
    let prepared = engine
        .prepare(&load(&engine, "prepared-state"), &serde_json::json!({}))
        .unwrap();
    assert!(prepared.reuses_instances());
    for _ in 0..3 {
        assert!(
            engine
                .evaluate(&prepared, REQUEST)
                .unwrap()
                .response
                .allowed
        );
    }
}
