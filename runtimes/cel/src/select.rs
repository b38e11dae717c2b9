//! Field selection on the request's objects without building their maps.
//!
//! cel-rust starts every field selection (`a.f`, `a.?f`, `has(a.f)`) by
//! asking whether `a` is an optional, through `as_builtin`, and a [`Lazy`]
//! map of the tape can only answer that by building itself: a hash map of
//! all its members, each key hashed and each value boxed, to read one of
//! them. On the typical Pod that was about a fifth of a CEL evaluation
//! (docs/performance.md, "CEL runtime").
//!
//! So, when an expression is compiled, each selection on one of the
//! request's variables (or a comprehension's variable, or any value that is
//! not a name) is rewritten as a call of this module's functions:
//! `a.f` as `@select(a, 'f')`, `a.?f` as `@optSelect(a, 'f')`,
//! `has(a.f)` as `@has(a, 'f')`. They do what cel-rust's selection does,
//! with the same results and errors, but tell an optional from a map or a
//! list by its type, which costs nothing, and look the field up through
//! the value's indexer, which a [`Lazy`] map answers from the tape. A
//! selection rooted in any other name (a qualified type name such as
//! `google.protobuf.Timestamp`) is left to cel-rust, which resolves
//! qualified names.
//!
//! [`Lazy`]: crate::lazy::Lazy

use cel::Env;
use cel::ExecutionError;
use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, SelectExpr};
use cel::common::types::{CelBool, CelOptional, CelString, DYN_TYPE, Kind, STRING_TYPE, Type};
use cel::common::value::{CowVal, Val};

/// `@select(a, 'f')`: `a.f`.
pub(crate) const SELECT: &str = "@select";
/// `@optSelect(a, 'f')`: `a.?f`.
pub(crate) const OPT_SELECT: &str = "@optSelect";
/// `@has(a, 'f')`: `has(a.f)`.
pub(crate) const HAS: &str = "@has";

/// The variables the runtime binds (docs/cel.md): a selection chain rooted
/// in one of them, or in a comprehension's variable, is rewritten.
const ROOTS: [&str; 8] = [
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "variables",
    "self",
    "oldSelf",
];

/// What a read of a declared variable, `variables.NAME`, is rewritten
/// to: the name `@variables.NAME`, which the runtime binds to the
/// variable's value (no CEL source can spell it).
pub(crate) const VARIABLE: &str = "@variables.";

/// Rewrites the selections of `expression` (see the module docs). A read
/// `variables.NAME` of one of `variables` (the names the expression may
/// read) where `variables` is not a comprehension's variable becomes the
/// name [`VARIABLE`]`NAME`, so that an evaluation neither builds the
/// `variables` map nor looks the name up in it.
pub(crate) fn rewrite(expression: &mut IdedExpr, variables: &[String]) {
    let mut bound = Vec::new();
    rewrite_in(expression, &mut bound, variables);
}

fn rewrite_in(expression: &mut IdedExpr, bound: &mut Vec<String>, variables: &[String]) {
    let id = expression.id;
    match &mut expression.expr {
        Expr::Select(select) => {
            if !select.test
                && matches!(&select.operand.expr, Expr::Ident(root) if root == "variables")
                && !bound.iter().any(|b| b == "variables")
                && variables.contains(&select.field)
            {
                expression.expr = Expr::Ident(format!("{VARIABLE}{}", select.field));
                return;
            }
            if !rewritable(&select.operand.expr, bound) {
                return;
            }
            rewrite_in(&mut select.operand, bound, variables);
            let SelectExpr {
                operand,
                field,
                test,
            } = std::mem::take(select);
            let function = if test { HAS } else { SELECT };
            expression.expr = call(function, *operand, field, id);
        }
        Expr::Call(_) => {
            for child in crate::parse::children_mut(expression) {
                rewrite_in(child, bound, variables);
            }
            let Expr::Call(call_expr) = &mut expression.expr else {
                return;
            };
            if call_expr.target.is_none()
                && call_expr.func_name == cel::common::ast::operators::OPT_SELECT
                && call_expr.args.len() == 2
                && matches!(
                    call_expr.args[1].expr,
                    Expr::Literal(LiteralValue::String(_))
                )
                && rewritable(&call_expr.args[0].expr, bound)
            {
                call_expr.func_name = OPT_SELECT.to_owned();
            }
        }
        Expr::Comprehension(comprehension) => {
            let c = &mut **comprehension;
            rewrite_in(&mut c.iter_range, bound, variables);
            rewrite_in(&mut c.accu_init, bound, variables);
            let scope = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            for e in [&mut c.loop_cond, &mut c.loop_step, &mut c.result] {
                rewrite_in(e, bound, variables);
            }
            bound.truncate(scope);
        }
        _ => {
            for child in crate::parse::children_mut(expression) {
                rewrite_in(child, bound, variables);
            }
        }
    }
}

