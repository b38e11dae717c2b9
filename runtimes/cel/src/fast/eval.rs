//! Evaluating a [`Plan`] on plain values (see the module docs of
//! [`crate::fast`]).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use cel::Value;
use cel::common::ast::{CallExpr, Expr, IdedExpr, operators};
use wasm_validate_abi::tape::{Node, Tape};

use super::value::Items;
pub(crate) use super::value::V;
use super::{Append, Arithmetic, Fold, Lit, OPERAND, Order, Plan, Text};
use super::{FIRST_VARIABLE, cost};

/// The fast evaluation gave up: the expression is evaluated again by
/// cel-rust, whose answer (an error included) is the answer.
#[derive(Debug, PartialEq)]
pub(crate) struct Abandon;

/// Why a fast evaluation ended without a value.
#[derive(Debug, PartialEq)]
pub(crate) enum Stop {
    /// Left to cel-rust ([`Abandon`]).
    Abandon,
    /// The expression's cost passed its limit ([`cost::LIMIT_EXCEEDED`]).
    CostLimit,
}

impl From<Abandon> for Stop {
    fn from(_: Abandon) -> Stop {
        Stop::Abandon
    }
}

type Answer<'a> = Result<V<'a>, Stop>;

/// The evaluation's values: slot `i` holds what [`Plan::Slot`]`(i)` reads,
/// `None` when it has no fast value (a variable cel-rust evaluated).
pub(crate) type Slots<'a> = Vec<Option<V<'a>>>;

/// The state of one request's fast evaluations: the slots, and the cost of
/// the expression being evaluated ([`cost`]).
pub(crate) struct Run<'a> {
    pub(crate) slots: Slots<'a>,
    /// The environment [`Plan::Foreign`] calls are evaluated in.
    env: std::sync::Arc<cel::Env>,
    /// The variables' slots: `FIRST_VARIABLE..FIRST_VARIABLE + variables`.
    pub(crate) variables: usize,
    /// The cost of the expression so far.
    pub(crate) cost: u64,
    /// Its limit.
    pub(crate) limit: u64,
    /// The variables the expression read, by slot, in the order read.
    pub(crate) read: Vec<usize>,
    /// The next name read is a branch of `?:`, which costs nothing.
    free_name: bool,
}

impl<'a> Run<'a> {
    /// A run with `slots` (the roots, then `variables` variables), whose
    /// foreign calls are evaluated in `env`.
    pub(crate) fn new(
        env: std::sync::Arc<cel::Env>,
        slots: Slots<'a>,
        variables: usize,
    ) -> Run<'a> {
        Run {
            env,
            slots,
            variables,
            cost: 0,
            limit: cost::PER_CALL_LIMIT,
            read: Vec::new(),
            free_name: false,
        }
    }

    /// Starts an expression: no cost, nothing read.
    pub(crate) fn start(&mut self) {
        self.cost = 0;
        self.read.clear();
        self.free_name = false;
    }

    fn charge(&mut self, cost: u64) -> Result<(), Stop> {
        self.cost = self.cost.saturating_add(cost);
        if self.cost > self.limit {
            return Err(Stop::CostLimit);
        }
        Ok(())
    }
}

