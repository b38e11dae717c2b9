//! Two places where regorus 0.14 reads Rego differently from OPA, bridged
//! by rewriting the source before it is parsed (token by token, with
//! regorus's own lexer, so strings and comments are never touched; every
//! insertion stays on its line, so error positions do not move):
//!
//! - **A newline before `(`.** OPA ends an expression at a newline outside
//!   brackets, so `x\n(a - b) > 0` is two expressions; regorus reads a
//!   call `x(a - b)`. A `;` (OPA's own separator) is inserted after `x`.
//! - **Several bodies for one head.** OPA reads `p[x] { a } { b }` as two
//!   rules with the same head (gatekeeper-library's
//!   noupdateserviceaccount uses it); regorus refuses it for partial
//!   sets. The head is repeated before each further body.

use regorus::unstable::{Lexer, Source, Token, TokenKind};

/// The names of the rules `rego` declares at its top level (`deny` for
/// `deny[msg] { ... }`, `deny contains msg if ...`, `default deny := ...`),
/// in order, repeated as often as declared; empty when it does not lex.
pub fn rule_names(path: &str, rego: &str) -> Vec<String> {
    let Some(tokens) = tokens(path, rego) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut previous_line = 0;
    let mut statement_start = true;
    for (index, token) in tokens.iter().enumerate() {
        let text = token.1.text();
        let top = depth == 0;
        if top && (statement_start || token.1.line > previous_line) {
            let name = match text {
                "package" | "import" | "else" => None,
                "default" => tokens.get(index + 1).map(|t| t.1.text()),
                _ if token.0 == TokenKind::Ident => Some(text),
                _ => None,
            };
            if let Some(name) = name {
                names.push(name.to_owned());
            }
        }
        statement_start = false;
        if token.0 == TokenKind::Symbol {
            match text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => {
                    depth = depth.saturating_sub(1);
                    statement_start = depth == 0 && text == "}";
                }
                _ => {}
            }
        }
        previous_line = token.1.line;
    }
    names
}

/// Rego's keywords, which a `(` may follow without a call.
const KEYWORDS: [&str; 15] = [
    "not", "some", "every", "in", "if", "contains", "else", "with", "as", "default", "import",
    "package", "true", "false", "null",
];

/// The functions `rego` calls that `known` does not know, each with its
/// line and column: a call is a name or dotted path (`count`,
/// `regex.match`) followed by `(` on the same line, not after a keyword,
/// not under `data.`, and not starting with one of the module's import
/// aliases (`import data.lib.k8s` makes `k8s.f(x)` the library's).
pub fn unknown_calls(
    path: &str,
    rego: &str,
    known: impl Fn(&str) -> bool,
) -> Vec<(String, u32, u32)> {
    let Some(tokens) = tokens(path, rego) else {
        return Vec::new();
    };
    // Import aliases: the last component, or what follows `as`.
    let mut aliases: Vec<String> = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if token.1.text() != "import" {
            continue;
        }
        let line = token.1.line;
        let rest: Vec<&Token> = tokens[index + 1..]
            .iter()
            .take_while(|t| t.1.line == line)
            .collect();
        let alias = match rest.iter().position(|t| t.1.text() == "as") {
            Some(at) => rest.get(at + 1).map(|t| t.1.text()),
            None => rest
                .iter()
                .rev()
                .find(|t| t.0 == TokenKind::Ident)
                .map(|t| t.1.text()),
        };
        aliases.extend(alias.map(str::to_owned));
    }
    let mut unknown = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !(token.0 == TokenKind::Symbol && token.1.text() == "(") {
            continue;
        }
        // Walk back over `ident (. ident)*` on the same line.
        let mut parts: Vec<&str> = Vec::new();
        let mut at = index;
        let mut expect_ident = true;
        while at > 0 {
            let previous = &tokens[at - 1];
            if previous.1.line != token.1.line {
                break;
            }
            let text = previous.1.text();
            let ident = expect_ident && previous.0 == TokenKind::Ident;
            let dot = !expect_ident && previous.0 == TokenKind::Symbol && text == ".";
            if !ident && !dot {
                break;
            }
            if ident {
                parts.push(text);
            }
            expect_ident = !expect_ident;
            at -= 1;
        }
        if parts.is_empty() {
            continue;
        }
        // A `.` before the path (`x.y.f(`) belongs to a longer reference
        // that did not start with an identifier (`input[0].f(`): not a call
        // to check.
        if tokens[at].1.text() == "." {
            continue;
        }
        parts.reverse();
        let first = parts[0];
        if parts.len() == 1 && KEYWORDS.contains(&first) {
            continue;
        }
        if first == "data" || first == "input" || aliases.iter().any(|a| a == first) {
            continue;
        }
        let name = parts.join(".");
        if !known(&name) {
            let start = &tokens[at].1;
            unknown.push((name, start.line, start.col));
        }
    }
    unknown
}

