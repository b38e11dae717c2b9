//! wasm-validate's Rego runtime: a policy module (ABI version 2, with
//! `wv_prepare`) that runs Rego with regorus, so that user Rego is
//! evaluated inside the same Wasm sandbox, under the same fuel and memory
//! limits, as every other policy. The host never runs Rego natively.
//!
//! `wv_prepare` receives the [`Program`] as the policy's settings: the Rego
//! modules, the rules to query and how to build `input`. It parses and
//! compiles them once; the engine keeps the resulting memory as the
//! starting state of every evaluation (`docs/abi.md`, "Preparation").
//! `wv_evaluate` then builds `input` from the request, evaluates each rule
//! and turns what it yields into violations (the `deny` rules) or warnings
//! (the `warn` rules); see [`result_message`] for the shape of a result.
#![deny(unsafe_code)]

use std::cell::RefCell;

pub mod compat;
pub mod deprecated;
pub mod input;
pub mod reads;
pub mod regexes;
pub mod sprintf;
pub mod verify;
pub mod warm;

use regorus::{Engine, Value};
use serde::Deserialize;
use wasm_validate_abi::tape::{RequestView, Tape};
use wasm_validate_abi::{Operation, Response, Violation};

/// The runtime's metadata, also embedded in the module.
pub const METADATA_JSON: &str = include_str!("../metadata.json");

/// What the runtime runs: the settings given to `wv_prepare`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Program {
    /// The Rego modules: a template's `rego` and its `libs`, or a
    /// Conftest policy directory's files.
    pub modules: Vec<Module>,
    /// Rego language version: 0 (OPA before 1.0, what Gatekeeper templates
    /// use) or 1.
    pub rego_version: u8,
    /// Rules of the first module's package whose results deny
    /// (`violation` for Gatekeeper; `deny` and `violation` for Conftest).
    /// A rule that no module defines is skipped.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Rules whose results are warnings (`warn` for Conftest).
    #[serde(default)]
    pub warn: Vec<String>,
    /// Conftest's rule naming: a rule listed in `deny` or `warn` also
    /// stands for every rule of the package named after it with a suffix
    /// (`deny_privileged` for `deny`).
    #[serde(default)]
    pub rule_prefixes: bool,
    /// Conftest's exceptions: when the package declares an `exception`
    /// rule, the names it yields for an input (`"privileged"`, or arrays
    /// of them) turn off the rules named after them (`deny_privileged`,
    /// `violation_privileged`, `warn_privileged`) for that input.
    #[serde(default)]
    pub exceptions: bool,
    /// How `input` is built from the request.
    pub input: InputShape,
    /// `input.parameters` for [`InputShape::Gatekeeper`]: the constraint's
    /// `spec.parameters`.
    #[serde(default)]
    pub parameters: serde_json::Value,
    /// The `data` document besides the modules (Gatekeeper's
    /// `data.inventory`).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
    /// `input` for [`InputShape::Combined`]: every document of the run,
    /// as `[{"path": FILE, "contents": DOCUMENT}]`.
    #[serde(default)]
    pub combined: Option<serde_json::Value>,
    /// Run the modules' unit tests instead of rules ([`verify`], what
    /// `conftest verify` does); `deny`, `warn` and `input` are then unused.
    #[serde(default)]
    pub tests: bool,
}

/// One Rego module.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Where it came from, for error messages (a file, or a template and
    /// field).
    pub path: String,
    /// Its source.
    pub rego: String,
}

/// How `input` is built from a request.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputShape {
    /// Gatekeeper's: `{"review": {kind, name, namespace, operation,
    /// object, oldObject, userInfo, dryRun}, "parameters": ...}`, as its
    /// Kubernetes target handler builds it.
    Gatekeeper,
    /// Conftest's: the document itself.
    Document,
    /// Conftest's `--combine`: the program's `combined` array, whatever
    /// the request's object.
    Combined,
}

