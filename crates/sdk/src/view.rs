//! Lazy, borrowed reading of a request's tape (ABI version 2, `docs/abi.md`).
//!
//! A [`Document`] wraps one tape; a [`ValueRef`] is a node of it (a
//! reference to the document and a node index, 8 bytes on wasm32). Nothing
//! is decoded until a policy asks for it: `get("securityContext")` scans the
//! members of one object, comparing key bytes, and skips every other
//! member's subtree in one step; strings are borrowed from the tape, not
//! copied. The typed views of `workload` ([`crate::Object`],
//! [`crate::Container`], ...) are thin wrappers over a `ValueRef`.
//!
//! **Types are still checked**, where they are read: a field read as a
//! boolean that holds a string reads as absent, and the document records the
//! first such problem (the node and what was expected). The SDK's
//! [`crate::evaluate_tape`] then answers with an error response naming the
//! field's JSON Pointer instead of the policy's answer, as serde did when it
//! decoded the whole view up front; a malformed tape is reported the same
//! way. A field that is `null` reads as absent, as Kubernetes treats it.

use std::cell::Cell;
use std::marker::PhantomData;

use wasm_validate_abi::escape_pointer_token;
use wasm_validate_abi::tape::{Node, Tape, tag};

/// What went wrong reading a document: the first problem wins.
#[derive(Debug, Clone)]
enum Problem {
    /// Node `node` holds `found` where a view expected `expected`.
    Type {
        node: u32,
        expected: &'static str,
        found: &'static str,
    },
    /// The tape itself is malformed (a node or string outside it).
    Malformed(String),
}

/// One tape being read by a policy, with the first problem its views met.
///
/// Build it with [`Document::new`], read it through [`Document::root`], and
/// ask [`Document::problem`] afterwards whether every value read had the
/// type it was read as.
pub struct Document<'a> {
    tape: Tape<'a>,
    problem: Cell<Option<Problem>>,
}

impl<'a> Document<'a> {
    /// A document over `tape`, with no problem yet.
    pub fn new(tape: Tape<'a>) -> Self {
        Document {
            tape,
            problem: Cell::new(None),
        }
    }

    /// The root value (node 0).
    pub fn root(&'a self) -> ValueRef<'a> {
        ValueRef {
            doc: self,
            index: 0,
        }
    }

    fn record(&self, problem: Problem) {
        let first = self.problem.take();
        self.problem.set(Some(first.unwrap_or(problem)));
    }

    /// The first problem met while reading, as a sentence naming the JSON
    /// Pointer of the value (RFC 6901) and the types expected and found,
    /// for example `at "/spec/hostPID": expected a boolean, found a
    /// string`; `None` when every value read had the type it was read as.
    pub fn problem(&self) -> Option<String> {
        let problem = self.problem.take();
        self.problem.set(problem.clone());
        Some(match problem? {
            Problem::Type {
                node,
                expected,
                found,
            } => {
                let pointer =
                    pointer_of(&self.tape, node).unwrap_or_else(|| format!("node {node}"));
                format!("at \"{pointer}\": expected {expected}, found {found}")
            }
            Problem::Malformed(message) => format!("malformed tape: {message}"),
        })
    }
}

/// The JSON Pointer of node `target`, found by descending from the root
/// into the child whose subtree holds it; `None` on a malformed tape.
fn pointer_of(tape: &Tape<'_>, target: u32) -> Option<String> {
    let mut pointer = String::new();
    let mut at = 0;
    while at != target {
        let (len, is_object) = match tape.node(at).ok()? {
            Node::Array { len, .. } => (len, false),
            Node::Object { len, .. } => (len, true),
            _ => return None,
        };
        let mut child = at + 1;
        let mut found = false;
        for position in 0..len {
            let end = tape.next(child).ok()?;
            if target < end {
                pointer.push('/');
                if is_object {
                    let key = std::str::from_utf8(tape.key(child).ok()?).ok()?;
                    pointer.push_str(&escape_pointer_token(key));
                } else {
                    pointer.push_str(&position.to_string());
                }
                at = child;
                found = true;
                break;
            }
            child = end;
        }
        if !found {
            return None;
        }
    }
    Some(pointer)
}

/// Words for a node's type in problems: `null`, `a boolean`, ...
fn type_name(node: &Node<'_>) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Bool(_) => "a boolean",
        Node::UInt(_) | Node::Int(_) | Node::Float(_) => "a number",
        Node::String(_) => "a string",
        Node::Array { .. } => "an array",
        Node::Object { .. } => "an object",
    }
}

/// One JSON value of a [`Document`], read in place.
#[derive(Clone, Copy)]
pub struct ValueRef<'a> {
    doc: &'a Document<'a>,
    index: u32,
}

impl std::fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValueRef(node {})", self.index)
    }
}

impl<'a> ValueRef<'a> {
    /// The node's index in the tape (pre-order; the root is 0).
    pub fn index(self) -> u32 {
        self.index
    }

