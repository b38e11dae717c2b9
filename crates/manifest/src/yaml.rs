//! Decoding one YAML document into a `serde_json::Value`, straight from the
//! events of yaml-rust2's parser (the parser `locate` already uses), without
//! building a YAML tree first: about 30% less time than serde_yaml on the
//! generated corpus (docs/performance.md, "Reading").
//!
//! serde_yaml (libyaml) stays the reference. A document this decoder refuses
//! is decoded again by serde_yaml, whose answer stands: its error message and
//! line are the ones users saw before, and what libyaml accepts beyond the
//! YAML 1.2 grammar is still accepted (the gatekeeper-library has a
//! double-quoted scalar continued at its key's indentation, which the spec
//! forbids and yaml-rust2 refuses; Go's YAML libraries, and so kubectl,
//! accept it). What this decoder accepts gives the value serde_yaml gave,
//! proved on every document of `testdata/`, `../shared/corpus` and the
//! generated 50,000-resource corpus (the `same_json_as_serde_yaml` test),
//! and by proptests of scalars and whole documents, with two exceptions
//! found that way:
//!
//! - A block scalar of blank lines only (`a: |` and nothing under it):
//!   yaml-rust2 gives `"\n"` where the spec and libyaml give `""`. The
//!   decoder hands such a document to serde_yaml.
//! - A line holding only a tab inside a block scalar, or a tab right after
//!   its indentation on a blank line: libyaml refuses the document ("found
//!   a tab character where an indentation space is expected"), yaml-rust2
//!   reads it as YAML 1.2 says (the tab line ends the scalar, or is its
//!   content). Such documents are now read where they were errors.
//!
//! - Plain scalars resolve by the YAML 1.2 core schema: `null`, `Null`,
//!   `NULL`, `~` and the empty scalar are null; `true`/`True`/`TRUE` and the
//!   three spellings of false are booleans; integers are decimal without
//!   leading zeros, or `0x`, `0o` and `0b` with an optional sign before the
//!   prefix; floats are what Rust parses as a finite `f64`; `.inf`, `.nan`
//!   and their spellings are refused (JSON has no such numbers). Anything
//!   else, and every quoted or block scalar, is a string.
//! - The core tags `!!bool`, `!!int`, `!!float` and `!!null` force their type
//!   (or fail); `!!str` and other global tags keep the string; local tags
//!   (`!Ref`) are refused, since no JSON value can hold them.
//! - Mapping keys are the scalar's text whatever its type (`1: a` has the key
//!   `"1"`); a key that is a mapping or a sequence is refused, and so is a
//!   key given twice (Kubernetes' strict decoding refuses it too).
//! - Aliases copy their anchor's value; `<<` is an ordinary key, not a merge.
//!
//! Limits, each an error rather than a crash or an unbounded allocation:
//! nesting deeper than [`MAX_DEPTH`], a sequence longer than the run's item
//! limit, and aliases that expand the document to more than
//! [`ALIAS_EXPANSION`] times the nodes its text holds (the "billion laughs").

use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::locate::LineTable;
use crate::strict::Strict;
use crate::strip_location;

/// Collections may nest this deep (serde_yaml's recursion limit).
pub const MAX_DEPTH: usize = 128;

/// Aliases may expand a document to at most this many times the nodes read
/// from its text so far.
pub const ALIAS_EXPANSION: usize = 100;

/// The prefix of the YAML core schema's tags (`!!int` is `tag:yaml.org,2002:int`).
const CORE: &str = "tag:yaml.org,2002:";

/// Why a document could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// 1-based line in the decoded text.
    pub line: usize,
    pub message: String,
    /// Whether the parser refused the text's syntax (rather than the
    /// decoder its meaning).
    pub syntax: bool,
}

/// A collection being built.
enum Frame {
    Seq {
        items: Vec<Value>,
        /// The line it starts on, for the error when it is too long.
        line: usize,
        anchor: usize,
        nodes_before: usize,
        /// Its node in the line table.
        row: usize,
    },
    Map {
        map: Map<String, Value>,
        /// The key whose value comes next, and its line.
        key: Option<(String, usize)>,
        anchor: usize,
        nodes_before: usize,
        row: usize,
    },
}

/// An anchored node, kept for its aliases.
struct Anchored {
    /// The value, or why it has none (a scalar's value is resolved even when
    /// the anchored node is a key, for an alias used as a value).
    value: Result<Value, String>,
    /// The scalar's text, for an alias used as a mapping key.
    text: Option<String>,
    /// Nodes in the value (1 for a scalar).
    nodes: usize,
}

