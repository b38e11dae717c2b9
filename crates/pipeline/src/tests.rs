use serde_json::json;
use wasm_validate_engine::Limits;
use wasm_validate_manifest::{Format, parse};

use super::*;

fn builtin_set(engine: &Engine) -> PolicySet {
    PolicySet {
        policies: wasm_validate_builtin::policies()
            .iter()
            .map(|(_, bytes)| {
                ConfiguredPolicy::new(engine.load(bytes, Limits::default()).unwrap(), json!({}))
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
    // The Service matches no policy.
    assert!(results.last().unwrap().is_empty());
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
