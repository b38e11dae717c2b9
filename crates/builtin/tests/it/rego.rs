//! The Rego runtime through the engine: prepared once with a program,
//! evaluated on requests, every evaluation starting from the prepared state.

use serde_json::{Value, json};
use wasm_validate_abi::Response;
use wasm_validate_engine::{Engine, EvalError, Limits, Policy};

const REQUIRED_LABELS: &str = r#"package k8srequiredlabels

get_message(parameters, _default) = msg {
  not parameters.message
  msg := _default
}

get_message(parameters, _default) = msg {
  msg := parameters.message
}

violation[{"msg": msg, "details": {"missing_labels": missing}}] {
  provided := {label | input.review.object.metadata.labels[label]}
  required := {label | label := input.parameters.labels[_].key}
  missing := required - provided
  count(missing) > 0
  def_msg := sprintf("you must provide labels: %v", [missing])
  msg := get_message(input.parameters, def_msg)
}
"#;

fn runtime(engine: &Engine) -> Policy {
    let wasm = wasm_validate_builtin::runtime("rego").expect("the Rego runtime is built in");
    engine
        .load(wasm, Limits::default())
        .expect("the runtime loads")
}

fn program(rego: &str, parameters: Value) -> Value {
    json!({
        "modules": [{"path": "template.rego", "rego": rego}],
        "regoVersion": 0,
        "deny": ["violation"],
        "input": "gatekeeper",
        "parameters": parameters,
    })
}

fn evaluate(engine: &Engine, policy: &Policy, object: Value) -> Response {
    let request = json!({"operation": "CREATE", "settings": {}, "object": object});
    engine
        .evaluate(policy, &serde_json::to_vec(&request).unwrap())
        .expect("the evaluation runs")
        .response
}

/// A response's violation messages, sorted.
fn sorted_messages(response: &Response) -> Vec<&str> {
    let mut messages: Vec<&str> = response
        .violations
        .iter()
        .map(|v| v.message.as_str())
        .collect();
    messages.sort();
    messages
}

fn pod(labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": labels}})
}

#[test]
fn a_gatekeeper_template_denies_with_its_message_and_allows_otherwise() {
    let engine = Engine::default();
    let runtime = runtime(&engine);
    assert!(runtime.is_preparable());
    let policy = engine
        .prepare(
            &runtime,
            &program(REQUIRED_LABELS, json!({"labels": [{"key": "owner"}]})),
        )
        .expect("the template compiles");
    assert!(policy.is_prepared());
    let denied = evaluate(&engine, &policy, pod(json!({"app": "x"})));
    assert!(!denied.allowed);
    assert_eq!(denied.violations.len(), 1);
    assert_eq!(
        denied.violations[0].message,
        r#"you must provide labels: {"owner"}"#
    );
    let allowed = evaluate(&engine, &policy, pod(json!({"owner": "me"})));
    assert_eq!(allowed, Response::allow());
}

#[test]
fn an_unprepared_runtime_is_refused_by_the_engine() {
    let engine = Engine::default();
    let runtime = runtime(&engine);
    let request = json!({"operation": "CREATE", "settings": {}, "object": pod(json!({}))});
    let error = engine
        .evaluate(&runtime, &serde_json::to_vec(&request).unwrap())
        .unwrap_err();
    assert!(
        matches!(&error, EvalError::Instantiation(m) if m.contains("must be prepared")),
        "{error}"
    );
}

#[test]
fn rego_that_does_not_parse_is_a_preparation_error_naming_the_position() {
    let engine = Engine::default();
    let runtime = runtime(&engine);
    let error = engine
        .prepare(
            &runtime,
            &program(
                "package x\nviolation[{\"msg\": m}] {\n  m := \n}\n",
                json!({}),
            ),
        )
        .unwrap_err();
    let EvalError::Policy(message) = &error else {
        panic!("{error}")
    };
    assert!(message.contains("template.rego"), "{message}");
}

