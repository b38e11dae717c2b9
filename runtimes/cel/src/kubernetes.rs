//! The Kubernetes CEL libraries the API server adds to CEL, as far as this
//! runtime has them (https://kubernetes.io/docs/reference/using-api/cel/):
//!
//! - lists: `isSorted()`, `sum()`, `min()`, `max()`, `indexOf(x)`,
//!   `lastIndexOf(x)` on lists;
//! - regex: `find(re)`, `findAll(re)`, `findAll(re, n)` on strings (RE2
//!   syntax, as Go's `regexp`).
//!
//! Not here yet (a policy calling them is refused when it is prepared,
//! naming the function): quantity, URLs, IP and CIDR, named formats,
//! semver, and the authorizer (which needs the API server). See
//! docs/cel.md.

use cel::common::ast::{CallExpr, Expr};
use cel::common::types::{CelOptional, DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::parser::Macro;
use cel::{Env, ExecutionError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// A library function written over [`Value`]s.
type Body = fn(&[Value]) -> Result<Value, ExecutionError>;

/// Declares `$name` as a CEL overload that converts its arguments to
/// [`Value`]s, runs `$body` and converts the result back.
macro_rules! over_values {
    ($name:ident, $body:expr) => {
        fn $name<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
            let values = args
                .iter()
                .map(|a| Value::try_from(a.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            let body: Body = $body;
            let boxed: Box<dyn Val> = body(&values)?.try_into()?;
            Ok(CowVal::Owned(boxed))
        }
    };
}

over_values!(is_sorted, |a| Ok(Value::Bool(
    list(a)?
        .windows(2)
        .all(|w| compare(&w[0], &w[1]) != Some(Ordering::Greater))
)));
over_values!(sum, |a| sum_of(list(a)?));
over_values!(min, |a| extreme(list(a)?, "min", Ordering::Less));
over_values!(max, |a| extreme(list(a)?, "max", Ordering::Greater));
over_values!(index_of, |a| Ok(Value::Int(
    list(a)?
        .iter()
        .position(|v| *v == a[1])
        .map_or(-1, |i| i as i64)
)));
over_values!(last_index_of, |a| Ok(Value::Int(
    list(a)?
        .iter()
        .rposition(|v| *v == a[1])
        .map_or(-1, |i| i as i64)
)));
over_values!(find, |a| {
    let (text, re) = (string(&a[0])?, regex(&a[1])?);
    Ok(Value::String(Arc::new(
        re.find(text)
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
    )))
});
over_values!(find_all, |a| find_all_of(a, -1));
over_values!(find_all_n, |a| {
    let Value::Int(n) = a[2] else {
        return Err(ExecutionError::function_error(
            "findAll",
            "the limit must be an int",
        ));
    };
    find_all_of(a, n)
});

/// The function `x.orValue(d)` is rewritten to call (a name CEL source
/// cannot spell).
const OR_VALUE: &str = "@orValue";

/// `x.orValue(d)`: an optional's value, or `d` when it has none; and, on a
/// value that is not an optional, the value itself, as cel-go evaluates it
/// for Kyverno (its pod-security policies call `capabilities.add.orValue([])`
/// on a plain list and expect the list).
fn or_value<'b, 'v>(mut args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (Some(default), Some(this)) = (args.pop(), args.pop()) else {
        return Err(ExecutionError::MissingArgumentOrTarget);
    };
    match this.downcast_ref::<CelOptional>() {
        Some(optional) => Ok(match optional.option() {
            Some(value) => CowVal::Owned(value.clone_as_boxed()),
            None => default,
        }),
        None => Ok(this),
    }
}

/// Registers the libraries on `env`.
pub fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(
        OR_VALUE,
        "k8s.orValue(dyn,dyn)",
        vec![DYN_TYPE, DYN_TYPE],
        or_value,
    )?;
    env.add_macro(Macro::receiver("orValue", 1, |helper, target, args| {
        let (Some(target), Some(default)) = (target.take(), args.pop()) else {
            return Ok(None);
        };
        Ok(Some(helper.next_expr(Expr::Call(CallExpr {
            func_name: OR_VALUE.to_owned(),
            target: None,
            args: vec![target, default],
        }))))
    }))?;
    env.add_member_overload(
        "isSorted",
        "k8s.list.isSorted()",
        LIST_TYPE,
        vec![],
        is_sorted,
    )?;
    env.add_member_overload("sum", "k8s.list.sum()", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "k8s.list.min()", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "k8s.list.max()", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "k8s.list.indexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "k8s.list.lastIndexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    env.add_member_overload(
        "find",
        "k8s.string.find(string)",
        STRING_TYPE,
        vec![STRING_TYPE],
        find,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s.string.findAll(string)",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s.string.findAll(string,int)",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_n,
    )?;
    Ok(())
}

fn list(args: &[Value]) -> Result<&[Value], ExecutionError> {
    match args.first() {
        Some(Value::List(items)) => Ok(items),
        other => Err(ExecutionError::UnexpectedType {
            got: format!("{other:?}"),
            want: "list".to_owned(),
        }),
    }
}

fn string(value: &Value) -> Result<&str, ExecutionError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(ExecutionError::UnexpectedType {
            got: format!("{other:?}"),
            want: "string".to_owned(),
        }),
    }
}

fn regex(value: &Value) -> Result<regex::Regex, ExecutionError> {
    let pattern = string(value)?;
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error("regex", e))
}

/// Orders two values of the same type (numbers across int, uint and
/// double, as CEL compares them).
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    a.partial_cmp(b)
}

fn sum_of(items: &[Value]) -> Result<Value, ExecutionError> {
    let overflow = || ExecutionError::function_error("sum", "integer overflow");
    let mut total = match items.first() {
        None => return Ok(Value::Int(0)),
        Some(first) => first.clone(),
    };
    for item in &items[1..] {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => Value::Int(a.checked_add(*b).ok_or_else(overflow)?),
            (Value::UInt(a), Value::UInt(b)) => {
                Value::UInt(a.checked_add(*b).ok_or_else(overflow)?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (a, b) => {
                return Err(ExecutionError::function_error(
                    "sum",
                    format!("cannot add {b:?} to {a:?}"),
                ));
            }
        };
    }
    Ok(total)
}

fn extreme(items: &[Value], name: &str, wanted: Ordering) -> Result<Value, ExecutionError> {
    let mut best = items
        .first()
        .ok_or_else(|| ExecutionError::function_error(name, "the list is empty"))?;
    for item in &items[1..] {
        match compare(item, best) {
            Some(order) if order == wanted => best = item,
            Some(_) => {}
            None => {
                return Err(ExecutionError::function_error(
                    name,
                    format!("{item:?} and {best:?} cannot be compared"),
                ));
            }
        }
    }
    Ok(best.clone())
}

fn find_all_of(args: &[Value], limit: i64) -> Result<Value, ExecutionError> {
    let (text, re) = (string(&args[0])?, regex(&args[1])?);
    let found = re
        .find_iter(text)
        .map(|m| Value::String(Arc::new(m.as_str().to_owned())));
    let found: Vec<Value> = match usize::try_from(limit) {
        Ok(limit) => found.take(limit).collect(),
        Err(_) => found.collect(),
    };
    Ok(Value::List(Arc::new(found)))
}