/// Evaluates `plan`, counting its cost in `run`.
pub(crate) fn eval<'a>(plan: &'a Plan, run: &mut Run<'a>) -> Answer<'a> {
    match plan {
        Plan::Lit(literal) => Ok(match literal {
            Lit::Null => V::Null,
            Lit::Bool(b) => V::Bool(*b),
            Lit::Int(i) => V::Int(*i),
            Lit::UInt(u) => V::UInt(*u),
            Lit::Double(d) => V::Double(*d),
            Lit::Str(s) => V::Str(Cow::Borrowed(s)),
        }),
        Plan::Slot(i) => {
            if !std::mem::take(&mut run.free_name) {
                run.charge(1)?;
            }
            if (FIRST_VARIABLE..FIRST_VARIABLE + run.variables).contains(i) && !run.read.contains(i)
            {
                run.read.push(*i);
            }
            Ok(run.slots.get(*i).cloned().flatten().ok_or(Abandon)?)
        }
        Plan::Not(operand) => {
            let value = boolean(unary(operand, run)?)?;
            Ok(V::Bool(!value))
        }
        Plan::NotStrictlyFalse(operand) => {
            // An error or a value that is not a bool is not false.
            let value = truth(eval(operand, run))?;
            run.charge(1)?;
            Ok(V::Bool(value != Some(false)))
        }
        Plan::And(operands) => logical(operands, false, run),
        Plan::Or(operands) => logical(operands, true, run),
        Plan::Equals(operands) | Plan::NotEquals(operands) => {
            let (a, b) = pair(operands, 1, run)?;
            run.charge(cost::equality(&a, &b))?;
            let equal = match equal(&a, &b) {
                Ok(equal) => equal,
                // Containers, numbers of two types, optionals and cel-rust's
                // own values: cel-rust's equality decides.
                Err(Abandon) => {
                    let call = IdedExpr {
                        id: 0,
                        expr: Expr::Call(CallExpr {
                            func_name: operators::EQUALS.to_owned(),
                            target: None,
                            args: (0..2)
                                .map(|i| IdedExpr {
                                    id: 0,
                                    expr: Expr::Ident(format!("{OPERAND}{i}")),
                                })
                                .collect(),
                        }),
                    };
                    matches!(in_cel_rust(&call, &[a, b], run)?, V::Bool(true))
                }
            };
            Ok(V::Bool(equal == matches!(plan, Plan::Equals(_))))
        }
        Plan::Add(operands) => {
            let (a, b) = pair(operands, 1, run)?;
            run.charge(cost::addition(&a, &b))?;
            Ok(add(a, b)?)
        }
        Plan::Chain {
            operand,
            mask,
            fields,
            default,
            relative,
        } => {
            let mut value = attribute_operand(operand, *relative, run)?;
            let default = match default {
                Some(default) => Some(eval(default, run)?),
                None => None,
            };
            for (i, field) in fields.iter().enumerate() {
                // cel-go observes a qualifier that finds a value, and one
                // that fails; an optional selection of an absent field costs
                // nothing.
                value = match select(value, field, mask >> i & 1 == 1) {
                    Ok(value) => value,
                    Err(Abandon) => {
                        run.charge(1)?;
                        return Err(Stop::Abandon);
                    }
                };
                if !matches!(value, V::Opt(None)) {
                    run.charge(1)?;
                }
            }
            // `orValue` is not a call to cel-go, which plans it to
            // short-circuit: no cost.
            Ok(match default {
                Some(default) => or_value(value, default)?,
                None => value,
            })
        }
        Plan::Fold(fold) => run_fold(fold, run),
        Plan::Append(append) => run_append(append, run),
        _ => eval_other(plan, run),
    }
}