    fn node(self) -> Option<Node<'a>> {
        match self.doc.tape.node(self.index) {
            Ok(node) => Some(node),
            Err(error) => {
                self.doc.record(Problem::Malformed(error.0));
                None
            }
        }
    }

    fn mismatch(self, expected: &'static str, node: &Node<'_>) {
        self.doc.record(Problem::Type {
            node: self.index,
            expected,
            found: type_name(node),
        });
    }

    fn at(self, index: u32) -> ValueRef<'a> {
        ValueRef {
            doc: self.doc,
            index,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(self) -> bool {
        self.doc.tape.tag(self.index) == Ok(tag::NULL)
    }

    /// Whether the value is an object.
    pub fn is_object(self) -> bool {
        self.doc.tape.tag(self.index) == Ok(tag::OBJECT)
    }

    /// The member `key` of this object; `None` when it is absent or `null`.
    /// Reading a member of anything but an object (or `null`) is a type
    /// problem. Keys are compared as bytes; the first equal key wins.
    pub fn get(self, key: &str) -> Option<ValueRef<'a>> {
        let tape = &self.doc.tape;
        match tape.member(self.index, key.as_bytes()) {
            Ok(Some(index)) => match tape.tag(index) {
                Ok(tag::NULL) => None,
                Ok(_) => Some(self.at(index)),
                Err(error) => {
                    self.doc.record(Problem::Malformed(error.0));
                    None
                }
            },
            Ok(None) => None,
            // Not an object: `null` reads as absent, anything else is a
            // type problem (or the tape is malformed).
            Err(error) => {
                match self.node() {
                    Some(Node::Null) | None => {}
                    Some(Node::Object { .. }) => self.doc.record(Problem::Malformed(error.0)),
                    Some(other) => self.mismatch("an object", &other),
                }
                None
            }
        }
    }

    /// Whether this object has the member `key` with a value that is not
    /// `null`.
    pub fn contains_key(self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The string; `None` (and a type problem) for anything else.
    pub fn as_str(self) -> Option<&'a str> {
        match self.node()? {
            Node::String(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(error) => {
                    self.doc.record(Problem::Malformed(format!(
                        "node {} is not UTF-8: {error}",
                        self.index
                    )));
                    None
                }
            },
            other => {
                self.mismatch("a string", &other);
                None
            }
        }
    }

    /// The boolean; `None` (and a type problem) for anything else.
    pub fn as_bool(self) -> Option<bool> {
        match self.doc.tape.tag(self.index) {
            Ok(tag::TRUE) => return Some(true),
            Ok(tag::FALSE) => return Some(false),
            _ => {}
        }
        match self.node()? {
            Node::Bool(value) => Some(value),
            other => {
                self.mismatch("a boolean", &other);
                None
            }
        }
    }

    /// The integer, if it fits an `i64`; `None` (and a type problem) for
    /// anything else, fractional numbers included (as serde's `i64`).
    pub fn as_i64(self) -> Option<i64> {
        match self.node()? {
            Node::Int(value) => Some(value),
            Node::UInt(value) if i64::try_from(value).is_ok() => Some(value as i64),
            other => {
                self.mismatch("an integer", &other);
                None
            }
        }
    }

    /// This value if it is an object; `None` (and a type problem) for
    /// anything else, `null` included.
    pub fn as_object(self) -> Option<ValueRef<'a>> {
        if self.is_object() {
            return Some(self);
        }
        match self.node()? {
            Node::Object { .. } => Some(self),
            other => {
                self.mismatch("an object", &other);
                None
            }
        }
    }

    /// The elements of this array; none when it is `null`, and none (with a
    /// type problem) when it is anything else.
    pub fn elements(self) -> Elements<'a> {
        let left = match self.node() {
            Some(Node::Array { len, .. }) => len,
            Some(Node::Null) | None => 0,
            Some(other) => {
                self.mismatch("an array", &other);
                0
            }
        };
        Elements {
            value: self.at(self.index + 1),
            left,
        }
    }

    /// The members of this object in the tape's order (the document's);
    /// none when it is `null`, and none (with a type problem) when it is
    /// anything else. `null` members are included.
    pub fn members(self) -> Members<'a> {
        let left = match self.node() {
            Some(Node::Object { len, .. }) => len,
            Some(Node::Null) | None => 0,
            Some(other) => {
                self.mismatch("an object", &other);
                0
            }
        };
        Members {
            elements: Elements {
                value: self.at(self.index + 1),
                left,
            },
        }
    }

    /// Number of elements or members; 0 for anything else.
    pub fn len(self) -> u32 {
        match self.node() {
            Some(Node::Array { len, .. } | Node::Object { len, .. }) => len,
            _ => 0,
        }
    }

    /// Whether [`ValueRef::len`] is 0.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The value as a `serde_json::Value` (a copy; for patches and
    /// messages that need the JSON). `Null` on a malformed tape, with the
    /// problem recorded.
    pub fn to_json(self) -> serde_json::Value {
        match self.doc.tape.deserialize_at(self.index) {
            Ok(value) => value,
            Err(error) => {
                self.doc.record(Problem::Malformed(error.0));
                serde_json::Value::Null
            }
        }
    }

    /// The string member `key`; `None` when absent or `null`.
    pub fn str_field(self, key: &str) -> Option<&'a str> {
        self.get(key)?.as_str()
    }

    /// The string member `key`, or `""` when absent or `null`.
    pub fn text_field(self, key: &str) -> &'a str {
        self.str_field(key).unwrap_or_default()
    }

    /// The boolean member `key`; `None` when absent or `null`.
    pub fn bool_field(self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    /// The integer member `key`; `None` when absent or `null`.
    pub fn i64_field(self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }

    /// The object member `key` as the view `V`; `None` when absent or
    /// `null`.
    pub fn view_field<V: View<'a>>(self, key: &str) -> Option<V> {
        self.get(key)?.as_object().map(V::from_object)
    }

    /// The array member `key` as a list of views `V` (empty when absent
    /// or `null`).
    pub fn list_field<V: View<'a>>(self, key: &str) -> List<'a, V> {
        List {
            elements: self.get(key).map(ValueRef::elements).unwrap_or(Elements {
                value: self,
                left: 0,
            }),
            view: PhantomData,
        }
    }

    /// The array-of-strings member `key`; `None` when absent or `null`.
    pub fn strings_field(self, key: &str) -> Option<Strings<'a>> {
        let value = self.get(key)?;
        let _ = value.elements();
        Some(Strings(value))
    }

    /// The object-of-strings member `key` (labels, annotations); empty when
    /// absent or `null`.
    pub fn string_map_field(self, key: &str) -> StringMap<'a> {
        StringMap(self.get(key).and_then(ValueRef::as_object))
    }
}

