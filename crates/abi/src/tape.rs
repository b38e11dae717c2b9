//! ABI version 2's request encoding: the host turns each JSON value (the
//! settings, the object, the old object) into a *tape*, a flat array of
//! fixed-size typed nodes in pre-order with subtree-end indexes, interned
//! keys and one string area, that the guest reads in place: no parsing, and
//! skipping a subtree the policy does not read is one jump.
//!
//! The byte layout is specified in `docs/abi.md` ("ABI version 2"); this
//! module is its reference implementation for both sides: [`encode`] and
//! [`request`] are what the host writes, [`RequestView`] and [`Tape`] what
//! the guest reads, and [`Tape::deserialize`] a serde `Deserializer` over a
//! tape, so that the SDK's typed views (serde structs) decode from it as
//! they did from JSON. Reading never panics and never trusts a length: a
//! malformed tape is a [`TapeError`].

use std::collections::HashMap;
use std::fmt;

use serde::de;
use serde_json::Value;

use crate::{Operation, Request};

/// The first four bytes of a version 2 request: `WVT2`.
pub const MAGIC: [u8; 4] = *b"WVT2";
/// Bytes of the request header.
pub const HEADER_LEN: usize = 32;
/// Bytes of a section's header.
pub const SECTION_HEADER_LEN: usize = 16;
/// Bytes of one node: four little-endian `u32` words.
pub const NODE_LEN: usize = 16;
/// Bytes of one key table entry: offset and length, two `u32`.
pub const KEY_LEN: usize = 8;
/// The key word of a node that is not an object member.
pub const NO_KEY: u32 = u32::MAX;

mod de_impl;

pub use de_impl::MAX_DEPTH;

/// Node tags (the low byte of a node's first word).
pub mod tag {
    /// JSON `null`.
    pub const NULL: u8 = 0;
    /// JSON `false`.
    pub const FALSE: u8 = 1;
    /// JSON `true`.
    pub const TRUE: u8 = 2;
    /// A non-negative integer: words 2 and 3 are a little-endian `u64`.
    pub const UINT: u8 = 3;
    /// A negative integer: words 2 and 3 are a little-endian `i64`.
    pub const INT: u8 = 4;
    /// Any other number: words 2 and 3 are the bits of a little-endian `f64`.
    pub const FLOAT: u8 = 5;
    /// A string: word 2 its offset in the string area, word 3 its length in bytes (UTF-8).
    pub const STRING: u8 = 6;
    /// An array: word 2 its number of elements, word 3 the index of the node after its subtree.
    pub const ARRAY: u8 = 7;
    /// An object: word 2 its number of members, word 3 the index of the node after its subtree.
    pub const OBJECT: u8 = 8;
}

/// Numeric code of an [`Operation`] in the request header.
pub fn operation_code(operation: Operation) -> u32 {
    match operation {
        Operation::Create => 0,
        Operation::Update => 1,
        Operation::Delete => 2,
        Operation::Connect => 3,
    }
}

fn operation_of(code: u32) -> Result<Operation, TapeError> {
    Ok(match code {
        0 => Operation::Create,
        1 => Operation::Update,
        2 => Operation::Delete,
        3 => Operation::Connect,
        _ => return Err(TapeError(format!("unknown operation code {code}"))),
    })
}

/// A malformed tape or request, or a value that does not fit the type it is
/// decoded into; the message says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeError(pub String);

impl fmt::Display for TapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TapeError {}