/// The less frequent nodes of [`eval`], apart. wasmi charges fuel for a
/// whole block when it enters it, and one `eval` holding every node was
/// charged for much code it skipped: the "privileged" policy on the
/// typical Pod took 171,504 fuel with one function and 112,199 with two
/// (the time did not change).
#[inline(never)]
fn eval_other<'a>(plan: &'a Plan, run: &mut Run<'a>) -> Answer<'a> {
    match plan {
        Plan::List(elements, literals) => {
            let items = elements
                .iter()
                .map(|e| eval(e, run))
                .collect::<Result<_, _>>()?;
            if !literals {
                run.charge(cost::LIST_CREATE)?;
            }
            Ok(V::List(Rc::new(items)))
        }
        Plan::Cond(operands, attributes) => {
            let [condition, yes, no] = &**operands;
            let (branch, attribute) = if boolean(eval(condition, run)?)? {
                (yes, attributes[0])
            } else {
                (no, attributes[1])
            };
            // cel-go resolves a branch that is an attribute without
            // observing its name (its selections still count).
            run.free_name = attribute;
            let value = eval(branch, run);
            run.free_name = false;
            value
        }
        Plan::Order(order, operands) => {
            let (a, b) = pair(operands, 1, run)?;
            run.charge(cost::ordering(&a, &b))?;
            let ordering = compare(&a, &b)?;
            Ok(V::Bool(match order {
                Order::Less => ordering == Ordering::Less,
                Order::LessEquals => ordering != Ordering::Greater,
                Order::Greater => ordering == Ordering::Greater,
                Order::GreaterEquals => ordering != Ordering::Less,
            }))
        }
        Plan::Arithmetic(operator, operands) => {
            let (a, b) = pair(operands, 1, run)?;
            run.charge(1)?;
            Ok(arithmetic(*operator, a, b)?)
        }
        Plan::Negate(operand) => match unary(operand, run)? {
            V::Int(i) => Ok(V::Int(i.checked_neg().ok_or(Abandon)?)),
            V::Double(d) => Ok(V::Double(-d)),
            _ => Err(Stop::Abandon),
        },
        Plan::In(operands, set) => {
            let (item, container) = pair(operands, 1, run)?;
            // A list of literals is a set to cel-go's optimizer (no call);
            // another list is traversed, a map looked up.
            let charge = match &container {
                _ if *set => 0,
                V::Node(_, _, true) => 1,
                list => cost::size(list),
            };
            run.charge(charge)?;
            Ok(contains(&container, &item).map(V::Bool)?)
        }
        Plan::Index(operands, relative) => {
            let [operand, index] = &**operands;
            let value = attribute_operand(operand, *relative, run)?;
            // The index is the attribute's qualifier: a name or a literal
            // there is not observed apart from it.
            let index = match index {
                Plan::Slot(_) => {
                    run.free_name = true;
                    eval(index, run)?
                }
                _ => eval(index, run)?,
            };
            run.charge(1)?;
            Ok(match (value, index) {
                (map @ (V::Node(_, _, true) | V::Cel(_)), V::Str(key)) => {
                    map_member(&map, &key)?.ok_or(Abandon)?
                }
                (list @ (V::Node(_, _, false) | V::List(_)), V::Int(i)) => {
                    let i = usize::try_from(i).map_err(|_| Abandon)?;
                    let (mut items, _) = Items::of(list, false)?;
                    for _ in 0..i {
                        items.next()?.ok_or(Abandon)?;
                    }
                    items.next()?.ok_or(Abandon)?
                }
                _ => return Err(Stop::Abandon),
            })
        }
        Plan::Size(operand) => match unary(operand, run)? {
            V::Str(text) => Ok(V::Int(text.chars().count() as i64)),
            V::Node(tape, index, _) => match tape.node(index) {
                Ok(Node::Array { len, .. } | Node::Object { len, .. }) => Ok(V::Int(len.into())),
                _ => Err(Stop::Abandon),
            },
            V::List(items) => Ok(V::Int(items.len() as i64)),
            V::Cel(value) => match &*value {
                Value::Map(map) => Ok(V::Int(map.map.len() as i64)),
                Value::Bytes(bytes) => Ok(V::Int(bytes.len() as i64)),
                _ => Err(Stop::Abandon),
            },
            _ => Err(Stop::Abandon),
        },
        Plan::Join(list, separator) => {
            let list = eval(list, run)?;
            let separator = match separator {
                Some(separator) => match eval(separator, run)? {
                    V::Str(text) => text,
                    _ => return Err(Stop::Abandon),
                },
                None => Cow::Borrowed(""),
            };
            let (mut items, len) = Items::of(list, false)?;
            let mut parts = Vec::with_capacity(len);
            while let Some(item) = items.next()? {
                match item {
                    V::Str(text) => parts.push(text),
                    _ => return Err(Stop::Abandon),
                }
            }
            let joined = parts.join(&*separator);
            // Kubernetes' estimator: twice the traversal of the result.
            run.charge(cost::traversal(2 * joined.chars().count() as u64))?;
            Ok(V::Str(Cow::Owned(joined)))
        }
        Plan::Ascii(upper, operand) => {
            let value = eval(operand, run)?;
            run.charge(cost::traversal(cost::size(&value)))?;
            match value {
                V::Str(text) if *upper => Ok(V::Str(Cow::Owned(text.to_ascii_uppercase()))),
                V::Str(text) => Ok(V::Str(Cow::Owned(text.to_ascii_lowercase()))),
                _ => Err(Stop::Abandon),
            }
        }
        Plan::Text(function, operands) => {
            let (text, other) = pair(operands, 1, run)?;
            let (size, other_size) = (cost::size(&text), cost::size(&other));
            run.charge(match function {
                Text::StartsWith | Text::EndsWith => cost::traversal(size),
                Text::Contains => cost::traversal(size) * cost::traversal(other_size),
                Text::Matches => cost::traversal(1 + size) * cost::regex_length(other_size),
            })?;
            let (V::Str(text), V::Str(other)) = (text, other) else {
                return Err(Stop::Abandon);
            };
            Ok(V::Bool(match function {
                Text::StartsWith => text.starts_with(&*other),
                Text::EndsWith => text.ends_with(&*other),
                Text::Contains => text.contains(&*other),
                Text::Matches => wasm_validate_sdk::regexes::with_regex(
                    &other,
                    crate::regexes::SIZE_LIMIT,
                    |r| r.is_match(&text),
                )
                .map_err(|_| Abandon)?,
            }))
        }
        Plan::Has(operand, field, relative) => match attribute_operand(operand, *relative, run)? {
            V::Opt(None) => Ok(V::Bool(false)),
            V::Opt(Some(inner)) => Ok(V::Bool(map_member(&inner, field)?.is_some())),
            map => Ok(V::Bool(map_member(&map, field)?.is_some())),
        },
        Plan::OrValue(operands) => {
            let (value, default) = pair(operands, 0, run)?;
            Ok(or_value(value, default)?)
        }
        Plan::Foreign(foreign) => {
            // Every operand is evaluated, an error among them or not (cel-go
            // observes them all, and the call, before the error is the
            // answer).
            let mut operands = Vec::with_capacity(foreign.operands.len());
            let mut failed = false;
            for operand in &foreign.operands {
                match eval(operand, run) {
                    Ok(value) => operands.push(value),
                    Err(Stop::Abandon) => failed = true,
                    Err(stop) => return Err(stop),
                }
            }
            if failed {
                run.charge(1)?;
                return Err(Stop::Abandon);
            }
            let value = in_cel_rust(&foreign.call, &operands, run)?;
            run.charge(cost::call(foreign, &operands, &value))?;
            Ok(value)
        }
        _ => unreachable!("evaluated by eval"),
    }
}

