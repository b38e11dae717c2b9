//! Reading and writing Kubernetes manifest streams.
//!
//! [`parse`] turns the bytes of one input (a file or stdin) into its
//! [`Document`]s and the [`Resource`]s they hold: multi-document YAML, JSON
//! (one or more values), and `List`/typed lists (`RoleList`, `ConfigMapList`,
//! ...) expanded into their items. Empty documents are kept as documents but
//! hold no resource. Each resource remembers its [`Source`].
//!
//! [`render`] writes a parsed stream back: a document whose resources were
//! not modified is written byte-for-byte as it came in (comments included); a
//! modified one keeps its leading comments and `---` line and is re-serialised.
//!
//! [`collect_inputs`] expands paths (files, directories recursively, `-` for
//! stdin) into the list of inputs to read.
#![forbid(unsafe_code)]

mod inputs;
pub mod kinds;
pub mod locate;
mod split;
mod strict;
mod yaml;

pub use inputs::{Input, batches, collect_inputs, read_all, read_input, read_inputs};

use std::fmt;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use split::{Piece, split};

/// The annotation Helm 4 puts on every document it sends to a post-renderer
/// and needs back unchanged.
pub const HELM_POSTRENDER_FILENAME: &str = "postrenderer.helm.sh/postrender-filename";

/// Where a resource came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The input's name: a path as the user gave it (or found under a
    /// directory they gave), or `-` for stdin.
    pub file: Arc<str>,
    /// 1-based position of the document in the input's stream, counting
    /// empty documents.
    pub document: usize,
    /// 1-based line of the document's first content line.
    pub line: usize,
    /// Index in the `items` of a `List` document, if the resource is one.
    pub item: Option<usize>,
    /// The chart template the resource was rendered from: the path of Helm 3's
    /// `# Source: <path>` comment, or else Helm 4's
    /// `postrenderer.helm.sh/postrender-filename` annotation, if present.
    pub helm_source: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(item) = self.item {
            write!(f, " (item {item})")?;
        }
        Ok(())
    }
}

/// A Kubernetes object read from an input, with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The object as JSON (key order as in the input).
    pub object: Value,
    /// Where it came from.
    pub source: Source,
    /// Set when a mutation changed `object`; [`render`] re-serialises the
    /// documents of modified resources only.
    pub modified: bool,
}

impl Resource {
    /// `apiVersion`, or `""`.
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or("")
    }
    /// `kind`, or `""`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    /// `metadata.name`, or `metadata.generateName` followed by `*`, or `""`.
    pub fn name(&self) -> String {
        let meta = &self.object["metadata"];
        match (meta["name"].as_str(), meta["generateName"].as_str()) {
            (Some(name), _) => name.to_owned(),
            (None, Some(prefix)) => format!("{prefix}*"),
            _ => String::new(),
        }
    }
    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.object["metadata"]["namespace"].as_str()
    }
    /// Helm 4's `postrenderer.helm.sh/postrender-filename` annotation, if set.
    pub fn postrender_filename(&self) -> Option<&str> {
        self.object["metadata"]["annotations"][HELM_POSTRENDER_FILENAME].as_str()
    }
}

/// What a document holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Nothing (only comments, blank, or `null`).
    Empty,
    /// One object: the resource at this index of [`Parsed::resources`].
    Object(usize),
    /// A `List` or typed list: the wrapper (with `items` emptied) and the
    /// range of its items in [`Parsed::resources`].
    List {
        /// The list object with `items: []`.
        wrapper: Value,
        /// Indices of its items in [`Parsed::resources`].
        items: std::ops::Range<usize>,
    },
    /// The document could not be read; the error is in [`Parsed::errors`].
    Invalid,
}

/// One document of an input stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Where its bytes and leading comments are in the input.
    pub piece: Piece,
    /// What it holds.
    pub content: Content,
    /// The line of each node, for locating violations without parsing the
    /// text again; `None` for JSON and for what only serde_yaml decodes.
    pub lines: Option<locate::LineTable>,
}

