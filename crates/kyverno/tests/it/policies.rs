//! ValidatingPolicies in the pipeline: autogen, actions, refusals.

use std::sync::Arc;

use serde_json::json;
use wasm_validate_engine::Engine;
use wasm_validate_kyverno::Library;
use wasm_validate_manifest as manifest;
use wasm_validate_pipeline::{Action, Outcome, PolicySet};

const POLICY: &str = r#"apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: no-host-network
  annotations:
    policies.kyverno.io/title: No host network
    policies.kyverno.io/severity: high
spec:
  validationActions: [Warn]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods"]
  validations:
    - expression: "!object.spec.?hostNetwork.orValue(false)"
      messageExpression: "'host network in ' + object.metadata.name"
"#;

fn library(text: &str) -> Result<Library, String> {
    let parsed = manifest::parse(
        "policy.yaml",
        text.as_bytes().to_vec(),
        manifest::Format::Yaml,
    );
    let mut library = Library::default();
    library.add_parsed(&parsed).map_err(|e| e.to_string())?;
    Ok(library)
}

fn resource(object: serde_json::Value) -> manifest::Resource {
    manifest::Resource {
        object,
        source: manifest::Source {
            file: Arc::from("objects.yaml"),
            document: 1,
            line: 1,
            item: None,
            helm_source: None,
        },
        modified: false,
    }
}

#[test]
fn a_pod_rule_also_checks_the_pod_templates_of_controllers() {
    let engine = Engine::default();
    let runtime = wasm_validate_kyverno::load_runtime(&engine);
    let set = PolicySet {
        policies: library(POLICY)
            .unwrap()
            .policies(&engine, &runtime)
            .unwrap(),
        ..PolicySet::default()
    };
    assert_eq!(set.policies.len(), 1);
    assert_eq!(set.policies[0].id, "no-host-network");
    assert_eq!(set.policies[0].action, Action::Warn);
    let metadata = set.policies[0].policy.metadata();
    assert_eq!(metadata.description, "No host network");
    assert_eq!(metadata.severity, wasm_validate_abi::Severity::High);
    let pod_spec = json!({"hostNetwork": true, "containers": [{"name": "a", "image": "x"}]});
    let mut resources = vec![
        resource(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod"}, "spec": pod_spec}),
        ),
        resource(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "deploy"},
                        "spec": {"template": {"metadata": {"name": "template"}, "spec": pod_spec}}}),
        ),
        resource(
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cron"},
                        "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}}}),
        ),
        resource(
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {}}),
        ),
    ];
    let results = wasm_validate_pipeline::run(&engine, &set, &mut resources, 1);
    let messages: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            r.iter()
                .flat_map(|r| match &r.outcome {
                    Outcome::Fail(v) => v.iter().map(|v| v.message.clone()).collect(),
                    other => vec![format!("{other:?}")],
                })
                .collect()
        })
        .collect();
    // The controllers' own names stay theirs (metadata.name is not moved
    // into the template); the Service is not matched.
    assert_eq!(
        messages,
        [
            vec!["host network in pod".to_owned()],
            vec!["host network in deploy".to_owned()],
            vec!["host network in cron".to_owned()],
            vec![],
        ]
    );
}

#[test]
fn other_kyverno_kinds_and_unknown_spec_keys_are_refused() {
    let cluster_policy =
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\nspec: {rules: []}\n";
    let error = library(cluster_policy).unwrap_err();
    assert!(
        error.contains("kyverno.io/v1 ClusterPolicy: not supported"),
        "{error}"
    );
    let error = library(&POLICY.replace(
        "  validationActions:",
        "  colour: blue\n  validationActions:",
    ))
    .unwrap_err();
    assert!(
        error.contains("ValidatingPolicy no-host-network: spec: unknown field `colour`"),
        "{error}"
    );
    let engine = Engine::default();
    let runtime = wasm_validate_kyverno::load_runtime(&engine);
    let error = library(&POLICY.replace("[Warn]", "[Deny, Warn]"))
        .unwrap()
        .policies(&engine, &runtime)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("must not contain both Deny and Warn"),
        "{error}"
    );
}