/// The operand of a selection or an index: an attribute costs what its
/// name and qualifiers cost; anything else (`relative`) is made a
/// relative attribute, which costs 1 more.
fn attribute_operand<'a>(operand: &'a Plan, relative: bool, run: &mut Run<'a>) -> Answer<'a> {
    let value = eval(operand, run)?;
    if relative {
        run.charge(1)?;
    }
    Ok(value)
}

/// `&&` (`absorbing` false) or `||` (true), commutative as in cel-go and
/// cel-rust: the absorbing value on either side decides it, even beside an
/// error or a value that is not a bool (cel-rust's `LOGICAL_AND` and
/// `LOGICAL_OR`); otherwise an error on either side is the answer, left to
/// cel-rust. The right side is evaluated unless the left one decides.
fn logical<'a>(operands: &'a [Plan; 2], absorbing: bool, run: &mut Run<'a>) -> Answer<'a> {
    let [left, right] = operands;
    let left = truth(eval(left, run))?;
    if left == Some(absorbing) {
        return Ok(V::Bool(absorbing));
    }
    match (left, truth(eval(right, run))?) {
        (Some(_), Some(right)) => Ok(V::Bool(right)),
        (None, Some(right)) if right == absorbing => Ok(V::Bool(absorbing)),
        _ => Err(Stop::Abandon),
    }
}

