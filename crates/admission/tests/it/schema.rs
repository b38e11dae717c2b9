//! The schema stage at the validating endpoint: a custom resource whose
//! CRD the configuration gives is checked as offline, its CEL rules
//! included, with `oldSelf` on UPDATE for transition rules, correlated as
//! the API server correlates the old object's nodes.

use serde_json::{Value, json};
use wasm_validate_admission::{AdmissionResponse, Endpoint, policies_for, review_detailed};
use wasm_validate_engine::Engine;
use wasm_validate_pipeline::{PolicySet, SchemaStage};
use wasm_validate_schema::{Mode, Schemas};

/// A CRD with a plain rule, an immutable field (a transition rule) and a
/// map list whose items may not lose weight (a transition rule on items
/// that correlate by `name`), and one under an atomic list, whose items do
/// not correlate (the API server would refuse such a CRD; here it shows
/// that the rule is skipped).
fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "scalers.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "scalers", "kind": "Scaler"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "x-kubernetes-validations": [
                            {"rule": "self.replicas <= 10", "message": "at most 10 replicas"}
                        ],
                        "properties": {
                            "replicas": {"type": "integer"},
                            "storageClass": {
                                "type": "string",
                                "x-kubernetes-validations": [
                                    {"rule": "self == oldSelf", "message": "storageClass is immutable"}
                                ]
                            },
                            "targets": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["name"],
                                "items": {
                                    "type": "object",
                                    "x-kubernetes-validations": [
                                        {"rule": "self.weight >= oldSelf.weight", "message": "a target may not lose weight"}
                                    ],
                                    "properties": {"name": {"type": "string"}, "weight": {"type": "integer"}}
                                }
                            },
                            "history": {
                                "type": "array",
                                "items": {
                                    "type": "integer",
                                    "x-kubernetes-validations": [
                                        {"rule": "self == oldSelf", "message": "history is immutable"}
                                    ]
                                }
                            }
                        }
                    }}
                }}
            }]
        }
    })
}

fn set() -> PolicySet {
    let mut schemas = Schemas::new(wasm_validate_schema::DEFAULT_VERSION).unwrap();
    assert!(schemas.add_crd(&crd(), "crd.json"));
    let set = PolicySet {
        schema: Some(SchemaStage {
            mode: Mode::On,
            schemas: std::sync::Arc::new(schemas),
            version_given: false,
            rule_cache: Default::default(),
        }),
        ..PolicySet::default()
    };
    policies_for(&set, Endpoint::Validating)
}

fn scaler(replicas: i64, storage_class: &str, targets: Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Scaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": replicas, "storageClass": storage_class, "targets": targets, "history": [1, 2]}
    })
}

fn answer(
    set: &PolicySet,
    endpoint: Endpoint,
    operation: &str,
    object: Value,
    old: Value,
) -> AdmissionResponse {
    let body = crate::review_body(json!({
        "uid": "b3a1",
        "kind": {"group": "example.com", "version": "v1", "kind": "Scaler"},
        "resource": {"group": "example.com", "version": "v1", "resource": "scalers"},
        "name": "web",
        "namespace": "shop",
        "operation": operation,
        "userInfo": {"username": "admin"},
        "object": object,
        "oldObject": old,
    }));
    let reviewed = review_detailed(&Engine::default(), set, endpoint, &body, None).unwrap();
    assert_eq!(
        reviewed.evaluations.first().map(|e| e.policy.as_str()),
        (endpoint == Endpoint::Validating).then_some("schema")
    );
    reviewed.review.response.unwrap()
}

fn denial(response: &AdmissionResponse) -> Vec<String> {
    match &response.status {
        Some(status) if !response.allowed => {
            assert_eq!(status.code, 403);
            status.message.lines().map(str::to_owned).collect()
        }
        _ => Vec::new(),
    }
}

#[test]
fn custom_resources_are_checked_with_their_crds_rules_and_transition_rules_on_update() {
    let set = set();
    let targets = json!([{"name": "a", "weight": 1}, {"name": "b", "weight": 2}]);
    let good = scaler(3, "fast", targets.clone());
    // CREATE: the transition rules are skipped; the plain rule runs.
    let created = answer(
        &set,
        Endpoint::Validating,
        "CREATE",
        good.clone(),
        Value::Null,
    );
    assert!(created.allowed, "{created:?}");
    assert_eq!(
        denial(&answer(
            &set,
            Endpoint::Validating,
            "CREATE",
            scaler(11, "fast", targets.clone()),
            Value::Null
        )),
        [r#"[schema] spec: Invalid value: "object": at most 10 replicas (at /spec)"#]
    );
    // UPDATE: the same object, and the map list reordered (its items
    // correlate by name, not by index), pass.
    let reordered = scaler(
        3,
        "fast",
        json!([{"name": "b", "weight": 2}, {"name": "a", "weight": 1}]),
    );
    for object in [good.clone(), reordered] {
        let updated = answer(&set, Endpoint::Validating, "UPDATE", object, good.clone());
        assert!(updated.allowed, "{updated:?}");
    }
    // UPDATE: an immutable field changed, and a target (now first) lost
    // weight; a new target and the atomic list's changed items are not
    // correlated, so their transition rules are skipped.
    let changed = json!({
        "apiVersion": "example.com/v1",
        "kind": "Scaler",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "storageClass": "slow",
            "targets": [{"name": "b", "weight": 1}, {"name": "c", "weight": 0}],
            "history": [5]
        }
    });
    assert_eq!(
        denial(&answer(
            &set,
            Endpoint::Validating,
            "UPDATE",
            changed.clone(),
            good.clone()
        )),
        [
            r#"[schema] spec.storageClass: Invalid value: "string": storageClass is immutable (at /spec/storageClass)"#,
            r#"[schema] spec.targets[0]: Invalid value: "object": a target may not lose weight (at /spec/targets/0)"#,
        ]
    );
    // The mutating endpoint checks no schema; DELETE is not checked.
    let mutating = policies_for(&set, Endpoint::Mutating);
    assert!(
        answer(
            &mutating,
            Endpoint::Mutating,
            "UPDATE",
            changed.clone(),
            good.clone()
        )
        .allowed
    );
    let deleted = review_detailed(
        &Engine::default(),
        &set,
        Endpoint::Validating,
        &crate::review_body(
            json!({"uid": "d1", "kind": {"group": "example.com", "version": "v1", "kind": "Scaler"},
                        "operation": "DELETE", "oldObject": scaler(11, "x", json!([]))}),
        ),
        None,
    )
    .unwrap();
    assert!(deleted.review.response.unwrap().allowed);
    assert!(deleted.evaluations.is_empty());
}

#[test]
fn built_in_kinds_are_left_to_the_api_server() {
    let set = set();
    let body = crate::review_body(
        json!({"uid": "p1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "operation": "CREATE",
                    "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"bogus": 1}}}),
    );
    let reviewed =
        review_detailed(&Engine::default(), &set, Endpoint::Validating, &body, None).unwrap();
    assert!(reviewed.review.response.unwrap().allowed);
    assert!(reviewed.evaluations.is_empty());
}