impl de::Error for TapeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TapeError(msg.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        TapeError(format!(
            "invalid type: {}, expected {expected}",
            unexpected_text(&unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        TapeError(format!(
            "invalid value: {}, expected {expected}",
            unexpected_text(&unexpected)
        ))
    }
}

/// serde's words for an unexpected value, as its `Display` writes them,
/// except that a floating-point number is not written out: serde's own
/// formatting would link Rust's float printing into every guest module.
fn unexpected_text(unexpected: &de::Unexpected<'_>) -> String {
    use de::Unexpected as U;
    match unexpected {
        U::Bool(b) => format!("boolean `{b}`"),
        U::Unsigned(n) => format!("integer `{n}`"),
        U::Signed(n) => format!("integer `{n}`"),
        U::Float(_) => "floating point number".to_owned(),
        U::Char(c) => format!("character `{c}`"),
        U::Str(s) => format!("string {s:?}"),
        U::Bytes(_) => "byte array".to_owned(),
        U::Unit => "unit value".to_owned(),
        U::Option => "Option value".to_owned(),
        U::NewtypeStruct => "newtype struct".to_owned(),
        U::Seq => "sequence".to_owned(),
        U::Map => "map".to_owned(),
        U::Enum => "enum".to_owned(),
        U::UnitVariant => "unit variant".to_owned(),
        U::NewtypeVariant => "newtype variant".to_owned(),
        U::TupleVariant => "tuple variant".to_owned(),
        U::StructVariant => "struct variant".to_owned(),
        U::Other(other) => (*other).to_owned(),
    }
}

// ---------------------------------------------------------------- encoding

struct Encoder<'v> {
    nodes: Vec<[u32; 4]>,
    keys: Vec<(u32, u32)>,
    key_ids: HashMap<&'v str, u32>,
    strings: Vec<u8>,
}

impl<'v> Encoder<'v> {
    fn string(&mut self, text: &str) -> (u32, u32) {
        let offset = self.strings.len() as u32;
        self.strings.extend_from_slice(text.as_bytes());
        (offset, text.len() as u32)
    }

    fn key(&mut self, key: &'v str) -> u32 {
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = self.keys.len() as u32;
        let entry = self.string(key);
        self.keys.push(entry);
        self.key_ids.insert(key, id);
        id
    }

    fn value(&mut self, key: u32, value: &'v Value) {
        let index = self.nodes.len();
        let node = match value {
            Value::Null => [tag::NULL as u32, key, 0, 0],
            Value::Bool(false) => [tag::FALSE as u32, key, 0, 0],
            Value::Bool(true) => [tag::TRUE as u32, key, 0, 0],
            Value::Number(number) => {
                let (tag, bits) = if let Some(n) = number.as_u64() {
                    (tag::UINT, n)
                } else if let Some(n) = number.as_i64() {
                    (tag::INT, n as u64)
                } else {
                    (tag::FLOAT, number.as_f64().unwrap_or(f64::NAN).to_bits())
                };
                [tag as u32, key, bits as u32, (bits >> 32) as u32]
            }
            Value::String(text) => {
                let (offset, len) = self.string(text);
                [tag::STRING as u32, key, offset, len]
            }
            Value::Array(items) => {
                self.nodes
                    .push([tag::ARRAY as u32, key, items.len() as u32, 0]);
                for item in items {
                    self.value(NO_KEY, item);
                }
                let end = self.nodes.len() as u32;
                self.nodes[index][3] = end;
                return;
            }
            Value::Object(members) => {
                self.nodes
                    .push([tag::OBJECT as u32, key, members.len() as u32, 0]);
                for (name, member) in members {
                    let id = self.key(name);
                    self.value(id, member);
                }
                let end = self.nodes.len() as u32;
                self.nodes[index][3] = end;
                return;
            }
        };
        self.nodes.push(node);
    }
}

/// Encodes one JSON value as a tape section (`docs/abi.md`): header, nodes
/// in pre-order, key table, string area, padded to a multiple of 8 bytes.
/// Keys are interned (each distinct key is stored once); string values are
/// stored as they are. Panics only if the value needs more than 4 GiB.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut encoder = Encoder {
        nodes: Vec::new(),
        keys: Vec::new(),
        key_ids: HashMap::new(),
        strings: Vec::new(),
    };
    encoder.value(NO_KEY, value);
    let Encoder {
        nodes,
        keys,
        strings,
        ..
    } = encoder;
    let len = SECTION_HEADER_LEN + nodes.len() * NODE_LEN + keys.len() * KEY_LEN + strings.len();
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    for word in [
        nodes.len() as u32,
        keys.len() as u32,
        u32::try_from(strings.len()).expect("a tape's strings fit in 4 GiB"),
        0,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for node in &nodes {
        for word in node {
            out.extend_from_slice(&word.to_le_bytes());
        }
    }
    for (offset, len) in &keys {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(&strings);
    out.resize(len.next_multiple_of(8), 0);
    out
}

/// Assembles a version 2 request from encoded sections ([`encode`]): the
/// 32-byte header (magic, operation, then offset and length of the
/// settings, object and old-object sections; `0, 0` when there is no old
/// object), then the sections in that order.
pub fn request(
    operation: Operation,
    settings: &[u8],
    object: &[u8],
    old_object: Option<&[u8]>,
) -> Vec<u8> {
    let old = old_object.unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + settings.len() + object.len() + old.len());
    let settings_at = HEADER_LEN;
    let object_at = settings_at + settings.len();
    let old_at = if old_object.is_some() {
        object_at + object.len()
    } else {
        0
    };
    out.extend_from_slice(&MAGIC);
    for word in [
        operation_code(operation),
        settings_at as u32,
        settings.len() as u32,
        object_at as u32,
        object.len() as u32,
        old_at as u32,
        old.len() as u32,
    ] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(settings);
    out.extend_from_slice(object);
    out.extend_from_slice(old);
    out
}