/// A bool's value; `None` for an error or any other value (both errors to
/// CEL's logical operators); a passed cost limit stops.
fn truth(answer: Answer<'_>) -> Result<Option<bool>, Stop> {
    match answer {
        Ok(V::Bool(b)) => Ok(Some(b)),
        Ok(_) | Err(Stop::Abandon) => Ok(None),
        Err(Stop::CostLimit) => Err(Stop::CostLimit),
    }
}

fn boolean(value: V<'_>) -> Result<bool, Abandon> {
    match value {
        V::Bool(b) => Ok(b),
        _ => Err(Abandon),
    }
}

/// The operands of a binary node, both evaluated even when the first
/// fails, as cel-go evaluates them: when one fails, the node's own cost
/// with an error operand (`error_cost`: 1 for a call, whose error operand
/// has size 1) is still counted before the error is the answer.
fn pair<'a>(
    operands: &'a [Plan; 2],
    error_cost: u64,
    run: &mut Run<'a>,
) -> Result<(V<'a>, V<'a>), Stop> {
    let [a, b] = operands;
    let a = eval(a, run);
    let b = eval(b, run);
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(Stop::CostLimit), _) | (_, Err(Stop::CostLimit)) => Err(Stop::CostLimit),
        _ => {
            run.charge(error_cost)?;
            Err(Stop::Abandon)
        }
    }
}

/// The operand of a call of one operand, and the call's cost of 1 (an
/// error operand included).
fn unary<'a>(operand: &'a Plan, run: &mut Run<'a>) -> Answer<'a> {
    let value = eval(operand, run);
    if !matches!(value, Err(Stop::CostLimit)) {
        run.charge(1)?;
    }
    value
}

/// `a == b` where cel-rust's answer is plain: values of one primitive
/// type, primitives of different kinds that are not both numbers, a map
/// or a list against `null` (never equal). Numbers of different types, containers and optionals
/// are cel-rust's to compare.
fn equal(a: &V<'_>, b: &V<'_>) -> Result<bool, Abandon> {
    use V::*;
    Ok(match (a, b) {
        (Null, Null) => true,
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (UInt(x), UInt(y)) => x == y,
        (Double(x), Double(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Int(_) | UInt(_) | Double(_), Int(_) | UInt(_) | Double(_)) => return Err(Abandon),
        // A map or a list is never `null` (`object == null` on DELETE).
        (Node(..) | List(_), Null) | (Null, Node(..) | List(_)) => false,
        (Node(..) | List(_) | Opt(_) | Cel(_), _) | (_, Node(..) | List(_) | Opt(_) | Cel(_)) => {
            return Err(Abandon);
        }
        _ => false,
    })
}

/// The ordering of values of one type: numbers, strings.
fn compare(a: &V<'_>, b: &V<'_>) -> Result<Ordering, Abandon> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Ok(x.cmp(y)),
        (V::UInt(x), V::UInt(y)) => Ok(x.cmp(y)),
        (V::Double(x), V::Double(y)) => x.partial_cmp(y).ok_or(Abandon),
        (V::Str(x), V::Str(y)) => Ok(x.cmp(y)),
        _ => Err(Abandon),
    }
}

fn add<'a>(a: V<'a>, b: V<'a>) -> Result<V<'a>, Abandon> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => x.checked_add(y).map(V::Int).ok_or(Abandon),
        (V::UInt(x), V::UInt(y)) => x.checked_add(y).map(V::UInt).ok_or(Abandon),
        (V::Double(x), V::Double(y)) => Ok(V::Double(x + y)),
        (V::Str(x), V::Str(y)) => Ok(V::Str(Cow::Owned(format!("{x}{y}")))),
        (a, b) => {
            let (mut first, len_a) = Items::of(a, false)?;
            let (mut second, len_b) = Items::of(b, false)?;
            let mut items = Vec::with_capacity(len_a + len_b);
            while let Some(item) = first.next()? {
                items.push(item);
            }
            while let Some(item) = second.next()? {
                items.push(item);
            }
            Ok(V::List(Rc::new(items)))
        }
    }
}