/// An input that could not be read, or a document in it that is not a
/// Kubernetes object. `Display` gives `file:line: document N: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ManifestError {
    /// The input's name.
    pub file: Arc<str>,
    /// 1-based document number, when the error is inside one.
    pub document: Option<usize>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ManifestError {
    fn render(&self) -> String {
        let mut out = self.file.to_string();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
        }
        out.push_str(": ");
        if let Some(document) = self.document {
            out.push_str(&format!("document {document}: "));
        }
        out.push_str(&self.message);
        out
    }
}

/// The result of reading one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The input's name.
    pub file: Arc<str>,
    /// The input's text (needed by [`render`]).
    pub text: String,
    /// Its documents, in order.
    pub documents: Vec<Document>,
    /// The resources of all documents, in order.
    pub resources: Vec<Resource>,
    /// Everything that could not be read. Other documents are still read.
    pub errors: Vec<ManifestError>,
}

impl Parsed {
    /// The 1-based line in this input of the field that `pointer` (RFC 6901)
    /// names in the resource at `document` (1-based) and, for a `List`,
    /// `item`; or of its deepest ancestor present in the text when the field
    /// is missing. `None` when the document cannot be found or parsed.
    pub fn line_of(&self, document: usize, item: Option<usize>, pointer: &str) -> Option<usize> {
        self.lines_of(document, item, &[pointer]).pop().flatten()
    }

    /// [`Parsed::line_of`] for several pointers into the same resource; one
    /// answer per pointer, in order. From the document's line table when it
    /// has one, or else by parsing the document once.
    pub fn lines_of(
        &self,
        document: usize,
        item: Option<usize>,
        pointers: &[&str],
    ) -> Vec<Option<usize>> {
        let none = || vec![None; pointers.len()];
        let Some(found) = document
            .checked_sub(1)
            .and_then(|index| self.documents.get(index))
        else {
            return none();
        };
        let piece = &found.piece;
        let (Some(text), Some(prefix)) = (
            self.text.get(piece.range.clone()),
            self.text.get(piece.range.start..piece.prefix.end),
        ) else {
            return none();
        };
        // The piece's first line: its first content line (`piece.line`, known
        // from splitting) less the lines of its leading prefix.
        let first = piece.line - prefix.matches('\n').count();
        let pointers: Vec<String> = pointers
            .iter()
            .map(|p| match item {
                Some(index) => format!("/items/{index}{p}"),
                None => (*p).to_owned(),
            })
            .collect();
        let pointers: Vec<&str> = pointers.iter().map(String::as_str).collect();
        match &found.lines {
            Some(table) => table.lines_of(&pointers),
            None => locate::lines_of(text, &pointers),
        }
        .into_iter()
        .map(|within| within.map(|line| first + line - 1))
        .collect()
    }
}

/// Whether an input is read as YAML (the default) or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A YAML stream, possibly of many documents.
    Yaml,
    /// One or more JSON values.
    Json,
}

impl Format {
    /// JSON for a `.json` file name, YAML otherwise.
    pub fn for_name(name: &str) -> Format {
        if name.to_ascii_lowercase().ends_with(".json") {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Bounds on what one run reads, so that a hostile or mistaken input gives
/// an error instead of exhausting memory. Each limit, when exceeded, is a
/// [`ManifestError`] naming the input (and document and line where there is
/// one); nothing of what is over the limit is checked or written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest input (a file, or stdin) in bytes. Default 256 MiB.
    pub input_bytes: u64,
    /// Largest document of a stream in bytes, `List` documents included.
    /// Default 32 MiB: the Kubernetes API server refuses requests over
    /// 3 MiB and etcd objects over 1.5 MiB, so only a `List` of many
    /// objects comes near it.
    pub document_bytes: usize,
    /// Most items in one sequence, a `List`'s `items` included; decoding
    /// stops at the first item over the limit. Default 100,000.
    pub list_items: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            input_bytes: 256 << 20,
            document_bytes: 32 << 20,
            list_items: 100_000,
        }
    }
}

