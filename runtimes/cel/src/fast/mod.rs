//! A direct evaluator for the common subset of CEL, in front of cel-rust.
//!
//! cel-rust evaluates through trait objects: every value boxed behind
//! `dyn Val`, every operator matched by its name as a string, every call
//! looked up by name in a hash map and its arguments collected into a new
//! vector, every comprehension variable bound in a new context. In wasmi
//! that is most of an evaluation: on the typical Pod, `1 > 0` costs about
//! 2 µs and selecting `object.spec.containers` about 8 (docs/performance.md,
//! "CEL runtime").
//!
//! So, when an expression is compiled (after `select.rs`, `chain.rs` and
//! `regexes.rs` have rewritten it), [`plan`] turns it into a [`Plan`]:
//! names resolved to slots, operators and the functions below resolved to
//! variants, when every node is one this module knows. [`eval`] then
//! evaluates the plan on plain values ([`eval::V`]) that read the object
//! from the tape. What it knows is the part of CEL whose successful
//! results are unambiguous:
//!
//! - literals (but bytes), lists of them, the objects and variables;
//! - `!`, `&&`, `||`, `?:`, `@not_strictly_false`;
//! - `==`, `!=` and the orderings on values of one primitive type;
//! - `+` on numbers of one type, strings and lists; `-`, `*`, `/`, `%`
//!   and negation on integers (`-`, `*` and negation on doubles too);
//! - `in` on lists and on maps with string keys, `size`, `startsWith`,
//!   `endsWith`, `contains`, `matches`, `upperAscii`, `lowerAscii`, `join`;
//! - field selection, optional selection, `has`, `orValue`, indexing;
//! - comprehensions with one variable (`all`, `exists`, `exists_one`,
//!   `map`, `filter`), over lists, and over maps when their result does
//!   not depend on the order of the keys.
//!
//! Any other call (the Kubernetes libraries, cel-go's extensions,
//! conversions, timestamps) is a [`Foreign`] call: the plan evaluates its
//! operands, and cel-rust the call itself on their values, its result
//! kept as cel-rust's own value ([`V::Cel`](eval::V)) when it has no
//! plain form; `==` on containers, numbers of two types or such values
//! is cel-rust's too, and so is building a map literal. Bytes literals,
//! optional list and map entries and qualified names make the expression
//! cel-rust's ([`plan`] answers `None`). At run time, an error that
//! `&&`, `||`, `all` or `exists` absorbs gives the absorbing value, as in
//! cel-rust (its `LOGICAL_AND`, `LOGICAL_OR` and `DeferredErrors`);
//! anything else but a successful value (an error that is the answer, an
//! operand of another type, a comprehension whose order would matter)
//! abandons the fast evaluation ([`eval::Abandon`]),
//! and the runtime evaluates the whole expression again with cel-rust:
//! CEL has no side effects, so the second evaluation gives cel-rust's
//! answer, error messages and CEL's error absorption (`false && error`)
//! included. A successful fast evaluation gives the value cel-rust gives
//! (`fast_evaluation_answers_as_cel_rust_does`, and the Kyverno and
//! Gatekeeper conformance suites run through it).

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};

use crate::chain::{CHAIN, CHAIN_OR};
use crate::kubernetes::OR_VALUE;
use crate::select::{HAS, OPT_SELECT, SELECT};

/// The names a policy's expressions read bound in the first slots, in
/// this order; the variables (`@variables.NAME`) follow, from
/// [`FIRST_VARIABLE`].
pub(crate) const ROOTS: [&str; 5] = [
    "object",
    "oldObject",
    "params",
    "request",
    "namespaceObject",
];

/// The slot of the first variable.
pub(crate) const FIRST_VARIABLE: usize = ROOTS.len();

pub(crate) mod cost;
pub(crate) mod eval;
#[cfg(test)]
mod tests;
mod value;

/// A literal of a plan.
#[derive(Debug, Clone)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(String),
}

/// An ordering operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Order {
    Less,
    LessEquals,
    Greater,
    GreaterEquals,
}

