//! OPA's deprecated builtins that Rego v0 policies still call and regorus
//! lacks, as OPA evaluates them in v0 (Rego v1 refuses them, as OPA does):
//! `re_match` (now `regex.match`), `any` and `all` (over an array or set of
//! booleans), and `set_diff` (now `-`).
//! Source: <https://www.openpolicyagent.org/docs/policy-reference/builtins/deprecated>.

use std::collections::BTreeSet;

use regorus::{Engine, Value};

/// Their names, for the check that refuses unknown functions when loading.
pub const NAMES: [&str; 4] = ["re_match", "any", "all", "set_diff"];

/// Adds them to `engine` (a Rego v0 engine).
pub fn add(engine: &mut Engine) -> Result<(), String> {
    let added = (|| {
        engine.add_extension(
            "re_match".into(),
            2,
            Box::new(|args: Vec<Value>| {
                let (Some(Value::String(pattern)), Some(Value::String(value))) =
                    (args.first(), args.get(1))
                else {
                    anyhow::bail!(
                        "re_match: operand 1 must be string and operand 2 must be string"
                    );
                };
                let matched = crate::regexes::is_match(pattern, value)
                    .map_err(|e| anyhow::anyhow!("re_match: {e}"))?;
                Ok(Value::from(matched))
            }),
        )?;
        engine.add_extension(
            "any".into(),
            1,
            Box::new(|args: Vec<Value>| Ok(Value::from(booleans("any", &args)?.any(|b| b)))),
        )?;
        engine.add_extension(
            "all".into(),
            1,
            Box::new(|args: Vec<Value>| Ok(Value::from(booleans("all", &args)?.all(|b| b)))),
        )?;
        engine.add_extension(
            "set_diff".into(),
            2,
            Box::new(|args: Vec<Value>| {
                let (Some(Value::Set(a)), Some(Value::Set(b))) = (args.first(), args.get(1)) else {
                    anyhow::bail!("set_diff: operand 1 must be set and operand 2 must be set");
                };
                let difference: BTreeSet<Value> =
                    a.iter().filter(|v| !b.contains(v)).cloned().collect();
                Ok(Value::from(difference))
            }),
        )
    })();
    added.map_err(|e| format!("OPA's deprecated builtins: {e}"))
}

/// The elements of an array or set argument, each `true` only when it is
/// the boolean `true`, as OPA's `any` and `all` read them.
fn booleans<'a>(
    name: &str,
    args: &'a [Value],
) -> anyhow::Result<Box<dyn Iterator<Item = bool> + 'a>> {
    match args.first() {
        Some(Value::Array(items)) => Ok(Box::new(items.iter().map(|v| *v == Value::Bool(true)))),
        Some(Value::Set(items)) => Ok(Box::new(items.iter().map(|v| *v == Value::Bool(true)))),
        _ => anyhow::bail!("{name}: operand 1 must be one of {{array, set}}"),
    }
}