/// `rego`'s tokens, or `None` when it does not lex.
pub(crate) fn tokens(path: &str, rego: &str) -> Option<Vec<Token>> {
    let source = Source::from_contents(path.to_owned(), rego.to_owned()).ok()?;
    let mut lexer = Lexer::new(&source);
    let mut tokens = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(token) if token.0 == TokenKind::Eof => return Some(tokens),
            Ok(token) => tokens.push(token),
            Err(_) => return None,
        }
    }
}

/// `rego` with the rewrites above; unchanged when it does not lex (the
/// parser then reports the error).
pub fn normalize(path: &str, rego: &str) -> String {
    let Some(tokens) = tokens(path, rego) else {
        return rego.to_owned();
    };
    let symbol = |t: &Token, s: &str| t.0 == TokenKind::Symbol && t.1.text() == s;
    let mut inserts: Vec<(usize, String)> = Vec::new();
    // Depth of () and [] (where a newline does not end an expression) and
    // of {} (rule bodies, and literals inside heads and bodies).
    let (mut round, mut braces) = (0usize, 0usize);
    let mut head_start: Option<usize> = None;
    let mut first_body: Option<usize> = None;
    // After a body closed at the top level: was the next token an `else`?
    let mut after_body = false;
    let mut in_else = false;
    for (index, token) in tokens.iter().enumerate() {
        let previous = index.checked_sub(1).map(|i| &tokens[i]);
        let new_line = previous.is_none_or(|p| p.1.line < token.1.line);
        if symbol(token, "(")
            && round == 0
            && new_line
            && let Some(previous) = previous
            && (previous.0 == TokenKind::Ident || symbol(previous, "]") || symbol(previous, ")"))
        {
            inserts.push((previous.1.end as usize, ";".into()));
        }
        let top = round == 0 && braces == 0;
        if top {
            if symbol(token, "{") {
                if in_else {
                    // An `else` body.
                } else if after_body {
                    if let (Some(start), Some(body)) = (head_start, first_body) {
                        let head = rego[start..body].trim_end();
                        inserts.push((token.1.start as usize, format!("{head} ")));
                    }
                } else {
                    first_body = Some(token.1.start as usize);
                }
                in_else = false;
            } else if after_body && token.1.text() == "else" {
                in_else = true;
            } else if !in_else && (after_body || new_line) {
                // A new statement: a rule's head, a package or an import.
                head_start = Some(token.1.start as usize);
                first_body = None;
            }
            after_body = false;
        }
        match token.1.text() {
            "(" | "[" if token.0 == TokenKind::Symbol => round += 1,
            ")" | "]" if token.0 == TokenKind::Symbol => round = round.saturating_sub(1),
            "{" if token.0 == TokenKind::Symbol => braces += 1,
            "}" if token.0 == TokenKind::Symbol => {
                braces = braces.saturating_sub(1);
                if braces == 0 && round == 0 {
                    after_body = true;
                }
            }
            _ => {}
        }
    }
    if inserts.is_empty() {
        return rego.to_owned();
    }
    inserts.sort_by_key(|(at, _)| *at);
    let mut out = String::with_capacity(rego.len() + 64);
    let mut at = 0;
    for (offset, text) in inserts {
        out.push_str(&rego[at..offset]);
        out.push_str(&text);
        at = offset;
    }
    out.push_str(&rego[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parenthesised_expression_on_its_own_line_is_not_a_call() {
        let rego = "package p\nf(x) {\n  input.a\n  (x - 1) >= 0\n}\n";
        assert_eq!(
            normalize("p.rego", rego),
            "package p\nf(x) {\n  input.a;\n  (x - 1) >= 0\n}\n"
        );
        // A call split after its `(` stays a call.
        let call = "package p\nx := count(\n  input.a)\n";
        assert_eq!(normalize("p.rego", call), call);
    }

    #[test]
    fn each_further_body_gets_the_head_again() {
        let rego = "package p\nimport future.keywords\nviolation[{\"msg\": msg}] {\n  msg := \"a\"\n} {\n  msg := \"b\"\n}\n";
        assert_eq!(
            normalize("p.rego", rego),
            "package p\nimport future.keywords\nviolation[{\"msg\": msg}] {\n  msg := \"a\"\n} violation[{\"msg\": msg}] {\n  msg := \"b\"\n}\n"
        );
        // `else` bodies are not further bodies.
        let chain = "package p\nx := 1 {\n  input.a\n} else := 2 {\n  input.b\n}\n";
        assert_eq!(normalize("p.rego", chain), chain);
        // Strings and comments are not code.
        let quiet = "package p\n# x\n# (y)\ns := \"} {\"\n";
        assert_eq!(normalize("p.rego", quiet), quiet);
    }

    #[test]
    fn unknown_calls_are_found_with_their_position() {
        let rego = "package p\nimport data.lib.k8s\nimport data.lib.other as o\nviolation[m] {\n  count(input.x) > 0\n  k8s.is_pod(input)\n  o.f(1)\n  helper(2)\n  not (1 == 2)\n  t := time.now_ns()\n  input.list[0].x.y(1)\n  m := sprintf(\"%v\", [t])\n}\nhelper(x) { x > 1 }\n";
        let known = |name: &str| ["count", "sprintf", "helper"].contains(&name);
        assert_eq!(
            unknown_calls("p.rego", rego, known),
            [("time.now_ns".to_owned(), 10, 8)]
        );
    }

    #[test]
    fn rule_names_are_the_heads_of_top_level_statements() {
        let rego = "package main\nimport rego.v1\n\ndeny contains msg if {\n  input.kind == \"Pod\"\n  msg := \"x\"\n}\n\ndeny_privileged[msg] {\n  msg := {\"a\": 1}\n}\n\ndefault allow := false\nwarn[m] { m := \"w\" } else = 1 { true }\nhelper(x) = y {\n  y := x\n}\n";
        assert_eq!(
            rule_names("p.rego", rego),
            ["deny", "deny_privileged", "allow", "warn", "helper"]
        );
    }

    #[test]
    fn the_rewritten_rules_evaluate_as_opa_evaluates_them() {
        let rego = normalize(
            "p.rego",
            "package p\nviolation[m] {\n  input.a\n  m := \"a\"\n} {\n  input.b\n  m := \"b\"\n}\nspread {\n  input.n\n  (input.n - 1) >= 1\n}\n",
        );
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.add_policy("p.rego".into(), rego).unwrap();
        engine
            .set_input(regorus::Value::from_json_str(r#"{"a": true, "b": true, "n": 3}"#).unwrap());
        let violations = engine.eval_rule("data.p.violation".into()).unwrap();
        assert_eq!(violations.as_set().unwrap().len(), 2);
        assert_eq!(
            engine.eval_rule("data.p.spread".into()).unwrap(),
            regorus::Value::from(true)
        );
    }
}