/// An arithmetic operator other than `+`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Arithmetic {
    Subtract,
    Multiply,
    Divide,
    Modulo,
}

/// A string function of two strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Text {
    StartsWith,
    EndsWith,
    Contains,
    Matches,
}

/// A compiled expression of the subset (see the module docs).
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Lit(Lit),
    /// A value in the evaluation's slots: the objects, the variables, a
    /// comprehension's variables.
    Slot(usize),
    /// A list literal; `true` when its elements are all literals (cel-go
    /// folds it into a constant: no cost).
    List(Vec<Plan>, bool),
    Not(Box<Plan>),
    NotStrictlyFalse(Box<Plan>),
    And(Box<[Plan; 2]>),
    Or(Box<[Plan; 2]>),
    /// `?:`; for each branch, whether it is an attribute, whose name
    /// cel-go does not charge there.
    Cond(Box<[Plan; 3]>, [bool; 2]),
    Equals(Box<[Plan; 2]>),
    NotEquals(Box<[Plan; 2]>),
    Order(Order, Box<[Plan; 2]>),
    Add(Box<[Plan; 2]>),
    /// `-`, `*`, `/`, `%`.
    Arithmetic(Arithmetic, Box<[Plan; 2]>),
    /// `-x`.
    Negate(Box<Plan>),
    /// `list.join()` or `list.join(separator)`.
    Join(Box<Plan>, Option<Box<Plan>>),
    /// `in`; `true` when the container is a list of literals (a set to
    /// cel-go: no cost).
    In(Box<[Plan; 2]>, bool),
    /// `value[index]`; `true` when `value` is not an attribute (a relative
    /// attribute costs 1 more).
    Index(Box<[Plan; 2]>, bool),
    Size(Box<Plan>),
    /// `upperAscii()` (`true`) or `lowerAscii()` of a string.
    Ascii(bool, Box<Plan>),
    Text(Text, Box<[Plan; 2]>),
    /// Selections from `operand`: bit `i` of `mask` set means link `i` is
    /// optional (`.?f`); with `default`, `orValue(default)` on the result;
    /// `relative` when `operand` is not an attribute (1 more).
    Chain {
        operand: Box<Plan>,
        mask: i64,
        fields: Vec<String>,
        default: Option<Box<Plan>>,
        relative: bool,
    },
    /// `has(operand.field)`; `true` when `operand` is not an attribute.
    Has(Box<Plan>, String, bool),
    /// `value.orValue(default)`.
    OrValue(Box<[Plan; 2]>),
    /// A comprehension: `accu` starts as `init`; for each item of `range`
    /// (bound to slot `item`) while `cond` holds, `accu` becomes `step`;
    /// the value is `result`.
    Fold(Box<Fold>),
    /// A `map` or `filter` comprehension (`@result + [items]`, guarded or
    /// not, from an empty list), built in place as cel-rust does.
    Append(Box<Append>),
    /// A call outside the subset (or a name that is not bound, such as a
    /// type), evaluated by cel-rust on its operands' values.
    Foreign(Box<Foreign>),
}

/// A call cel-rust evaluates inside a plan: `call` is the call with each
/// operand (the receiver first) replaced by the name [`OPERAND`]`i`, bound
/// to the value of `operands[i]`; a namespace receiver (`optional.of`,
/// `math.greatest`) stays as written.
#[derive(Debug, Clone)]
pub(crate) struct Foreign {
    pub(crate) call: IdedExpr,
    pub(crate) operands: Vec<Plan>,
    /// The function's name, for its cost.
    pub(crate) function: String,
    /// Whether the first operand is the receiver (`x.f(...)`).
    pub(crate) member: bool,
    /// Whether every operand is a literal (cel-go folds a conversion of
    /// literals: no cost).
    pub(crate) literals: bool,
}

/// The function name a map literal's [`Foreign`] node carries, for its
/// cost (no function can be named so).
pub(crate) const MAP_LITERAL: &str = "{}";

