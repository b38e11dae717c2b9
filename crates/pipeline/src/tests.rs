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
        ..PolicySet::default()
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

fn index_of(set: &PolicySet, name: &str) -> usize {
    set.policies.iter().position(|p| p.name() == name).unwrap()
}

fn result_of<'a>(set: &PolicySet, results: &'a [PolicyResult], name: &str) -> &'a PolicyResult {
    let index = index_of(set, name);
    results.iter().find(|r| r.policy == index).unwrap()
}

#[test]
fn an_ignore_annotation_exempts_the_named_policies_but_keeps_their_findings() {
    let engine = Engine::default();
    let set = builtin_set(&engine);
    let mut resources = fixtures();
    let annotations = json!({
        IGNORE_ANNOTATION: "privileged, drop-all-capabilities",
        IGNORE_REASON_ANNOTATION: "legacy web tier, ticket OPS-12"
    });
    resources[0].object["spec"]["template"]["metadata"]["annotations"] = annotations;
    let plain = run(&engine, &set, &mut fixtures(), 1);
    let results = run(&engine, &set, &mut resources, 1);
    let privileged = result_of(&set, &results[0], "privileged");
    assert_eq!(privileged.outcome, Outcome::Pass);
    let Outcome::Fail(before) = &result_of(&set, &plain[0], "privileged").outcome else {
        panic!("the fixture should fail privileged");
    };
    let exempted: Vec<&Violation> = privileged.exempted.iter().map(|(v, _)| v).collect();
    assert_eq!(exempted, before.iter().collect::<Vec<_>>());
    let exempt = privileged.exemption.as_ref().unwrap();
    assert_eq!(exempt.reason, "legacy web tier, ticket OPS-12");
    assert_eq!(exempt.source, ExemptionSource::Annotation);
    // The exempted fix is reported but not applied.
    let fix = result_of(&set, &results[0], "drop-all-capabilities");
    assert!(fix.patch.is_some() && !fix.patch_applied);
    assert!(
        resources[0].object["spec"]["template"]["spec"]["containers"][0]["securityContext"]
            .get("capabilities")
            .is_none()
    );
    // Other policies are unaffected.
    assert_eq!(
        result_of(&set, &results[0], "run-as-non-root").outcome,
        result_of(&set, &plain[0], "run-as-non-root").outcome
    );
    // A set that ignores annotations ignores this one.
    let strict = PolicySet {
        ignore_annotations: true,
        ..set.clone()
    };
    let mut again = resources.clone();
    again[0].object = {
        let mut o = fixtures()[0].object.clone();
        o["spec"]["template"]["metadata"]["annotations"] =
            resources[0].object["spec"]["template"]["metadata"]["annotations"].clone();
        o
    };
    let results = run(&engine, &strict, &mut again, 1);
    assert!(matches!(
        result_of(&strict, &results[0], "privileged").outcome,
        Outcome::Fail(_)
    ));
}

#[test]
fn container_exemptions_exempt_only_that_container() {
    let engine = Engine::default();
    let mut set = builtin_set(&engine);
    let exempt = Exempt {
        reason: "init runs as root by design".to_owned(),
        source: ExemptionSource::Config("wasm-validate.yaml:7".to_owned()),
    };
    set.exemptions.push(Exemption {
        policies: vec![],
        resources: ResourceFilter {
            kinds: vec![Glob::new("Deploy*").unwrap()],
            ..ResourceFilter::default()
        },
        containers: vec![Glob::new("set?p").unwrap()],
        exempt: exempt.clone(),
    });
    let mut resources = fixtures();
    let results = run(&engine, &set, &mut resources, 1);
    let mut exempted = 0;
    for result in &results[0] {
        for (violation, why) in &result.exempted {
            assert!(
                violation.path.contains("/initContainers/0"),
                "{violation:?}"
            );
            assert_eq!(why, &exempt);
            exempted += 1;
        }
        if let Outcome::Fail(violations) = &result.outcome {
            assert!(
                violations
                    .iter()
                    .all(|v| !v.path.contains("/initContainers/"))
            );
        }
        if let Some(patch) = &result.patch {
            assert!(
                patch
                    .0
                    .iter()
                    .all(|op| !op.path().to_string().contains("/initContainers/"))
            );
        }
    }
    assert!(exempted > 0);
    // The web container is still fixed; the exempted init container is not.
    let spec = &resources[0].object["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"][0]["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(
        spec["initContainers"][0]["securityContext"]["capabilities"]["drop"],
        json!(["NET_RAW"])
    );
    // The exemption is for Deployments only: the DaemonSet's findings stand.
    assert!(results[1].iter().all(|r| r.exempted.is_empty()));
}

#[test]
fn filters_limit_a_policy_and_audit_does_not_mutate() {
    let engine = Engine::default();
    let mut set = builtin_set(&engine);
    let fix = index_of(&set, "drop-all-capabilities");
    set.policies[fix].action = Action::Audit;
    let privileged = index_of(&set, "privileged");
    set.policies[privileged].include = Some(ResourceFilter {
        kinds: vec![Glob::new("DaemonSet").unwrap()],
        ..ResourceFilter::default()
    });
    set.policies[privileged].exclude = vec![ResourceFilter {
        names: vec![Glob::new("node-*").unwrap()],
        ..ResourceFilter::default()
    }];
    let mut resources = fixtures();
    let results = run(&engine, &set, &mut resources, 1);
    assert!(results.iter().flatten().all(|r| r.policy != privileged));
    let audited = result_of(&set, &results[0], "drop-all-capabilities");
    assert!(audited.patch.is_some() && !audited.patch_applied);
    let web = &resources[0].object["spec"]["template"]["spec"]["containers"][0];
    assert!(web["securityContext"].get("capabilities").is_none());
}

#[test]
fn the_admission_operation_and_old_object_reach_policies_of_both_abis() {
    let engine = Engine::default();
    let load = |name: &str| {
        let path = format!(
            "{}/../../testdata/wat/{name}.wat",
            env!("CARGO_MANIFEST_DIR")
        );
        ConfiguredPolicy::new(
            engine
                .load(&std::fs::read(path).unwrap(), Limits::default())
                .unwrap(),
            json!({}),
        )
    };
    let set = PolicySet {
        policies: vec![load("v2-operation-reader"), load("v1-operation-reader")],
        ..PolicySet::default()
    };
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let verdicts = |admission: Admission| -> Vec<bool> {
        let mut resource = fixtures().remove(0);
        resource.object = object.clone();
        evaluate_admission(
            &engine,
            &set,
            &mut resource,
            &admission,
            &Context::default(),
        )
        .iter()
        .map(|r| matches!(r.outcome, Outcome::Fail(_)))
        .collect()
    };
    // Offline: CREATE, no old object; both allow.
    assert_eq!(verdicts(Admission::default()), [false, false]);
    // UPDATE with the old object: the v2 policy sees both.
    let update = Admission {
        operation: Operation::Update,
        old_object: Some(object.clone()),
    };
    assert_eq!(verdicts(update), [true, false]);
    // UPDATE without an old object: the section is absent.
    let bare = Admission {
        operation: Operation::Update,
        old_object: None,
    };
    assert_eq!(verdicts(bare), [false, false]);
    // DELETE: the v1 policy reads it from the JSON request.
    let delete = Admission {
        operation: Operation::Delete,
        old_object: Some(object.clone()),
    };
    assert_eq!(verdicts(delete), [false, true]);
}