/// `-`, `*`, `/`, `%` on two integers of one type, checked (an overflow or
/// a division by zero is cel-rust's error to give); `-` and `*` on two
/// doubles.
fn arithmetic<'a>(operator: Arithmetic, a: V<'a>, b: V<'a>) -> Result<V<'a>, Abandon> {
    let result = match (a, b) {
        (V::Int(x), V::Int(y)) => match operator {
            Arithmetic::Subtract => x.checked_sub(y),
            Arithmetic::Multiply => x.checked_mul(y),
            Arithmetic::Divide => x.checked_div(y),
            Arithmetic::Modulo => x.checked_rem(y),
        }
        .map(V::Int),
        (V::UInt(x), V::UInt(y)) => match operator {
            Arithmetic::Subtract => x.checked_sub(y),
            Arithmetic::Multiply => x.checked_mul(y),
            Arithmetic::Divide => x.checked_div(y),
            Arithmetic::Modulo => x.checked_rem(y),
        }
        .map(V::UInt),
        (V::Double(x), V::Double(y)) => match operator {
            Arithmetic::Subtract => Some(V::Double(x - y)),
            Arithmetic::Multiply => Some(V::Double(x * y)),
            _ => None,
        },
        _ => None,
    };
    result.ok_or(Abandon)
}

/// `item in container`: a list's item, a map's string key.
fn contains(container: &V<'_>, item: &V<'_>) -> Result<bool, Abandon> {
    match (container, item) {
        (V::Node(_, _, true) | V::Cel(_), V::Str(key)) => Ok(map_member(container, key)?.is_some()),
        (V::Node(_, _, false) | V::List(_), _) => {
            let (mut items, _) = Items::of(container.clone(), false)?;
            while let Some(candidate) = items.next()? {
                if equal(item, &candidate)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Err(Abandon),
    }
}

/// The member `key` of a map, of the tape or one cel-rust built, `None`
/// when it has none; anything but a map is cel-rust's.
fn map_member<'a>(value: &V<'a>, key: &str) -> Result<Option<V<'a>>, Abandon> {
    match value {
        V::Node(tape, at, true) => member(*tape, *at, key),
        V::Cel(cel) => match &**cel {
            Value::Map(map) => Ok(map
                .map
                .get(&cel::objects::Key::String(std::sync::Arc::new(
                    key.to_owned(),
                )))
                .cloned()
                .map(V::from_value)),
            _ => Err(Abandon),
        },
        _ => Err(Abandon),
    }
}

/// The member `key` of the map node `at`, `None` when it has none.
fn member<'a>(tape: Tape<'a>, at: u32, key: &str) -> Result<Option<V<'a>>, Abandon> {
    match tape.member(at, key.as_bytes()) {
        Ok(found) => Ok(found.map(|index| V::at(tape, index))),
        Err(_) => Err(Abandon),
    }
}

/// One link of a chain, as `crate::select`'s `select_step` (`a.f`) and
/// `opt_select_step` (`a.?f`) answer on maps; anything else is cel-rust's.
fn select<'a>(value: V<'a>, field: &str, optional: bool) -> Result<V<'a>, Abandon> {
    let optional_of = |found: Option<V<'a>>| V::Opt(found.map(Rc::new));
    match value {
        V::Opt(None) => Ok(V::Opt(None)),
        V::Opt(Some(inner)) => Ok(optional_of(map_member(&inner, field)?)),
        map => {
            let found = map_member(&map, field)?;
            if optional {
                Ok(optional_of(found))
            } else {
                found.ok_or(Abandon)
            }
        }
    }
}

/// `value.orValue(default)`, as `crate::kubernetes::or_value`: a value
/// that is not an optional is itself; one of cel-rust's may be an optional
/// it built, cel-rust's to answer.
fn or_value<'a>(value: V<'a>, default: V<'a>) -> Result<V<'a>, Abandon> {
    Ok(match value {
        V::Opt(Some(inner)) => Rc::unwrap_or_clone(inner),
        V::Opt(None) => default,
        V::Cel(_) => return Err(Abandon),
        value => value,
    })
}

