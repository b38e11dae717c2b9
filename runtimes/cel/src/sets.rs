//! cel-go's sets extension, part of the Kubernetes CEL environment since
//! Kubernetes 1.29 (https://kubernetes.io/docs/reference/using-api/cel/):
//! `sets.contains(list, list)`, `sets.equivalent(list, list)` and
//! `sets.intersects(list, list)`, with CEL's equality (numbers compare
//! across `int`, `uint` and `double`; duplicates do not count).
//! Source: cel-go's `ext/sets.go`.

use cel::{ExecutionError, Value};

fn lists<'a>(
    args: &'a [Value],
    function: &str,
) -> Result<(&'a [Value], &'a [Value]), ExecutionError> {
    match args {
        [Value::List(a), Value::List(b)] => Ok((a, b)),
        _ => Err(ExecutionError::function_error(
            function,
            "both arguments must be lists",
        )),
    }
}

/// Whether every element of `b` is in `a`.
fn contains_all(a: &[Value], b: &[Value]) -> bool {
    b.iter().all(|x| a.contains(x))
}

/// `sets.contains(a, b)`: whether `a` holds every element of `b` (true when
/// `b` is empty).
pub fn contains(args: &[Value]) -> Result<Value, ExecutionError> {
    let (a, b) = lists(args, "sets.contains")?;
    Ok(Value::Bool(contains_all(a, b)))
}

/// `sets.equivalent(a, b)`: whether the two hold the same elements.
pub fn equivalent(args: &[Value]) -> Result<Value, ExecutionError> {
    let (a, b) = lists(args, "sets.equivalent")?;
    Ok(Value::Bool(contains_all(a, b) && contains_all(b, a)))
}

/// `sets.intersects(a, b)`: whether they have an element in common (false
/// when either is empty).
pub fn intersects(args: &[Value]) -> Result<Value, ExecutionError> {
    let (a, b) = lists(args, "sets.intersects")?;
    Ok(Value::Bool(a.iter().any(|x| b.contains(x))))
}
