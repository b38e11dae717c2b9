//! cel-go's local bindings (`cel.bind`, its `ext.Bindings` library, which
//! Kyverno's CEL environment enables) and the optional types library's
//! `optMap` and `optFlatMap` macros, which cel-rust lacks: each is expanded
//! when an expression is compiled, into the comprehension cel-go's macro
//! expands it into (docs/cel.md):
//!
//! - `cel.bind(x, init, result)`: a comprehension over an empty list whose
//!   accumulator `x` starts as `init` and whose result is `result`, so
//!   `result` sees `x` bound to `init`'s value;
//! - `target.optMap(x, expr)`: `target.hasValue() ?
//!   optional.of(cel.bind(x, target.value(), expr)) : optional.none()`;
//! - `target.optFlatMap(x, expr)`: `target.hasValue() ?
//!   cel.bind(x, target.value(), expr) : optional.none()` (`expr` gives an
//!   optional).
//!
//! As in cel-go, the variable must be a simple name, and `target` is
//! written twice (evaluated for `hasValue` and for `value`).

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue};
use cel::common::types::CelBool;

/// The iteration variable of the expansions, which nothing can name.
const UNUSED: &str = "#unused";

/// Expands every `cel.bind`, `optMap` and `optFlatMap` of `expression`,
/// innermost first. Errors: a variable that is not a simple name, named
/// as cel-go names the mistake.
pub(crate) fn expand(expression: &mut IdedExpr) -> Result<(), String> {
    for child in crate::parse::children_mut(expression) {
        expand(child)?;
    }
    let id = expression.id;
    let Expr::Call(call) = &mut expression.expr else {
        return Ok(());
    };
    let macro_name = match (&call.target, call.func_name.as_str(), call.args.len()) {
        (Some(target), "bind", 3) if matches!(&target.expr, Expr::Ident(n) if n == "cel") => {
            "cel.bind"
        }
        (Some(_), "optMap", 2) => "optMap",
        (Some(_), "optFlatMap", 2) => "optFlatMap",
        _ => return Ok(()),
    };
    let Expr::Ident(variable) = &call.args[0].expr else {
        return Err(format!(
            "{macro_name}() variable name must be a simple identifier"
        ));
    };
    let variable = variable.clone();
    let mut args = std::mem::take(&mut call.args);
    let target = call.target.take();
    expression.expr = match macro_name {
        "cel.bind" => {
            let result = args.pop().expect("three arguments");
            let init = args.pop().expect("three arguments");
            bind(id, variable, init, result)
        }
        _ => {
            let body = args.pop().expect("two arguments");
            let target = *target.expect("a receiver");
            let value = node(id, member_call("value", target.clone(), Vec::new()));
            let bound = node(id, bind(id, variable, value, body));
            let some = if macro_name == "optMap" {
                node(id, global_call("optional.of", vec![bound]))
            } else {
                bound
            };
            Expr::Call(CallExpr {
                func_name: "_?_:_".to_owned(),
                target: None,
                args: vec![
                    node(id, member_call("hasValue", target, Vec::new())),
                    some,
                    node(id, global_call("optional.none", Vec::new())),
                ],
            })
        }
    };
    Ok(())
}

fn node(id: u64, expr: Expr) -> IdedExpr {
    IdedExpr { id, expr }
}

/// `cel.bind(variable, init, result)` as cel-go expands it.
fn bind(id: u64, variable: String, init: IdedExpr, result: IdedExpr) -> Expr {
    Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: node(id, Expr::List(ListExpr::default())),
        iter_var: UNUSED.to_owned(),
        iter_var2: None,
        accu_var: variable.clone(),
        accu_init: init,
        loop_cond: node(
            id,
            Expr::Literal(LiteralValue::Boolean(CelBool::from(false))),
        ),
        loop_step: node(id, Expr::Ident(variable)),
        result,
    }))
}

fn member_call(name: &str, target: IdedExpr, args: Vec<IdedExpr>) -> Expr {
    Expr::Call(CallExpr {
        func_name: name.to_owned(),
        target: Some(Box::new(target)),
        args,
    })
}

/// A call of a namespaced function (`optional.of`), as the parser builds
/// it: a member call on the namespace's name.
fn global_call(name: &str, args: Vec<IdedExpr>) -> Expr {
    let (namespace, function) = name.split_once('.').expect("a namespaced name");
    let target = IdedExpr {
        id: 0,
        expr: Expr::Ident(namespace.to_owned()),
    };
    member_call(function, target, args)
}