struct Prepared {
    input: InputShape,
    combined: Value,
    parameters: Value,
    /// The engine with the modules, data and analysis, ready to evaluate.
    /// Rules are evaluated with [`Engine::eval_rule`]: regorus 0.14's
    /// `CompiledPolicy::eval_with_input` fails on a `with` modifier
    /// ("previous value is not an object") where OPA and `eval_rule` do not
    /// (`a_with_modifier_replaces_input_as_in_opa`), for the same cost.
    engine: Engine,
    /// Each queried rule's name and path (`data.PACKAGE.RULE`).
    deny: Vec<(String, String)>,
    warn: Vec<(String, String)>,
    exception: Option<String>,
    tests: Option<verify::Tests>,
    /// What the modules read of `input`: only that is converted.
    reads: reads::Reads,
}

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// Parses and compiles `program`: what `wv_prepare` runs. Errors name the
/// module and position regorus reports.
pub fn prepare(settings: &Tape<'_>) -> Result<(), String> {
    let program: Program = settings
        .deserialize()
        .map_err(|e| format!("the Rego program: {e}"))?;
    let mut engine = Engine::new();
    engine.set_rego_v0(match program.rego_version {
        0 => true,
        1 => false,
        other => return Err(format!("Rego version {other} does not exist (0 or 1)")),
    });
    engine
        .add_extension(
            "sprintf".into(),
            2,
            Box::new(|args: Vec<Value>| {
                let (Some(Value::String(format)), Some(Value::Array(values))) =
                    (args.first(), args.get(1))
                else {
                    anyhow::bail!("sprintf: operand 1 must be string and operand 2 must be array");
                };
                let values: Vec<Value> = values.iter().cloned().collect();
                Ok(Value::from(sprintf::sprintf(format, &values)))
            }),
        )
        .map_err(|e| format!("sprintf: {e}"))?;
    regexes::add(&mut engine)?;
    let v0 = program.rego_version == 0;
    if v0 {
        deprecated::add(&mut engine)?;
    }
    let mut packages = Vec::new();
    for module in &program.modules {
        let package = engine
            .add_policy(
                module.path.clone(),
                compat::normalize(&module.path, &module.rego),
            )
            .map_err(|e| e.to_string())?;
        packages.push((module.path.as_str(), package));
    }
    let package = packages
        .first()
        .map(|(_, package)| package.clone())
        .ok_or("the Rego program has no module")?;
    check_calls(&program.modules, &packages, v0)?;
    let (mut patterns, mut re_match) = (Vec::new(), Vec::new());
    for module in &program.modules {
        let found = warm::patterns(&module.path, &module.rego);
        patterns.extend(found.regex);
        re_match.extend(found.re_match);
    }
    patterns.sort();
    patterns.dedup();
    warm::warm(&patterns);
    regexes::warm(&patterns);
    if v0 {
        regexes::warm(&re_match);
    }
    if let Some(data) = &program.data {
        engine
            .add_data(Value::from(data.clone()))
            .map_err(|e| format!("data: {e}"))?;
    }
    if program.tests {
        let modules: Vec<(&str, &str)> = program
            .modules
            .iter()
            .map(|m| (m.path.as_str(), m.rego.as_str()))
            .collect();
        let packages: Vec<String> = packages.iter().map(|(_, p)| p.clone()).collect();
        let tests = verify::prepare(engine, &modules, &packages)?;
        let prepared = Prepared {
            input: program.input,
            combined: Value::new_array(),
            parameters: Value::Null,
            engine: Engine::new(),
            deny: Vec::new(),
            warn: Vec::new(),
            exception: None,
            tests: Some(tests),
            reads: reads::Reads::Whole,
        };
        PREPARED.with(|p| *p.borrow_mut() = Some(prepared));
        return Ok(());
    }
    // A rule is queried when a module of the first module's package
    // declares it (Conftest's `warn` may be absent).
    let defined = |engine: &Engine, rule: &str| {
        packages.iter().any(|(path, candidate)| {
            *candidate == package
                && engine
                    .has_declared_rule_rooted_at(path, rule)
                    .unwrap_or(false)
        })
    };
    // With prefixes, every rule of the package named `rule` or `rule_*`.
    let declared: Vec<String> = if program.rule_prefixes {
        let mut names: Vec<String> = program
            .modules
            .iter()
            .zip(&packages)
            .filter(|(_, (_, p))| *p == package)
            .flat_map(|(module, _)| compat::rule_names(&module.path, &module.rego))
            .collect();
        names.sort();
        names.dedup();
        names
    } else {
        Vec::new()
    };
    let expand = |rules: &[String]| -> Vec<String> {
        if !program.rule_prefixes {
            return rules.to_vec();
        }
        declared
            .iter()
            .filter(|name| {
                rules.iter().any(|rule| {
                    *name == rule
                        || name
                            .strip_prefix(rule.as_str())
                            .is_some_and(|rest| rest.starts_with('_'))
                })
            })
            .cloned()
            .collect()
    };
    let (deny_rules, warn_rules) = (expand(&program.deny), expand(&program.warn));
    // Compiling checks the rule (and prepares the engine's analysis once,
    // so that the snapshot holds it); evaluations use the engine itself.
    let mut compile = |rules: &[String]| -> Result<Vec<(String, String)>, String> {
        let mut compiled = Vec::new();
        for rule in rules {
            if !defined(&engine, rule) {
                continue;
            }
            let path = format!("{package}.{rule}");
            engine
                .compile_with_entrypoint(&path.as_str().into())
                .map_err(|e| format!("{path}: {e}"))?;
            compiled.push((rule.clone(), path));
        }
        Ok(compiled)
    };
    let deny = compile(&deny_rules)?;
    let warn = compile(&warn_rules)?;
    let exception = if program.exceptions {
        compile(&["exception".to_owned()])?
            .pop()
            .map(|(_, path)| path)
    } else {
        None
    };
    let prepared = Prepared {
        input: program.input,
        combined: program
            .combined
            .map(Value::from)
            .unwrap_or_else(Value::new_array),
        parameters: Value::from(program.parameters),
        engine,
        deny,
        warn,
        exception,
        tests: None,
        reads: reads::Reads::of_input(
            program
                .modules
                .iter()
                .map(|m| (m.path.as_str(), m.rego.as_str())),
        ),
    };
    PREPARED.with(|p| *p.borrow_mut() = Some(prepared));
    Ok(())
}

