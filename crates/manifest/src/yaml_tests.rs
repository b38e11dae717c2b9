//! The decoder against serde_yaml 0.9 (what decoded documents before it), on
//! every YAML document we can read, on scalars built to probe the core
//! schema's edges, and on the limits.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::split::split;
use crate::strict;

const ITEMS: usize = 100_000;

fn json_text(value: &Value) -> String {
    serde_json::to_string(value).expect("a value encodes")
}

fn value(text: &str, max_items: usize) -> Result<Value, DecodeError> {
    decode(text, max_items).map(|decoded| decoded.value)
}

/// serde_yaml's answer, as this crate decoded documents before.
fn serde_yaml_value(text: &str) -> Result<Value, String> {
    strict::with_max_items(ITEMS, || {
        serde_yaml::from_str::<strict::Strict>(text)
            .map(|strict| strict.0)
            .map_err(|e| e.to_string())
    })
}

/// Where [`decode`] accepts a text, serde_yaml gives the same JSON text (so
/// key order too); where it refuses, [`decode_document`] gives serde_yaml's
/// answer, so only the first case needs checking.
fn agreement(text: &str) -> Result<(), String> {
    match (value(text, ITEMS), serde_yaml_value(text)) {
        // As text: `Value`'s equality ignores the order of keys.
        (Ok(new), Ok(old)) if json_text(&old) == json_text(&new) => Ok(()),
        (Err(_), _) => Ok(()),
        (new, old) => Err(format!("serde_yaml: {old:?}\ndecode: {new:?}")),
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Every pointer into `value` (escaped as RFC 6901 says), and for each
/// collection one child it does not have.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(format!("{at}/no~1such~0key"));
            for (key, child) in map {
                let token = key.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{token}"), out);
            }
        }
        Value::Array(items) => {
            out.push(format!("{at}/{}", items.len()));
            out.push(format!("{at}/01"));
            for (index, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{index}"), out);
            }
        }
        _ => out.push(format!("{at}/below-a-scalar")),
    }
    out.push(at);
}

/// The line table answers as parsing the text again does, for every pointer
/// of a document, or 100 spread over it in a large one (the walk of
/// [`crate::locate::lines_of`] costs its nodes times its pointers).
fn same_lines(text: &str, decoded: &Decoded) -> Result<usize, String> {
    let mut all = Vec::new();
    pointers(&decoded.value, String::new(), &mut all);
    let step = all.len().div_ceil(100);
    let all: Vec<&str> = all.iter().step_by(step).map(String::as_str).collect();
    let (table, parsed) = (
        decoded.lines.lines_of(&all),
        crate::locate::lines_of(text, &all),
    );
    match all
        .iter()
        .zip(table.iter().zip(&parsed))
        .find(|(_, (a, b))| a != b)
    {
        None => Ok(all.len()),
        Some((pointer, (table, parsed))) => Err(format!(
            "{pointer}: line table {table:?}, parsing again {parsed:?}"
        )),
    }
}

/// Every document of `testdata/`, of `../shared/corpus` when present, and of
/// the directories in `WASM_VALIDATE_YAML_DIRS` (colon-separated; how the
/// generated 50,000-resource corpus was compared, in a release build): the
/// same JSON as serde_yaml, and the same line for every pointer as parsing
/// the text again.
#[test]
fn same_json_as_serde_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![root.join("testdata")];
    let shared = root.join("../shared/corpus");
    if shared.is_dir() {
        dirs.push(shared);
    } else {
        println!(
            "notice: {} is absent; comparing testdata/ only",
            shared.display()
        );
    }
    if let Ok(extra) = std::env::var("WASM_VALIDATE_YAML_DIRS") {
        dirs.extend(extra.split(':').map(PathBuf::from));
    }
    let mut files = Vec::new();
    for dir in &dirs {
        yaml_files(dir, &mut files);
    }
    let (mut documents, mut refused, mut located) = (0, 0, 0);
    let mut differences = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for piece in split(&text).into_iter().filter(|p| p.has_content) {
            let document = &text[piece.range.clone()];
            documents += 1;
            let decoded = decode(document, ITEMS);
            refused += usize::from(decoded.is_err());
            let lines = decoded
                .as_ref()
                .map_or(Ok(0), |decoded| same_lines(document, decoded));
            match agreement(document).and(lines) {
                Ok(pointers) => located += pointers,
                Err(difference) => {
                    differences.push(format!("{}:{}\n{difference}", file.display(), piece.line));
                }
            }
        }
    }
    println!(
        "{documents} documents of {} files; {refused} refused by decode, so decoded by serde_yaml; {located} pointers located",
        files.len()
    );
    // testdata/ alone holds about 400 documents.
    assert!(documents > 300, "only {documents} documents found");
    assert!(
        differences.is_empty(),
        "{} documents differ; the first:\n{}",
        differences.len(),
        differences[..differences.len().min(5)].join("\n\n")
    );
}

