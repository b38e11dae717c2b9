//! A ValidatingAdmissionPolicy at admission: its CEL sees the request as
//! the API server binds it (`request.userInfo`, `request.operation`,
//! `oldObject` on UPDATE), and a false validation denies like any
//! policy's.

use serde_json::{Value, json};
use wasm_validate_admission::{Endpoint, review};
use wasm_validate_engine::Engine;
use wasm_validate_pipeline::PolicySet;
use wasm_validate_validating_admission_policy as vap;

const POLICY: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replicas-only-by-admins
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas == oldObject.spec.replicas || 'admins' in request.userInfo.groups"
      messageExpression: "request.userInfo.username + ' may not scale ' + request.name + ' from ' + string(oldObject.spec.replicas) + ' to ' + string(object.spec.replicas)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replicas-only-by-admins
spec:
  policyName: replicas-only-by-admins
  validationActions: [Deny]
"#;

fn policy_set(engine: &Engine, policies: &str) -> PolicySet {
    let parsed = wasm_validate_manifest::parse(
        "policy.yaml",
        policies.as_bytes().to_vec(),
        wasm_validate_manifest::Format::Yaml,
    );
    let mut library = vap::Library::default();
    library.add_parsed(&parsed).unwrap();
    library.check().unwrap();
    let runtime = vap::load_runtime(engine);
    PolicySet {
        policies: library.policies(engine, &runtime).unwrap(),
        ..PolicySet::default()
    }
}

fn deployment(replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx"}]}}}})
}

fn body(operation: &str, groups: &[&str], old: u32, new: u32) -> Vec<u8> {
    crate::review_body(json!({
        "uid": "3b1c6a1e-0000-4000-8000-000000000002",
        "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "name": "web",
        "namespace": "shop",
        "operation": operation,
        "userInfo": {"username": "mallory", "groups": groups},
        "object": deployment(new),
        "oldObject": if operation == "UPDATE" { deployment(old) } else { Value::Null },
        "dryRun": false
    }))
}

#[test]
fn the_policy_sees_the_requests_user_operation_and_old_object() {
    let engine = Engine::default();
    let set = policy_set(&engine, POLICY);
    let answer = |operation: &str, groups: &[&str], old: u32, new: u32| {
        review(
            &engine,
            &set,
            Endpoint::Validating,
            &body(operation, groups, old, new),
            None,
        )
        .unwrap()
        .response
        .unwrap()
    };
    // Not scaled, or scaled by an admin: allowed; CREATE is not matched.
    assert!(answer("UPDATE", &["dev"], 2, 2).allowed);
    assert!(answer("UPDATE", &["admins"], 2, 5).allowed);
    assert!(answer("CREATE", &["dev"], 0, 5).allowed);
    let denied = answer("UPDATE", &["dev"], 2, 5);
    assert!(!denied.allowed);
    let message = denied.status.unwrap().message;
    assert!(
        message.contains("mallory may not scale web from 2 to 5"),
        "{message}"
    );
    assert!(message.contains("replicas-only-by-admins"), "{message}");
}

const AUDITED: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: record-replicas
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 10"
  auditAnnotations:
    - key: replicas
      valueExpression: "params.data.tier + ':' + string(object.spec.replicas)"
    - key: scaled-up
      valueExpression: "oldObject != null && object.spec.replicas > oldObject.spec.replicas ? 'yes' : null"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: gold}
spec:
  policyName: record-replicas
  validationActions: [Deny]
  paramRef: {name: gold, namespace: shop}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: silver}
spec:
  policyName: record-replicas
  validationActions: [Deny]
  paramRef: {name: silver, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gold, namespace: shop}
data: {tier: gold}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: silver, namespace: shop}
data: {tier: silver}
"#;

/// A policy's `auditAnnotations` reach the AdmissionResponse keyed
/// `POLICY/KEY`, the values of its two bindings joined with a comma; one
/// that evaluates to `null` is left out; they do not change the verdict.
#[test]
fn audit_annotations_reach_the_admission_response() {
    let engine = Engine::default();
    let set = policy_set(&engine, AUDITED);
    let answer = |operation: &str, old: u32, new: u32| {
        review(
            &engine,
            &set,
            Endpoint::Validating,
            &body(operation, &["dev"], old, new),
            None,
        )
        .unwrap()
        .response
        .unwrap()
    };
    let created = answer("CREATE", 0, 3);
    assert!(created.allowed);
    assert_eq!(
        created.audit_annotations,
        [(
            "record-replicas/replicas".to_owned(),
            "gold:3, silver:3".to_owned()
        )]
        .into()
    );
    let scaled = answer("UPDATE", 3, 12);
    assert!(!scaled.allowed);
    assert_eq!(
        scaled
            .audit_annotations
            .get("record-replicas/scaled-up")
            .map(String::as_str),
        Some("yes")
    );
}

/// The API server's checks of the keys: a qualified name, unique in the
/// policy.
#[test]
fn audit_annotation_keys_are_checked() {
    let errors = |text: String| -> Vec<String> {
        let parsed = wasm_validate_manifest::parse(
            "policy.yaml",
            text.into_bytes(),
            wasm_validate_manifest::Format::Yaml,
        );
        let mut library = vap::Library::default();
        library.add_parsed(&parsed).unwrap();
        library
            .check()
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    };
    let duplicate = errors(AUDITED.replace("key: scaled-up", "key: replicas"));
    assert!(
        duplicate
            .iter()
            .any(|e| e.contains("spec.auditAnnotations[1].key: Duplicate value: \"replicas\"")),
        "{duplicate:?}"
    );
    let invalid = errors(AUDITED.replace("key: scaled-up", "key: \"-scaled up\""));
    assert!(
        invalid
            .iter()
            .any(|e| e.contains("spec.auditAnnotations[1].key: Invalid value: \"-scaled up\"")),
        "{invalid:?}"
    );
}