/// Refuses, before anything is evaluated, a call to a function that is
/// neither a builtin regorus has here, nor OPA's `sprintf` and `print`,
/// nor (in Rego v0) one of OPA's deprecated builtins of [`deprecated`],
/// nor a function of the module's package (its imports and `data.`
/// references are left to the evaluation): regorus itself would find it
/// only when the rule runs. Names the function and its file, line and
/// column.
fn check_calls(modules: &[Module], packages: &[(&str, String)], v0: bool) -> Result<(), String> {
    for (module, (_, package)) in modules.iter().zip(packages) {
        let declared: Vec<String> = modules
            .iter()
            .zip(packages)
            .filter(|(_, (_, p))| p == package)
            .flat_map(|(m, _)| compat::rule_names(&m.path, &m.rego))
            .collect();
        let known = |name: &str| {
            regorus::unstable::BUILTINS.contains_key(name)
                || matches!(name, "sprintf" | "print")
                || (v0 && deprecated::NAMES.contains(&name))
                || declared.iter().any(|d| d == name)
        };
        if let Some((name, line, col)) = compat::unknown_calls(&module.path, &module.rego, known)
            .into_iter()
            .next()
        {
            return Err(format!(
                "{}:{line}:{col}: the function {name} is not available: neither a builtin of \
                 the Rego runtime (regorus without clock, network or randomness: docs/rego.md) \
                 nor a function of package {package}",
                module.path
            ));
        }
    }
    Ok(())
}

