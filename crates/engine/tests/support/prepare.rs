//! Preparation (`wv_prepare`): the state it leaves starts every
//! evaluation, nothing an evaluation writes reaches the next, and modules
//! whose state could not be restored are refused at load.

use wasm_validate_engine::{Engine, EvalError, Limits, LoadError};

use crate::{REQUEST, load, wat};

#[test]
fn every_evaluation_starts_from_the_prepared_state() {
    let engine = Engine::default();
    let module = load(&engine, "prepared-state");
    assert!(module.is_preparable());
    let prepared = engine
        .prepare(&module, &serde_json::json!({}))
        .expect("prepares");
    assert!(prepared.is_prepared());
    // Three 4 KiB chunks differ from a fresh instance: the marker at 1000,
    // the settings the host wrote at 4096, and the marker in the grown page.
    assert_eq!(prepared.prepared_bytes(), 3 * 4096);
    // Each evaluation overwrites the markers and the global; the module
    // denies unless it finds them as preparation left them.
    let fuel: Vec<u64> = (0..3)
        .map(|_| {
            let evaluation = engine.evaluate(&prepared, REQUEST).unwrap();
            assert!(evaluation.response.allowed, "{:?}", evaluation.response);
            evaluation.fuel_used
        })
        .collect();
    assert!(fuel.windows(2).all(|w| w[0] == w[1]), "{fuel:?}");
}

#[test]
fn a_preparable_module_is_not_evaluated_unprepared() {
    let engine = Engine::default();
    let module = load(&engine, "prepared-state");
    let error = engine.evaluate(&module, REQUEST).unwrap_err();
    assert!(
        matches!(&error, EvalError::Instantiation(m) if m.contains("must be prepared")),
        "{error}"
    );
}

#[test]
fn refused_settings_are_the_modules_error() {
    let engine = Engine::default();
    let module = load(&engine, "prepare-refuses");
    let error = engine
        .prepare(&module, &serde_json::json!({"x": 1}))
        .unwrap_err();
    assert_eq!(
        error,
        EvalError::Policy("these settings are refused".into())
    );
}

#[test]
fn modules_whose_state_cannot_be_restored_are_refused_at_load() {
    let engine = Engine::default();
    for (name, problem) in [
        ("prepare-hidden-global", "mutable global 1 is not exported"),
        ("prepare-table-set", "changes a table"),
    ] {
        match engine.load(&wat(name), Limits::default()) {
            Err(LoadError::Export {
                name: export,
                problem: found,
            }) => {
                assert_eq!(export, "wv_prepare");
                assert!(found.contains(problem), "{name}: {found}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn modules_without_wv_prepare_are_prepared_as_they_are() {
    let engine = Engine::default();
    let module = load(&engine, "deny-all");
    assert!(!module.is_preparable());
    let same = engine.prepare(&module, &serde_json::json!({})).unwrap();
    assert!(!same.is_prepared());
    assert!(!engine.evaluate(&same, REQUEST).unwrap().response.allowed);
}