/// `bytes` in MiB with one decimal, for messages.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The 1-based line of byte `offset` in `text`. Counts bytes, so that an
/// offset inside a character (as a parser's error may give) is no panic
/// (found by fuzzing: `testdata/fuzz/manifest/crash-3b224c25...`).
fn line_of(text: &str, offset: usize) -> usize {
    let before = &text.as_bytes()[..offset.min(text.len())];
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// Reads one input under the default [`ReadLimits`] ([`parse_with`]).
pub fn parse(file: &str, bytes: Vec<u8>, format: Format) -> Parsed {
    parse_with(file, bytes, format, &ReadLimits::default())
}

/// Reads one input. Bytes that are not UTF-8 text, or that contain NUL bytes
/// (binary data), or more than `limits.input_bytes` of them, give one error
/// and no document. A document over `limits.document_bytes`, or a `List` of
/// more than `limits.list_items` items, is an invalid document with its
/// error; the other documents are read.
pub fn parse_with(file: &str, bytes: Vec<u8>, format: Format, limits: &ReadLimits) -> Parsed {
    let file: Arc<str> = Arc::from(file);
    let mut parsed = Parsed {
        file: file.clone(),
        text: String::new(),
        documents: Vec::new(),
        resources: Vec::new(),
        errors: Vec::new(),
    };
    let error = |line: Option<usize>, message: String| ManifestError {
        file: file.clone(),
        document: None,
        line,
        message,
    };
    if bytes.len() as u64 > limits.input_bytes {
        let len = Some(bytes.len() as u64);
        parsed
            .errors
            .push(error(None, too_large_input(len, limits)));
        return parsed;
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        parsed.errors.push(error(
            Some(line),
            "binary data (a NUL byte), not a YAML or JSON manifest".to_owned(),
        ));
        return parsed;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            parsed.errors.push(error(
                Some(line),
                format!("not UTF-8 text (invalid byte at offset {valid})"),
            ));
            return parsed;
        }
    };
    strict::with_max_items(limits.list_items, || match format {
        Format::Yaml => parse_yaml(&mut parsed, &text, limits),
        Format::Json => parse_json(&mut parsed, &text, limits),
    });
    parsed.text = text;
    parsed
}

/// The error for an input over the limit; `len` is its size when known.
pub(crate) fn too_large_input(len: Option<u64>, limits: &ReadLimits) -> String {
    let size = len.map_or_else(|| "is ".to_owned(), |len| format!("is {}, ", mib(len)));
    format!(
        "the input {size}larger than the limit of {} (--max-input-size); nothing of it was checked",
        mib(limits.input_bytes)
    )
}

fn too_large_document(len: usize, limits: &ReadLimits) -> String {
    format!(
        "the document is {}, larger than the limit of {} (--max-document-size); it was not checked",
        mib(len as u64),
        mib(limits.document_bytes as u64)
    )
}

/// Records a document that cannot be read, with its error.
fn invalid_document(
    parsed: &mut Parsed,
    piece: Piece,
    document: usize,
    line: usize,
    message: String,
) {
    parsed.errors.push(ManifestError {
        file: parsed.file.clone(),
        document: Some(document),
        line: Some(line),
        message,
    });
    parsed.documents.push(Document {
        piece,
        content: Content::Invalid,
        lines: None,
    });
}

