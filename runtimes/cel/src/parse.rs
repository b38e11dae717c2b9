//! Parsing an expression: cel-rust's hand-written (Pratt) parser where it
//! gives what the environment's parser gives, its ANTLR parser otherwise.
//!
//! `Env::compile` runs cel-rust's ANTLR-generated parser, which costs about
//! 50 µs per expression natively (several milliseconds in wasmi, plus the
//! translation of the ANTLR runtime's code on first use), the larger part of
//! preparing a policy and of the CEL cold start. The Pratt parser (its
//! `parser_pratt` feature) builds the same tree in 2.5–7 µs, but expands
//! only CEL's standard macros (`has`, `all`, `exists`, `exists_one`, `map`,
//! `filter`), not those an environment adds. So an expression is parsed
//! with the Pratt parser, `x.orValue(d)` is rewritten as the Kubernetes
//! library's macro rewrites it ([`crate::kubernetes`]), and the expression
//! goes to the environment's parser instead when:
//!
//! - the Pratt parser refuses it (the ANTLR parser's error message, with
//!   its line and column, is the one reported);
//! - its brackets nest deeper than 12 or its tree is deeper than 32 nodes:
//!   the ANTLR parser's recursion limit decides whether it is refused (the
//!   Pratt parser does not count parentheses; the deepest expression of the
//!   corpora below nests 5 brackets and 12 nodes);
//! - it calls another macro of the environment: the two-variable
//!   comprehensions ([`crate::two_var`]), cel-go's `sortBy` (lists) and
//!   `greatest`/`least` (math).
//!
//! Both trees are the same but for node ids, which evaluation does not use
//! (`the_pratt_parser_gives_the_environments_trees`, over every expression
//! of the repository's and the shared corpora's policies).

use cel::Env;
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, MapExpr, StructExpr};
use cel::parser::{ParseErrors, PrattParser};

/// Receiver-style macros the environment adds, with their argument counts
/// (`None`: any), besides `orValue`.
const ENV_MACROS: [(&str, Option<usize>); 10] = [
    ("all", Some(3)),
    ("exists", Some(3)),
    ("existsOne", Some(3)),
    ("exists_one", Some(3)),
    ("transformList", None),
    ("transformMap", None),
    ("transformMapEntry", None),
    ("sortBy", Some(2)),
    ("greatest", None),
    ("least", None),
];

/// Brackets nested deeper than this in the source, or a tree deeper than
/// [`MAX_PRATT_DEPTH`], go to the environment's parser, whose recursion
/// limit (cel-rust's 96 rule levels, as cel-go's parser limits it) decides
/// whether the expression is refused: the Pratt parser does not count a
/// parenthesis as a level.
const MAX_PRATT_NESTING: usize = 12;

/// See [`MAX_PRATT_NESTING`].
const MAX_PRATT_DEPTH: usize = 32;

/// `source` parsed as `env` would (see the module docs).
pub fn parse(env: &Env, source: &str) -> Result<IdedExpr, ParseErrors> {
    if bracket_nesting(source) <= MAX_PRATT_NESTING
        && let Ok(mut expression) = PrattParser::default()
            .enable_optional_syntax(true)
            .parse(source)
        && depth(&expression) <= MAX_PRATT_DEPTH
        && !calls_env_macro(&expression)
    {
        rewrite_or_value(&mut expression);
        return Ok(expression);
    }
    env.compile(source).map(|p| p.expression().clone())
}

/// The deepest nesting of `(`, `[` and `{` in `source`, counting those in
/// string literals too (an overestimate only sends an expression to the
/// slower parser).
fn bracket_nesting(source: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for byte in source.bytes() {
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The number of nodes on the longest path from the root of `expression`.
fn depth(expression: &IdedExpr) -> usize {
    let mut deepest = 0;
    visit_children(expression, &mut |child| deepest = deepest.max(depth(child)));
    1 + deepest
}

/// Whether `expression` calls a macro of [`ENV_MACROS`] as a method.
fn calls_env_macro(expression: &IdedExpr) -> bool {
    let mut found = false;
    visit(expression, &mut |node| {
        if let Expr::Call(CallExpr {
            target: Some(_),
            func_name,
            args,
        }) = &node.expr
        {
            found |= ENV_MACROS
                .iter()
                .any(|(name, count)| name == func_name && count.is_none_or(|c| c == args.len()));
        }
    });
    found
}

/// Rewrites each `x.orValue(d)` as `@orValue(x, d)`, as the Kubernetes
/// library's `orValue` macro does.
fn rewrite_or_value(expression: &mut IdedExpr) {
    visit_mut(expression, &mut |node| {
        if let Expr::Call(call) = &mut node.expr
            && call.func_name == "orValue"
            && call.args.len() == 1
            && let Some(target) = call.target.take()
        {
            call.func_name = crate::kubernetes::OR_VALUE.to_owned();
            call.args.insert(0, *target);
        }
    });
}

/// Calls `f` on each child of `expression`.
fn visit_children<'e>(expression: &'e IdedExpr, f: &mut impl FnMut(&'e IdedExpr)) {
    match &expression.expr {
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                f(t);
            }
            call.args.iter().for_each(&mut *f);
        }
        Expr::Comprehension(c) => {
            for e in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                f(e);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(&mut *f),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
            for entry in entries {
                match &entry.expr {
                    EntryExpr::MapEntry(e) => {
                        f(&e.key);
                        f(&e.value);
                    }
                    EntryExpr::StructField(s) => f(&s.value),
                }
            }
        }
        Expr::Select(select) => f(&select.operand),
        _ => {}
    }
}

