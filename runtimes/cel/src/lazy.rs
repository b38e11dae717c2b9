//! The request's objects as CEL values read from the tape when used: a map
//! or a list of the tape is a [`Lazy`] value that builds itself (one level:
//! its members are atoms or lazy in turn) the first time CEL asks anything
//! of it but a member by name, and then answers as cel-rust's own map or
//! list does, by delegating every operation to the built value. A member
//! by name through the indexer (`a.f`, `a.?f` and `has(a.f)`, rewritten by
//! `select.rs`) is read from the tape while the map is not built; `a['f']`
//! still builds it, since cel-rust's index operator first asks `a` whether
//! it is an optional. A policy then pays for the part of the object it
//! reads, instead of for the whole object on every evaluation
//! (docs/performance.md, "CEL runtime").
//!
//! cel-rust downcasts its built-in maps and lists through `as_builtin`,
//! which a `Lazy` answers with the value it built, so equality with a
//! literal (`object.spec.ports == [...]`, on either side), `+`, `in`,
//! conversions for the library functions and the rest behave exactly as
//! with eagerly built values.
//!
//! The tape is the host's encoding of the request, checked when the
//! request is read; a node that does not decode is read as `null`.

use std::collections::HashMap;
use std::sync::OnceLock;

use cel::ExecutionError;
use cel::common::traits::{
    Adder, Comparer, Container, Divider, Indexer, Iterable, Modder, Multiplier, Negator, Sizer,
    Subtractor, Zeroer,
};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt, Type,
};
use cel::common::value::{Builtin, BuiltinRef, CowVal, Val};
use wasm_validate_abi::tape::{Node, Tape};

/// A map or list node of a tape, built when first used.
#[derive(Debug)]
pub struct Lazy<'a> {
    tape: Tape<'a>,
    index: u32,
    is_map: bool,
    built: OnceLock<Built<'a>>,
}

#[derive(Debug)]
enum Built<'a> {
    Map(CelMap<'a>),
    List(CelList<'a>),
}

/// The value of node `index` and the index after its subtree: atoms built
/// now (strings borrow the tape), maps and lists as [`Lazy`] values.
pub fn val_at<'a>(tape: &Tape<'a>, index: u32) -> (Box<dyn Val + 'a>, u32) {
    let Ok(node) = tape.node(index) else {
        return (Box::new(CelNull), index + 1);
    };
    let lazy = |is_map| -> Box<dyn Val + 'a> {
        Box::new(Lazy {
            tape: *tape,
            index,
            is_map,
            built: OnceLock::new(),
        })
    };
    match node {
        Node::Null => (Box::new(CelNull), index + 1),
        Node::Bool(b) => (Box::new(CelBool::from(b)), index + 1),
        Node::UInt(n) => (
            match i64::try_from(n) {
                Ok(i) => Box::new(CelInt::from(i)) as Box<dyn Val>,
                Err(_) => Box::new(CelUInt::from(n)),
            },
            index + 1,
        ),
        Node::Int(n) => (Box::new(CelInt::from(n)), index + 1),
        Node::Float(f) => (Box::new(CelDouble::from(f)), index + 1),
        Node::String(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => (Box::new(CelString::from(text)), index + 1),
            Err(_) => (Box::new(CelNull), index + 1),
        },
        Node::Array { end, .. } => (lazy(false), end),
        Node::Object { end, .. } => (lazy(true), end),
    }
}

impl<'a> Lazy<'a> {
    /// The node built one level deep.
    fn built(&self) -> &Built<'a> {
        self.built.get_or_init(|| self.build())
    }

    fn build(&self) -> Built<'a> {
        let (len, end) = match self.tape.node(self.index) {
            Ok(Node::Object { len, end } | Node::Array { len, end }) => (len, end),
            _ => (0, self.index + 1),
        };
        let mut child = self.index + 1;
        if self.is_map {
            let mut members: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> =
                HashMap::with_capacity(len as usize);
            while child < end {
                let key = self
                    .tape
                    .key(child)
                    .ok()
                    .and_then(|k| std::str::from_utf8(k).ok())
                    .unwrap_or_default();
                let (value, next) = val_at(&self.tape, child);
                members.insert(CelMapKey::from(key), value);
                child = next.max(child + 1);
            }
            Built::Map(CelMap::from(members))
        } else {
            let mut items: Vec<Box<dyn Val + 'a>> = Vec::with_capacity(len as usize);
            while child < end {
                let (item, next) = val_at(&self.tape, child);
                items.push(item);
                child = next.max(child + 1);
            }
            Built::List(CelList::from(items))
        }
    }

    /// The built value, as a `Val`.
    fn val(&self) -> &(dyn Val + 'a) {
        match self.built() {
            Built::Map(map) => map,
            Built::List(list) => list,
        }
    }
}

