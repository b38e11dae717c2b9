//! Chains of selections evaluated in one call.
//!
//! After [`crate::select`]'s rewrite, `object.spec.containers` is
//! `@select(@select(object, 'spec'), 'containers')`, and
//! `c.?securityContext.?privileged.orValue(false)` is
//! `@orValue(@optSelect(@optSelect(c, 'securityContext'), 'privileged'),
//! false)`: a function call per link, and cel-rust looks each call's
//! function up by name, matches its overloads and collects its arguments
//! into a new vector. On the typical Pod a CEL policy spends much of its
//! evaluation doing that (docs/performance.md, "CEL runtime").
//!
//! So, when an expression is compiled, each chain of two or more links
//! becomes one call, `@chain(operand, mask, 'f1', 'f2', ...)`, whose links
//! are taken in order (bit `i` of `mask` set: link `i` is `.?fi`, else
//! `.fi`), and an `orValue` whose receiver is a chain (of one link or
//! more) and whose default is a literal becomes
//! `@chainOr(operand, mask, default, 'f1', ...)`. The links run the same
//! code as the separate calls ([`select_step`], [`opt_select_step`]), and
//! the first error stops the chain as it stopped the nested calls, so
//! values and errors are unchanged. The default must be a literal (or an
//! empty list or map): the nested calls evaluate it after the chain, the
//! fused call before its links, and only a value that cannot fail makes
//! the order not matter.

use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue};
use cel::common::types::{CelInt, DYN_TYPE, INT_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{Env, ExecutionError};

use crate::kubernetes::OR_VALUE;
use crate::select::{OPT_SELECT, SELECT, opt_select_step, select_step};

/// `@chain(operand, mask, 'f1', ...)`: the links in order.
pub(crate) const CHAIN: &str = "@chain";
/// `@chainOr(operand, mask, default, 'f1', ...)`: the chain's value, its
/// optional's value, or `default` when the optional is none.
pub(crate) const CHAIN_OR: &str = "@chainOr";

/// The most links one call takes; a longer chain is a chain of chains.
const MAX_LINKS: usize = 8;

/// Fuses the selection chains of `expression` (see the module docs).
pub(crate) fn fuse(expression: &mut IdedExpr) {
    if let Some((root, links, default)) = take_chain(expression) {
        let id = expression.id;
        let mut root = root;
        fuse(&mut root);
        expression.expr = build(root, links, default, id);
        return;
    }
    for child in crate::parse::children_mut(expression) {
        fuse(child);
    }
}

/// One link: whether it is optional (`.?f`), and its field.
type Link = (bool, String);

/// When `expression` is a chain worth fusing, takes it apart: the root
/// operand, the links from the root outwards, and the `orValue` default.
fn take_chain(expression: &mut IdedExpr) -> Option<(IdedExpr, Vec<Link>, Option<IdedExpr>)> {
    let (receiver, default) = match &mut expression.expr {
        Expr::Call(call)
            if call.func_name == OR_VALUE
                && call.target.is_none()
                && call.args.len() == 2
                && cannot_fail(&call.args[1].expr)
                && link(&call.args[0]).is_some() =>
        {
            let default = call.args.pop()?;
            (call.args.pop()?, Some(default))
        }
        _ => {
            let mut length = 0;
            let mut at = &*expression;
            while let Some((_, operand)) = link(at) {
                length += 1;
                at = operand;
            }
            if length < 2 {
                return None;
            }
            (std::mem::take(expression), None)
        }
    };
    let mut links = Vec::new();
    let mut at = receiver;
    while let Some((optional, _)) = link(&at) {
        let Expr::Call(mut call) = std::mem::take(&mut at.expr) else {
            unreachable!("a link is a call");
        };
        let (Some(field), Some(operand)) = (call.args.pop(), call.args.pop()) else {
            unreachable!("a link has two arguments");
        };
        let Expr::Literal(LiteralValue::String(field)) = field.expr else {
            unreachable!("a link's field is a string literal");
        };
        links.push((optional, field.inner().to_owned()));
        at = operand;
    }
    links.reverse();
    Some((at, links, default))
}

/// Whether `expression` is a link, `@select(operand, 'f')` or
/// `@optSelect(operand, 'f')`: whether it is optional, and its operand.
fn link(expression: &IdedExpr) -> Option<(bool, &IdedExpr)> {
    let Expr::Call(call) = &expression.expr else {
        return None;
    };
    let optional = match call.func_name.as_str() {
        SELECT => false,
        OPT_SELECT => true,
        _ => return None,
    };
    match call.args.as_slice() {
        [operand, field]
            if call.target.is_none()
                && matches!(field.expr, Expr::Literal(LiteralValue::String(_))) =>
        {
            Some((optional, operand))
        }
        _ => None,
    }
}

/// Whether evaluating `expression` cannot fail: a literal, `[]` or `{}`.
fn cannot_fail(expression: &Expr) -> bool {
    match expression {
        Expr::Literal(_) => true,
        Expr::List(list) => list.elements.is_empty(),
        Expr::Map(map) => map.entries.is_empty(),
        _ => false,
    }
}

/// The call for `root` and `links` (chunks of [`MAX_LINKS`], the first
/// chunks the operands of the next), with the default of `orValue` on the
/// last chunk.
fn build(root: IdedExpr, links: Vec<Link>, default: Option<IdedExpr>, id: u64) -> Expr {
    let chunks: Vec<&[Link]> = links.chunks(MAX_LINKS).collect();
    let last = chunks.len() - 1;
    let mut operand = root;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mask = chunk
            .iter()
            .enumerate()
            .filter(|(_, (optional, _))| *optional)
            .fold(0i64, |mask, (bit, _)| mask | 1 << bit);
        let literal = |value: LiteralValue| IdedExpr {
            id,
            expr: Expr::Literal(value),
        };
        let mut args = vec![operand, literal(LiteralValue::Int(CelInt::from(mask)))];
        let default = if i == last { default.clone() } else { None };
        let function = match default {
            Some(default) => {
                args.push(default);
                CHAIN_OR
            }
            None => CHAIN,
        };
        args.extend(
            chunk
                .iter()
                .map(|(_, field)| literal(LiteralValue::String(field.clone().into()))),
        );
        operand = IdedExpr {
            id,
            expr: Expr::Call(CallExpr {
                func_name: function.to_owned(),
                target: None,
                args,
            }),
        };
    }
    operand.expr
}

