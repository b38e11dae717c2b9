//! The fast evaluation's values ([`V`]) and how they cross to cel-rust's.

use std::borrow::Cow;
use std::rc::Rc;

use cel::Value;
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelNull, CelOptional, CelString, CelUInt,
};
use cel::common::value::Val;
use wasm_validate_abi::tape::{Node, Tape};

use super::eval::Abandon;

/// A value of the fast evaluation: what cel-rust's values of the same
/// names hold, with the request's maps and lists read in place from the
/// tape (as [`crate::lazy`] reads them for cel-rust).
#[derive(Debug, Clone)]
pub(crate) enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Cow<'a, str>),
    /// A map (`true`) or list node of a tape.
    Node(Tape<'a>, u32, bool),
    List(Rc<Vec<V<'a>>>),
    Opt(Option<Rc<V<'a>>>),
    /// A value only cel-rust knows (a map it built, a quantity, a
    /// timestamp, a type, an optional), from a [`Plan::Foreign`] call: the
    /// fast evaluation hands it to cel-rust and does nothing else with it.
    Cel(Rc<Value>),
}

impl<'a> V<'a> {
    /// The value of node `index` of `tape`, as [`crate::lazy::val_at`]
    /// reads it: a node that does not decode and a string that is not
    /// UTF-8 are `null`, an integer that fits is an `int`.
    pub(crate) fn at(tape: Tape<'a>, index: u32) -> V<'a> {
        match tape.node(index) {
            Err(_) | Ok(Node::Null) => V::Null,
            Ok(Node::Bool(b)) => V::Bool(b),
            Ok(Node::UInt(n)) => match i64::try_from(n) {
                Ok(i) => V::Int(i),
                Err(_) => V::UInt(n),
            },
            Ok(Node::Int(n)) => V::Int(n),
            Ok(Node::Float(f)) => V::Double(f),
            Ok(Node::String(bytes)) => match std::str::from_utf8(bytes) {
                Ok(text) => V::Str(Cow::Borrowed(text)),
                Err(_) => V::Null,
            },
            Ok(Node::Array { .. }) => V::Node(tape, index, false),
            Ok(Node::Object { .. }) => V::Node(tape, index, true),
        }
    }

    /// The value as cel-rust's, to bind for an expression cel-rust
    /// evaluates.
    pub(crate) fn to_val(&self) -> Box<dyn Val + 'a> {
        match self {
            V::Null => Box::new(CelNull),
            V::Bool(b) => Box::new(CelBool::from(*b)),
            V::Int(i) => Box::new(CelInt::from(*i)),
            V::UInt(u) => Box::new(CelUInt::from(*u)),
            V::Double(d) => Box::new(CelDouble::from(*d)),
            V::Str(text) => Box::new(CelString::from(text.clone())),
            V::Node(tape, index, _) => crate::lazy::val_at(tape, *index).0,
            V::List(items) => Box::new(CelList::from(
                items.iter().map(V::to_val).collect::<Vec<_>>(),
            )),
            V::Opt(None) => Box::new(CelOptional::none()),
            V::Opt(Some(value)) => Box::new(CelOptional::of(value.to_val())),
            V::Cel(value) => {
                Box::<dyn Val>::try_from((**value).clone()).unwrap_or_else(|_| Box::new(CelNull))
            }
        }
    }

    /// cel-rust's value as a fast one: its primitives and lists as such,
    /// anything else kept as it is ([`V::Cel`]).
    pub(crate) fn from_value(value: Value) -> V<'a> {
        match value {
            Value::Null => V::Null,
            Value::Bool(b) => V::Bool(b),
            Value::Int(i) => V::Int(i),
            Value::UInt(u) => V::UInt(u),
            Value::Float(f) => V::Double(f),
            Value::String(text) => V::Str(Cow::Owned(
                std::sync::Arc::try_unwrap(text).unwrap_or_else(|shared| (*shared).clone()),
            )),
            Value::List(items) => {
                V::List(Rc::new(items.iter().cloned().map(V::from_value).collect()))
            }
            other => V::Cel(Rc::new(other)),
        }
    }
}

/// The items of a list, or the keys of a map, in order.
pub(crate) enum Items<'a> {
    Tape {
        tape: Tape<'a>,
        next: u32,
        end: u32,
        keys: bool,
    },
    List(Rc<Vec<V<'a>>>, usize),
}

impl<'a> Items<'a> {
    /// The items of `value`; a map's keys only when `keys_in_any_order`
    /// (cel-rust iterates a map in its hash order, which the tape's order
    /// is not).
    pub(crate) fn of(value: V<'a>, keys_in_any_order: bool) -> Result<(Items<'a>, usize), Abandon> {
        match value {
            V::Node(tape, index, is_map) if !is_map || keys_in_any_order => {
                match tape.node(index) {
                    Ok(Node::Array { len, end } | Node::Object { len, end }) => Ok((
                        Items::Tape {
                            tape,
                            next: index + 1,
                            end,
                            keys: is_map,
                        },
                        len as usize,
                    )),
                    _ => Err(Abandon),
                }
            }
            V::List(items) => {
                let len = items.len();
                Ok((Items::List(items, 0), len))
            }
            _ => Err(Abandon),
        }
    }

    pub(crate) fn next(&mut self) -> Result<Option<V<'a>>, Abandon> {
        match self {
            Items::Tape {
                tape,
                next,
                end,
                keys,
            } => {
                if *next >= *end {
                    return Ok(None);
                }
                let at = *next;
                *next = tape.next(at).map_err(|_| Abandon)?.max(at + 1);
                if *keys {
                    let key = tape.key(at).map_err(|_| Abandon)?;
                    let key = std::str::from_utf8(key).map_err(|_| Abandon)?;
                    Ok(Some(V::Str(Cow::Borrowed(key))))
                } else {
                    Ok(Some(V::at(*tape, at)))
                }
            }
            Items::List(items, i) => {
                let item = items.get(*i).cloned();
                *i += 1;
                Ok(item)
            }
        }
    }
}
