//! Two-variable comprehensions (cel-go's `cel.TwoVarComprehensions`, in the
//! Kubernetes CEL environment since Kubernetes 1.33,
//! https://kubernetes.io/docs/reference/using-api/cel/): over a list the
//! variables are the index and the element, over a map the key and the
//! value.
//!
//! - `x.all(k, v, p)`, `x.exists(k, v, p)`, `x.existsOne(k, v, p)`;
//! - `x.transformList(k, v, e)` and `x.transformList(k, v, f, e)`: the
//!   list of `e` (for the entries where `f` holds);
//! - `x.transformMap(k, v, e)` and `x.transformMap(k, v, f, e)`: the map
//!   from each key (or index) to `e`;
//! - `x.transformMapEntry(k, v, e)` and `x.transformMapEntry(k, v, f, e)`:
//!   the maps `e` returns merged into one (a key returned twice is an
//!   error).
//!
//! cel-rust's interpreter binds one variable per comprehension, so each
//! macro is rewritten at parse time: `x` is bound once to a hidden
//! variable (a one-element comprehension that works as a `let`), the
//! comprehension iterates over its keys (`@keys`: a list's indices, a
//! map's keys), and every free `v` in the macro's expressions becomes
//! `X[k]`. The results are cel-go's; map iteration order is unspecified in
//! both.

use std::sync::Arc;

use cel::common::ast::{
    CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue, operators,
};
use cel::common::types::{DYN_TYPE, LIST_TYPE};
use cel::objects::{Key, Map};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{Env, ExecutionError, Value};

/// The macros and their argument counts.
const MACROS: [(&str, usize); 10] = [
    ("all", 3),
    ("exists", 3),
    ("existsOne", 3),
    ("exists_one", 3),
    ("transformList", 3),
    ("transformList", 4),
    ("transformMap", 3),
    ("transformMap", 4),
    ("transformMapEntry", 3),
    ("transformMapEntry", 4),
];

/// Registers the macros and the functions they call on `env`.
pub fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
    for (name, count) in MACROS {
        env.add_macro(Macro::receiver(name, count, move |helper, target, args| {
            expand(name, helper, target, args).map(Some)
        }))?;
    }
    env.add_overload("@keys", "k8s.@keys(dyn)", vec![DYN_TYPE], keys_fn)?;
    env.add_overload(
        "@fromPairs",
        "k8s.@fromPairs(list)",
        vec![LIST_TYPE],
        from_pairs_fn,
    )?;
    env.add_overload(
        "@mergeEntries",
        "k8s.@mergeEntries(list)",
        vec![LIST_TYPE],
        merge_entries_fn,
    )?;
    Ok(())
}

/// A node builder over the macro's helper.
struct Build<'h, 'a> {
    helper: &'h mut MacroExprHelper<'a>,
}

impl Build<'_, '_> {
    fn node(&mut self, expr: Expr) -> IdedExpr {
        self.helper.next_expr(expr)
    }
    fn ident(&mut self, name: &str) -> IdedExpr {
        self.node(Expr::Ident(name.to_owned()))
    }
    fn call(&mut self, function: &str, args: Vec<IdedExpr>) -> IdedExpr {
        self.node(Expr::Call(CallExpr {
            func_name: function.to_owned(),
            target: None,
            args,
        }))
    }
    fn bool(&mut self, value: bool) -> IdedExpr {
        self.node(Expr::Literal(LiteralValue::Boolean(value.into())))
    }
    fn int(&mut self, value: i64) -> IdedExpr {
        self.node(Expr::Literal(LiteralValue::Int(value.into())))
    }
    fn list(&mut self, elements: Vec<IdedExpr>) -> IdedExpr {
        self.node(Expr::List(ListExpr::new(elements)))
    }
    /// A comprehension over `range` binding `var`, with accumulator `@accu`.
    fn comprehension(
        &mut self,
        range: IdedExpr,
        var: &str,
        init: IdedExpr,
        condition: IdedExpr,
        step: IdedExpr,
        result: IdedExpr,
    ) -> IdedExpr {
        self.node(Expr::Comprehension(Box::new(ComprehensionExpr {
            iter_range: range,
            iter_var: var.to_owned(),
            iter_var2: None,
            accu_var: ACCU.to_owned(),
            accu_init: init,
            loop_cond: condition,
            loop_step: step,
            result,
        })))
    }
}

const ACCU: &str = "@accu";