struct Decoder {
    max_items: usize,
    stack: Vec<Frame>,
    /// Indexed by yaml-rust2's anchor id (ids start at 1).
    anchors: Vec<Option<Anchored>>,
    root: Option<Value>,
    lines: LineTable,
    /// Node events read from the text, and nodes built (aliases included).
    events: usize,
    nodes: usize,
}

/// What a node is, for the mapping that may take it as a key.
enum Node {
    Scalar(String),
    Alias(usize),
    Collection(&'static str),
}

/// Decodes the single YAML document in `text` (a piece from
/// [`crate::split`]) with sequences limited to `max_items` items: with
/// [`decode`], or with serde_yaml when the parser refuses the text's syntax
/// (see the module docs). The caller sets serde_yaml's item limit
/// ([`crate::strict::with_max_items`]).
///
/// What [`decode`] refuses for its meaning (a duplicate key, a local tag,
/// `.nan`, a limit) serde_yaml refuses too, so it is not asked again. Nor is
/// it asked about a text whose flow collections nest deeper than
/// [`FALLBACK_FLOW_DEPTH`]: libyaml's scanner takes time quadratic in that
/// depth (200,000 `[` took 50 s), and the parser's error stands.
///
/// The line table comes with what [`decode`] decoded; serde_yaml keeps no
/// lines, so its documents are located by parsing them again.
pub fn decode_document(
    text: &str,
    max_items: usize,
) -> Result<(Value, Option<LineTable>), DocumentError> {
    let error = match decode(text, max_items) {
        Ok(Decoded { value, lines }) => return Ok((value, Some(lines))),
        Err(error) => error,
    };
    if !error.syntax || flow_depth(text) > FALLBACK_FLOW_DEPTH {
        return Err(DocumentError {
            line: Some(error.line),
            message: error.message,
        });
    }
    match serde_yaml::from_str::<Strict>(text) {
        Ok(Strict(value)) => Ok((value, None)),
        Err(e) => Err(DocumentError {
            line: e.location().map(|l| l.line()),
            message: strip_location(&e.to_string()).to_owned(),
        }),
    }
}

/// Texts whose flow collections (`[`, `{`) nest deeper than this are not
/// handed to serde_yaml (see [`decode_document`]).
pub const FALLBACK_FLOW_DEPTH: usize = 1000;

/// The deepest nesting of `[` and `{` in `text`, counting every bracket,
/// quoted or not: an upper bound of the flow depth libyaml would see.
fn flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Why a document could not be decoded, by either decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// 1-based line in the decoded text, when known.
    pub line: Option<usize>,
    pub message: String,
}

/// A decoded document and the line of each of its nodes.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    pub value: Value,
    pub lines: LineTable,
}

/// Decodes the single YAML document in `text`, with sequences limited to
/// `max_items` items. A text without content is null.
pub fn decode(text: &str, max_items: usize) -> Result<Decoded, DecodeError> {
    let mut decoder = Decoder {
        max_items,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        lines: LineTable::default(),
        events: 0,
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| DecodeError {
            line: e.marker().line(),
            message: e.info().to_owned(),
            syntax: true,
        })?;
        let line = mark.line();
        match event {
            Event::StreamEnd => {
                return Ok(Decoded {
                    value: decoder.root.take().unwrap_or(Value::Null),
                    lines: decoder.lines,
                });
            }
            Event::DocumentStart if decoder.root.is_some() => {
                let message = "more than one document where one was expected";
                return Err(decoder.error(line, message.into(), 0));
            }
            Event::Scalar(text, style, anchor, tag) => {
                decoder.events += 1;
                if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded)
                    && text.bytes().all(|b| b == b'\n')
                {
                    // yaml-rust2 gives `|` over blank lines "\n" where the
                    // spec (and libyaml) give "": let serde_yaml decode it.
                    return Err(DecodeError {
                        line,
                        message: "a block scalar of blank lines only".into(),
                        syntax: true,
                    });
                }
                let anchored_text = (anchor > 0).then(|| text.clone());
                if decoder.key_expected() {
                    if let Some(text) = anchored_text {
                        let value = scalar(text.clone(), style, tag.as_ref());
                        decoder.anchor(anchor, value, Some(text), 1);
                    }
                    decoder.key(Node::Scalar(text), line)?;
                    continue;
                }
                let value =
                    scalar(text, style, tag.as_ref()).map_err(|m| decoder.error_here(line, m))?;
                if let Some(text) = anchored_text {
                    decoder.anchor(anchor, Ok(value.clone()), Some(text), 1);
                }
                decoder.nodes += 1;
                decoder.row(line, false);
                decoder.value(value)?;
            }
            Event::Alias(id) => {
                decoder.events += 1;
                if decoder.key_expected() {
                    decoder.key(Node::Alias(id), line)?;
                    continue;
                }
                let value = decoder.alias(id).map_err(|m| decoder.error_here(line, m))?;
                decoder.row(line, false);
                decoder.value(value)?;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                decoder.events += 1;
                let is_map = matches!(event, Event::MappingStart(..));
                let what = if is_map { "mapping" } else { "sequence" };
                if decoder.key_expected() {
                    decoder.key(Node::Collection(what), line)?;
                }
                collection_tag(tag.as_ref(), what).map_err(|m| decoder.error_here(line, m))?;
                if decoder.stack.len() == MAX_DEPTH {
                    return Err(decoder.error_here(line, format!(
                        "collections nested more than {MAX_DEPTH} deep (recursion limit exceeded)"
                    )));
                }
                decoder.nodes += 1;
                let nodes_before = decoder.nodes;
                let row = decoder.row(line, is_map);
                decoder.stack.push(if is_map {
                    Frame::Map {
                        map: Map::new(),
                        key: None,
                        anchor,
                        nodes_before,
                        row,
                    }
                } else {
                    Frame::Seq {
                        items: Vec::new(),
                        line,
                        anchor,
                        nodes_before,
                        row,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, nodes_before, row) = match decoder.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        nodes_before,
                        row,
                        ..
                    }) => (Value::Array(items), anchor, nodes_before, row),
                    Some(Frame::Map {
                        map,
                        anchor,
                        nodes_before,
                        row,
                        ..
                    }) => (Value::Object(map), anchor, nodes_before, row),
                    None => continue,
                };
                decoder.lines.end(row);
                if anchor > 0 {
                    let nodes = decoder.nodes - nodes_before + 1;
                    decoder.anchor(anchor, Ok(value.clone()), None, nodes);
                }
                decoder.value(value)?;
            }
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