/// Evaluates `call` with cel-rust, its names [`OPERAND`]`i` bound to
/// `operands[i]`; an error gives up (cel-rust's answer for the whole
/// expression is then the answer).
fn in_cel_rust<'a>(call: &IdedExpr, operands: &[V<'a>], run: &Run<'a>) -> Answer<'a> {
    let mut context = cel::Context::with_env(run.env.clone());
    for (i, operand) in operands.iter().enumerate() {
        context.add_variable_as_val(format!("{OPERAND}{i}"), operand.to_val());
    }
    match Value::resolve(call, &context) {
        Ok(value) => Ok(V::from_value(value)),
        Err(_) => Err(Stop::Abandon),
    }
}

/// A comprehension, as cel-rust runs it: the condition before each item,
/// then the item bound and the step. Over a map only when the
/// accumulator starts as a bool or an int (`all`, `exists`,
/// `exists_one`), whose result does not depend on the order.
fn run_fold<'a>(fold: &'a Fold, run: &mut Run<'a>) -> Answer<'a> {
    let init = eval(&fold.init, run)?;
    let range = eval(&fold.range, run)?;
    let any_order = matches!(init, V::Bool(_) | V::Int(_));
    let (mut items, _) = Items::of(range, any_order)?;
    if run.slots.len() <= fold.item {
        run.slots.resize(fold.item + 1, None);
    }
    run.slots[fold.accu] = Some(init);
    // Bound only from the first step on, as cel-rust binds it.
    run.slots[fold.item] = None;
    // An `all` or `exists` step's error, pending until an item gives the
    // absorbing value (cel-rust's `DeferredErrors`).
    let mut pending = false;
    while let Some(item) = items.next()? {
        if !boolean(eval(&fold.cond, run)?)? {
            break;
        }
        run.slots[fold.item] = Some(item);
        match (eval(&fold.step, run), fold.absorbing) {
            (Err(Stop::Abandon), Some(_)) => pending = true,
            (Err(stop), _) => return Err(stop),
            (Ok(accu), Some(absorbing))
                if pending && !matches!(accu, V::Bool(b) if b == absorbing) => {}
            (Ok(accu), _) => {
                pending = false;
                run.slots[fold.accu] = Some(accu);
            }
        }
    }
    if pending {
        return Err(Stop::Abandon);
    }
    let result = eval(&fold.result, run);
    run.slots[fold.accu] = None;
    run.slots[fold.item] = None;
    result
}

/// A `map` or `filter`: the items appended in place, as cel-rust's
/// `AppendStep` does. Over lists only (a map's keys would come in another
/// order). Its cost is cel-go's for the macro's step, `guard ? @result +
/// [items] : @result`: the accumulator read and `+` for each item
/// appended (a bare `@result` branch costs nothing), and the result read.
fn run_append<'a>(append: &'a Append, run: &mut Run<'a>) -> Answer<'a> {
    let range = eval(&append.range, run)?;
    let (mut items, len) = Items::of(range, false)?;
    if run.slots.len() <= append.item {
        run.slots.resize(append.item + 1, None);
    }
    let mut out = Vec::with_capacity(len);
    run.slots[append.item] = None;
    while let Some(item) = items.next()? {
        if !boolean(eval(&append.cond, run)?)? {
            break;
        }
        run.slots[append.item] = Some(item);
        if let Some(guard) = &append.guard
            && !boolean(eval(guard, run)?)?
        {
            continue;
        }
        for plan in &append.items {
            out.push(eval(plan, run)?);
        }
        // `@result`, `[items]` and `+`.
        run.charge(if append.literals {
            2
        } else {
            2 + cost::LIST_CREATE
        })?;
    }
    run.charge(1)?;
    run.slots[append.item] = None;
    Ok(V::List(Rc::new(out)))
}