/// The elements of an array, in order.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    value: ValueRef<'a>,
    left: u32,
}

impl<'a> Iterator for Elements<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.left == 0 {
            return None;
        }
        let current = self.value;
        match current.doc.tape.next(current.index) {
            Ok(next) => {
                self.value.index = next;
                self.left -= 1;
            }
            Err(error) => {
                current.doc.record(Problem::Malformed(error.0));
                self.left = 0;
                return None;
            }
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// The members of an object, in order: each key and its value.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    elements: Elements<'a>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let value = self.elements.next()?;
        let key = match value.doc.tape.key(value.index) {
            Ok(bytes) => std::str::from_utf8(bytes).ok(),
            Err(_) => None,
        };
        match key {
            Some(key) => Some((key, value)),
            None => {
                value.doc.record(Problem::Malformed(format!(
                    "node {} has no UTF-8 key",
                    value.index
                )));
                self.elements.left = 0;
                None
            }
        }
    }
}

/// A typed view over an object value (a `Container`, a `SecurityContext`,
/// ...): what [`ValueRef::view_field`] and [`List`] build.
pub trait View<'a>: Copy {
    /// The view of `value`, which is an object.
    fn from_object(value: ValueRef<'a>) -> Self;
}

/// An array of objects, each read as the view `V`; an element that is not
/// an object is skipped with a type problem.
#[derive(Debug, Clone)]
pub struct List<'a, V> {
    elements: Elements<'a>,
    view: PhantomData<V>,
}

impl<'a, V: View<'a>> Iterator for List<'a, V> {
    type Item = V;

    fn next(&mut self) -> Option<V> {
        loop {
            let value = self.elements.next()?;
            if let Some(object) = value.as_object() {
                return Some(V::from_object(object));
            }
        }
    }
}

/// An array of strings (`capabilities.add`, a TLS entry's `hosts`).
#[derive(Debug, Clone, Copy)]
pub struct Strings<'a>(ValueRef<'a>);

impl<'a> Strings<'a> {
    /// The strings in order; an element that is not a string reads as `""`
    /// with a type problem (so indices stay those of the array).
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        self.0.elements().map(|v| v.as_str().unwrap_or_default())
    }

    /// Whether one of the strings is `value`.
    pub fn contains(self, value: &str) -> bool {
        self.iter().any(|s| s == value)
    }

    /// Number of elements.
    pub fn len(self) -> u32 {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }
}

/// An object whose values are strings (`metadata.labels`,
/// `metadata.annotations`); empty when absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringMap<'a>(Option<ValueRef<'a>>);

impl<'a> StringMap<'a> {
    /// The value of `key`; `None` when absent or `null`.
    pub fn get(self, key: &str) -> Option<&'a str> {
        self.0?.str_field(key)
    }

    /// Whether `key` is present and not `null`.
    pub fn contains_key(self, key: &str) -> bool {
        self.0.is_some_and(|map| map.contains_key(key))
    }

    /// Whether the object is present (even if empty).
    pub fn is_present(self) -> bool {
        self.0.is_some()
    }

    /// The members in the document's order, without `null` ones; a value
    /// that is not a string is skipped with a type problem.
    pub fn iter(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .into_iter()
            .flat_map(ValueRef::members)
            .filter(|(_, value)| !value.is_null())
            .filter_map(|(key, value)| Some((key, value.as_str()?)))
    }
}
