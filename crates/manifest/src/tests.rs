use proptest::prelude::*;
use serde_json::json;

use super::*;

#[path = "../tests/support/hostile.rs"]
mod hostile;

fn yaml(text: &str) -> Parsed {
    parse("in.yaml", text.as_bytes().to_vec(), Format::Yaml)
}

#[test]
fn reads_documents_lists_and_sources() {
    let text = "\
# leading comment
---
# Source: chart/templates/sa.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
---
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleList
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: a}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: b}
";
    let parsed = yaml(text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.documents.len(), 3);
    assert_eq!(parsed.documents[1].content, Content::Empty);
    let names: Vec<String> = parsed.resources.iter().map(Resource::name).collect();
    assert_eq!(names, ["sa", "a", "b"]);
    let first = &parsed.resources[0].source;
    assert_eq!((first.document, first.line), (1, 4));
    assert_eq!(
        first.helm_source.as_deref(),
        Some("chart/templates/sa.yaml")
    );
    let item = &parsed.resources[2].source;
    assert_eq!((item.document, item.line, item.item), (3, 10, Some(1)));
    assert_eq!(render(&parsed).unwrap(), text);
}

#[test]
fn helm4_annotation_is_the_source_when_there_is_no_comment() {
    let parsed = yaml(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  annotations:\n    postrenderer.helm.sh/postrender-filename: chart/templates/sa.yaml\n",
    );
    assert_eq!(
        parsed.resources[0].source.helm_source.as_deref(),
        Some("chart/templates/sa.yaml")
    );
}

#[test]
fn invalid_yaml_names_document_and_line() {
    let parsed = yaml("apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: [unclosed\n");
    assert_eq!(parsed.resources.len(), 1);
    assert_eq!(parsed.errors.len(), 1);
    let error = &parsed.errors[0];
    assert_eq!(error.document, Some(2));
    assert!(matches!(error.line, Some(5) | Some(6)), "{error}");
    assert!(error.to_string().starts_with("in.yaml:"), "{error}");
    assert!(error.message.contains("invalid YAML"), "{error}");
}

#[test]
fn scalars_sequences_and_objects_without_kind_are_errors() {
    for (text, expected) in [
        ("just a string\n", "is a string, not a Kubernetes object"),
        ("- a\n- b\n", "is a sequence"),
        ("apiVersion: v1\nmetadata: {}\n", "kind is missing"),
        ("apiVersion: v1\nkind: 3\n", "kind is a number"),
    ] {
        let parsed = yaml(text);
        assert!(parsed.resources.is_empty());
        assert_eq!(parsed.errors.len(), 1, "{text}");
        assert!(
            parsed.errors[0].message.contains(expected),
            "{}",
            parsed.errors[0]
        );
    }
}

#[test]
fn duplicate_keys_are_errors_not_silently_collapsed() {
    let parsed = yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n");
    assert!(parsed.resources.is_empty());
    assert!(
        parsed.errors[0].message.contains("duplicate key \"name\""),
        "{}",
        parsed.errors[0]
    );
    assert!(
        matches!(parsed.errors[0].line, Some(4..=5)),
        "{}",
        parsed.errors[0]
    );
    let json = parse(
        "d.json",
        br#"{"apiVersion":"v1","kind":"A","kind":"B"}"#.to_vec(),
        Format::Json,
    );
    assert!(
        json.errors[0].message.contains("duplicate key \"kind\""),
        "{}",
        json.errors[0]
    );
}

#[test]
fn binary_and_non_utf8_input_are_errors() {
    let parsed = parse(
        "b.bin",
        b"apiVersion: v1\n\0\x01\x02".to_vec(),
        Format::Yaml,
    );
    assert_eq!(parsed.errors[0].line, Some(2));
    assert!(parsed.errors[0].message.contains("binary data"));
    let parsed = parse("l.yaml", b"a: 1\nb: \xff\n".to_vec(), Format::Yaml);
    assert_eq!(parsed.errors[0].line, Some(2));
    assert!(parsed.errors[0].message.contains("not UTF-8"));
}

