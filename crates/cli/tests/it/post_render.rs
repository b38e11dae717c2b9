//! `wasm-validate post-render` driven exactly as Helm drives a post-renderer:
//! argv from `--post-renderer-args`, the rendered release on stdin, the new
//! release on stdout, a non-zero exit to stop the release. The streams are the
//! real cert-manager renders of `testdata/real` (Helm 3 and Helm 4).

use crate::hostile;

use crate::common::{root, run};
use serde_json::Value;
use wasm_validate_manifest::split;

const HELM3: &str = "testdata/real/cert-manager.helm3-post-render-stdin.yaml";
const HELM4: &str = "testdata/real/cert-manager.helm4-post-render-stdin.yaml";
const MUTATORS: [&str; 4] = [
    "--policy",
    "drop-all-capabilities",
    "--policy",
    "testdata/wat/label-deployments.wat",
];

fn pieces(text: &str) -> Vec<&str> {
    split(text).into_iter().map(|p| &text[p.range]).collect()
}

fn value(piece: &str) -> Value {
    serde_yaml::from_str(piece).unwrap()
}

fn check_stream(input_path: &str) -> (Vec<String>, Vec<String>) {
    let input = std::fs::read_to_string(root().join(input_path)).unwrap();
    let output = run(
        &[&["post-render"][..], &MUTATORS].concat(),
        Some(input.as_bytes()),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let out = String::from_utf8(output.stdout).unwrap();
    let (before, after) = (pieces(&input), pieces(&out));
    assert_eq!(
        before.len(),
        after.len(),
        "same number of documents out as in"
    );
    let mut patched = 0;
    for (old, new) in before.iter().zip(&after) {
        let old_value = value(old);
        if old_value["kind"] == "Deployment" {
            patched += 1;
            let mut expected = old_value.clone();
            expected["metadata"]["labels"]["wasm-validate.dev/mutated"] = "true".into();
            assert_eq!(
                value(new),
                expected,
                "the mutation is visible, nothing else changed"
            );
        } else {
            assert_eq!(old, new, "an untouched document is byte-identical");
        }
    }
    assert!(patched >= 3, "cert-manager has three Deployments");
    (
        before.iter().map(|s| s.to_string()).collect(),
        after.iter().map(|s| s.to_string()).collect(),
    )
}

#[test]
fn helm3_stream_is_mutated_and_otherwise_byte_identical() {
    let (before, after) = check_stream(HELM3);
    for (old, new) in before.iter().zip(&after) {
        let source = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("# Source:"))
                .map(str::to_owned)
        };
        assert_eq!(source(old), source(new), "the # Source: comment is kept");
    }
}

#[test]
fn helm4_stream_keeps_postrender_filename_annotations() {
    let (before, after) = check_stream(HELM4);
    let annotation = |text: &str| {
        value(text)["metadata"]["annotations"]["postrenderer.helm.sh/postrender-filename"]
            .as_str()
            .map(str::to_owned)
    };
    for (old, new) in before.iter().zip(&after) {
        assert!(annotation(old).is_some());
        assert_eq!(annotation(old), annotation(new));
    }
}

#[test]
fn denial_writes_nothing_to_stdout_and_explains_on_stderr_and_in_the_report_file() {
    let input = std::fs::read(root().join(HELM3)).unwrap();
    let report = std::env::temp_dir().join(format!("wv-report-{}.json", std::process::id()));
    let report_arg = format!("--report-file={}", report.display());
    let output = run(
        &[
            "post-render",
            "--policy",
            "require-resource-limits",
            &report_arg,
            "--report-format",
            "json",
        ],
        Some(&input),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout on a denial");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    std::fs::remove_file(&report).unwrap();
    let violations: Vec<&str> = written["results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["violations"].as_array().into_iter().flatten())
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert!(violations.len() >= 6, "{violations:?}");
    for message in &violations {
        assert!(stderr.contains(message), "stderr explains {message}");
    }
    assert!(stderr.contains("the release was denied by policy"));
    assert_eq!(written["summary"]["violations"], violations.len());
}

#[test]
fn invalid_stream_is_an_error_with_exit_2_and_no_output() {
    let output = run(&["post-render"], Some(b"apiVersion: v1\nkind: [oops\n"));
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("-:2: document 1: invalid YAML"), "{stderr}");
}

/// A hostile document inside a real release: post-render stops the release
/// (exit 2) with the error naming stdin's line and document, and writes
/// nothing to stdout, so Helm never gets a stream with a document lost,
/// doubled or moved.
#[test]
fn a_hostile_document_stops_the_release_and_nothing_is_written() {
    let input = std::fs::read_to_string(root().join(HELM3)).unwrap();
    let documents = pieces(&input);
    let middle = documents.len() / 2;
    let (bomb, deep) = (hostile::alias_bomb(), hostile::deep_flow(10_000));
    let big = hostile::big_config_map(2 << 20);
    let cases: [(&str, &str, &[&str]); 6] = [
        (&bomb, "repetition limit exceeded", &[]),
        (&deep, "recursion limit exceeded", &[]),
        (
            &big,
            "larger than the limit of 1.0 MiB",
            &["--max-document-size", "1"],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: 1, a: 2}\n",
            "duplicate key",
            &[],
        ),
        (
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n",
            "did you mean \"Deployment\"",
            &[],
        ),
        (
            "- just\n- a sequence\n",
            "is a sequence, not a Kubernetes object",
            &[],
        ),
    ];
    for (hostile, cause, flags) in cases {
        let mut stream: String = documents[..middle].concat();
        let line = stream.lines().count() + 2;
        stream.push_str("---\n");
        stream.push_str(hostile);
        stream.push_str(&documents[middle..].concat());
        let output = run(
            &[&["post-render"][..], flags].concat(),
            Some(stream.as_bytes()),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{cause}: {stderr}");
        assert!(output.stdout.is_empty(), "{cause}");
        // The line is the document's first, or the line of the error in it.
        let document = format!(": document {}: ", middle + 1);
        let error = stderr
            .lines()
            .find(|l| l.contains(&document) && l.contains(cause))
            .unwrap_or_else(|| panic!("{cause}: {stderr}"));
        let at: usize = error
            .split_once("-:")
            .and_then(|(_, rest)| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{error}"));
        assert!(
            (line..line + hostile.lines().count()).contains(&at),
            "{cause}: line {at} is outside {line}..: {error}"
        );
    }
}
