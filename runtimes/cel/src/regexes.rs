//! `matches`, with each pattern compiled once.
//!
//! cel-rust's `matches` compiles its pattern on every call: about 275 µs
//! in wasmi for `'^[a-z0-9./-]+:[a-z0-9.-]+$'` on the typical Pod's image,
//! ten times a comprehension's whole cost. So, when an expression is
//! compiled, `s.matches(re)` is rewritten as `@matches(s, re)` and
//! `matches(s, re)` as `@matchesGlobal(s, re)`, which search with the
//! pattern compiled once and kept (`wasm_validate_sdk::regexes`), with
//! cel-rust's results and errors; and the literal patterns an expression
//! spells out are compiled while the runtime is prepared ([`warm`]), so
//! every evaluation starts with them.

use cel::ExecutionError;
use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue};
use cel::common::types::{CelBool, CelString, DYN_TYPE};
use cel::common::value::CowVal;

/// `s.matches(re)`.
const MATCHES: &str = "@matches";
/// `matches(s, re)`.
const MATCHES_GLOBAL: &str = "@matchesGlobal";

/// The bound on a compiled pattern, in bytes: the regex crate's default,
/// which cel-rust's `Regex::new` has.
pub(crate) const SIZE_LIMIT: usize = 10 * (1 << 20);

/// Rewrites the calls of `matches` in `expression` (see the module docs).
pub(crate) fn rewrite(expression: &mut IdedExpr) {
    for child in crate::parse::children_mut(expression) {
        rewrite(child);
    }
    let Expr::Call(call) = &mut expression.expr else {
        return;
    };
    if call.func_name != "matches" {
        return;
    }
    match (call.target.take(), call.args.len()) {
        (Some(target), 1) => {
            call.func_name = MATCHES.to_owned();
            call.args.insert(0, *target);
        }
        (None, 2) => call.func_name = MATCHES_GLOBAL.to_owned(),
        (target, _) => call.target = target,
    }
}

/// The literal patterns of the rewritten calls in `expression`.
pub(crate) fn literal_patterns(expression: &mut IdedExpr, found: &mut Vec<String>) {
    if let Expr::Call(CallExpr {
        func_name, args, ..
    }) = &expression.expr
        && (func_name == MATCHES || func_name == MATCHES_GLOBAL)
        && let Some(Expr::Literal(LiteralValue::String(pattern))) = args.get(1).map(|a| &a.expr)
    {
        found.push(pattern.inner().to_owned());
    }
    for child in crate::parse::children_mut(expression) {
        literal_patterns(child, found);
    }
}

/// Compiles `patterns` while the runtime is prepared, each searched once
/// so that its search cache is kept too; one that is not a pattern is
/// left to the evaluation that uses it.
pub(crate) fn warm(patterns: &[String]) {
    for pattern in patterns {
        let _ = wasm_validate_sdk::regexes::with_regex(pattern, SIZE_LIMIT, |r| r.is_match(""));
    }
}

fn matches_in<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    member: bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [text, pattern] = args.as_slice() else {
        return Err(ExecutionError::MissingArgumentOrTarget);
    };
    let (Some(text), Some(pattern)) = (
        text.downcast_ref::<CelString>(),
        pattern.downcast_ref::<CelString>(),
    ) else {
        let types = args
            .iter()
            .map(|a| a.get_type().name().to_owned())
            .collect();
        return Err(if member {
            ExecutionError::no_such_member_overload("matches", types)
        } else {
            ExecutionError::no_such_overload("matches", types)
        });
    };
    wasm_validate_sdk::regexes::with_regex(pattern.inner(), SIZE_LIMIT, |r| {
        r.is_match(text.inner())
    })
    .map(|found| CowVal::owned(CelBool::from(found)))
    .map_err(|err| ExecutionError::FunctionError {
        function: "matches".to_owned(),
        message: format!("'{}' not a valid regex:\n{err}", pattern.inner()),
    })
}

fn matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    matches_in(args, true)
}

fn matches_global<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    matches_in(args, false)
}

/// Registers the functions on `env`.
pub(crate) fn extension(env: &mut cel::Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(
        MATCHES,
        "k8s.matches(dyn,dyn)",
        vec![DYN_TYPE, DYN_TYPE],
        matches,
    )?;
    env.add_overload(
        MATCHES_GLOBAL,
        "k8s.matchesGlobal(dyn,dyn)",
        vec![DYN_TYPE, DYN_TYPE],
        matches_global,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Each expression gives cel-rust's value or error with `matches`
    /// rewritten, on the object read lazily from the tape.
    #[test]
    fn rewritten_matches_give_cel_rusts_results_and_errors() {
        let object = json!({"metadata": {"name": "web-1", "labels": {"app": "Web"}},
                            "spec": {"containers": [{"image": "nginx:1.27"}, {"image": "Bad Image"}]}});
        let expressions = [
            "object.metadata.name.matches('^[a-z0-9-]+$')",
            "object.metadata.name.matches('^[A-Z]+$')",
            "matches(object.metadata.name, 'web')",
            "object.spec.containers.all(c, c.image.matches('^[a-z0-9./-]+:[a-z0-9.-]+$'))",
            "object.spec.containers.map(c, c.image.matches('nginx'))",
            "object.metadata.labels.app.matches('(?i)^web$')",
            "object.metadata.name.matches('\\\\d$')",
            "object.metadata.name.matches('(')",
            "matches('x', '[')",
            "object.metadata.matches('x')",
            "matches(1, 'x')",
            "'x'.matches(1)",
            "object.metadata.name.matches(object.metadata.labels.app)",
            "'a'.matches('a') && ['b', 'c'].exists(s, s.matches('^c$'))",
        ];
        crate::tests::assert_rewrite_keeps_answers(&object, &expressions, |expression| {
            super::rewrite(expression);
            assert!(format!("{expression:?}").contains("@matches"));
        });
    }

    #[test]
    fn the_literal_patterns_are_found() {
        let env = crate::environment().unwrap();
        let mut expression = crate::parse::parse(
            &env,
            "object.a.matches('^a$') || matches(object.b, 'b+') || object.c.matches(object.d)",
        )
        .unwrap();
        super::rewrite(&mut expression);
        let mut found = Vec::new();
        super::literal_patterns(&mut expression, &mut found);
        found.sort();
        assert_eq!(found, ["^a$", "b+"]);
    }
}
