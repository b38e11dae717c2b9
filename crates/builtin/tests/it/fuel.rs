//! Fuel stays deterministic with ABI version 2: every built-in policy uses
//! the same fuel on the same tape request on its first call in a fresh
//! engine (which translates its code), on a later call, and on another
//! thread. The request is the benchmark's typical Pod. The first call runs
//! in a fresh instance, the later ones in a reused one (the engine's
//! `reuse.rs`): every built-in policy is reusable.

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::{Engine, Limits};

#[test]
fn every_built_in_policy_uses_the_same_fuel_on_the_same_tape() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/bench/typical-pod.yaml"
    ))
    .unwrap();
    let pod: Value = serde_yaml::from_str(&text).unwrap();
    let mut checked = 0;
    for (name, bytes) in wasm_validate_builtin::policies() {
        let engine = Engine::default();
        let policy = engine.load(bytes, Limits::default()).unwrap();
        assert_eq!(policy.abi_version(), 2, "{name}");
        assert!(policy.reuses_instances(), "{name}");
        let settings = match name {
            "allowed-image-registries" => json!({"registries": ["us-central1-docker.pkg.dev/"]}),
            "required-labels" => json!({"labels": [{"key": "app"}]}),
            "add-default-labels" => json!({"labels": {"team": "shop"}}),
            _ => json!({}),
        };
        let request = tape::request(
            Operation::Create,
            &tape::encode(&settings),
            &tape::encode(&pod),
            None,
        );
        let first = engine.evaluate(&policy, &request).unwrap().fuel_used;
        let second = engine.evaluate(&policy, &request).unwrap().fuel_used;
        let elsewhere = std::thread::scope(|s| {
            s.spawn(|| engine.evaluate(&policy, &request).unwrap().fuel_used)
                .join()
                .unwrap()
        });
        assert!(first > 0, "{name}");
        assert_eq!((first, first), (second, elsewhere), "{name}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}