/// Whether a selection on `operand` may be rewritten: `operand` is not a
/// chain of selections on a name, or that name is a variable.
fn rewritable(operand: &Expr, bound: &[String]) -> bool {
    let mut at = operand;
    loop {
        match at {
            Expr::Select(select) if !select.test => at = &select.operand.expr,
            Expr::Ident(name) => {
                return ROOTS.contains(&name.as_str()) || bound.iter().any(|b| b == name);
            }
            _ => return true,
        }
    }
}

fn call(function: &str, operand: IdedExpr, field: String, id: u64) -> Expr {
    Expr::Call(CallExpr {
        func_name: function.to_owned(),
        target: None,
        args: vec![
            operand,
            IdedExpr {
                id,
                expr: Expr::Literal(LiteralValue::String(CelString::from(field))),
            },
        ],
    })
}

/// Registers the functions on `env`.
pub(crate) fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(
        SELECT,
        "k8s.select(dyn,string)",
        vec![DYN_TYPE, STRING_TYPE],
        select,
    )?;
    env.add_overload(
        OPT_SELECT,
        "k8s.optSelect(dyn,string)",
        vec![DYN_TYPE, STRING_TYPE],
        opt_select,
    )?;
    env.add_overload(HAS, "k8s.has(dyn,string)", vec![DYN_TYPE, STRING_TYPE], has)
}

/// A value as an optional or not, told by its type first, so that a map or
/// a list (a [`crate::lazy::Lazy`] one included) is not asked.
enum Unwrapped<'b, 'v> {
    NotOptional(CowVal<'b, 'v>),
    Some(CowVal<'b, 'v>),
    None,
}

fn unwrap_optional<'b, 'v>(value: CowVal<'b, 'v>) -> Unwrapped<'b, 'v> {
    if matches!(value.get_type().kind(), Kind::Map | Kind::List) {
        return Unwrapped::NotOptional(value);
    }
    let inner = match value.downcast_ref::<CelOptional>() {
        None => return Unwrapped::NotOptional(value),
        Some(optional) => match &value {
            CowVal::Borrowed(_) => None,
            CowVal::Owned(_) => Some(optional.option().map(|v| v.clone_as_boxed())),
        },
    };
    match (value, inner) {
        (CowVal::Borrowed(v), _) => {
            match v.downcast_ref::<CelOptional>().and_then(|o| o.option()) {
                Some(inner) => Unwrapped::Some(CowVal::Borrowed(inner)),
                None => Unwrapped::None,
            }
        }
        (CowVal::Owned(_), Some(Some(inner))) => Unwrapped::Some(CowVal::Owned(inner)),
        (CowVal::Owned(_), _) => Unwrapped::None,
    }
}

/// The arguments of a selection function: the operand and the field (the
/// rewrite's string literal).
fn operands<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<(CowVal<'b, 'v>, CowVal<'b, 'v>), ExecutionError> {
    let (Some(field), Some(operand)) = (args.pop(), args.pop()) else {
        return Err(ExecutionError::MissingArgumentOrTarget);
    };
    if field.downcast_ref::<CelString>().is_none() {
        return Err(ExecutionError::function_error(
            "_._",
            "field must be string",
        ));
    }
    Ok((operand, field))
}

/// cel-rust's error for `_._` on a value of type `value_type`.
fn overload_error(value_type: &Type) -> ExecutionError {
    ExecutionError::no_such_overload(
        "_._",
        vec![value_type.name().to_owned(), "string".to_owned()],
    )
}

/// `value[key]` for a selection, as cel-rust indexes: `missing` when the
/// value cannot be indexed at all, a type error replaced by the overload
/// error of `_._`.
fn index<'b, 'v>(
    value: CowVal<'b, 'v>,
    key: &dyn Val,
    missing: impl FnOnce(&dyn Val) -> ExecutionError,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let in_context = |error: ExecutionError, value_type: &Type| match error {
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::ValuesNotComparable(_, _)
        | ExecutionError::UnsupportedKeyType(_)
        | ExecutionError::UnexpectedType { .. } => overload_error(value_type),
        error => error,
    };
    match value {
        CowVal::Borrowed(v) => v
            .as_indexer()
            .ok_or_else(|| missing(v))?
            .get(key)
            .map_err(|e| in_context(e, v.get_type())),
        CowVal::Owned(b) => {
            let indexer = b.as_indexer().ok_or_else(|| missing(b.as_ref()))?;
            indexer
                .get(key)
                .map(|v| CowVal::Owned(v.into_owned()))
                .map_err(|e| in_context(e, b.get_type()))
        }
    }
}