/// Evaluates a version 2 request against the prepared program: what
/// `wv_evaluate` runs.
pub fn evaluate(request: &[u8]) -> Response {
    let view = match RequestView::parse(request) {
        Ok(view) => view,
        Err(error) => return Response::error(format!("cannot decode the request: {error}")),
    };
    PREPARED.with(|prepared| {
        let mut prepared = prepared.borrow_mut();
        let Some(prepared) = prepared.as_mut() else {
            return Response::error("the Rego runtime was not prepared with a program");
        };
        if let Some(tests) = prepared.tests.as_mut() {
            return match input::value_of(&view.object) {
                Ok(object) => verify::run(tests, &object),
                Err(error) => Response::error(format!("cannot decode the request: {error}")),
            };
        }
        let input = match build_input(prepared, &view) {
            Ok(input) => input,
            Err(error) => return Response::error(format!("cannot decode the request: {error}")),
        };
        let mut violations = Vec::new();
        let mut warnings = Vec::new();
        let engine = &mut prepared.engine;
        engine.set_input(input);
        let excepted = match &prepared.exception {
            None => Vec::new(),
            Some(path) => match engine.eval_rule(path.clone()) {
                Ok(results) => exception_names(&results),
                Err(error) => return Response::error(error.to_string()),
            },
        };
        for (rules, deny) in [(&prepared.deny, true), (&prepared.warn, false)] {
            for (name, path) in rules {
                let suffix = name.split_once('_').map(|(_, s)| s);
                if suffix.is_some_and(|s| excepted.iter().any(|e| e == s)) {
                    continue;
                }
                let results = match engine.eval_rule(path.clone()) {
                    Ok(results) => results,
                    Err(error) => return Response::error(error.to_string()),
                };
                for result in results_of(&results) {
                    let message = result_message(result);
                    if deny {
                        violations.push(Violation {
                            message,
                            path: result_pointer(result),
                        });
                    } else {
                        warnings.push(message);
                    }
                }
            }
        }
        let mut response = Response::from_violations(violations);
        response.warnings = warnings;
        response
    })
}

fn build_input(prepared: &Prepared, view: &RequestView<'_>) -> Result<Value, String> {
    if prepared.input == InputShape::Combined {
        return Ok(prepared.combined.clone());
    }
    let reads = &prepared.reads;
    if prepared.input == InputShape::Document {
        return input::Reader::new(view.object)
            .value(0, reads)
            .map_err(|e| e.to_string());
    }
    let mut object = input::Reader::new(view.object);
    let mut old = view.old_object.map(input::Reader::new);
    // DELETE requests carry the object as the old object.
    let subject = match (&mut old, view.operation) {
        (Some(old), Operation::Delete) => old,
        _ => &mut object,
    };
    let mut field = |path: &[&str]| subject.field(path);
    let api_version = field(&["apiVersion"])
        .and_then(|v| v.as_string().ok().map(|s| s.to_string()))
        .unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), api_version.clone()),
    };
    let kind = field(&["kind"]).unwrap_or(Value::from(""));
    let mut review = std::collections::BTreeMap::new();
    let mut gvk = std::collections::BTreeMap::new();
    gvk.insert(Value::from("group"), Value::from(group));
    gvk.insert(Value::from("version"), Value::from(version));
    gvk.insert(Value::from("kind"), kind);
    review.insert(Value::from("kind"), Value::from(gvk));
    if let Some(name) = field(&["metadata", "name"]) {
        review.insert(Value::from("name"), name);
    }
    if let Some(namespace) = field(&["metadata", "namespace"]) {
        review.insert(Value::from("namespace"), namespace);
    }
    review.insert(
        Value::from("operation"),
        Value::from(operation_name(view.operation)),
    );
    review.insert(Value::from("userInfo"), Value::new_object());
    review.insert(Value::from("dryRun"), Value::from(false));
    // The rest of an admission request (userInfo, dryRun, uid, ...), when
    // the host gives it in the settings' `review`.
    let settings: Value = view.settings.deserialize().map_err(|e| e.to_string())?;
    if let Ok(settings) = settings.as_object()
        && let Some(Value::Object(extra)) = settings.get(&Value::from("review"))
    {
        for (key, value) in extra.iter() {
            review.insert(key.clone(), value.clone());
        }
    }
    // The object and old object, as far as the program reads them.
    let review_reads = reads.member("review");
    let read =
        |key: &str, reader: Option<&mut input::Reader<'_>>| -> Result<Option<Value>, String> {
            match (reader, review_reads.and_then(|r| r.member(key))) {
                (Some(reader), Some(reads)) => {
                    reader.value(0, reads).map(Some).map_err(|e| e.to_string())
                }
                _ => Ok(None),
            }
        };
    let objects = match view.operation {
        Operation::Delete => [
            (
                "oldObject",
                read("oldObject", Some(old.as_mut().unwrap_or(&mut object)))?,
            ),
            ("object", None),
        ],
        _ => [
            ("oldObject", read("oldObject", old.as_mut())?),
            ("object", read("object", Some(&mut object))?),
        ],
    };
    for (key, value) in objects {
        if let Some(value) = value {
            review.insert(Value::from(key), value);
        }
    }
    let mut input = std::collections::BTreeMap::new();
    input.insert(Value::from("review"), Value::from(review));
    input.insert(Value::from("parameters"), prepared.parameters.clone());
    Ok(Value::from(input))
}

fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The rule names an `exception` rule yielded: strings, and the strings
/// of arrays or sets it yielded (Conftest's `rules := ["privileged"]`).
fn exception_names(results: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for result in results_of(results) {
        match result {
            Value::Array(items) => names.extend(
                items
                    .iter()
                    .filter_map(|i| i.as_string().ok().map(|s| s.to_string())),
            ),
            Value::Set(items) => names.extend(
                items
                    .iter()
                    .filter_map(|i| i.as_string().ok().map(|s| s.to_string())),
            ),
            other => names.extend(other.as_string().ok().map(|s| s.to_string())),
        }
    }
    names
}

/// The items a rule yielded: a partial set's members, an array's items, a
/// single value, or none when the rule is undefined or `false`.
fn results_of(value: &Value) -> Vec<&Value> {
    match value {
        Value::Undefined | Value::Null | Value::Bool(false) => Vec::new(),
        Value::Set(set) => set.iter().collect(),
        Value::Array(array) => array.iter().collect(),
        other => vec![other],
    }
}

/// The JSON Pointer (RFC 6901) of the field a result names, when its
/// `details` name one: `details.path` as a pointer (`/spec/replicas`), or
/// `details.field` as a dotted path with indexes
/// (`spec.containers[0].image`); else `""`, the whole object.
pub fn result_pointer(result: &Value) -> String {
    let Ok(object) = result.as_object() else {
        return String::new();
    };
    let Some(details) = object.get(&Value::from("details")) else {
        return String::new();
    };
    let Ok(details) = details.as_object() else {
        return String::new();
    };
    let text = |key: &str| {
        details
            .get(&Value::from(key))
            .and_then(|v| v.as_string().ok().map(|s| s.to_string()))
    };
    if let Some(pointer) = text("path").filter(|p| p.starts_with('/')) {
        return pointer;
    }
    let Some(field) = text("field").filter(|f| !f.is_empty()) else {
        return String::new();
    };
    let mut pointer = String::new();
    for part in field.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            pointer.push('/');
            pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            pointer.push('/');
            pointer.push_str(index.trim_end_matches(']'));
        }
    }
    pointer
}

/// A result's message: a string as it is; an object's `msg` (Gatekeeper's
/// `{"msg": ..., "details": ...}`, Conftest's `{"msg": ...}`); anything
/// else as JSON.
pub fn result_message(result: &Value) -> String {
    if let Ok(text) = result.as_string() {
        return text.to_string();
    }
    if let Ok(object) = result.as_object()
        && let Some(msg) = object.get(&Value::from("msg"))
        && let Ok(text) = msg.as_string()
    {
        return text.to_string();
    }
    result
        .to_json_str()
        .unwrap_or_else(|_| "(a result that is not JSON)".to_owned())
}

wasm_validate_sdk::export_runtime!(
    metadata = METADATA_JSON,
    prepare = prepare_settings,
    evaluate = evaluate,
);