#[test]
fn scalars_resolve_by_the_core_schema() {
    for (text, expected) in [
        ("a: ~", json!({"a": null})),
        ("a:", json!({"a": null})),
        ("a: Null", json!({"a": null})),
        ("a: TRUE", json!({"a": true})),
        ("a: yes", json!({"a": "yes"})),
        ("a: on", json!({"a": "on"})),
        ("a: 0755", json!({"a": "0755"})),
        ("a: 0o755", json!({"a": 493})),
        ("a: 0x1F", json!({"a": 31})),
        ("a: -0x1F", json!({"a": -31})),
        ("a: 0b101", json!({"a": 5})),
        ("a: +12", json!({"a": 12})),
        ("a: -9223372036854775808", json!({"a": i64::MIN})),
        ("a: 18446744073709551615", json!({"a": u64::MAX})),
        ("a: 1.5e3", json!({"a": 1500.0})),
        ("a: .5", json!({"a": 0.5})),
        ("a: 1e400", json!({"a": "1e400"})),
        ("a: 1_000", json!({"a": "1_000"})),
        ("a: \"12\"", json!({"a": "12"})),
        ("a: !!str 12", json!({"a": "12"})),
        ("a: !!int \"12\"", json!({"a": 12})),
        ("a: !!float 1", json!({"a": 1.0})),
        ("a: |\n  12\n", json!({"a": "12\n"})),
        (
            "1: x\ntrue: y\n~: z",
            json!({"1": "x", "true": "y", "~": "z"}),
        ),
        ("<<: {a: 1}", json!({"<<": {"a": 1}})),
        ("a: &x {b: 1}\nc: *x", json!({"a": {"b": 1}, "c": {"b": 1}})),
        (
            "&k 5: a\nb: *k\n*k : c",
            json!({"5": "a", "b": 5, "5 ": "c"}),
        ),
    ] {
        if text.contains("*k :") {
            // A key given twice through its alias: both refuse it.
            assert!(decode(text, ITEMS).is_err(), "{text}");
            assert!(serde_yaml_value(text).is_err(), "{text}");
            continue;
        }
        assert_eq!(value(text, ITEMS), Ok(expected), "{text}");
        agreement(text).unwrap();
    }
}

#[test]
fn what_json_cannot_hold_is_refused() {
    for text in [
        "a: .inf",
        "a: -.Inf",
        "a: .nan",
        "a: 18446744073709551616",
        "a: -9223372036854775809",
        "a: !Ref x",
        "a: !Sub {b: 1}",
        "a: !!int x",
        "a: !!bool yes",
        "? [a, b]\n: c",
        "? {a: 1}\n: c",
        "a: 1\nb: 2\na: 3",
    ] {
        assert!(decode(text, ITEMS).is_err(), "{text}");
        assert!(serde_yaml_value(text).is_err(), "{text}");
    }
}

