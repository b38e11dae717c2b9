//! The SDK's lazy views keep serde's strictness where a policy reads: a
//! field of the wrong type is an error result naming the field's JSON
//! Pointer, never read as absent (which would let a malformed object pass),
//! and a field that is `null` reads as absent. Run as Wasm through the
//! engine, on the ABI version 2 request the pipeline sends.

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, Response, tape};
use wasm_validate_engine::{Engine, EvalError, Limits};

/// The response, or the error the policy answered with.
fn evaluate(name: &str, object: &Value, settings: &Value) -> Result<Response, String> {
    let (_, bytes) = wasm_validate_builtin::policies()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no built-in policy {name}"));
    let engine = Engine::default();
    let policy = engine.load(bytes, Limits::default()).unwrap();
    let request = tape::request(
        Operation::Create,
        &tape::encode(settings),
        &tape::encode(object),
        None,
    );
    match engine.evaluate(&policy, &request) {
        Ok(evaluation) => Ok(evaluation.response),
        Err(EvalError::Policy(message)) => Err(message),
        Err(other) => panic!("{name}: {other}"),
    }
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

#[test]
fn a_field_of_the_wrong_type_is_an_error_naming_it() {
    let cases = [
        (
            "privileged",
            pod(json!({"containers": [{"name": "a", "securityContext": {"privileged": "true"}}]})),
            json!({}),
            "/spec/containers/0/securityContext/privileged\": expected a boolean, found a string",
        ),
        (
            "host-namespaces",
            pod(json!({"hostPID": 1, "containers": []})),
            json!({}),
            "/spec/hostPID\": expected a boolean, found a number",
        ),
        (
            "run-as-user",
            pod(json!({"securityContext": {"runAsUser": 0.5}, "containers": []})),
            json!({}),
            "/spec/securityContext/runAsUser\": expected an integer, found a number",
        ),
        (
            "capabilities-baseline",
            pod(
                json!({"containers": [{"name": "a", "securityContext": {"capabilities": {"add": "SYS_ADMIN"}}}]}),
            ),
            json!({}),
            "/spec/containers/0/securityContext/capabilities/add\": expected an array, found a string",
        ),
        (
            "required-labels",
            json!({"kind": "ConfigMap", "metadata": {"labels": {"app": 7}}}),
            json!({"labels": [{"key": "app"}]}),
            "/metadata/labels/app\": expected a string, found a number",
        ),
        (
            "host-ports",
            json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": {"name": "a"}}}}}),
            json!({}),
            "/spec/template/spec/containers\": expected an array, found an object",
        ),
    ];
    for (name, object, settings, expected) in cases {
        let error = match evaluate(name, &object, &settings) {
            Err(error) => error,
            Ok(response) => panic!("{name}: no error: {response:?}"),
        };
        assert!(
            error.starts_with("cannot decode the request: object at \"")
                && error.ends_with(expected),
            "{name}: {error}"
        );
    }
}

#[test]
fn a_null_field_reads_as_absent() {
    // `privileged: null` is unset: allowed; `securityContext: null` too.
    let object = pod(json!({"containers": [
        {"name": "a", "securityContext": {"privileged": null}},
        {"name": "b", "securityContext": null},
    ]}));
    let response = evaluate("privileged", &object, &json!({}));
    assert_eq!(response, Ok(Response::allow()));
    // And a required field that is null is missing, not an error.
    let response = evaluate(
        "run-as-non-root",
        &pod(json!({"securityContext": {"runAsNonRoot": null}, "containers": [{"name": "a"}]})),
        &json!({}),
    )
    .unwrap();
    assert_eq!(response.violations.len(), 1, "{response:?}");
}