fn no_such_key(field: &CowVal<'_, '_>) -> ExecutionError {
    ExecutionError::no_such_key(field.downcast_ref::<CelString>().map_or("", |s| s.inner()))
}

fn optional<'b, 'v>(value: Result<CowVal<'_, 'v>, ExecutionError>) -> CowVal<'b, 'v> {
    CowVal::owned(match value {
        Ok(v) => CelOptional::of(v.into_owned()),
        Err(_) => CelOptional::none(),
    })
}

/// `a.f`: cel-rust's `select_field` without the test.
fn select<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (operand, field) = operands(args)?;
    select_step(operand, field)
}

/// `operand.field`, `field` a string.
pub(crate) fn select_step<'b, 'v>(
    operand: CowVal<'b, 'v>,
    field: CowVal<'b, 'v>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    match unwrap_optional(operand) {
        Unwrapped::None => Ok(CowVal::owned(CelOptional::none())),
        Unwrapped::Some(inner) => {
            if inner.as_indexer().is_none() {
                return Err(no_such_key(&field));
            }
            Ok(optional(index(inner, field.as_ref(), |_| {
                no_such_key(&field)
            })))
        }
        Unwrapped::NotOptional(operand) => {
            let is_map = operand.get_type().kind() == Kind::Map;
            index(operand, field.as_ref(), |value| {
                if is_map {
                    no_such_key(&field)
                } else {
                    overload_error(value.get_type())
                }
            })
        }
    }
}

/// `a.?f`: an optional of the field, none when it is missing or `a` cannot
/// be indexed.
fn opt_select<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (operand, field) = operands(args)?;
    Ok(opt_select_step(operand, field))
}

/// `operand.?field`, `field` a string.
pub(crate) fn opt_select_step<'b, 'v>(
    operand: CowVal<'b, 'v>,
    field: CowVal<'b, 'v>,
) -> CowVal<'b, 'v> {
    let target = match unwrap_optional(operand) {
        Unwrapped::NotOptional(v) | Unwrapped::Some(v) => v,
        Unwrapped::None => return CowVal::owned(CelOptional::none()),
    };
    optional(index(target, field.as_ref(), |value| {
        overload_error(value.get_type())
    }))
}