#[test]
fn what_only_libyaml_accepts_is_decoded_by_serde_yaml() {
    // A double-quoted scalar continued at its key's indentation (YAML 1.2
    // wants one more space), as the gatekeeper-library writes one.
    let text = "a:\n  b: \"one\n  two\"\n  c: 1\n";
    assert!(decode(text, ITEMS).is_err());
    let (decoded, lines) = strict::with_max_items(ITEMS, || decode_document(text, ITEMS)).unwrap();
    assert_eq!(decoded, json!({"a": {"b": "one two", "c": 1}}));
    assert_eq!(lines, None, "serde_yaml keeps no lines");
    // And serde_yaml's message and line where both refuse the syntax.
    let text = "a: [1\nb: 2\n";
    let error = strict::with_max_items(ITEMS, || decode_document(text, ITEMS)).unwrap_err();
    let expected = serde_yaml_value(text).unwrap_err();
    assert!(
        expected.starts_with(&error.message),
        "{expected} / {error:?}"
    );
    assert!(expected.contains(&format!("at line {}", error.line.unwrap())));
}

#[test]
fn block_scalars_of_blank_lines_are_decoded_by_serde_yaml() {
    // yaml-rust2 gives "\n" for each; libyaml and the spec give "" (clip
    // and strip) or the line breaks (keep).
    for (text, expected) in [
        ("a: |\n", json!({"a": ""})),
        ("a: >\n\n\nb: 1\n", json!({"a": "", "b": 1})),
        ("a:\n  a: |\n     \n", json!({"a": {"a": ""}})),
        ("a: |+\n", json!({"a": ""})),
        ("a: |+\n\n\nb: 1\n", json!({"a": "\n\n", "b": 1})),
    ] {
        assert!(decode(text, ITEMS).unwrap_err().syntax, "{text:?}");
        let (decoded, lines) =
            strict::with_max_items(ITEMS, || decode_document(text, ITEMS)).unwrap();
        assert_eq!((decoded, lines), (expected, None), "{text:?}");
    }
    // A block scalar with content is decoded here.
    assert_eq!(value("a: |\n\n  x\n\n", ITEMS), Ok(json!({"a": "\nx\n"})));
}

#[test]
fn tabs_in_block_scalars_follow_yaml_1_2_where_libyaml_refuses() {
    let text = "a: |\n  x\n\t\nb: 1\n";
    assert!(serde_yaml_value(text).is_err());
    assert_eq!(value(text, ITEMS), Ok(json!({"a": "x\n", "b": 1})));
}

#[test]
fn deep_flow_nesting_is_not_handed_to_libyaml() {
    // Both parsers refuse this text; libyaml would take seconds on it.
    let text = format!("a: \"x\n y\"\nb: {}\n", "[".repeat(200_000));
    assert!(decode(&text, ITEMS).unwrap_err().syntax);
    let error = strict::with_max_items(ITEMS, || decode_document(&text, ITEMS)).unwrap_err();
    assert!(error.line.is_some(), "{error:?}");
    // A meaning refused (here a duplicate key) is not asked again either.
    let text = format!("a: 1\na: 2\nb: {}\n", "[".repeat(200_000));
    let error = decode_document(&text, ITEMS).unwrap_err();
    assert_eq!(error.message, "duplicate key \"a\"");
}

#[test]
fn errors_name_their_line() {
    let duplicate = decode("a: 1\nb:\n  c: 1\n  c: 2\n", ITEMS).unwrap_err();
    assert_eq!(duplicate.line, 4);
    assert_eq!(duplicate.message, "b: duplicate key \"c\"");
    let syntax = decode("a: 1\nb: [1, 2\nc: 3\n", ITEMS).unwrap_err();
    assert!(syntax.line >= 2, "{syntax:?}");
    let tag = decode("a: 1\nb: !Ref x\n", ITEMS).unwrap_err();
    assert_eq!(tag.line, 2);
    assert!(tag.message.contains("!Ref"), "{}", tag.message);
}

#[test]
fn nesting_sequences_and_aliases_are_bounded() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(decode(&nested(MAX_DEPTH), ITEMS).is_ok());
    let deep = decode(&nested(MAX_DEPTH + 1), ITEMS).unwrap_err();
    assert!(deep.message.contains("recursion limit"), "{}", deep.message);

    assert_eq!(value("[1, 2, 3]", 3), Ok(json!([1, 2, 3])));
    let long = decode("[1, 2, 3, 4]", 3).unwrap_err();
    assert!(
        long.message.contains("--max-list-items"),
        "{}",
        long.message
    );

    // Nine levels of ten aliases each: 10^9 nodes from 100 lines.
    let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        laughs.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let error = decode(&laughs, usize::MAX).unwrap_err();
    assert!(
        error.message.contains("repetition limit"),
        "{}",
        error.message
    );
    assert!(serde_yaml_value(&laughs).is_err());

    let recursive = decode("a: &x [1, *x]", ITEMS).unwrap_err();
    assert!(
        recursive.message.contains("recursive"),
        "{}",
        recursive.message
    );
}

