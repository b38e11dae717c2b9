//! The CEL runtime as built for Wasm (what every run uses): what differs
//! from the runtime compiled natively for its unit tests. [`outcome`] is
//! shared with `cel_hostile`.

use serde_json::json;
use wasm_validate_engine::{Engine, Limits, Policy};

fn runtime(engine: &Engine) -> Policy {
    let wasm = wasm_validate_builtin::runtime("cel").unwrap();
    engine.load(wasm, Limits::default()).unwrap()
}

/// Prepares a program validating `expression` and evaluates it on a Pod:
/// the preparation's error, or the evaluation's, or the messages.
pub(crate) fn outcome(engine: &Engine, expression: &str) -> Result<Vec<String>, String> {
    let program = json!({"validations": [{"expression": expression, "message": "denied"}]});
    let policy = engine
        .prepare(&runtime(engine), &program)
        .map_err(|e| format!("prepare: {e}"))?;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let request = wasm_validate_abi::tape::request(
        wasm_validate_abi::Operation::Create,
        &wasm_validate_abi::tape::encode(&json!({})),
        &wasm_validate_abi::tape::encode(&pod),
        None,
    );
    let evaluation = engine
        .evaluate(&policy, &request)
        .map_err(|e| format!("evaluate: {e}"))?;
    if let Some(error) = evaluation.response.error {
        return Err(format!("evaluate: {error}"));
    }
    Ok(evaluation
        .response
        .violations
        .into_iter()
        .map(|v| v.message)
        .collect())
}

/// Timestamps know UTC and fixed offsets only: the module is built without
/// the IANA time zone database (runtimes/cel/Cargo.toml), so a named zone
/// is an evaluation error, never a wrong hour.
#[test]
fn timestamps_know_utc_and_fixed_offsets_only() {
    let engine = Engine::default();
    let at = "timestamp('2026-11-30T04:05:06Z')";
    for (expression, denied) in [
        (format!("{at}.getHours() == 4"), false),
        (format!("{at}.getHours('UTC') == 4"), false),
        (format!("{at}.getHours('+01:00') == 5"), false),
        (format!("{at}.getHours('-02:30') == 1"), false),
        (format!("{at}.getHours() == 5"), true),
    ] {
        let messages =
            outcome(&engine, &expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        assert_eq!(!messages.is_empty(), denied, "{expression}: {messages:?}");
    }
    let error = outcome(&engine, &format!("{at}.getHours('Europe/Paris') == 5")).unwrap_err();
    assert!(
        error.contains("Europe/Paris") || error.contains("timezone") || error.contains("time zone"),
        "{error}"
    );
}

/// The named format library in the Wasm build: a name that fits, one that
/// does not (with the API server's message), and the date and datetime
/// formats, which use the module's time code.
#[test]
fn named_formats_validate_in_wasm() {
    let engine = Engine::default();
    for (expression, denied) in [
        (
            "format.named('dns1123Label').value().validate(object.metadata.name) == optional.none()",
            false,
        ),
        (
            "format.dns1123Label().validate('Not_A_Label').hasValue()",
            false,
        ),
        (
            "format.qualifiedName().validate('example.com/a/b').value()[0].startsWith('a qualified name must consist')",
            false,
        ),
        (
            "format.date().validate('2026-02-29') == optional.of(['invalid date'])",
            false,
        ),
        (
            "format.datetime().validate('2026-11-30T04:05:06.123+01:00') == optional.none()",
            false,
        ),
        (
            "format.labelValue().validate('bad value') == optional.none()",
            true,
        ),
    ] {
        let messages = outcome(&engine, expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        assert_eq!(!messages.is_empty(), denied, "{expression}: {messages:?}");
    }
}

/// cel-go's sets extension and two-variable comprehensions in the Wasm
/// build.
#[test]
fn sets_and_two_variable_comprehensions_in_wasm() {
    let engine = Engine::default();
    for (expression, denied) in [
        (
            "sets.contains(['a', 'b'], [object.metadata.name == 'p' ? 'a' : 'c'])",
            false,
        ),
        ("sets.intersects([1, 2], [3])", true),
        // Two-variable comprehensions, rewritten at parse time.
        ("{'a': 1}.all(k, v, k == 'a' && v == 1)", false),
        ("[3, 4].transformList(i, v, i + v) == [3, 5]", false),
    ] {
        let messages = outcome(&engine, expression).unwrap_or_else(|e| panic!("{expression}: {e}"));
        assert_eq!(!messages.is_empty(), denied, "{expression}: {messages:?}");
    }
}

/// `cel.bind` and `optMap`, expanded when compiled, run in the module.
#[test]
fn bindings_and_optional_maps_run_in_wasm() {
    let engine = Engine::default();
    assert_eq!(
        outcome(&engine, "cel.bind(n, object.metadata.name, n + n == 'pp')"),
        Ok(vec![])
    );
    assert_eq!(
        outcome(
            &engine,
            "object.metadata.?labels.optMap(l, l.size()).orValue(0) == 1"
        ),
        Ok(vec!["denied".to_owned()])
    );
}