/// Version 2 requests for several policies on one object, in one buffer
/// (a library module's input, docs/abi.md "Library modules"): every
/// request's 32-byte header first, one per entry of `settings`, then the
/// settings sections in that order, then the object and the old object
/// once. Each header's offsets count from the header itself, so the bytes
/// from a header to the end of the buffer read as a request of its own
/// ([`RequestView::parse`] sees what it sees in [`request`]'s output for
/// the same sections). Returns the buffer and where each request starts.
pub fn requests(
    operation: Operation,
    settings: &[&[u8]],
    object: &[u8],
    old_object: Option<&[u8]>,
) -> (Vec<u8>, Vec<usize>) {
    let old = old_object.unwrap_or_default();
    let headers = settings.len() * HEADER_LEN;
    let settings_len: usize = settings.iter().map(|s| s.len()).sum();
    let object_at = headers + settings_len;
    let old_at = object_at + object.len();
    let mut out = Vec::with_capacity(old_at + old.len());
    let mut starts = Vec::with_capacity(settings.len());
    let mut settings_at = headers;
    for (index, section) in settings.iter().enumerate() {
        let start = index * HEADER_LEN;
        let from = |at: usize| (at - start) as u32;
        starts.push(start);
        out.extend_from_slice(&MAGIC);
        for word in [
            operation_code(operation),
            from(settings_at),
            section.len() as u32,
            from(object_at),
            object.len() as u32,
            if old_object.is_some() {
                from(old_at)
            } else {
                0
            },
            old.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        settings_at += section.len();
    }
    for section in settings {
        out.extend_from_slice(section);
    }
    out.extend_from_slice(object);
    out.extend_from_slice(old);
    (out, starts)
}

/// Whether `bytes` start like a version 2 request (its magic), which no JSON
/// text does.
pub fn is_request(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// A version 2 request made from the JSON of a version 1 request
/// (`{"operation", "settings", "object"}`, with an optional `oldObject`):
/// what the engine does when handed JSON for a version 2 module.
pub fn request_from_json(json: &Value) -> Result<Vec<u8>, TapeError> {
    let operation = match json.get("operation") {
        None => Operation::Create,
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| TapeError(format!("operation: {e}")))?,
    };
    let empty = Value::Object(Default::default());
    let settings = encode(json.get("settings").unwrap_or(&empty));
    let object = encode(
        json.get("object")
            .ok_or_else(|| TapeError("the request has no object".to_owned()))?,
    );
    let old = json.get("oldObject").filter(|v| !v.is_null()).map(encode);
    Ok(request(operation, &settings, &object, old.as_deref()))
}

// ---------------------------------------------------------------- reading

/// The section at `offset..offset + len` of a request, `None` for `0, 0`.
fn section(bytes: &[u8], offset: u32, len: u32) -> Result<Option<Tape<'_>>, TapeError> {
    if offset == 0 && len == 0 {
        return Ok(None);
    }
    let end = u64::from(offset) + u64::from(len);
    match bytes.get(offset as usize..) {
        Some(rest) if end <= bytes.len() as u64 => Tape::parse(&rest[..len as usize]).map(Some),
        _ => Err(outside(offset, end, bytes.len())),
    }
}