proptest! {
    /// Plain scalars from the characters that make numbers, nulls and
    /// booleans resolve as serde_yaml resolved them.
    #[test]
    fn plain_scalars_agree(scalar in "[0-9+\\-.xobeEinfaINFNulrsTt~_]{1,8}") {
        let text = format!("a: {scalar}\n");
        prop_assert!(agreement(&text).is_ok(), "{}", agreement(&text).unwrap_err());
    }

    /// Keys and tagged scalars too.
    #[test]
    fn keys_and_tags_agree(
        key in "[0-9a-z~.+\\-]{1,5}",
        tag in prop::sample::select(vec!["", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!x "]),
        scalar in "[0-9a-zA-Z.+\\-]{0,6}",
    ) {
        let text = format!("{key}: {tag}{scalar}\n");
        prop_assert!(agreement(&text).is_ok(), "{text}: {}", agreement(&text).unwrap_err());
    }

    /// Whole documents, block and flow, with quoted, block and plain
    /// scalars: the same JSON as serde_yaml, and the same lines as parsing
    /// again.
    #[test]
    fn documents_agree(document in document()) {
        prop_assert!(agreement(&document).is_ok(), "{document}\n{}", agreement(&document).unwrap_err());
        if let Ok(decoded) = decode(&document, ITEMS) {
            prop_assert!(same_lines(&document, &decoded).is_ok(), "{document}");
        }
    }
}

/// A scalar as YAML writes it: plain, quoted, or a block scalar (written
/// at `indent`).
fn scalar_text() -> impl Strategy<Value = (String, bool)> {
    let text = "[a-z0-9.+\\- ]{0,8}";
    prop_oneof![
        text.prop_map(|t| (t, false)),
        text.prop_map(|t| (format!("'{}'", t.replace('\'', "''")), false)),
        text.prop_map(|t| (format!("\"{t}\""), false)),
        "[a-z0-9 ]{1,8}".prop_map(|t| (t, true)),
    ]
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(String, bool),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = scalar_text().prop_map(|(text, block)| Node::Scalar(text, block));
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(("[a-z]{1,3}", inner.clone()), 0..4).prop_map(Node::Map),
            prop::collection::vec(inner, 0..4).prop_map(Node::Seq),
        ]
    })
}

/// A document: a mapping in block style whose values are written in block
/// or flow style.
fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(("[a-z]{1,3}", node(), any::<bool>()), 1..5).prop_map(|entries| {
        let mut out = String::new();
        for (key, value, flow) in entries {
            out.push_str(&key);
            out.push(':');
            if flow {
                out.push(' ');
                out.push_str(&flow_text(&value));
                out.push('\n');
            } else {
                block_text(&value, 2, &mut out);
            }
        }
        out
    })
}

fn flow_text(node: &Node) -> String {
    match node {
        Node::Scalar(text, true) => format!("\"{text}\""),
        Node::Scalar(text, false) if text.trim().is_empty() => "''".into(),
        Node::Scalar(text, false) => text.trim().to_owned(),
        Node::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", flow_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::Seq(items) => format!(
            "[{}]",
            items.iter().map(flow_text).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Writes `node` as the value after a key or a `-` (the text so far ends
/// there), its lines indented by `indent`.
fn block_text(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Scalar(text, true) => out.push_str(&format!(" |\n{pad}{text}\n")),
        Node::Scalar(text, false) => out.push_str(&format!(" {}\n", text.trim())),
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) => {
            out.push('\n');
            for (key, value) in entries {
                out.push_str(&format!("{pad}{key}:"));
                block_text(value, indent + 2, out);
            }
        }
        Node::Seq(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&format!("{pad}-"));
                block_text(item, indent + 2, out);
            }
        }
    }
}