/// The rewritten macro (see the module docs).
fn expand(
    name: &str,
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<IdedExpr, ParseError> {
    let target = target
        .take()
        .ok_or_else(|| helper.new_error(0, format!("{name} needs a target")))?;
    let variable = |helper: &MacroExprHelper<'_>, e: &IdedExpr| match &e.expr {
        Expr::Ident(name) => Ok(name.clone()),
        _ => Err(helper.new_error(e.id, "argument must be a simple name")),
    };
    let key = variable(helper, &args[0])?;
    let value = variable(helper, &args[1])?;
    if key == value {
        return Err(helper.new_error(args[1].id, format!("duplicate variable name: {value}")));
    }
    // The target, bound once to a name no source can write, unique per
    // expansion so that nested macros do not capture each other's.
    let bound = format!("@target{}", target.id);
    let mut b = Build { helper };
    let rest: Vec<IdedExpr> = args.drain(2..).collect();
    let mut rest: Vec<IdedExpr> = rest
        .into_iter()
        .map(|e| substitute(e, &value, &bound, &key, &mut b))
        .collect();
    let body = rest.pop().expect("3 or 4 arguments");
    let filter = rest.pop();
    let keys = |b: &mut Build<'_, '_>| {
        let target = b.ident(&bound);
        b.call("@keys", vec![target])
    };
    let inner = match name {
        "all" | "exists" => {
            let (init, join) = if name == "all" {
                (true, operators::LOGICAL_AND)
            } else {
                (false, operators::LOGICAL_OR)
            };
            let range = keys(&mut b);
            let init = b.bool(init);
            let accu = b.ident(ACCU);
            let condition = if name == "all" {
                accu
            } else {
                b.call(operators::LOGICAL_NOT, vec![accu])
            };
            let condition = b.call(operators::NOT_STRICTLY_FALSE, vec![condition]);
            let accu = b.ident(ACCU);
            let step = b.call(join, vec![accu, body]);
            let result = b.ident(ACCU);
            b.comprehension(range, &key, init, condition, step, result)
        }
        "existsOne" | "exists_one" => {
            let range = keys(&mut b);
            let init = b.int(0);
            let condition = b.bool(true);
            let (accu, one) = (b.ident(ACCU), b.int(1));
            let plus = b.call(operators::ADD, vec![accu, one]);
            let accu = b.ident(ACCU);
            let step = b.call(operators::CONDITIONAL, vec![body, plus, accu]);
            let (accu, one) = (b.ident(ACCU), b.int(1));
            let result = b.call(operators::EQUALS, vec![accu, one]);
            b.comprehension(range, &key, init, condition, step, result)
        }
        _ => {
            // The list of the body's values (and, for maps, of the keys),
            // for the entries the filter keeps.
            let collect = |b: &mut Build<'_, '_>, element: IdedExpr, filter: Option<IdedExpr>| {
                let range = keys(b);
                let init = b.list(Vec::new());
                let condition = b.bool(true);
                let accu = b.ident(ACCU);
                let one = b.list(vec![element]);
                let appended = b.call(operators::ADD, vec![accu, one]);
                let step = match filter {
                    Some(filter) => {
                        let accu = b.ident(ACCU);
                        b.call(operators::CONDITIONAL, vec![filter, appended, accu])
                    }
                    None => appended,
                };
                let result = b.ident(ACCU);
                b.comprehension(range, &key, init, condition, step, result)
            };
            match name {
                "transformList" => collect(&mut b, body, filter),
                "transformMap" => {
                    let key_ident = b.ident(&key);
                    let pair = b.list(vec![key_ident, body]);
                    let pairs = collect(&mut b, pair, filter);
                    b.call("@fromPairs", vec![pairs])
                }
                _ => {
                    let entries = collect(&mut b, body, filter);
                    b.call("@mergeEntries", vec![entries])
                }
            }
        }
    };
    // `let bound = target in inner`: a comprehension over `[target]`.
    let range = b.list(vec![target]);
    let init = b.node(Expr::Literal(LiteralValue::Null));
    let condition = b.bool(true);
    let result = b.ident(ACCU);
    Ok(b.comprehension(range, &bound, init, condition, inner, result))
}

