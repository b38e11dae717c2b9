//! OPA's deprecated builtins that Rego v0 policies still call and regorus
//! lacks, as OPA evaluates them in v0 (Rego v1 refuses them, as OPA does):
//! `re_match` (now `regex.match`), `any` and `all` (over an array or set of
//! booleans), and `set_diff` (now `-`).
//! Source: <https://www.openpolicyagent.org/docs/policy-reference/builtins/deprecated>.

use std::cell::RefCell;
use std::collections::BTreeSet;

use regorus::{Engine, Value};

/// Patterns `re_match` keeps compiled, as regorus keeps `regex.match`'s
/// (its `cache` feature, 256 patterns): compiling a pattern in wasmi costs
/// about 100 µs, and a policy calls `re_match` in a loop. Past the bound
/// the oldest is dropped. Those compiled while the runtime is prepared
/// ([`warm`]) are in the snapshot every evaluation starts from; the others
/// last one evaluation.
const MAX_PATTERNS: usize = 256;

thread_local! {
    static PATTERNS: RefCell<Vec<(String, regex::Regex)>> = const { RefCell::new(Vec::new()) };
}

/// `pattern` compiled, from the cache or compiled now and kept.
fn compiled(pattern: &str) -> Result<regex::Regex, regex::Error> {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, regex)) = cache.iter().find(|(p, _)| p == pattern) {
            return Ok(regex.clone());
        }
        let regex = regex::Regex::new(pattern)?;
        if cache.len() == MAX_PATTERNS {
            cache.remove(0);
        }
        cache.push((pattern.to_owned(), regex.clone()));
        Ok(regex)
    })
}

/// Compiles `patterns` (the literal patterns of the program's `re_match`
/// calls, `crate::warm::re_match_patterns`) into the cache while the
/// runtime is prepared. An invalid pattern is skipped: the evaluation that
/// uses it reports it.
pub fn warm(patterns: &[String]) {
    for pattern in patterns {
        let _ = compiled(pattern);
    }
}

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
                let regex = compiled(pattern)
                    .map_err(|e| anyhow::anyhow!("re_match: invalid pattern: {e}"))?;
                Ok(Value::from(regex.is_match(value)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pattern gets its own regex, from the cache or compiled anew
    /// after it was dropped, and the cache stays within its bound.
    #[test]
    fn the_pattern_cache_answers_each_pattern_with_its_regex_and_stays_bounded() {
        let patterns: Vec<String> = (0..MAX_PATTERNS + 10)
            .map(|i| format!("^a{{{i}}}$"))
            .collect();
        for pattern in &patterns {
            assert_eq!(compiled(pattern).unwrap().as_str(), pattern);
        }
        PATTERNS.with(|cache| assert_eq!(cache.borrow().len(), MAX_PATTERNS));
        let a3 = "a".repeat(3);
        for pattern in patterns.iter().take(20).chain(patterns.iter().rev().take(20)) {
            let regex = compiled(pattern).unwrap();
            assert_eq!(regex.as_str(), pattern);
            assert_eq!(regex.is_match(&a3), pattern == "^a{3}$", "{pattern}");
        }
        PATTERNS.with(|cache| assert_eq!(cache.borrow().len(), MAX_PATTERNS));
        assert!(compiled("(").is_err());
    }
}