/// `wv_prepare`: [`prepare`] on the settings tape section.
pub fn prepare_settings(settings: &[u8]) -> Result<(), String> {
    let tape = Tape::parse(settings).map_err(|e| format!("cannot decode the settings: {e}"))?;
    prepare(&tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    #[test]
    fn details_naming_a_field_give_its_pointer() {
        assert_eq!(
            result_pointer(&result(
                r#"{"msg": "m", "details": {"path": "/spec/replicas"}}"#
            )),
            "/spec/replicas"
        );
        assert_eq!(
            result_pointer(&result(
                r#"{"msg": "m", "details": {"field": "spec.containers[0].image"}}"#
            )),
            "/spec/containers/0/image"
        );
        assert_eq!(
            result_pointer(&result(
                r#"{"msg": "m", "details": {"field": "metadata.annotations.a/b"}}"#
            )),
            "/metadata/annotations/a~1b"
        );
        assert_eq!(
            result_pointer(&result(r#"{"msg": "m", "details": {"missing": ["x"]}}"#)),
            ""
        );
        assert_eq!(result_pointer(&result(r#""a string result""#)), "");
    }

    fn messages(program: serde_json::Value, operation: Operation, old: bool) -> Vec<String> {
        let program = wasm_validate_abi::tape::encode(&program);
        prepare(&Tape::parse(&program).unwrap()).unwrap();
        let object = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"replicas": 3},
        });
        let object = wasm_validate_abi::tape::encode(&object);
        let settings = wasm_validate_abi::tape::encode(&serde_json::json!({}));
        let request = wasm_validate_abi::tape::request(
            operation,
            &settings,
            &object,
            old.then_some(object.as_slice()),
        );
        evaluate(&request)
            .violations
            .into_iter()
            .map(|v| v.message)
            .collect()
    }

    #[test]
    fn input_holds_what_the_program_reads_and_the_review_fields() {
        let rego = "package p\n\
            violation[{\"msg\": m}] {\n\
              m := sprintf(\"%v %v/%v %v %v\", [input.review.kind, input.review.namespace, \
                input.review.name, input.review.object.metadata.labels, \
                object.get(input.review.object, \"spec\", \"unread\")])\n\
            }\n\
            violation[{\"msg\": m}] {\n\
              m := sprintf(\"old %v\", [input.review.oldObject.metadata.labels.app])\n\
            }\n\
            violation[{\"msg\": m}] {\n\
              input.review.operation == \"DELETE\"\n\
              m := sprintf(\"deleting %v %v\", [input.review.kind.kind, input.review.name])\n\
            }\n";
        let program = serde_json::json!({
            "modules": [{"path": "p.rego", "rego": rego}],
            "regoVersion": 0, "deny": ["violation"], "input": "gatekeeper",
        });
        // A path read through a function's argument is read whole.
        let create = r#"{"group": "apps", "kind": "Deployment", "version": "v1"} shop/web {"app": "web"} {"replicas": 3}"#;
        assert_eq!(
            messages(program.clone(), Operation::Create, false),
            [create]
        );
        let mut update = messages(program.clone(), Operation::Update, true);
        update.sort();
        assert_eq!(update, ["old web", create]);
        // DELETE: the object is the old object, and review.kind and name
        // are read from it.
        let mut delete = messages(program, Operation::Delete, true);
        delete.sort();
        assert_eq!(delete, ["deleting Deployment web", "old web"]);
    }

    #[test]
    fn a_with_modifier_replaces_input_as_in_opa() {
        let rego = "package main\n\
            deny[msg] { q with input as {\"x\": 1}; msg := \"whole input replaced\" }\n\
            deny[msg] { q with input.x as 1; msg := \"one path replaced\" }\n\
            deny[msg] { q; msg := \"not replaced\" }\n\
            q { input.x == 1 }\n";
        let program = serde_json::json!({
            "modules": [{"path": "p.rego", "rego": rego}],
            "regoVersion": 0, "deny": ["deny"], "input": "document",
        });
        let mut found = messages(program, Operation::Create, false);
        found.sort();
        assert_eq!(found, ["one path replaced", "whole input replaced"]);
    }
}