#[test]
fn json_inputs_may_hold_several_values() {
    let text = "{\"apiVersion\":\"v1\",\"kind\":\"A\",\"metadata\":{\"name\":\"x\"}}\n\n{\"apiVersion\":\"v1\",\"kind\":\"B\"}";
    let parsed = parse("in.json", text.as_bytes().to_vec(), Format::Json);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.resources.len(), 2);
    assert_eq!(parsed.resources[1].source.line, 3);
    let broken = parse("in.json", b"{\"a\":\n".to_vec(), Format::Json);
    assert_eq!(broken.errors.len(), 1);
    assert!(broken.errors[0].message.contains("invalid JSON"));
}

#[test]
fn render_rewrites_only_modified_documents() {
    let text = "# Source: a.yaml\napiVersion: v1\nkind: Pod\nmetadata:   {name: a}  # odd spacing kept\n---\n# Source: b.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n";
    let mut parsed = yaml(text);
    parsed.resources[1].object["metadata"]["labels"] = json!({"x": "y"});
    parsed.resources[1].modified = true;
    let out = render(&parsed).unwrap();
    let (first, second) = out.split_at(out.find("---").unwrap());
    assert_eq!(
        first,
        "# Source: a.yaml\napiVersion: v1\nkind: Pod\nmetadata:   {name: a}  # odd spacing kept\n"
    );
    assert!(
        second.starts_with("---\n# Source: b.yaml\napiVersion: v1\nkind: Pod\n"),
        "{second}"
    );
    let again = yaml(&out);
    assert_eq!(again.resources[1].object, parsed.resources[1].object);
}

#[test]
fn directories_are_walked_in_order() {
    let root = std::env::temp_dir().join(format!("wv-manifest-{}", std::process::id()));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    for name in ["b.yaml", "a.yml", "notes.txt", "sub/c.json"] {
        std::fs::write(root.join(name), "{}").unwrap();
    }
    let inputs = collect_inputs(std::slice::from_ref(&root), true).unwrap();
    assert_eq!(
        collect_inputs(std::slice::from_ref(&root), false)
            .unwrap()
            .len(),
        2
    );
    let names: Vec<String> = inputs
        .iter()
        .map(|i| {
            i.name()
                .trim_start_matches(&root.display().to_string())
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["/a.yml", "/b.yaml", "/sub/c.json"]);
    assert!(collect_inputs(&[root.join("missing")], true).is_err());
    std::fs::remove_dir_all(root).unwrap();
}

fn arb_document() -> impl Strategy<Value = (String, Value)> {
    (
        "[a-z]{1,8}",
        "[A-Z][a-z]{1,8}",
        proptest::collection::btree_map("[a-z]{1,6}", "[a-zA-Z0-9 ]{0,12}", 0..4),
        proptest::option::of("[a-z ]{0,20}"),
    )
        .prop_map(|(name, kind, labels, comment)| {
            // A custom resource: random kinds of the core group could be
            // near misses of its kinds (`Pd`), which are refused.
            let value = json!({
                "apiVersion": "example.com/v1",
                "kind": kind,
                "metadata": {"name": name, "labels": labels},
            });
            let mut text = String::new();
            if let Some(comment) = comment {
                text.push_str(&format!("# {comment}\n"));
            }
            text.push_str(&serde_yaml::to_string(&value).unwrap());
            (text, value)
        })
}

proptest! {
    /// Splitting and re-emitting a multi-document stream round-trips byte for
    /// byte, and every document is read back as the object it was written from.
    #[test]
    fn split_and_render_round_trip(
        documents in proptest::collection::vec(arb_document(), 0..8),
        empties in proptest::collection::vec(any::<bool>(), 8),
        separator_comment in any::<bool>(),
    ) {
        let mut text = String::new();
        let mut expected = Vec::new();
        for (index, (body, value)) in documents.iter().enumerate() {
            if index > 0 || separator_comment {
                text.push_str(if separator_comment { "--- # next\n" } else { "---\n" });
            }
            if empties[index] {
                text.push_str("# nothing here\n---\n");
            }
            text.push_str(body);
            expected.push(value.clone());
        }
        let parsed = yaml(&text);
        prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let values: Vec<Value> = parsed.resources.iter().map(|r| r.object.clone()).collect();
        prop_assert_eq!(values, expected);
        prop_assert_eq!(render(&parsed).unwrap(), text.clone());
        let covered: String = parsed.documents.iter().map(|d| &text[d.piece.range.clone()]).collect();
        prop_assert_eq!(covered, text);
    }

    /// Parse, emit with every document re-serialised, parse: the same objects.
    #[test]
    fn parse_emit_parse_is_stable(documents in proptest::collection::vec(arb_document(), 1..6)) {
        let text: String = documents.iter().map(|(t, _)| format!("---\n{t}")).collect();
        let mut parsed = yaml(&text);
        for resource in &mut parsed.resources {
            resource.modified = true;
        }
        let again = yaml(&render(&parsed).unwrap());
        prop_assert!(again.errors.is_empty());
        let before: Vec<&Value> = parsed.resources.iter().map(|r| &r.object).collect();
        let after: Vec<&Value> = again.resources.iter().map(|r| &r.object).collect();
        prop_assert_eq!(before, after);
    }
}

#[test]
fn lines_stay_right_in_long_streams() {
    // Documents of varying length, some with leading comments: each
    // resource's line is its `apiVersion` line.
    let mut text = String::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        text.push_str("---\n");
        if i % 3 == 0 {
            text.push_str("# a comment\n\n");
        }
        expected.push(text.matches('\n').count() + 1);
        text.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n{}",
            (0..i % 7)
                .map(|j| format!("  k{j}: v\n"))
                .collect::<String>()
        ));
    }
    let parsed = yaml(&text);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let lines: Vec<usize> = parsed.resources.iter().map(|r| r.source.line).collect();
    assert_eq!(lines, expected);
}