fn parse_yaml(parsed: &mut Parsed, text: &str, limits: &ReadLimits) {
    for (index, piece) in split(text).into_iter().enumerate() {
        let document = index + 1;
        if piece.range.len() > limits.document_bytes {
            let (line, message) = (piece.line, too_large_document(piece.range.len(), limits));
            invalid_document(parsed, piece, document, line, message);
            continue;
        }
        let mut lines = None;
        let value = if piece.has_content {
            match yaml::decode_document(&text[piece.range.clone()], limits.list_items) {
                Ok((value, table)) => {
                    lines = table;
                    Some(value)
                }
                Err(e) => {
                    // Parsers report errors at the end of input on the line
                    // after the last one; keep the line inside the document.
                    let last_line = line_of(text, piece.range.end.saturating_sub(1));
                    let line = e
                        .line
                        .map(|l| (line_of(text, piece.range.start) + l - 1).min(last_line))
                        .unwrap_or(piece.line);
                    let message = format!("invalid YAML: {}", e.message);
                    invalid_document(parsed, piece, document, line, message);
                    continue;
                }
            }
        } else {
            None
        };
        let helm_source = helm_source_comment(&text[piece.prefix.clone()]);
        add_document(parsed, piece, document, value, helm_source, lines);
    }
}

/// serde_yaml and serde_json append " at line L column C"; the caller
/// reports the line itself.
pub(crate) fn strip_location(message: &str) -> &str {
    message
        .find(" at line ")
        .map_or(message, |at| &message[..at])
}

fn helm_source_comment(prefix: &str) -> Option<String> {
    prefix
        .lines()
        .find_map(|line| line.trim().strip_prefix("# Source:"))
        .map(|path| path.trim().to_owned())
}

fn parse_json(parsed: &mut Parsed, text: &str, limits: &ReadLimits) {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<strict::Strict>();
    let mut start = 0;
    let mut document = 0;
    loop {
        let next = stream.next();
        let end = stream.byte_offset();
        let Some(next) = next else { break };
        document += 1;
        let skipped = text[start..].len() - text[start..].trim_start().len();
        let piece = Piece {
            range: start..end,
            prefix: start..start + skipped,
            line: line_of(text, start + skipped),
            has_content: true,
        };
        match next {
            Ok(_) if piece.range.len() > limits.document_bytes => {
                let (line, message) = (piece.line, too_large_document(piece.range.len(), limits));
                invalid_document(parsed, piece, document, line, message);
            }
            Ok(strict::Strict(value)) => {
                add_document(parsed, piece, document, Some(value), None, None)
            }
            Err(e) => {
                parsed.errors.push(ManifestError {
                    file: parsed.file.clone(),
                    document: Some(document),
                    line: Some(e.line()),
                    message: format!("invalid JSON: {}", strip_location(&e.to_string())),
                });
                parsed.documents.push(Document {
                    piece: Piece {
                        range: start..text.len(),
                        ..piece
                    },
                    content: Content::Invalid,
                    lines: None,
                });
                break;
            }
        }
        start = end;
    }
}

fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// Checks that a value is a Kubernetes object: a mapping with non-empty string
/// `apiVersion` and `kind`, and `metadata` a mapping when present.
fn check_object(value: &Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "is {}, not a Kubernetes object (a mapping with apiVersion and kind)",
            describe_value(value)
        ));
    };
    for field in ["apiVersion", "kind"] {
        match map.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(format!(
                    "is not a Kubernetes object: {field} is {}, not a non-empty string",
                    describe_value(other)
                ));
            }
            None => return Err(format!("is not a Kubernetes object: {field} is missing")),
        }
    }
    if let Some(other) = map.get("metadata").filter(|m| !m.is_object()) {
        return Err(format!(
            "is not a Kubernetes object: metadata is {}, not a mapping",
            describe_value(other)
        ));
    }
    let (api_version, kind) = (
        map["apiVersion"].as_str().unwrap_or(""),
        map["kind"].as_str().unwrap_or(""),
    );
    match kinds::check_kind(api_version, kind) {
        kinds::KindCheck::Mistyped(known) if !kind.ends_with("List") => Err(format!(
            "has kind {kind:?}, which {api_version} does not have (did you mean {known:?}?): the API server would refuse it and no policy would check it"
        )),
        _ => Ok(()),
    }
}

