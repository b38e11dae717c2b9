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

/// The Rego and CEL runtimes are reused too (their starting memory, about
/// 2.2 MiB, is under the engine's limit, and a typical evaluation fits in
/// the pages the runtimes' allocator reserves while preparing, so memory
/// does not grow): an instance that evaluated one object answers the next
/// exactly as a fresh instance does, with the same fuel. Each runtime is
/// prepared twice, so that one preparation's first evaluation of each
/// object runs in a fresh instance and the other's in a reused one.
#[test]
fn the_runtimes_are_reused_with_the_answers_and_fuel_of_a_fresh_instance() {
    let rego = json!({
        "modules": [{"path": "template.rego", "rego": "package t\n\nviolation[{\"msg\": msg}] {\n  not input.review.object.metadata.labels.owner\n  msg := sprintf(\"%v has no owner\", [input.review.object.metadata.name])\n}\n"}],
        "regoVersion": 0,
        "deny": ["violation"],
        "input": "gatekeeper",
        "parameters": {},
    });
    let cel = json!({"validations": [{
        "expression": "has(object.metadata.labels) && 'owner' in object.metadata.labels",
        "messageExpression": "object.metadata.name + ' has no owner'",
    }]});
    let pod = |name: &str, labels: Value| {
        let object = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels}});
        tape::request(
            Operation::Create,
            &tape::encode(&json!({})),
            &tape::encode(&object),
            None,
        )
    };
    let denied = pod("a", json!({"app": "x"}));
    let allowed = pod("b", json!({"owner": "me"}));
    for (name, program) in [("rego", rego), ("cel", cel)] {
        let engine = Engine::default();
        let runtime = engine
            .load(
                wasm_validate_builtin::runtime(name).unwrap(),
                Limits::default(),
            )
            .unwrap();
        let run = |policy, request| {
            let evaluation = engine.evaluate(policy, request).unwrap();
            (evaluation.response, evaluation.fuel_used)
        };
        let fresh = engine.prepare(&runtime, &program).unwrap();
        let reused = engine.prepare(&runtime, &program).unwrap();
        // Fresh instances: the first evaluation of each preparation.
        let denied_fresh = run(&fresh, &denied);
        let allowed_fresh = run(&reused, &allowed);
        assert_eq!(
            denied_fresh.0.violations[0].message, "a has no owner",
            "{name}"
        );
        assert!(allowed_fresh.0.allowed, "{name}");
        assert!(
            fresh.reuses_instances() && reused.reuses_instances(),
            "{name}"
        );
        // Reused instances, each after the other object.
        assert_eq!(run(&reused, &denied), denied_fresh, "{name}");
        assert_eq!(run(&fresh, &allowed), allowed_fresh, "{name}");
        assert_eq!(run(&reused, &denied), denied_fresh, "{name}");
    }
}