/// `has(a.f)`: cel-rust's `select_field` with the test.
fn has<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (operand, field) = operands(args)?;
    let found = match unwrap_optional(operand) {
        Unwrapped::None => false,
        Unwrapped::Some(inner) => inner
            .as_indexer()
            .ok_or_else(|| no_such_key(&field))?
            .get(field.as_ref())
            .is_ok(),
        Unwrapped::NotOptional(operand) => {
            let indexer = operand
                .as_indexer()
                .ok_or_else(|| overload_error(operand.get_type()))?;
            match indexer.get(field.as_ref()) {
                Ok(_) => true,
                Err(ExecutionError::NoSuchKey(_)) => false,
                Err(
                    ExecutionError::NoSuchOverload(_)
                    | ExecutionError::ValuesNotComparable(_, _)
                    | ExecutionError::UnsupportedKeyType(_)
                    | ExecutionError::UnexpectedType { .. },
                ) => return Err(overload_error(operand.get_type())),
                Err(error) => return Err(error),
            }
        }
    };
    Ok(CowVal::owned(CelBool::from(found)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Each expression gives the same value, or the same error, with its
    /// selections rewritten and the object read lazily from the tape as
    /// cel-rust gives on the object built up front with the expression as
    /// parsed: the rewrite and the lazy indexer change nothing but speed.
    #[test]
    fn rewritten_selections_give_cel_rusts_results_and_errors() {
        let object = json!({
            "metadata": {"name": "p", "labels": {"app": "a", "tier": ""}},
            "spec": {
                "replicas": 3,
                "containers": [
                    {"name": "a", "securityContext": {"privileged": true}},
                    {"name": "b", "ports": [{"containerPort": 80}]}
                ],
                "nothing": null,
                "text": "abc"
            }
        });
        let expressions = [
            "object.metadata.name",
            "object.metadata.missing",
            "object.spec.replicas.value",
            "object.spec.text.size",
            "object.spec.nothing.field",
            "object.spec.containers.name",
            "object.spec.containers[0].securityContext.privileged",
            "object.spec.containers[1].securityContext.privileged",
            "object.spec.?containers",
            "object.spec.?volumes",
            "object.spec.?volumes.orValue([]).size()",
            "object.spec.?replicas.?value",
            "object.spec.?text.?size",
            "object.spec.?nothing.?field",
            "object.spec.containers.map(c, c.?securityContext.?privileged.orValue(false))",
            "object.spec.containers.map(c, c.securityContext.privileged)",
            "object.spec.containers.exists(c, has(c.ports) && c.ports[0].containerPort == 80)",
            "object.spec.containers.all(c, has(c.securityContext.privileged))",
            "has(object.spec.volumes)",
            "has(object.spec.replicas.value)",
            "has(object.spec.text.size)",
            "has(object.spec.nothing.field)",
            "has(object.metadata.labels.tier)",
            "has(object.spec.?volumes.name)",
            "has(object.spec.?containers.name)",
            "object.spec.?volumes.name",
            "object.spec.?containers.size()",
            "object.spec.?containers.name",
            "object.?spec.?containers[0].name",
            "optional.of(object.metadata).name",
            "optional.none().name",
            "has(optional.none().name)",
            "has(optional.of(1).name)",
            "optional.of(1).name",
            "{'a': {'b': 1}}.a.b",
            "{'a': 1}.b",
            "[1, 2].a",
            "(1).a",
            "object.metadata.labels.app + object.metadata['name']",
            "[object.metadata].map(object, object.name)",
            "object.spec.containers.filter(c, c.name == 'b').map(x, x.ports.map(p, p.containerPort))",
            "object.metadata.labels.all(k, object.metadata.labels[k].size() >= 0)",
            "object.metadata == {'name': 'p', 'labels': {'app': 'a', 'tier': ''}}",
            "{'name': 'p', 'labels': {'app': 'a', 'tier': ''}} == object.metadata",
            "object.spec.containers[0].securityContext == {'privileged': true}",
            "unknown.field",
            "google.protobuf.field",
            // Chains fused into one call (`crate::chain`).
            "object.spec.containers[0].securityContext.privileged.orValue(false)",
            "object.spec.?containers.orValue([]).size()",
            "object.spec.?missing.?deeper.orValue('none')",
            "object.spec.missing.deeper.orValue('none')",
            "object.spec.replicas.orValue(1)",
            "object.spec.?replicas.value.orValue(1)",
            "object.spec.text.size.orValue(1)",
            "object.spec.?text.?size.orValue(1)",
            "object.spec.?nothing.field.orValue({})",
            "object.spec.?missing.orValue(1 / 0)",
            "object.metadata.missing.orValue(1 / 0)",
            "object.metadata.?labels.?app.orValue(object.metadata.name)",
            "has(object.metadata.labels.app)",
            "has(object.metadata.labels.missing.x)",
            "{'a': {'b': {'c': {'d': {'e': {'f': {'g': {'h': {'i': {'j': 1}}}}}}}}}}.a.b.c.d.e.f.g.h.i.j",
            "{'a': {'b': {'c': {'d': {'e': {'f': {'g': {'h': {'i': {'j': 1}}}}}}}}}}.a.?b.c.?d.e.f.?g.h.i.?x.orValue(2)",
            "{'a': {'b': {'c': {'d': {'e': {'f': {'g': {'h': {'i': {'j': 1}}}}}}}}}}.a.b.c.d.e.f.g.h.i.x",
            "object.spec.containers.map(c, c.?securityContext.?privileged.orValue(false) || c.?ports.orValue([]).size() > 0)",
        ];
        crate::tests::assert_rewrite_keeps_answers(&object, &expressions, |expression| {
            super::rewrite(expression, &[]);
            crate::chain::fuse(expression);
        });
    }

    /// Only selections on the runtime's variables and comprehension
    /// variables, or on values that are not names, are rewritten.
    #[test]
    fn selections_on_other_names_are_left_to_cel_rust() {
        let env = crate::environment().unwrap();
        let rewritten = |source: &str| {
            let mut expression = crate::parse::parse(&env, source).unwrap();
            super::rewrite(&mut expression, &[]);
            format!("{expression:?}")
        };
        assert!(rewritten("object.spec.x").contains(super::SELECT));
        assert!(rewritten("has(params.x)").contains(super::HAS));
        assert!(rewritten("variables.?x").contains(super::OPT_SELECT));
        assert!(rewritten("[1].map(c, c.x)").contains(super::SELECT));
        assert!(rewritten("{'a': 1}.a").contains(super::SELECT));
        assert!(!rewritten("google.protobuf.x").contains(super::SELECT));
        assert!(!rewritten("[1].map(c, d.x)").contains(super::SELECT));
    }
}
