//! Compiled regular expressions kept and used in place, for `regex.match`
//! and Rego v0's `re_match`.
//!
//! regorus keeps the patterns `regex.match` compiles (its `cache` feature),
//! but hands each call a clone of the kept `Regex`, and a clone starts
//! without the search cache its first search builds: about 30–60 µs in
//! wasmi on every call, however often the pattern was used. So the runtime
//! answers `regex.match` itself (an extension of the same name, which
//! regorus looks up before its builtins) from the SDK's kept patterns
//! (`wasm_validate_sdk::regexes`), searched in place. The results
//! and errors are regorus's: the same 100 KiB bound on a compiled pattern,
//! and the same messages (an error is the policy's error, regorus's builtin
//! errors being strict). The patterns a module spells out are compiled, and
//! searched once, while the runtime is prepared ([`warm`]), so every
//! evaluation starts with them; others are compiled on first use and last
//! one evaluation (an instance's memory is written back after each).

use regorus::{Engine, Value};

/// regorus's bound on a compiled pattern (`REGEX_SIZE_LIMIT`), in bytes.
const SIZE_LIMIT: usize = 100 * 1024;

/// Why a pattern cannot be used, in regorus's words.
#[derive(Debug, PartialEq, Eq)]
pub enum PatternError {
    /// Not a regular expression.
    Invalid,
    /// Compiled, larger than regorus's bound (100 KiB).
    TooBig,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::Invalid => write!(f, "invalid regex"),
            PatternError::TooBig => {
                write!(f, "compiled regex exceeded size limit ({SIZE_LIMIT} bytes)")
            }
        }
    }
}

/// Whether `pattern` matches `text`, the pattern kept or compiled now and
/// kept.
pub fn is_match(pattern: &str, text: &str) -> Result<bool, PatternError> {
    wasm_validate_sdk::regexes::with_regex(pattern, SIZE_LIMIT, |regex| regex.is_match(text))
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => PatternError::TooBig,
            _ => PatternError::Invalid,
        })
}

/// Compiles `patterns` into the cache while the runtime is prepared, each
/// searched once so that its search cache is in the snapshot too. A
/// pattern that cannot be used is skipped: the evaluation that uses it
/// reports it.
pub fn warm(patterns: &[String]) {
    for pattern in patterns {
        let _ = is_match(pattern, "");
    }
}

/// Answers `regex.match` on `engine` from the cache (see the module docs).
pub fn add(engine: &mut Engine) -> Result<(), String> {
    engine
        .add_extension(
            "regex.match".into(),
            2,
            Box::new(|args: Vec<Value>| {
                let string = |value: Option<&Value>| match value {
                    Some(Value::String(s)) => Ok(s.clone()),
                    other => anyhow::bail!(
                        "`regex.match` expects string argument. Got `{}` instead",
                        other.unwrap_or(&Value::Undefined)
                    ),
                };
                let (pattern, text) = (string(args.first())?, string(args.get(1))?);
                Ok(Value::from(
                    is_match(&pattern, &text).map_err(|e| anyhow::anyhow!("{e}"))?,
                ))
            }),
        )
        .map_err(|e| format!("regex.match: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pattern that is not one, and one compiled larger than regorus's
    /// bound, are told apart as regorus tells them.
    #[test]
    fn invalid_and_too_big_patterns_are_told_apart() {
        assert_eq!(is_match("^a+$", "aa"), Ok(true));
        assert_eq!(is_match("(", ""), Err(PatternError::Invalid));
        assert_eq!(is_match("[a-z]{5000}", ""), Err(PatternError::TooBig));
    }

    /// `regex.match` answered by the extension gives regorus's own
    /// builtin's values and errors.
    #[test]
    fn regex_match_answers_as_regoruss_builtin() {
        let cases = [
            r#"regex.match("^[a-z]+$", "abc")"#,
            r#"regex.match("^[a-z]+$", "ab1")"#,
            r#"regex.match("b", "abc")"#,
            r#"regex.match("", "")"#,
            r#"regex.match("(", "x")"#,
            r#"regex.match("[a-z]{5000}", "x")"#,
            r#"regex.match(1, "x")"#,
            r#"regex.match("x", ["x"])"#,
            r#"regex.match("x", input.missing)"#,
            r#"[x | x := ["a", "1", "b"][_]; regex.match("^[a-z]$", x)]"#,
        ];
        let answer = |ours: bool, expression: &str| -> String {
            let mut engine = Engine::new();
            if ours {
                add(&mut engine).unwrap();
            }
            let rego = format!("package t\nimport rego.v1\nr := {expression}\n");
            engine.add_policy("t.rego".into(), rego).unwrap();
            match engine.eval_rule("data.t.r".into()) {
                Ok(value) => format!("{value}"),
                // The message without its location: the extension's error
                // is placed at the call, the builtin's at the argument.
                Err(error) => {
                    let text = error.to_string();
                    let message = text
                        .lines()
                        .find_map(|line| line.split("error: ").nth(1))
                        .unwrap_or(&text)
                        .to_owned();
                    format!("error: {message}")
                }
            }
        };
        for expression in cases {
            assert_eq!(
                answer(true, expression),
                answer(false, expression),
                "{expression}"
            );
        }
        assert_eq!(answer(true, cases[0]), "true");
        assert_eq!(answer(true, cases[1]), "false");
        // RE2's classes and flags, which OPA's patterns use (the regex
        // crate's features in Cargo.toml).
        for expression in [
            r#"regex.match("^\\d+$", "123")"#,
            r#"regex.match("^\\w+\\s\\S$", "a_1 b")"#,
            r#"regex.match("(?i)^abc$", "ABC")"#,
            r#"regex.match("^\\pL+$", "été")"#,
        ] {
            assert_eq!(answer(true, expression), "true", "{expression}");
        }
        // Go's Perl classes are ASCII-only, so OPA answers false where
        // regorus's builtin (the regex crate's Unicode classes) says true.
        for expression in [
            r#"regex.match("^\\d+$", "١٢٣")"#,
            r#"regex.match("^\\w+$", "été")"#,
            r#"regex.match("^\\s$", "\u00a0")"#,
        ] {
            assert_eq!(answer(true, expression), "false", "{expression}");
            assert_eq!(answer(false, expression), "true", "{expression}");
        }
    }
}