impl<'a> Val for Lazy<'a> {
    fn get_type(&self) -> &Type {
        if self.is_map {
            <CelMap<'a> as Val>::cel_type()
        } else {
            <CelList<'a> as Val>::cel_type()
        }
    }

    fn cel_type() -> &'static Type
    where
        Self: Sized,
    {
        // A map or a list, depending on the node: no static answer.
        panic!("a lazy tape value has the type of its node")
    }

    fn as_adder<'b, 'v>(&'b self) -> Option<&'b (dyn Adder + 'v)>
    where
        Self: 'v,
    {
        self.val().as_adder()
    }

    fn as_comparer(&self) -> Option<&dyn Comparer> {
        self.val().as_comparer()
    }

    fn as_container(&self) -> Option<&dyn Container> {
        self.val().as_container()
    }

    fn as_divider<'b, 'v>(&'b self) -> Option<&'b (dyn Divider + 'v)>
    where
        Self: 'v,
    {
        self.val().as_divider()
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn into_indexer<'v>(self: Box<Self>) -> Option<Box<dyn Indexer + 'v>>
    where
        Self: 'v,
    {
        match (*self).into_built() {
            Built::Map(map) => Box::new(map).into_indexer(),
            Built::List(list) => Box::new(list).into_indexer(),
        }
    }

    fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
    where
        Self: 'v,
    {
        self.val().as_iterable()
    }

    fn as_modder<'b, 'v>(&'b self) -> Option<&'b (dyn Modder + 'v)>
    where
        Self: 'v,
    {
        self.val().as_modder()
    }

    fn as_multiplier<'b, 'v>(&'b self) -> Option<&'b (dyn Multiplier + 'v)>
    where
        Self: 'v,
    {
        self.val().as_multiplier()
    }

    fn as_negator<'b, 'v>(&'b self) -> Option<&'b (dyn Negator + 'v)>
    where
        Self: 'v,
    {
        self.val().as_negator()
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.val().as_sizer()
    }

    fn as_subtractor<'b, 'v>(&'b self) -> Option<&'b (dyn Subtractor + 'v)>
    where
        Self: 'v,
    {
        self.val().as_subtractor()
    }

    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        self.val().as_zeroer()
    }

    fn equals(&self, other: &dyn Val) -> bool {
        self.val().equals(other)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        // The clone reads the same node; what was built is not copied.
        Box::new(Lazy {
            tape: self.tape,
            index: self.index,
            is_map: self.is_map,
            built: OnceLock::new(),
        })
    }

    fn as_builtin<'b, 'v>(&'b self) -> BuiltinRef<'b, 'v>
    where
        Self: 'v,
    {
        self.val().as_builtin()
    }

    fn into_builtin<'v>(self: Box<Self>) -> Option<Builtin<'v>>
    where
        Self: 'v,
    {
        Some(match (*self).into_built() {
            Built::Map(map) => Builtin::Map(map),
            Built::List(list) => Builtin::List(list),
        })
    }
}

/// A map's member named by a string is read from the tape while the map is
/// not built (a new value each time, since nothing holds it); anything else
/// (a list, another key type, a built map) asks the built value.
impl<'a> Indexer for Lazy<'a> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        if self.is_map
            && self.built.get().is_none()
            && let Some(key) = idx.downcast_ref::<CelString>()
        {
            return match self.tape.member(self.index, key.inner().as_bytes()) {
                Ok(Some(at)) => Ok(CowVal::Owned(val_at(&self.tape, at).0)),
                _ => Err(ExecutionError::no_such_key(key.inner())),
            };
        }
        match self.val().as_indexer() {
            Some(indexer) => indexer.get(idx),
            None => Err(ExecutionError::no_such_key("")),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<'a> Lazy<'a> {
    /// The built value, owned.
    fn into_built(self) -> Built<'a> {
        let this = self;
        match this.built.into_inner() {
            Some(built) => built,
            None => Lazy {
                built: OnceLock::new(),
                ..this
            }
            .build(),
        }
    }
}
