//! Every answer of the validating and the mutating endpoint, in process,
//! with AdmissionReview fixtures written as the API server sends them and
//! the built-in library as the policy set.

use base64::Engine as _;
use serde_json::{Value, json};
use wasm_validate_admission::{
    AdmissionResponse, Endpoint, MAX_WARNING_CHARS, MAX_WARNINGS_BYTES, ReviewError, fit_warnings,
    policies_for, review,
};
use wasm_validate_builtin::Profile;
use wasm_validate_engine::{Engine, Limits};
use wasm_validate_pipeline::{Action, ConfiguredPolicy, FailurePolicy, PolicySet};

/// The restricted profile and the fixes, as `wasm-validate.yaml` would
/// choose them.
fn library(engine: &Engine) -> PolicySet {
    crate::library(engine, &[Profile::Fixes, Profile::Restricted])
}

fn request(operation: &str, object: Value, old_object: Value) -> Vec<u8> {
    crate::review_body(json!({
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "web",
        "namespace": "shop",
        "operation": operation,
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
    }))
}

fn answer(engine: &Engine, set: &PolicySet, endpoint: Endpoint, body: &[u8]) -> AdmissionResponse {
    let reviewed = review(engine, set, endpoint, body, None).unwrap();
    assert_eq!(reviewed.api_version, "admission.k8s.io/v1");
    assert_eq!(reviewed.kind, "AdmissionReview");
    let response = reviewed.response.unwrap();
    assert_eq!(response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    response
}

/// A Pod that passes the restricted profile.
fn restricted_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                }
            }]
        }
    })
}

fn privileged_pod() -> Value {
    let mut pod = restricted_pod();
    pod["spec"]["containers"][0]["securityContext"]["privileged"] = json!(true);
    pod
}

#[test]
fn a_compliant_pod_is_allowed_with_nothing_else() {
    let engine = Engine::default();
    let set = policies_for(&library(&engine), Endpoint::Validating);
    let response = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("CREATE", restricted_pod(), Value::Null),
    );
    assert!(response.allowed, "{response:?}");
    assert_eq!(response.status, None);
    assert_eq!(response.patch, None);
    assert_eq!(response.patch_type, None);
}

#[test]
fn a_violation_denies_with_code_403_naming_the_policy_and_field() {
    let engine = Engine::default();
    let set = policies_for(&library(&engine), Endpoint::Validating);
    let response = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("CREATE", privileged_pod(), Value::Null),
    );
    assert!(!response.allowed);
    let status = response.status.unwrap();
    assert_eq!(status.code, 403);
    assert!(
        status.message.contains(
            "[privileged] privileged containers must not set securityContext.privileged=true: container \"app\" (at /spec/containers/0/securityContext/privileged)"
        ),
        "{}",
        status.message
    );
    // The validating endpoint never sends a patch.
    assert_eq!(response.patch, None);
}

#[test]
fn warn_and_audit_actions_allow_with_warnings_and_audit_annotations() {
    let engine = Engine::default();
    let mut set = policies_for(&library(&engine), Endpoint::Validating);
    for p in &mut set.policies {
        p.action = match p.name() {
            "privileged" => Action::Warn,
            _ => Action::Audit,
        };
    }
    let mut pod = privileged_pod();
    pod["spec"]["hostPID"] = json!(true);
    let response = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("CREATE", pod, Value::Null),
    );
    assert!(response.allowed, "{response:?}");
    assert_eq!(response.warnings.len(), 1, "{:?}", response.warnings);
    assert!(response.warnings[0].starts_with("[privileged] "));
    assert!(response.warnings[0].chars().count() <= MAX_WARNING_CHARS);
    let audit = &response.audit_annotations["host-namespaces"];
    assert!(audit.contains("hostPID=true"), "{audit}");
}

#[test]
fn the_mutating_endpoint_answers_with_a_json_patch_that_applies() {
    let engine = Engine::default();
    let set = policies_for(&library(&engine), Endpoint::Mutating);
    assert!(!set.policies.is_empty());
    assert!(set.policies.iter().all(|p| p.policy.metadata().mutating));
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    });
    let response = answer(
        &engine,
        &set,
        Endpoint::Mutating,
        &request("CREATE", pod.clone(), Value::Null),
    );
    assert!(response.allowed);
    assert_eq!(response.patch_type.as_deref(), Some("JSONPatch"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response.patch.unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut patched = pod;
    json_patch::patch(&mut patched, &patch).unwrap();
    let container = &patched["spec"]["containers"][0];
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        json!(false)
    );
    // The patched Pod passes what the fixes fix: validated again, the
    // validating endpoint finds nothing about privilege escalation.
    let validating = policies_for(&library(&engine), Endpoint::Validating);
    let again = answer(
        &engine,
        &validating,
        Endpoint::Validating,
        &request("CREATE", patched, Value::Null),
    );
    let message = again.status.map(|s| s.message).unwrap_or_default();
    assert!(!message.contains("allowPrivilegeEscalation"), "{message}");
}