/// `expr` with every free `name` replaced by `bound[key]`.
fn substitute(
    expr: IdedExpr,
    name: &str,
    bound: &str,
    key: &str,
    b: &mut Build<'_, '_>,
) -> IdedExpr {
    let id = expr.id;
    let again = |e: IdedExpr, b: &mut Build<'_, '_>| substitute(e, name, bound, key, b);
    let expr = match expr.expr {
        Expr::Ident(ident) if ident == name => {
            let (target, index) = (b.ident(bound), b.ident(key));
            return b.call(operators::INDEX, vec![target, index]);
        }
        Expr::Call(call) => Expr::Call(CallExpr {
            func_name: call.func_name,
            target: call.target.map(|t| Box::new(again(*t, b))),
            args: call.args.into_iter().map(|a| again(a, b)).collect(),
        }),
        Expr::List(list) => Expr::List(ListExpr {
            elements: list.elements.into_iter().map(|e| again(e, b)).collect(),
            optional_indices: list.optional_indices,
        }),
        Expr::Select(mut select) => {
            select.operand = Box::new(again(*select.operand, b));
            Expr::Select(select)
        }
        Expr::Map(mut map) => {
            for entry in &mut map.entries {
                if let cel::common::ast::EntryExpr::MapEntry(e) = &mut entry.expr {
                    e.key = again(std::mem::take(&mut e.key), b);
                    e.value = again(std::mem::take(&mut e.value), b);
                }
            }
            Expr::Map(map)
        }
        Expr::Struct(mut object) => {
            for entry in &mut object.entries {
                if let cel::common::ast::EntryExpr::StructField(f) = &mut entry.expr {
                    f.value = again(std::mem::take(&mut f.value), b);
                }
            }
            Expr::Struct(object)
        }
        Expr::Comprehension(mut c) => {
            c.iter_range = again(c.iter_range, b);
            c.accu_init = again(c.accu_init, b);
            // Inside, a comprehension that binds `name` hides it.
            let hidden =
                c.iter_var == name || c.iter_var2.as_deref() == Some(name) || c.accu_var == name;
            if !hidden {
                c.loop_cond = again(c.loop_cond, b);
                c.loop_step = again(c.loop_step, b);
                c.result = again(c.result, b);
            }
            Expr::Comprehension(c)
        }
        other => other,
    };
    IdedExpr { id, expr }
}

fn error(function: &str, message: impl ToString) -> ExecutionError {
    ExecutionError::function_error(function, message)
}

/// `@keys(x)`: a list's indices, a map's keys (sorted, so that a map is
/// always iterated in the same order).
pub fn keys(x: &Value) -> Result<Value, ExecutionError> {
    Ok(Value::List(Arc::new(match x {
        Value::List(items) => (0..items.len() as i64).map(Value::Int).collect(),
        Value::Map(map) => {
            let mut keys: Vec<&Key> = map.map.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| Value::from(k.clone())).collect()
        }
        other => {
            return Err(error(
                "comprehension",
                format!(
                    "a two-variable comprehension iterates over a list or a map, not {other:?}"
                ),
            ));
        }
    })))
}

/// `@fromPairs([[key, value], ...])`: the map from each key to its value.
pub fn from_pairs(pairs: &[Value]) -> Result<Value, ExecutionError> {
    let mut map = std::collections::HashMap::new();
    for pair in pairs {
        let Value::List(pair) = pair else {
            return Err(error("transformMap", "a key and a value"));
        };
        if let [key, value] = &pair[..] {
            map.insert(map_key(key)?, value.clone());
        }
    }
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

/// `@mergeEntries(maps)`: the maps merged; a key twice is an error, as in
/// cel-go.
pub fn merge_entries(maps: &[Value]) -> Result<Value, ExecutionError> {
    let mut merged = std::collections::HashMap::new();
    for map in maps {
        let Value::Map(map) = map else {
            return Err(error(
                "transformMapEntry",
                format!("the expression must give a map, not {map:?}"),
            ));
        };
        for (key, value) in map.map.iter() {
            if merged.insert(key.clone(), value.clone()).is_some() {
                return Err(error(
                    "transformMapEntry",
                    format!("insert failed: key {key:?} already exists"),
                ));
            }
        }
    }
    Ok(Value::Map(Map {
        map: Arc::new(merged),
    }))
}

fn map_key(value: &Value) -> Result<Key, ExecutionError> {
    Ok(match value {
        Value::Int(n) => Key::Int(*n),
        Value::UInt(n) => Key::Uint(*n),
        Value::Bool(b) => Key::Bool(*b),
        Value::String(s) => Key::String(s.clone()),
        other => return Err(error("transformMap", format!("{other:?} is not a map key"))),
    })
}

crate::kubernetes::over_values!(keys_fn, |a| keys(&a[0]));
crate::kubernetes::over_values!(from_pairs_fn, |a| match a {
    [Value::List(pairs)] => from_pairs(pairs),
    _ => Err(error("transformMap", "a list of pairs")),
});
crate::kubernetes::over_values!(merge_entries_fn, |a| match a {
    [Value::List(maps)] => merge_entries(maps),
    _ => Err(error("transformMapEntry", "a list")),
});