fn is_list(map: &Map<String, Value>) -> bool {
    map.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && map.get("items").is_some_and(Value::is_array)
}

fn add_document(
    parsed: &mut Parsed,
    piece: Piece,
    document: usize,
    value: Option<Value>,
    helm_source: Option<String>,
    lines: Option<locate::LineTable>,
) {
    let source = |item, object: &Value| Source {
        file: parsed.file.clone(),
        document,
        line: piece.line,
        item,
        helm_source: helm_source.clone().or_else(|| {
            object["metadata"]["annotations"][HELM_POSTRENDER_FILENAME]
                .as_str()
                .map(str::to_owned)
        }),
    };
    let fail = |message: String| ManifestError {
        file: parsed.file.clone(),
        document: Some(document),
        line: Some(piece.line),
        message,
    };
    let content = match value {
        None | Some(Value::Null) => Content::Empty,
        Some(value) => match check_object(&value) {
            Err(message) => {
                parsed.errors.push(fail(format!("the document {message}")));
                Content::Invalid
            }
            Ok(()) => {
                let Value::Object(mut map) = value else {
                    unreachable!("check_object accepts only mappings")
                };
                if is_list(&map) {
                    let Some(Value::Array(items)) =
                        map.insert("items".into(), Value::Array(vec![]))
                    else {
                        unreachable!("is_list checked items")
                    };
                    let first = parsed.resources.len();
                    let mut errors = Vec::new();
                    for (index, item) in items.into_iter().enumerate() {
                        match check_object(&item) {
                            Ok(()) => parsed.resources.push(Resource {
                                source: source(Some(index), &item),
                                object: item,
                                modified: false,
                            }),
                            Err(message) => errors.push(fail(format!("item {index} {message}"))),
                        }
                    }
                    if errors.is_empty() {
                        Content::List {
                            wrapper: Value::Object(map),
                            items: first..parsed.resources.len(),
                        }
                    } else {
                        parsed.resources.truncate(first);
                        parsed.errors.extend(errors);
                        Content::Invalid
                    }
                } else {
                    let object = Value::Object(map);
                    parsed.resources.push(Resource {
                        source: source(None, &object),
                        object,
                        modified: false,
                    });
                    Content::Object(parsed.resources.len() - 1)
                }
            }
        },
    };
    // The line table serves only documents that hold resources.
    let lines = lines.filter(|_| matches!(content, Content::Object(_) | Content::List { .. }));
    parsed.documents.push(Document {
        piece,
        content,
        lines,
    });
}

/// Writes a parsed YAML stream back. Documents none of whose resources is
/// `modified` are copied byte-for-byte; modified ones keep their leading
/// `---`, comment and blank lines and are re-serialised as YAML.
///
/// Errors when a modified document cannot be serialised.
pub fn render(parsed: &Parsed) -> Result<String, serde_yaml::Error> {
    let mut out = String::with_capacity(parsed.text.len() + 1024);
    for document in &parsed.documents {
        let piece = &document.piece;
        let rebuilt = match &document.content {
            Content::Object(index) if parsed.resources[*index].modified => {
                Some(parsed.resources[*index].object.clone())
            }
            Content::List { wrapper, items }
                if parsed.resources[items.clone()].iter().any(|r| r.modified) =>
            {
                let mut list = wrapper.clone();
                list["items"] = Value::Array(
                    parsed.resources[items.clone()]
                        .iter()
                        .map(|r| r.object.clone())
                        .collect(),
                );
                Some(list)
            }
            _ => None,
        };
        match rebuilt {
            None => out.push_str(&parsed.text[piece.range.clone()]),
            Some(value) => {
                let prefix = &parsed.text[piece.prefix.clone()];
                out.push_str(prefix);
                if !prefix.is_empty() && !prefix.ends_with('\n') {
                    out.push('\n');
                }
                if prefix.is_empty() && !out.is_empty() {
                    out.push_str("---\n");
                }
                out.push_str(&serde_yaml::to_string(&value)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