#[test]
fn evaluations_do_not_see_each_other() {
    // A rule whose result would differ if anything (a cached input, a rule
    // cache) survived from one evaluation to the next.
    let engine = Engine::default();
    let runtime = runtime(&engine);
    let policy = engine
        .prepare(
            &runtime,
            &program(REQUIRED_LABELS, json!({"labels": [{"key": "a"}]})),
        )
        .unwrap();
    let first = evaluate(&engine, &policy, pod(json!({})));
    let second = evaluate(&engine, &policy, pod(json!({"a": "1"})));
    let third = evaluate(&engine, &policy, pod(json!({})));
    assert!(!first.allowed);
    assert!(second.allowed);
    assert_eq!(first, third);
}

#[test]
fn a_function_the_runtime_lacks_is_refused_when_the_program_is_prepared() {
    let engine = Engine::default();
    let runtime = runtime(&engine);
    let rego = "package x\n\nviolation[{\"msg\": msg}] {\n  t := time.now_ns()\n  msg := sprintf(\"%v\", [t])\n}\n";
    let error = engine
        .prepare(&runtime, &program(rego, json!({})))
        .unwrap_err();
    let EvalError::Policy(message) = &error else {
        panic!("{error}")
    };
    assert!(
        message.starts_with("template.rego:4:8: the function time.now_ns is not available"),
        "{message}"
    );
}

/// regorus's `glob` and `yaml` builtins, as OPA's: a Conftest-style policy
/// reading a ConfigMap's embedded YAML, and an image matched by a glob.
#[test]
fn glob_and_yaml_builtins_answer_as_opa_does() {
    let engine = Engine::default();
    let rego = r#"package main

violation[{"msg": msg}] {
  config := yaml.unmarshal(input.review.object.data["config.yaml"])
  config.debug == true
  msg := sprintf("debug is on: %s", [yaml.marshal({"debug": config.debug})])
}

violation[{"msg": msg}] {
  image := input.review.object.data.image
  not glob.match("registry.example/*/*", ["/"], image)
  msg := sprintf("image %v is not from the registry", [image])
}
"#;
    let policy = engine
        .prepare(&runtime(&engine), &program(rego, json!({})))
        .unwrap();
    let config_map = |config: &str, image: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
               "data": {"config.yaml": config, "image": image}})
    };
    let allowed = evaluate(
        &engine,
        &policy,
        config_map("debug: false\n", "registry.example/team/app"),
    );
    assert!(allowed.allowed, "{allowed:?}");
    let denied = evaluate(
        &engine,
        &policy,
        config_map("debug: true\nlevel: 3\n", "docker.io/team/app/extra"),
    );
    let messages = sorted_messages(&denied);
    assert_eq!(
        messages,
        [
            "debug is on: debug: true\n",
            "image docker.io/team/app/extra is not from the registry",
        ]
    );
}

/// OPA's deprecated builtins `re_match`, `any`, `all` and `set_diff` run in
/// Rego v0, as OPA evaluates them there, and are refused in v1.
#[test]
fn deprecated_builtins_run_in_rego_v0_only() {
    let engine = Engine::default();
    let rego = r#"package main

violation[{"msg": msg}] {
  name := input.review.object.metadata.name
  not re_match("^[a-z]+$", name)
  msg := sprintf("bad name %v", [name])
}

violation[{"msg": msg}] {
  labels := {k | input.review.object.metadata.labels[k]}
  missing := set_diff({"team", "tier"}, labels)
  any([count(missing) > 0, false])
  all({true})
  msg := sprintf("missing %v", [missing])
}
"#;
    let policy = engine
        .prepare(&runtime(&engine), &program(rego, json!({})))
        .unwrap();
    let object = |name: &str, labels: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}});
    assert!(
        evaluate(
            &engine,
            &policy,
            object("web", json!({"team": "a", "tier": "b"}))
        )
        .allowed
    );
    let denied = evaluate(&engine, &policy, object("Web-1", json!({"team": "a"})));
    let messages = sorted_messages(&denied);
    assert_eq!(messages, ["bad name Web-1", "missing {\"tier\"}"]);
    // Rego v1 has no deprecated builtins.
    let mut v1 = program(
        "package main\nimport rego.v1\nviolation contains {\"msg\": \"x\"} if re_match(\"a\", \"a\")\n",
        json!({}),
    );
    v1["regoVersion"] = json!(1);
    let error = engine.prepare(&runtime(&engine), &v1).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the function re_match is not available"),
        "{error}"
    );
}