/// Calls `f` on every node of `expression`, parents first.
fn visit(expression: &IdedExpr, f: &mut impl FnMut(&IdedExpr)) {
    f(expression);
    visit_children(expression, &mut |child| visit(child, f));
}

/// [`visit`], with each node mutable, children after their parent.
fn visit_mut(expression: &mut IdedExpr, f: &mut impl FnMut(&mut IdedExpr)) {
    f(expression);
    for child in children_mut(expression) {
        visit_mut(child, f);
    }
}

/// The children of `expression`, mutable, in evaluation order (a call's
/// target first; a comprehension's range, initial accumulator, condition,
/// step and result).
pub(crate) fn children_mut(expression: &mut IdedExpr) -> Vec<&mut IdedExpr> {
    match &mut expression.expr {
        Expr::Call(call) => call
            .target
            .iter_mut()
            .map(|t| &mut **t)
            .chain(call.args.iter_mut())
            .collect(),
        Expr::Comprehension(c) => {
            let c = &mut **c;
            vec![
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ]
        }
        Expr::List(list) => list.elements.iter_mut().collect(),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => entries
            .iter_mut()
            .flat_map(|entry| match &mut entry.expr {
                EntryExpr::MapEntry(e) => vec![&mut e.key, &mut e.value],
                EntryExpr::StructField(s) => vec![&mut s.value],
            })
            .collect(),
        Expr::Select(select) => vec![&mut *select.operand],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde::Deserialize;

    use super::*;

    /// The tree's Debug text without node ids.
    fn shape(expression: &IdedExpr) -> String {
        let text = format!("{expression:?}");
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find("id: ") {
            out.push_str(&rest[..at]);
            rest = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
        }
        out.push_str(rest);
        out
    }

    /// The strings under the keys that hold CEL in the policy kinds the
    /// runtime reads.
    fn expressions(value: &serde_yaml::Value, out: &mut Vec<String>) {
        match value {
            serde_yaml::Value::Mapping(map) => {
                for (key, value) in map {
                    let cel_key = key.as_str().is_some_and(|k| {
                        matches!(
                            k,
                            "expression" | "messageExpression" | "valueExpression" | "rule"
                        )
                    });
                    match value.as_str() {
                        Some(text) if cel_key => out.push(text.to_owned()),
                        _ => expressions(value, out),
                    }
                }
            }
            serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| expressions(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_pratt_parser_gives_the_environments_trees() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in [
            "testdata/vap",
            "testdata/kyverno",
            "testdata/gatekeeper",
            "testdata/schema",
            "testdata/real/kube-prometheus",
            "../shared/corpus/kyverno-policies",
            "../shared/corpus/gatekeeper-library",
        ] {
            files.extend(
                walkdir::WalkDir::new(root.join(dir))
                    .into_iter()
                    .flatten()
                    .map(|entry| entry.into_path())
                    .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml")),
            );
        }
        let mut sources = vec![
            "x.?y.orValue(1).orValue(2)".to_owned(),
            "[1, 2].all(i, v, v > i)".to_owned(),
            "{'a': 1}.transformMap(k, v, v + 1)".to_owned(),
            "[3, 1].sortBy(x, -x)".to_owned(),
            "math.greatest(1, 2, 3)".to_owned(),
            "a.b(".to_owned(),
            "[?a, b]".to_owned(),
            "{?'k': v}".to_owned(),
            // Nesting the ANTLR parser refuses and the Pratt parser would not
            // (deeper nesting overflows a debug build's test thread in the
            // ANTLR parser; crates/builtin's cel_hostile tests 5,000 levels in
            // Wasm).
            format!("{}true{}", "(".repeat(120), ")".repeat(120)),
            format!("{}true{}", "[".repeat(40), "]".repeat(40)),
            format!("{}0", "a ? 1 : ".repeat(40)),
            format!("{}true", "!".repeat(40)),
        ];
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for document in serde_yaml::Deserializer::from_str(&text) {
                if let Ok(value) = serde_yaml::Value::deserialize(document) {
                    expressions(&value, &mut sources);
                }
            }
        }
        // The ANTLR parser's frames in a debug build need more than a test
        // thread's stack for the deep nestings above.
        let compared = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || {
                let env = crate::environment().unwrap();
                for source in &sources {
                    let ours = parse(&env, source);
                    let theirs = env.compile(source).map(|p| p.expression().clone());
                    match (&ours, &theirs) {
                        (Ok(a), Ok(b)) => assert_eq!(shape(a), shape(b), "{source}"),
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{source}"),
                        _ => panic!("{source}: {ours:?} against {theirs:?}"),
                    }
                }
                sources.len()
            })
            .unwrap()
            .join()
            .unwrap();
        eprintln!(
            "{compared} expressions from {} files parsed alike",
            files.len()
        );
        assert!(compared > 100, "only {compared} expressions found");
    }
}