#[cold]
#[inline(never)]
fn not_a_request(bytes: &[u8]) -> TapeError {
    if is_request(bytes) {
        TapeError(format!(
            "the tape ends before byte {} (a request header is {HEADER_LEN} bytes)",
            bytes.len()
        ))
    } else {
        TapeError("not an ABI version 2 request (no WVT2 magic)".to_owned())
    }
}

#[cold]
#[inline(never)]
fn missing(what: &str) -> TapeError {
    TapeError(format!("the request has no {what} section"))
}

#[cold]
#[inline(never)]
fn outside(offset: u32, end: u64, len: usize) -> TapeError {
    TapeError(format!(
        "section at {offset}..{end} lies outside the {len}-byte request"
    ))
}

#[cold]
#[inline(never)]
fn no_node(index: u32, count: u32) -> TapeError {
    TapeError(format!(
        "node {index} does not exist (the tape has {count})"
    ))
}

#[cold]
#[inline(never)]
fn unknown_tag(index: u32, word: u32) -> TapeError {
    TapeError(format!("node {index} has unknown tag {word}"))
}

#[cold]
#[inline(never)]
fn not_an_object(index: u32) -> TapeError {
    TapeError(format!("node {index} is not an object"))
}

#[cold]
#[inline(never)]
fn no_key(child: u32, id: u32) -> TapeError {
    TapeError(format!("node {child} names key {id}, which does not exist"))
}

#[cold]
#[inline(never)]
fn bad_end(child: u32, end: u32, count: u32) -> TapeError {
    TapeError(format!(
        "node {child} ends at {end}, outside {}..={count}",
        child + 1
    ))
}

#[cold]
#[inline(never)]
fn string_outside(offset: u32, len: u32, area: usize) -> TapeError {
    TapeError(format!(
        "string at {offset}+{len} lies outside the {area}-byte string area"
    ))
}

#[cold]
#[inline(never)]
fn does_not_fit(count: u32, keys: u32, strings: u32, len: usize) -> TapeError {
    if len < SECTION_HEADER_LEN {
        return TapeError(format!(
            "the tape ends before byte {len} (a section header is {SECTION_HEADER_LEN} bytes)"
        ));
    }
    TapeError(format!(
        "a tape of {count} nodes, {keys} keys and {strings} string bytes does not fit its {len} bytes"
    ))
}

/// A version 2 request as the guest sees it: the operation and the tapes.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The admission operation.
    pub operation: Operation,
    /// The policy's settings.
    pub settings: Tape<'a>,
    /// The object.
    pub object: Tape<'a>,
    /// The old object (UPDATE and DELETE in admission), if the host sent one.
    pub old_object: Option<Tape<'a>>,
}

impl<'a> RequestView<'a> {
    /// Reads the header of a request and the sections it points to. Errors
    /// when the magic is wrong or a section lies outside `bytes`.
    ///
    /// Every policy evaluation starts here, so the header is read as one
    /// array (no check per word) and the errors are built out of line.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, TapeError> {
        let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(not_a_request(bytes));
        };
        if header[..4] != MAGIC {
            return Err(not_a_request(bytes));
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        Ok(RequestView {
            operation: operation_of(word(4))?,
            settings: section(bytes, word(8), word(12))?.ok_or_else(|| missing("settings"))?,
            object: section(bytes, word(16), word(20))?.ok_or_else(|| missing("object"))?,
            old_object: section(bytes, word(24), word(28))?,
        })
    }

    /// Decodes the request into the SDK's [`Request`] with typed settings
    /// and object views.
    pub fn decode<S, O>(&self) -> Result<Request<S, O>, TapeError>
    where
        S: de::Deserialize<'a>,
        O: de::Deserialize<'a>,
    {
        Ok(Request {
            operation: self.operation,
            settings: self
                .settings
                .deserialize()
                .map_err(|e| TapeError(format!("settings: {e}")))?,
            object: self
                .object
                .deserialize()
                .map_err(|e| TapeError(format!("object: {e}")))?,
        })
    }
}