#[test]
fn update_delete_and_dry_run() {
    let engine = Engine::default();
    let set = policies_for(&library(&engine), Endpoint::Validating);
    // UPDATE is checked like CREATE, with the old object passed along.
    let update = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("UPDATE", privileged_pod(), restricted_pod()),
    );
    assert!(!update.allowed);
    // Deleting a privileged Pod is not for these policies to refuse: their
    // rules cover CREATE and UPDATE only.
    let delete = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("DELETE", Value::Null, privileged_pod()),
    );
    assert!(delete.allowed, "{delete:?}");
    // A dry run gets the same verdict.
    let mut body: Value =
        serde_json::from_slice(&request("CREATE", privileged_pod(), Value::Null)).unwrap();
    body["request"]["dryRun"] = json!(true);
    let dry = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &serde_json::to_vec(&body).unwrap(),
    );
    assert!(!dry.allowed);
}

#[test]
fn a_kind_no_policy_wants_is_allowed() {
    let engine = Engine::default();
    let set = policies_for(&library(&engine), Endpoint::Validating);
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}});
    let response = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("CREATE", config_map, Value::Null),
    );
    assert!(response.allowed);
}

#[test]
fn a_policy_that_cannot_run_denies_with_code_500() {
    let engine = Engine::default();
    let wat = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/wat/infinite-loop.wat"
    ))
    .unwrap();
    let limits = Limits {
        fuel: 1_000_000,
        ..Limits::default()
    };
    let set = PolicySet {
        policies: vec![ConfiguredPolicy::new(
            engine.load(&wat, limits).unwrap(),
            json!({}),
        )],
        ..PolicySet::default()
    };
    let response = answer(
        &engine,
        &set,
        Endpoint::Validating,
        &request("CREATE", restricted_pod(), Value::Null),
    );
    assert!(!response.allowed);
    let status = response.status.unwrap();
    assert_eq!(status.code, 500);
    assert!(
        status.message.contains("could not run"),
        "{}",
        status.message
    );
    assert!(status.message.contains("fuel"), "{}", status.message);

    // With failurePolicy Ignore the request is allowed, with the error as a
    // warning.
    let mut ignoring = set.clone();
    ignoring.policies[0].failure_policy = FailurePolicy::Ignore;
    let response = answer(
        &engine,
        &ignoring,
        Endpoint::Validating,
        &request("CREATE", restricted_pod(), Value::Null),
    );
    assert!(response.allowed);
    assert_eq!(response.warnings.len(), 1, "{:?}", response.warnings);
    assert!(
        response.warnings[0].contains("failurePolicy Ignore"),
        "{:?}",
        response.warnings
    );
}

#[test]
fn reviews_that_cannot_be_answered_are_errors() {
    let engine = Engine::default();
    let set = PolicySet::default();
    let ask = |body: &[u8]| review(&engine, &set, Endpoint::Validating, body, None).unwrap_err();
    assert!(matches!(ask(b"{not json"), ReviewError::Malformed(_)));
    let mut body: Value =
        serde_json::from_slice(&request("CREATE", restricted_pod(), Value::Null)).unwrap();
    body["apiVersion"] = json!("admission.k8s.io/v1beta1");
    assert_eq!(
        ask(&serde_json::to_vec(&body).unwrap()),
        ReviewError::ApiVersion("admission.k8s.io/v1beta1".into())
    );
    body["apiVersion"] = json!("admission.k8s.io/v1");
    body["request"]["uid"] = json!("");
    assert_eq!(ask(&serde_json::to_vec(&body).unwrap()), ReviewError::NoUid);
    body["request"] = Value::Null;
    assert_eq!(
        ask(&serde_json::to_vec(&body).unwrap()),
        ReviewError::NoRequest
    );
    body["kind"] = json!("Pod");
    assert!(matches!(
        ask(&serde_json::to_vec(&body).unwrap()),
        ReviewError::Kind(_)
    ));
}

#[test]
fn warnings_are_kept_within_the_api_servers_limits() {
    let long = "x".repeat(500);
    let fitted = fit_warnings(vec![long, "short".into()]);
    assert_eq!(fitted[0].chars().count(), MAX_WARNING_CHARS);
    assert!(fitted[0].ends_with('…'));
    assert_eq!(fitted[1], "short");
    let many: Vec<String> = (0..200)
        .map(|i| format!("warning {i}: {}", "y".repeat(80)))
        .collect();
    let fitted = fit_warnings(many);
    let bytes: usize = fitted.iter().map(String::len).sum();
    assert!(bytes <= MAX_WARNINGS_BYTES, "{bytes}");
    let last = fitted.last().unwrap();
    assert!(
        last.ends_with("more warnings left out (4 KiB limit)"),
        "{last}"
    );
    let left: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(left + fitted.len() - 1, 200);
}