/// The names a [`Foreign`] call's operands are bound to: `@0`, `@1`, ...
/// (no CEL source can spell them).
pub(crate) const OPERAND: &str = "@";

#[derive(Debug, Clone)]
pub(crate) struct Fold {
    pub(crate) range: Plan,
    pub(crate) item: usize,
    pub(crate) accu: usize,
    pub(crate) init: Plan,
    pub(crate) cond: Plan,
    pub(crate) step: Plan,
    pub(crate) result: Plan,
    /// For `all` (`@result && p`: `Some(false)`) and `exists` (`@result ||
    /// p`: `Some(true)`), the value that decides the result: an error of
    /// `p` waits for a later item giving it, as in cel-go and cel-rust.
    pub(crate) absorbing: Option<bool>,
}

#[derive(Debug, Clone)]
pub(crate) struct Append {
    pub(crate) range: Plan,
    pub(crate) item: usize,
    pub(crate) cond: Plan,
    pub(crate) guard: Option<Plan>,
    pub(crate) items: Vec<Plan>,
    /// Whether `items` are all literals (`[items]` then costs nothing).
    pub(crate) literals: bool,
}

/// The plan of `expression`, where `names` are the names bound before it
/// (the objects, the variables read by name), `names[i]` in slot `i`;
/// `None` when some node is outside the subset. Comprehension variables
/// take the slots after them. Also returns the number of slots the plan
/// uses.
pub(crate) fn plan(expression: &IdedExpr, names: &[&str]) -> Option<(Plan, usize)> {
    let mut scope = Scope {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        most: names.len(),
    };
    let plan = scope.plan(expression)?;
    Some((plan, scope.most))
}

struct Scope {
    /// Bound names, innermost last: a slot is its position.
    names: Vec<String>,
    /// The most slots bound at once.
    most: usize,
}

impl Scope {
    fn slot(&self, name: &str) -> Option<usize> {
        self.names.iter().rposition(|n| n == name)
    }

    fn two(&mut self, args: &[IdedExpr]) -> Option<Box<[Plan; 2]>> {
        match args {
            [a, b] => Some(Box::new([self.plan(a)?, self.plan(b)?])),
            _ => None,
        }
    }