/// One encoded JSON value, read in place.
#[derive(Debug, Clone, Copy)]
pub struct Tape<'a> {
    nodes: &'a [u8],
    count: u32,
    keys: &'a [u8],
    strings: &'a [u8],
}

/// A node of a [`Tape`], decoded from its 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// Another number.
    Float(f64),
    /// A string's bytes (UTF-8, checked when read as text).
    String(&'a [u8]),
    /// An array: its element count and the index after its subtree.
    Array {
        /// Number of elements.
        len: u32,
        /// Index of the first node after the array's subtree.
        end: u32,
    },
    /// An object: its member count and the index after its subtree.
    Object {
        /// Number of members.
        len: u32,
        /// Index of the first node after the object's subtree.
        end: u32,
    },
}

impl<'a> Tape<'a> {
    /// Reads a section's header and checks that its parts lie inside it.
    pub fn parse(section: &'a [u8]) -> Result<Self, TapeError> {
        let Some(header) = section.first_chunk::<SECTION_HEADER_LEN>() else {
            return Err(does_not_fit(0, 0, 0, section.len()));
        };
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (count, keys, strings) = (word(0), word(4), word(8));
        // In u64 nothing overflows: each part is at most 2^32 entries of at
        // most 16 bytes.
        let keys_at = SECTION_HEADER_LEN as u64 + u64::from(count) * NODE_LEN as u64;
        let strings_at = keys_at + u64::from(keys) * KEY_LEN as u64;
        let end = strings_at + u64::from(strings);
        if end > section.len() as u64 || count == 0 {
            return Err(does_not_fit(count, keys, strings, section.len()));
        }
        let (keys_at, strings_at, end) = (keys_at as usize, strings_at as usize, end as usize);
        let (nodes, rest) = section[SECTION_HEADER_LEN..end].split_at(keys_at - SECTION_HEADER_LEN);
        let (keys, strings) = rest.split_at(strings_at - keys_at);
        Ok(Tape {
            nodes,
            count,
            keys,
            strings,
        })
    }

