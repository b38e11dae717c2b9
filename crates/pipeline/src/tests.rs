use serde_json::json;
use wasm_validate_engine::Limits;
use wasm_validate_manifest::{Format, parse};

use super::*;

fn builtin_set(engine: &Engine) -> PolicySet {
    PolicySet {
        policies: wasm_validate_builtin::select(
            &[
                wasm_validate_builtin::Profile::Fixes,
                wasm_validate_builtin::Profile::Restricted,
                wasm_validate_builtin::Profile::BestPractices,
            ],
            |_| false,
        )
        .into_iter()
        .map(|name| {
            let bytes = wasm_validate_builtin::get(name).unwrap();
            ConfiguredPolicy::configure(engine.load(bytes, Limits::default()).unwrap(), json!({}))
                .unwrap()
        })
        .collect(),
    }
}

fn fixtures() -> Vec<Resource> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fixtures/violations.yaml"
    );
    let parsed = parse(
        "violations.yaml",
        std::fs::read(path).unwrap(),
        Format::Yaml,
    );
    assert!(parsed.errors.is_empty());
    parsed.resources
}

#[test]
fn mutations_run_first_and_validators_see_them() {
    let engine = Engine::default();
    let set = builtin_set(&engine);
    let mut resources = fixtures();
    let results = run(&engine, &set, &mut resources, 1);
    assert_eq!(results.len(), resources.len());
    // Of the default library, only disallow-service-types applies to a Service.
    let service: Vec<&str> = results
        .last()
        .unwrap()
        .iter()
        .map(|r| set.policies[r.policy].name())
        .collect();
    assert_eq!(service, ["disallow-service-types"]);
    let deployment = &resources[0];
    assert!(deployment.modified);
    assert_eq!(
        deployment.object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
            ["drop"],
        json!(["ALL"])
    );
    // Results are in policy order.
    let order: Vec<usize> = results[0].iter().map(|r| r.policy).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let drop_all = set
        .policies
        .iter()
        .position(|p| p.name() == "drop-all-capabilities")
        .unwrap();
    assert!(
        results[0]
            .iter()
            .any(|r| r.policy == drop_all && r.patch.is_some())
    );
}

#[test]
fn patches_may_not_change_identity() {
    let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}});
    let rename: Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/metadata/name", "value": "b"}]))
            .unwrap();
    assert!(
        apply_patch(&object, &rename)
            .unwrap_err()
            .contains("/metadata/name")
    );
    let drop_meta: Patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/metadata"}])).unwrap();
    assert!(apply_patch(&object, &drop_meta).is_err());
    let bad: Patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/spec/missing"}])).unwrap();
    assert!(
        apply_patch(&object, &bad)
            .unwrap_err()
            .contains("does not apply")
    );
}

#[test]
fn a_patch_that_does_not_fully_apply_changes_nothing() {
    let engine = Engine::default();
    let wat = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/wat/half-bad-patch.wat"
    ))
    .unwrap();
    let mut set = builtin_set(&engine);
    set.policies.insert(
        0,
        ConfiguredPolicy::new(engine.load(&wat, Limits::default()).unwrap(), json!({})),
    );
    let mut resources = fixtures();
    let original = resources[0].object.clone();
    let results = run(&engine, &set, &mut resources, 1);
    let hostile = &results[0][0];
    assert_eq!(hostile.policy, 0);
    match &hostile.outcome {
        Outcome::Error(message) => assert!(message.contains("does not apply"), "{message}"),
        other => panic!("expected an error result, got {other:?}"),
    }
    assert!(hostile.patch.is_none());
    // Nothing of the half patch reached the object: no "half" label; only the
    // built-in fixes (which come after it) changed it.
    assert!(
        resources[0].object["metadata"]["labels"]
            .get("half")
            .is_none()
    );
    assert_eq!(
        resources[0].object["metadata"]["name"],
        original["metadata"]["name"]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]
    /// The results and mutated objects with 1 thread equal those with several.
    #[test]
    fn thread_count_does_not_change_results(threads in 2usize..5, copies in 1usize..4) {
        let engine = Engine::default();
        let set = builtin_set(&engine);
        let mut base: Vec<Resource> = (0..copies).flat_map(|_| fixtures()).collect();
        let mut parallel = base.clone();
        let single = run(&engine, &set, &mut base, 1);
        let many = run(&engine, &set, &mut parallel, threads);
        proptest::prop_assert_eq!(single, many);
        proptest::prop_assert_eq!(base, parallel);
    }
}
