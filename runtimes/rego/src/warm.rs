//! The literal regex patterns of a program, compiled while the runtime is
//! prepared.
//!
//! Every evaluation starts from the memory the preparation left
//! (`docs/abi.md`, "Preparation"), so a pattern compiled during one
//! evaluation is gone by the next. The patterns a module spells out as the
//! first argument of a `regex.*` builtin (`regex.match("^[0-9]+$", x)`) or
//! of Rego v0's `re_match` are known before anything is evaluated
//! ([`patterns`]): compiling them once while preparing puts them in the
//! snapshot. `regex.match` and `re_match` are answered from
//! [`crate::regexes`], which the caller warms with them; the other
//! `regex.*` builtins from regorus's own cache (its `cache` feature, an LRU
//! of 256 patterns), which [`warm`] fills. Patterns that arrive at run time
//! (from `input` or a constraint's parameters) are compiled on first use
//! and kept for the rest of that evaluation only.

use regorus::unstable::{Token, TokenKind};

use crate::compat;

/// The regex builtins whose first argument is a pattern compiled through
/// regorus's cache.
const PATTERN_FIRST: [&str; 5] = [
    "match",
    "find_n",
    "find_all_string_submatch_n",
    "split",
    "replace",
];

/// The literal patterns of a module's regex calls ([`patterns`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Patterns {
    /// The string literals passed whole as the pattern of a regex builtin
    /// (`regex.match("a+", s)`: `a+`), unescaped.
    pub regex: Vec<String>,
    /// Those passed to OPA's deprecated `re_match` (`re_match("a+", s)`),
    /// for [`crate::regexes::warm`] in Rego v0; a call of a function of
    /// that name in another package (`data.lib.re_match(...)`) is not one.
    pub re_match: Vec<String>,
}

/// The literal patterns of `rego`'s regex calls, each list sorted and
/// without repeats, from one lexing; empty when it does not lex.
pub fn patterns(path: &str, rego: &str) -> Patterns {
    let Some(tokens) = compat::tokens(path, rego) else {
        return Patterns::default();
    };
    let symbol = |index: usize, s: &str| {
        tokens
            .get(index)
            .is_some_and(|t: &Token| t.0 == TokenKind::Symbol && t.1.text() == s)
    };
    let ident = |index: usize, s: &str| {
        tokens
            .get(index)
            .is_some_and(|t: &Token| t.0 == TokenKind::Ident && t.1.text() == s)
    };
    let mut found = Patterns::default();
    for index in 0..tokens.len() {
        let regex_call = ident(index, "regex")
            && symbol(index + 1, ".")
            && tokens
                .get(index + 2)
                .is_some_and(|t| PATTERN_FIRST.contains(&t.1.text()))
            && symbol(index + 3, "(")
            && symbol(index + 5, ",");
        let re_match_call = ident(index, "re_match")
            && !(index > 0 && symbol(index - 1, "."))
            && symbol(index + 1, "(")
            && symbol(index + 3, ",");
        let (list, at) = if regex_call {
            (&mut found.regex, index + 4)
        } else if re_match_call {
            (&mut found.re_match, index + 2)
        } else {
            continue;
        };
        list.extend(crate::reads::string_literal(&tokens[at]));
    }
    for list in [&mut found.regex, &mut found.re_match] {
        list.sort();
        list.dedup();
    }
    found
}

/// Compiles each of `patterns` into regorus's regex cache by evaluating a
/// rule that calls `regex.match` on it, in an engine of its own (the cache
/// is global, so any engine fills it; a rule rather than a query, so that
/// no code the evaluations do not run is translated by wasmi). An invalid
/// pattern is skipped: the evaluation that uses it reports it.
pub fn warm(patterns: &[String]) {
    if patterns.is_empty() {
        return;
    }
    let mut rego = String::from("package wv_warm\n");
    for pattern in patterns {
        // A JSON string is a Rego string.
        let Ok(literal) = serde_json::to_string(pattern) else {
            continue;
        };
        rego.push_str(&format!("w {{ regex.match({literal}, \"\") }}\n"));
    }
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    if engine.add_policy("warm.rego".into(), rego).is_ok() {
        let _ = engine.eval_rule("data.wv_warm.w".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_literal_patterns_of_regex_calls() {
        let rego = "package p\n\
            a { regex.match(\"^[0-9]+(\\\\.[0-9]+)?$\", input.x) }\n\
            b { regex.match(`^raw\\d$`, input.x) }\n\
            c { regex.split(\"[,;]\", input.x, _) }\n\
            d { regex.match(input.pattern, input.x) }\n\
            e { regex.match(\"a\" + \"b\", input.x) }\n\
            f { re_match(\"notthis\", input.x) }\n\
            g { regex.match(\"^[0-9]+(\\\\.[0-9]+)?$\", input.y) }\n";
        assert_eq!(
            patterns("p.rego", rego).regex,
            vec![
                "[,;]".to_owned(),
                "^[0-9]+(\\.[0-9]+)?$".to_owned(),
                "^raw\\d$".to_owned(),
            ]
        );
        let v0 = "package p\n\
            a { re_match(\"^[a-z]+$\", input.x) }\n\
            b { re_match(`^raw\\d$`, input.x) }\n\
            c { re_match(input.pattern, input.x) }\n\
            d { data.lib.re_match(\"notthis\", input.x) }\n\
            e { regex.match(\"aRegexPattern\", input.x) }\n";
        assert_eq!(
            patterns("p.rego", v0),
            Patterns {
                regex: vec!["aRegexPattern".to_owned()],
                re_match: vec!["^[a-z]+$".to_owned(), "^raw\\d$".to_owned()],
            }
        );
    }
}
