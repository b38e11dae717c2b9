//! A Gatekeeper constraint at admission: the Rego sees the request's
//! `input.review` as Gatekeeper builds it, `userInfo` and `operation`
//! included, and its violations deny like any policy's.

use std::sync::Arc;

use serde_json::{Value, json};
use wasm_validate_admission::{Endpoint, review};
use wasm_validate_engine::Engine;
use wasm_validate_gatekeeper::Library;
use wasm_validate_pipeline::PolicySet;

const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: wvnoupdatebyothers
spec:
  crd:
    spec:
      names:
        kind: WvNoUpdateByOthers
      validation:
        openAPIV3Schema:
          type: object
          properties:
            allowedUsers:
              type: array
              items: {type: string}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package wvnoupdatebyothers

        violation[{"msg": msg}] {
          input.review.operation == "UPDATE"
          user := input.review.userInfo.username
          not allowed(user)
          msg := sprintf("%v may not update %v %v/%v", [user, input.review.kind.kind, input.review.namespace, input.review.name])
        }

        allowed(user) {
          input.parameters.allowedUsers[_] == user
        }
"#;

const CONSTRAINT: &str = r#"apiVersion: constraints.gatekeeper.sh/v1beta1
kind: WvNoUpdateByOthers
metadata:
  name: only-admin
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["Pod"]
  parameters:
    allowedUsers: ["admin"]
"#;

fn policy_set(engine: &Engine) -> PolicySet {
    let mut library = Library::default();
    for (name, text) in [("template.yaml", TEMPLATE), ("constraint.yaml", CONSTRAINT)] {
        let parsed = wasm_validate_manifest::parse(
            name,
            text.as_bytes().to_vec(),
            wasm_validate_manifest::Format::Yaml,
        );
        library.add_parsed(Arc::new(parsed)).unwrap();
    }
    library.check().unwrap();
    let runtime = wasm_validate_gatekeeper::load_runtime(engine);
    PolicySet {
        policies: library.policies(engine, &runtime).unwrap(),
        ..PolicySet::default()
    }
}

fn body(operation: &str, username: &str) -> Vec<u8> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}});
    crate::review_body(json!({
        "uid": "3b1c6a1e-0000-4000-8000-000000000001",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web",
        "namespace": "shop",
        "operation": operation,
        "userInfo": {"username": username, "groups": ["system:authenticated"]},
        "object": pod,
        "oldObject": if operation == "UPDATE" { pod.clone() } else { Value::Null },
        "dryRun": false
    }))
}

#[test]
fn the_constraint_sees_the_requests_user_and_operation() {
    let engine = Engine::default();
    let set = policy_set(&engine);
    let answer = |operation: &str, user: &str| {
        review(
            &engine,
            &set,
            Endpoint::Validating,
            &body(operation, user),
            None,
        )
        .unwrap()
        .response
        .unwrap()
    };
    assert!(answer("UPDATE", "admin").allowed);
    assert!(answer("CREATE", "mallory").allowed);
    let denied = answer("UPDATE", "mallory");
    assert!(!denied.allowed);
    let message = denied.status.unwrap().message;
    assert!(
        message.contains("mallory may not update Pod shop/web"),
        "{message}"
    );
    assert!(
        message.contains("WvNoUpdateByOthers/only-admin"),
        "{message}"
    );
}