impl Decoder {
    fn key_expected(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Records a value node starting at `line` in the line table: a mapping's
    /// value under its key's line, anything else under its own.
    fn row(&mut self, line: usize, mapping: bool) -> usize {
        match self.stack.last() {
            Some(Frame::Map {
                key: Some((key, key_line)),
                ..
            }) => self.lines.start(*key_line, Some(key), mapping),
            _ => self.lines.start(line, None, mapping),
        }
    }

    /// Takes a node as the key of the mapping on top of the stack.
    fn key(&mut self, node: Node, line: usize) -> Result<(), DecodeError> {
        let key = match node {
            Node::Scalar(text) => text,
            Node::Alias(id) => {
                let anchored = self.anchored(id).map_err(|m| self.error_here(line, m))?;
                match &anchored.text {
                    Some(text) => text.clone(),
                    None => {
                        let message =
                            "a mapping key must be a string; this alias names a collection";
                        return Err(self.error_here(line, message.into()));
                    }
                }
            }
            Node::Collection(what) => {
                let message = format!("a mapping key must be a string, not a {what}");
                return Err(self.error_here(line, message));
            }
        };
        if let Some(Frame::Map { key: slot, .. }) = self.stack.last_mut() {
            *slot = Some((key, line));
        }
        Ok(())
    }

    /// Places a finished node: in its collection, or as the document.
    fn value(&mut self, value: Value) -> Result<(), DecodeError> {
        let error = match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                return Ok(());
            }
            Some(Frame::Seq { items, line, .. }) => {
                if items.len() < self.max_items {
                    items.push(value);
                    return Ok(());
                }
                let message = format!(
                    "a sequence of more than {} items (--max-list-items)",
                    self.max_items
                );
                (*line, message, self.stack.len() - 1)
            }
            Some(Frame::Map { map, key, .. }) => {
                let Some((key, key_line)) = key.take() else {
                    return Ok(());
                };
                match map.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                        return Ok(());
                    }
                    Entry::Occupied(slot) => {
                        let message = format!("duplicate key {:?}", slot.key());
                        (key_line, message, self.stack.len())
                    }
                }
            }
        };
        let (line, message, frames) = error;
        Err(self.error(line, message, frames))
    }

    /// An error of meaning at `line`, prefixed with the path of the node
    /// being decoded (`spec.containers[2].image: ...`, as serde_yaml wrote it).
    fn error_here(&self, line: usize, message: String) -> DecodeError {
        self.error(line, message, self.stack.len())
    }

    /// An error at `line`, prefixed with the path through the outermost
    /// `frames` collections.
    fn error(&self, line: usize, message: String, frames: usize) -> DecodeError {
        let mut path = String::new();
        for frame in &self.stack[..frames] {
            match frame {
                Frame::Map {
                    key: Some((key, _)),
                    ..
                } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Frame::Map { key: None, .. } => {}
                Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
            }
        }
        DecodeError {
            line,
            message: if path.is_empty() {
                message
            } else {
                format!("{path}: {message}")
            },
            syntax: false,
        }
    }

    fn anchor(
        &mut self,
        id: usize,
        value: Result<Value, String>,
        text: Option<String>,
        nodes: usize,
    ) {
        if self.anchors.len() <= id {
            self.anchors.resize_with(id + 1, || None);
        }
        self.anchors[id] = Some(Anchored { value, text, nodes });
    }

    fn anchored(&self, id: usize) -> Result<&Anchored, String> {
        self.anchors
            .get(id)
            .and_then(Option::as_ref)
            .ok_or_else(|| "an alias to a node that contains it (a recursive alias)".to_owned())
    }

    /// The value an alias stands for, within the expansion limit.
    fn alias(&mut self, id: usize) -> Result<Value, String> {
        let nodes = self.anchored(id)?.nodes;
        self.nodes += nodes;
        if self.nodes > ALIAS_EXPANSION * self.events {
            return Err(format!(
                "aliases expand the document to more than {ALIAS_EXPANSION} times its nodes (repetition limit exceeded)"
            ));
        }
        self.anchored(id)?.value.clone()
    }
}