    /// Number of nodes.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether the tape has no nodes (never true for a parsed tape).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn words(&self, index: u32) -> Result<[u32; 4], TapeError> {
        let at = index as usize * NODE_LEN;
        match self
            .nodes
            .get(at..)
            .and_then(<[u8]>::first_chunk::<NODE_LEN>)
        {
            Some(b) => Ok([
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
                u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
                u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
            ]),
            None => Err(no_node(index, self.count)),
        }
    }

    fn bytes(&self, offset: u32, len: u32) -> Result<&'a [u8], TapeError> {
        let end = u64::from(offset) + u64::from(len);
        match self.strings.get(offset as usize..) {
            Some(rest) if end <= self.strings.len() as u64 => Ok(&rest[..len as usize]),
            _ => Err(string_outside(offset, len, self.strings.len())),
        }
    }

    /// The key table's entry `id`: its offset and length in the string area.
    fn key_entry(&self, id: u32) -> Option<(u32, u32)> {
        let entry = self
            .keys
            .get(id as usize * KEY_LEN..)?
            .first_chunk::<KEY_LEN>()?;
        Some((
            u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]),
            u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]),
        ))
    }

    /// The node at `index` (the root is 0).
    pub fn node(&self, index: u32) -> Result<Node<'a>, TapeError> {
        let [w0, _, w2, w3] = self.words(index)?;
        let wide = u64::from(w2) | (u64::from(w3) << 32);
        let container = |end: u32| {
            if end <= index || end > self.count {
                Err(bad_end(index, end, self.count))
            } else {
                Ok(end)
            }
        };
        Ok(match w0 {
            0 => Node::Null,
            1 => Node::Bool(false),
            2 => Node::Bool(true),
            3 => Node::UInt(wide),
            4 => Node::Int(wide as i64),
            5 => Node::Float(f64::from_bits(wide)),
            6 => Node::String(self.bytes(w2, w3)?),
            7 => Node::Array {
                len: w2,
                end: container(w3)?,
            },
            8 => Node::Object {
                len: w2,
                end: container(w3)?,
            },
            other => return Err(unknown_tag(index, other)),
        })
    }

    /// Number of distinct keys in the key table: the key ids
    /// ([`Tape::key_id`]) are `0..key_count()`.
    pub fn key_count(&self) -> u32 {
        (self.keys.len() / KEY_LEN) as u32
    }

    /// The key id of the object member at `index`: its entry in the key
    /// table, the same for every member with the same key (keys are
    /// interned), so a reader can convert each distinct key once, indexed
    /// by id. Errors when the node does not exist or names an entry
    /// outside the table.
    pub fn key_id(&self, index: u32) -> Result<u32, TapeError> {
        let id = self.words(index)?[1];
        if id >= self.key_count() {
            return Err(no_key(index, id));
        }
        Ok(id)
    }

    /// The key bytes of the object member at `index`.
    pub fn key(&self, index: u32) -> Result<&'a [u8], TapeError> {
        let id = self.words(index)?[1];
        let Some((offset, len)) = self.key_entry(id) else {
            return Err(no_key(index, id));
        };
        self.bytes(offset, len)
    }

    /// The type tag of the node at `index` (see [`tag`]), without decoding
    /// the rest of the node.
    pub fn tag(&self, index: u32) -> Result<u8, TapeError> {
        let at = index as usize * NODE_LEN;
        let Some(b) = self.nodes.get(at..).and_then(<[u8]>::first_chunk::<4>) else {
            return Err(no_node(index, self.count));
        };
        let word = u32::from_le_bytes(*b);
        match u8::try_from(word) {
            Ok(tag) if tag <= tag::OBJECT => Ok(tag),
            _ => Err(unknown_tag(index, word)),
        }
    }

    /// The member `key` of the object at node `index`: the index of its
    /// value node, or `None` when the object has no such key (the first
    /// equal key wins). Errors when node `index` is not an object or the
    /// tape is malformed. This is the lookup views do most: it reads each
    /// member's key length before its bytes and skips each value's
    /// subtree in one step.
    pub fn member(&self, index: u32, key: &[u8]) -> Result<Option<u32>, TapeError> {
        let [tag, _, len, _] = self.words(index)?;
        if tag != u32::from(tag::OBJECT) {
            return Err(not_an_object(index));
        }
        let mut child = index + 1;
        for _ in 0..len {
            let [child_tag, id, _, end] = self.words(child)?;
            let Some((offset, key_len)) = self.key_entry(id) else {
                return Err(no_key(child, id));
            };
            if key_len as usize == key.len() && self.bytes(offset, key_len)? == key {
                return Ok(Some(child));
            }
            child = if child_tag == u32::from(tag::ARRAY) || child_tag == u32::from(tag::OBJECT) {
                if end <= child || end > self.count {
                    return Err(bad_end(child, end, self.count));
                }
                end
            } else {
                child + 1
            };
        }
        Ok(None)
    }

    /// Index of the node after the subtree rooted at `index`.
    pub fn next(&self, index: u32) -> Result<u32, TapeError> {
        Ok(match self.node(index)? {
            Node::Array { end, .. } | Node::Object { end, .. } => end,
            _ => index + 1,
        })
    }

    /// Decodes the whole tape (from the root) into `T`, as serde would
    /// from the JSON it was made of.
    pub fn deserialize<T: de::Deserialize<'a>>(&self) -> Result<T, TapeError> {
        T::deserialize(de_impl::At::root(*self))
    }

    /// Decodes the subtree at node `index` into `T`, as serde would from
    /// the JSON it was made of (nesting counted from that node).
    pub fn deserialize_at<T: de::Deserialize<'a>>(&self, index: u32) -> Result<T, TapeError> {
        T::deserialize(de_impl::At::new(*self, index))
    }

    /// The tape as a JSON value again (tests, tools).
    pub fn to_value(&self) -> Result<Value, TapeError> {
        self.deserialize()
    }
}

#[cfg(test)]
mod tests;