    /// A call outside the subset as a [`Foreign`] call: its receiver (unless
    /// it names a namespace) and its arguments are planned, and replaced in
    /// the call by the names they are bound to.
    fn foreign(&mut self, expression: &IdedExpr) -> Option<Plan> {
        let Expr::Call(call) = &expression.expr else {
            return None;
        };
        let mut operands = Vec::new();
        let bound = |plan: Plan, id: u64, operands: &mut Vec<Plan>| {
            operands.push(plan);
            IdedExpr {
                id,
                expr: Expr::Ident(format!("{OPERAND}{}", operands.len() - 1)),
            }
        };
        let target = match &call.target {
            // `optional.of(x)`, `math.greatest(...)`: a namespace, not a value.
            Some(target) if matches!(&target.expr, Expr::Ident(name) if self.slot(name).is_none()) => {
                Some(target.clone())
            }
            Some(target) => {
                let plan = self.plan(target)?;
                Some(Box::new(bound(plan, target.id, &mut operands)))
            }
            None => None,
        };
        let member = matches!(target.as_deref().map(|t| &t.expr), Some(Expr::Ident(name)) if name.starts_with(OPERAND));
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            let plan = self.plan(arg)?;
            args.push(bound(plan, arg.id, &mut operands));
        }
        let literals = operands.iter().all(cost::is_literal);
        Some(Plan::Foreign(Box::new(Foreign {
            call: IdedExpr {
                id: expression.id,
                expr: Expr::Call(cel::common::ast::CallExpr {
                    func_name: call.func_name.clone(),
                    target,
                    args,
                }),
            },
            operands,
            function: call.func_name.clone(),
            member,
            literals,
        })))
    }

    /// A map literal, built by cel-rust from its keys' and values' values
    /// (a [`Foreign`] node); one with an optional entry (`{?k: v}`) has no
    /// plan.
    fn map(&mut self, id: u64, map: &cel::common::ast::MapExpr) -> Option<Plan> {
        use cel::common::ast::{EntryExpr, IdedEntryExpr, MapEntryExpr, MapExpr};
        let mut operands = Vec::new();
        let mut entries = Vec::with_capacity(map.entries.len());
        for entry in &map.entries {
            let EntryExpr::MapEntry(e) = &entry.expr else {
                return None;
            };
            if e.optional {
                return None;
            }
            let mut bound = |expression: &IdedExpr, operands: &mut Vec<Plan>| {
                let plan = self.plan(expression)?;
                operands.push(plan);
                Some(IdedExpr {
                    id: expression.id,
                    expr: Expr::Ident(format!("{OPERAND}{}", operands.len() - 1)),
                })
            };
            let key = bound(&e.key, &mut operands)?;
            let value = bound(&e.value, &mut operands)?;
            entries.push(IdedEntryExpr {
                id: entry.id,
                expr: EntryExpr::MapEntry(MapEntryExpr {
                    key,
                    value,
                    optional: false,
                }),
            });
        }
        let literals = operands.iter().all(cost::is_literal);
        Some(Plan::Foreign(Box::new(Foreign {
            call: IdedExpr {
                id,
                expr: Expr::Map(MapExpr { entries }),
            },
            operands,
            // A map built from values that are not all literals costs
            // `common.MapCreateBaseCost`; cel-go folds one of literals.
            function: MAP_LITERAL.to_owned(),
            member: false,
            literals,
        })))
    }

    fn plan(&mut self, expression: &IdedExpr) -> Option<Plan> {
        Some(match &expression.expr {
            Expr::Literal(literal) => Plan::Lit(lit(literal)?),
            Expr::Ident(name) if self.slot(name).is_some() => Plan::Slot(self.slot(name)?),
            Expr::List(list) if list.optional_indices.is_empty() => {
                let elements: Vec<Plan> = list
                    .elements
                    .iter()
                    .map(|e| self.plan(e))
                    .collect::<Option<_>>()?;
                let literals = elements.iter().all(cost::is_literal);
                Plan::List(elements, literals)
            }
            Expr::Call(call) => {
                let args = &call.args;
                match (call.func_name.as_str(), &call.target, args.len()) {
                    (operators::LOGICAL_NOT, None, 1) => Plan::Not(Box::new(self.plan(&args[0])?)),
                    (operators::NOT_STRICTLY_FALSE, None, 1) => {
                        Plan::NotStrictlyFalse(Box::new(self.plan(&args[0])?))
                    }
                    (operators::LOGICAL_AND, None, 2) => Plan::And(self.two(args)?),
                    (operators::LOGICAL_OR, None, 2) => Plan::Or(self.two(args)?),
                    (operators::CONDITIONAL, None, 3) => {
                        let condition = self.plan(&args[0])?;
                        let (yes, no) = (self.plan(&args[1])?, self.plan(&args[2])?);
                        let attributes = [cost::is_attribute(&yes), cost::is_attribute(&no)];
                        Plan::Cond(Box::new([condition, yes, no]), attributes)
                    }
                    (operators::EQUALS, None, 2) => Plan::Equals(self.two(args)?),
                    (operators::NOT_EQUALS, None, 2) => Plan::NotEquals(self.two(args)?),
                    (operators::LESS, None, 2) => Plan::Order(Order::Less, self.two(args)?),
                    (operators::LESS_EQUALS, None, 2) => {
                        Plan::Order(Order::LessEquals, self.two(args)?)
                    }
                    (operators::GREATER, None, 2) => Plan::Order(Order::Greater, self.two(args)?),
                    (operators::GREATER_EQUALS, None, 2) => {
                        Plan::Order(Order::GreaterEquals, self.two(args)?)
                    }
                    (operators::ADD, None, 2) => Plan::Add(self.two(args)?),
                    (
                        name @ (operators::SUBSTRACT
                        | operators::MULTIPLY
                        | operators::DIVIDE
                        | operators::MODULO),
                        None,
                        2,
                    ) => {
                        let operator = match name {
                            operators::SUBSTRACT => Arithmetic::Subtract,
                            operators::MULTIPLY => Arithmetic::Multiply,
                            operators::DIVIDE => Arithmetic::Divide,
                            _ => Arithmetic::Modulo,
                        };
                        Plan::Arithmetic(operator, self.two(args)?)
                    }
                    (operators::NEGATE, None, 1) => Plan::Negate(Box::new(self.plan(&args[0])?)),
                    (operators::IN, None, 2) => {
                        let operands = self.two(args)?;
                        let set = matches!(&operands[1], Plan::List(_, true));
                        Plan::In(operands, set)
                    }
                    (operators::INDEX, None, 2) => {
                        let operands = self.two(args)?;
                        let relative = !cost::is_attribute(&operands[0]);
                        Plan::Index(operands, relative)
                    }
                    ("size", None, 1) => Plan::Size(Box::new(self.plan(&args[0])?)),
                    ("size", Some(target), 0) => Plan::Size(Box::new(self.plan(target)?)),
                    ("join", Some(target), 0 | 1) => Plan::Join(
                        Box::new(self.plan(target)?),
                        match args.first() {
                            Some(separator) => Some(Box::new(self.plan(separator)?)),
                            None => None,
                        },
                    ),
                    (name @ ("upperAscii" | "lowerAscii"), Some(target), 0) => {
                        Plan::Ascii(name == "upperAscii", Box::new(self.plan(target)?))
                    }
                    (name @ ("startsWith" | "endsWith" | "contains"), Some(target), 1) => {
                        let text = match name {
                            "startsWith" => Text::StartsWith,
                            "endsWith" => Text::EndsWith,
                            _ => Text::Contains,
                        };
                        Plan::Text(text, Box::new([self.plan(target)?, self.plan(&args[0])?]))
                    }
                    ("@matches" | "@matchesGlobal", None, 2) => {
                        Plan::Text(Text::Matches, self.two(args)?)
                    }
                    (SELECT | OPT_SELECT, None, 2) => chain(
                        self.plan(&args[0])?,
                        i64::from(call.func_name == OPT_SELECT),
                        vec![string(&args[1])?],
                        None,
                    ),
                    (HAS, None, 2) => {
                        let operand = self.plan(&args[0])?;
                        let relative = !cost::is_attribute(&operand);
                        Plan::Has(Box::new(operand), string(&args[1])?, relative)
                    }
                    (OR_VALUE, None, 2) => Plan::OrValue(self.two(args)?),
                    (CHAIN, None, 3..) => chain(
                        self.plan(&args[0])?,
                        int(&args[1])?,
                        args[2..].iter().map(string).collect::<Option<_>>()?,
                        None,
                    ),
                    (CHAIN_OR, None, 4..) => {
                        let operand = self.plan(&args[0])?;
                        let default = self.plan(&args[2])?;
                        chain(
                            operand,
                            int(&args[1])?,
                            args[3..].iter().map(string).collect::<Option<_>>()?,
                            Some(default),
                        )
                    }
                    _ => self.foreign(expression)?,
                }
            }
            Expr::Map(map) => self.map(expression.id, map)?,
            // A name that is not bound: a type (`int`, `map`) or a constant
            // cel-rust resolves.
            Expr::Ident(_) => Plan::Foreign(Box::new(Foreign {
                call: expression.clone(),
                operands: Vec::new(),
                function: String::new(),
                member: false,
                literals: true,
            })),
            Expr::Comprehension(c) if c.iter_var2.is_none() => {
                let range = self.plan(&c.iter_range)?;
                let append = append_shape(c);
                let init = self.plan(&c.accu_init)?;
                let depth = self.names.len();
                self.names.push(c.accu_var.clone());
                let accu = depth;
                self.names.push(c.iter_var.clone());
                let item = depth + 1;
                self.most = self.most.max(self.names.len());
                let plan = (|| {
                    let cond = self.plan(&c.loop_cond)?;
                    Some(match append {
                        Some((guard, items)) => Plan::Append(Box::new(Append {
                            range,
                            item,
                            cond,
                            guard: match guard {
                                Some(g) => Some(self.plan(g)?),
                                None => None,
                            },
                            literals: items.iter().all(|e| matches!(e.expr, Expr::Literal(_))),
                            items: items.iter().map(|e| self.plan(e)).collect::<Option<_>>()?,
                        })),
                        None => {
                            let step = self.plan(&c.loop_step)?;
                            let absorbing = match &step {
                                Plan::And(operands) if matches!(operands[0], Plan::Slot(s) if s == accu) => {
                                    Some(false)
                                }
                                Plan::Or(operands) if matches!(operands[0], Plan::Slot(s) if s == accu) => {
                                    Some(true)
                                }
                                _ => None,
                            };
                            Plan::Fold(Box::new(Fold {
                                range,
                                item,
                                accu,
                                init,
                                cond,
                                step,
                                result: self.plan(&c.result)?,
                                absorbing,
                            }))
                        }
                    })
                })();
                self.names.truncate(depth);
                plan?
            }
            _ => return None,
        })
    }
}