/// The full name of a tag (`!!int` is `tag:yaml.org,2002:int`).
fn tag_name(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

fn local_tag(name: &str) -> String {
    format!("the local tag {name} is not supported: no JSON value can hold it")
}

fn collection_tag(tag: Option<&Tag>, what: &str) -> Result<(), String> {
    match tag.map(tag_name) {
        Some(name) if name.starts_with('!') => Err(format!("{} on a {what}", local_tag(&name))),
        _ => Ok(()),
    }
}

/// The value of a scalar that is not a mapping key.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        let name = tag_name(tag);
        if name.starts_with('!') {
            return Err(local_tag(&name));
        }
        let invalid = |what: &str| format!("invalid value: string {text:?}, expected {what}");
        return match name.strip_prefix(CORE) {
            Some("bool") => boolean(&text)
                .map(Value::Bool)
                .ok_or_else(|| invalid("a boolean")),
            Some("int") => match integer(&text) {
                Some(value) => value,
                None => Err(invalid("an integer")),
            },
            Some("float") => match float(&text) {
                Some(f) => json_float(f),
                None => Err(invalid("a float")),
            },
            Some("null") if is_null(&text) => Ok(Value::Null),
            Some("null") => Err(invalid("null")),
            _ => Ok(Value::String(text)),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text));
    }
    plain(text)
}

/// An untagged plain scalar, by the core schema.
fn plain(text: String) -> Result<Value, String> {
    let Some(&first) = text.as_bytes().first() else {
        return Ok(Value::Null);
    };
    // Most scalars are names and images: only these can start a number.
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        if let Some(value) = integer(&text) {
            return value;
        }
        if !leading_zero_digits(&text)
            && let Some(f) = float(&text)
        {
            return json_float(f);
        }
        return Ok(Value::String(text));
    }
    if is_null(&text) {
        return Ok(Value::Null);
    }
    Ok(boolean(&text).map_or(Value::String(text), Value::Bool))
}

fn is_null(text: &str) -> bool {
    matches!(text, "null" | "Null" | "NULL" | "~")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Digits with a leading zero (`0755`, `-012`): a string in YAML 1.2, not an
/// octal number as in YAML 1.1.
fn leading_zero_digits(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An integer: `None` when the text is not one; an error when it is one that
/// does not fit in 64 bits (JSON numbers here are `i64`, `u64` or `f64`).
fn integer(text: &str) -> Option<Result<Value, String>> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(rest) = unsigned.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = unsigned.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = unsigned.strip_prefix("0b") {
        (2, rest)
    } else {
        if leading_zero_digits(text) {
            return None;
        }
        (10, unsigned)
    };
    // `from_str_radix` takes a sign of its own; YAML has one before the prefix only.
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative && magnitude > i128::MIN.unsigned_abs() {
        return None; // as serde_yaml: past i128, a float
    }
    let fits = if negative {
        magnitude <= i64::MIN.unsigned_abs() as u128
    } else {
        magnitude <= u64::MAX as u128
    };
    if !fits {
        return Some(Err(format!("the integer {text} does not fit in 64 bits")));
    }
    Some(Ok(Value::Number(if negative {
        // In range by the check above; -(2^63) included.
        Number::from((magnitude as i128).wrapping_neg() as i64)
    } else {
        Number::from(magnitude as u64)
    })))
}

/// A float: `.inf`, `.nan` and their spellings, or a finite `f64` (Rust's
/// grammar, which accepts `1.`, `.5` and `1e3`).
fn float(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" if unsigned.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn json_float(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a JSON number"))
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;