/// Runs `links` of `mask` (see [`CHAIN`]) from `value`.
fn run<'b, 'v>(
    mut value: CowVal<'b, 'v>,
    mask: i64,
    fields: impl Iterator<Item = CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    for (i, field) in fields.enumerate() {
        if field
            .downcast_ref::<cel::common::types::CelString>()
            .is_none()
        {
            return Err(ExecutionError::function_error(
                "_._",
                "field must be string",
            ));
        }
        value = if mask >> i & 1 == 1 {
            opt_select_step(value, field)
        } else {
            select_step(value, field)?
        };
    }
    Ok(value)
}

/// The mask argument of a fused call.
fn mask_of(value: Option<CowVal<'_, '_>>) -> Result<i64, ExecutionError> {
    value
        .as_ref()
        .and_then(|v| v.downcast_ref::<CelInt>())
        .map(|mask| *mask.inner())
        .ok_or(ExecutionError::MissingArgumentOrTarget)
}

/// `@chain(operand, mask, 'f1', ...)`.
fn chain<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let mut args = args.into_iter();
    let operand = args.next().ok_or(ExecutionError::MissingArgumentOrTarget)?;
    let mask = mask_of(args.next())?;
    run(operand, mask, args)
}

/// `@chainOr(operand, mask, default, 'f1', ...)`.
fn chain_or<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let mut args = args.into_iter();
    let operand = args.next().ok_or(ExecutionError::MissingArgumentOrTarget)?;
    let mask = mask_of(args.next())?;
    let default = args.next().ok_or(ExecutionError::MissingArgumentOrTarget)?;
    let value = run(operand, mask, args)?;
    crate::kubernetes::or_value(vec![value, default])
}

/// Registers the functions on `env`: an overload for each number of links.
pub(crate) fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
    for links in 1..=MAX_LINKS {
        let mut args = vec![DYN_TYPE, INT_TYPE];
        args.extend((0..links).map(|_| STRING_TYPE));
        env.add_overload(CHAIN, &format!("k8s.chain{links}"), args, chain)?;
        let mut args = vec![DYN_TYPE, INT_TYPE, DYN_TYPE];
        args.extend((0..links).map(|_| STRING_TYPE));
        env.add_overload(CHAIN_OR, &format!("k8s.chainOr{links}"), args, chain_or)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fused(source: &str) -> String {
        let env = crate::environment().unwrap();
        let mut expression = crate::parse::parse(&env, source).unwrap();
        crate::select::rewrite(&mut expression, &[]);
        fuse(&mut expression);
        format!("{expression:?}")
    }

    /// Which calls the fusion makes; `crate::select`'s test
    /// `rewritten_selections_give_cel_rusts_results_and_errors` checks that
    /// they answer as cel-rust does.
    #[test]
    fn chains_and_or_value_on_a_chain_become_one_call() {
        let chain = fused("object.spec.containers");
        assert!(chain.contains(CHAIN) && !chain.contains(SELECT), "{chain}");
        // One link alone stays a selection.
        let one = fused("object.spec");
        assert!(one.contains(SELECT) && !one.contains(CHAIN), "{one}");
        let or = fused("c.?securityContext.?privileged.orValue(false)");
        assert!(or.contains(CHAIN_OR) && !or.contains(OPT_SELECT), "{or}");
        assert!(!or.contains(OR_VALUE), "{or}");
        let one_or = fused("object.?spec.orValue({})");
        assert!(one_or.contains(CHAIN_OR), "{one_or}");
        // A default that could fail is evaluated after the chain, as before.
        let failing = fused("object.spec.?x.orValue(1 / 0)");
        assert!(
            failing.contains(OR_VALUE) && failing.contains(CHAIN) && !failing.contains(CHAIN_OR),
            "{failing}"
        );
        // Ten links: a chain of eight, then a chain of two on it.
        let long = fused("object.a.b.c.d.e.f.g.h.i.j");
        assert_eq!(long.matches(CHAIN).count(), 2, "{long}");
    }
}