#[test]
fn batches_keep_order_and_bound_their_size() {
    let dir = std::env::temp_dir().join(format!("wv-batches-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sizes = [40, 30, 50, 10, 100, 5];
    let inputs: Vec<Input> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let path = dir.join(format!("{i}.yaml"));
            std::fs::write(&path, "#".repeat(size)).unwrap();
            Input::File(path)
        })
        .collect();
    let batches = batches(inputs.clone(), 80);
    let sizes_of = |batch: &Vec<Input>| -> Vec<usize> {
        batch
            .iter()
            .map(|i| match i {
                Input::File(p) => std::fs::metadata(p).unwrap().len() as usize,
                Input::Stdin => 0,
            })
            .collect()
    };
    let grouped: Vec<Vec<usize>> = batches.iter().map(sizes_of).collect();
    // In order; a batch stays within 80 bytes unless one file is larger.
    assert_eq!(grouped, [vec![40, 30], vec![50, 10], vec![100], vec![5]]);
    assert_eq!(batches.concat(), inputs);
    // Stdin is a batch of its own.
    let with_stdin = super::batches(vec![inputs[5].clone(), Input::Stdin, inputs[3].clone()], 80);
    assert_eq!(with_stdin.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The first error of `parsed` says `expected`.
fn assert_first_error(parsed: &Parsed, expected: &str) {
    let error = parsed.errors.first().expect("an error");
    assert!(error.message.contains(expected), "{error}");
}

// Hostile manifests: each is an error naming the input, document and line,
// read in bounded time and memory, and the documents around it are read and
// written back unchanged.

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n";

/// `hostile` between two valid documents: the one error is `expected`, in
/// document 2 at `line`; both neighbours are read; every byte is written back.
fn between_neighbours(hostile: &str, line: usize, expected: &str) {
    let text = format!(
        "{CONFIG_MAP}---\n{hostile}---\n{}",
        CONFIG_MAP.replace("before", "after")
    );
    let parsed = yaml(&text);
    assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
    let error = &parsed.errors[0];
    assert_eq!(
        (error.document, error.line),
        (Some(2), Some(line)),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("in.yaml:{line}: document 2: ")),
        "{error}"
    );
    assert!(error.message.contains(expected), "{error}");
    let names: Vec<String> = parsed.resources.iter().map(Resource::name).collect();
    assert_eq!(names, ["before", "after"]);
    assert_eq!(parsed.documents.len(), 3);
    assert!(
        render(&parsed).unwrap() == text,
        "every byte is written back"
    );
}

#[test]
fn a_hundred_megabyte_document_is_refused_by_its_size() {
    between_neighbours(
        &hostile::big_config_map(100 << 20),
        6,
        "the document is 100.0 MiB, larger than the limit of 32.0 MiB",
    );
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused() {
    let depth = 10_000;
    between_neighbours(&hostile::deep_flow(depth), 11, "recursion limit exceeded");
    // Block style: compact nested sequences, "- - - ... x" on one line.
    let block = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x:\n  {}x\n",
        "- ".repeat(depth)
    );
    assert_first_error(&yaml(&block), "recursion limit exceeded");
    let json = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","data":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let parsed = parse("deep.json", json.into_bytes(), Format::Json);
    assert_eq!(parsed.errors[0].line, Some(1));
    assert_first_error(&parsed, "recursion limit exceeded");
}

#[test]
fn an_alias_bomb_is_refused() {
    // The line of the alias that takes the expansion over the limit.
    between_neighbours(
        &hostile::alias_bomb(),
        13,
        "a3[4]: aliases expand the document",
    );
}

#[test]
fn a_list_of_a_million_items_is_refused() {
    let item = "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}";
    between_neighbours(
        &hostile::list(item, 1_000_000),
        6,
        "larger than the limit of 32.0 MiB",
    );
    // Under the size limit, the item limit stops decoding at item 100,001.
    let many = hostile::list("{apiVersion: v1, kind: Pod}", 100_001);
    between_neighbours(&many, 9, "items: a sequence of more than 100000 items");
    let limits = ReadLimits {
        list_items: 10,
        ..ReadLimits::default()
    };
    let json = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        [r#"{"apiVersion":"v1","kind":"Pod"}"#; 11].join(",")
    );
    let parsed = parse_with("l.json", json.into_bytes(), Format::Json, &limits);
    assert_first_error(&parsed, "more than 10 items");
}

#[test]
fn inputs_over_the_size_limit_are_refused_before_reading() {
    let limits = ReadLimits {
        input_bytes: 1024,
        ..ReadLimits::default()
    };
    let parsed = parse_with("big.yaml", vec![b'#'; 2048], Format::Yaml, &limits);
    assert!(parsed.documents.is_empty());
    assert_eq!(
        parsed.errors[0].to_string(),
        "big.yaml: the input is 0.0 MiB, larger than the limit of 0.0 MiB (--max-input-size); nothing of it was checked"
    );
    let dir = std::env::temp_dir().join(format!("wv-input-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.yaml");
    std::fs::write(&path, vec![b'#'; 2048]).unwrap();
    let error = read_input(&Input::File(path.clone()), &limits).unwrap_err();
    assert!(error.message.contains("larger than the limit"), "{error}");
    std::fs::write(&path, vec![b'#'; 1024]).unwrap();
    assert_eq!(read_input(&Input::File(path), &limits).unwrap().len(), 1024);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mistyped_builtin_kinds_are_errors_and_custom_kinds_are_read() {
    let typo = "apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: web\n";
    between_neighbours(
        typo,
        6,
        r#"has kind "Deploymnet", which apps/v1 does not have (did you mean "Deployment"?)"#,
    );
    let parsed = yaml("apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: f\n");
    assert!(parsed.errors.is_empty());
    assert_eq!(parsed.resources[0].kind(), "Frobnicator");
    let list = yaml("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secrte}\n");
    assert!(parsed.errors.is_empty());
    assert!(
        list.errors[0]
            .message
            .contains("item 0 has kind \"Secrte\""),
        "{}",
        list.errors[0]
    );
}

/// Found by fuzzing (`testdata/fuzz/manifest/crash-3b224c25...`): a JSON
/// error inside a multi-byte character gave a line at a byte offset that is
/// not a character boundary, and reading the input panicked.
#[test]
fn an_error_inside_a_multibyte_character_has_a_line() {
    let parsed = parse("x.json", "IIII\u{6e6}".as_bytes().to_vec(), Format::Json);
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].line, Some(1));
}