/// cel-rust's shape of a `map` or `filter` step (its `AppendStep`): the
/// result is the accumulator, the condition a literal, the accumulator
/// starts as `[]`, and the step is `@result + [items]` or
/// `guard ? @result + [items] : @result`. Returns the guard and the items.
fn append_shape(
    c: &cel::common::ast::ComprehensionExpr,
) -> Option<(Option<&IdedExpr>, &[IdedExpr])> {
    let accu = c.accu_var.as_str();
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if name == accu);
    let empty_init = matches!(&c.accu_init.expr, Expr::List(list) if list.elements.is_empty());
    if !is_accu(&c.result) || !matches!(c.loop_cond.expr, Expr::Literal(_)) || !empty_init {
        return None;
    }
    match &c.loop_step.expr {
        Expr::Call(call) if call.func_name == operators::CONDITIONAL && call.target.is_none() => {
            match call.args.as_slice() {
                [guard, step, otherwise] if is_accu(otherwise) => {
                    Some((Some(guard), appended(step, accu)?))
                }
                _ => None,
            }
        }
        _ => Some((None, appended(&c.loop_step, accu)?)),
    }
}

/// The items of `step` when it is `accu + [items]`.
fn appended<'e>(step: &'e IdedExpr, accu: &str) -> Option<&'e [IdedExpr]> {
    let Expr::Call(call) = &step.expr else {
        return None;
    };
    if call.func_name != operators::ADD || call.target.is_some() {
        return None;
    }
    match call.args.as_slice() {
        [lhs, rhs] if matches!(&lhs.expr, Expr::Ident(name) if name == accu) => match &rhs.expr {
            Expr::List(list) if list.optional_indices.is_empty() => Some(&list.elements),
            _ => None,
        },
        _ => None,
    }
}

/// A chain of selections, with whether its operand is a relative
/// attribute.
fn chain(operand: Plan, mask: i64, fields: Vec<String>, default: Option<Plan>) -> Plan {
    Plan::Chain {
        relative: !cost::is_attribute(&operand),
        operand: Box::new(operand),
        mask,
        fields,
        default: default.map(Box::new),
    }
}

fn lit(literal: &LiteralValue) -> Option<Lit> {
    Some(match literal {
        LiteralValue::Null => Lit::Null,
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::String(s) => Lit::Str(s.inner().to_owned()),
        LiteralValue::Bytes(_) => return None,
    })
}

fn string(expression: &IdedExpr) -> Option<String> {
    match &expression.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_owned()),
        _ => None,
    }
}

fn int(expression: &IdedExpr) -> Option<i64> {
    match &expression.expr {
        Expr::Literal(LiteralValue::Int(i)) => Some(*i.inner()),
        _ => None,
    }
}
