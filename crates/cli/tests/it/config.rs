//! The configuration file and exemptions, end to end through the binary:
//! `testdata/config/cert-manager.yaml` on the real cert-manager chart
//! stream (as Helm's post-renderer and as `check`), ignore annotations added
//! to that stream, discovery of `wasm-validate.yaml`, and configuration
//! errors (exit 2, file, line and key in the message).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{json, policy_names, root, run};
use serde_json::Value;

const HELM3: &str = "testdata/real/cert-manager.helm3-post-render-stdin.yaml";
const CONFIG: &str = "testdata/config/cert-manager.yaml";

/// A fresh directory under the system's temporary directory, removed when
/// the guard drops.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wv-config-{name}-"))
        .tempdir()
        .unwrap()
}

/// Runs the binary in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn results<'a>(report: &'a Value, policy: &str) -> Vec<&'a Value> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == policy)
        .collect()
}

/// The line of `needle` in the configuration file.
fn config_line(needle: &str) -> usize {
    let text = std::fs::read_to_string(root().join(CONFIG)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_configuration_exempts_and_softens_findings_on_a_real_chart() {
    let input = std::fs::read(root().join(HELM3)).unwrap();
    let scratch = temp_dir("post-render");
    let dir = scratch.path();
    let report_path = dir.join("report.json");
    let output = run(
        &[
            "post-render",
            "--config",
            CONFIG,
            "--report-file",
            report_path.to_str().unwrap(),
            "--report-format",
            "json",
        ],
        Some(&input),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Without the configuration the release is denied (see post_render.rs);
    // with it, it goes through unchanged and the warnings reach stderr.
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(output.stdout, input);
    assert!(stderr.contains("WARN require-probes: container \"cert-manager-controller\" must define a readinessProbe"), "{stderr}");
    assert!(
        stderr.contains("EXEMPT require-requests-and-limits"),
        "{stderr}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let source = format!("{CONFIG}:{}", config_line("- reason: cert-manager"));
    let requests = results(&report, "require-requests-and-limits");
    let skipped: Vec<&&Value> = requests.iter().filter(|r| r["result"] == "skip").collect();
    assert_eq!(skipped.len(), 3, "{requests:#?}");
    for entry in &skipped {
        let exempted = entry["exempted"].as_array().unwrap();
        assert_eq!(exempted.len(), 4);
        for finding in exempted {
            assert_eq!(finding["exemption"]["by"], "config");
            assert_eq!(finding["exemption"]["source"], source.as_str());
            assert!(
                finding["exemption"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("PLAT-42")
            );
            assert!(finding["line"].as_u64().unwrap() > 13000);
        }
        assert!(entry.get("violations").is_none());
    }
    let replicas = results(&report, "require-minimum-replicas");
    assert!(replicas.iter().all(|r| r["action"] == "audit"));
    assert_eq!(replicas.iter().filter(|r| r["result"] == "fail").count(), 3);
    let probes = results(&report, "require-probes");
    assert_eq!(probes.iter().filter(|r| r["result"] == "warn").count(), 2);
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["audited"], 3);
    assert_eq!(summary["warned"], 2);
    assert_eq!(summary["skipped"], 3);
    assert_eq!(summary["exempted"], 12);
    let policies = report["policies"].as_array().unwrap();
    let action =
        |name: &str| policies.iter().find(|p| p["name"] == name).unwrap()["action"].clone();
    assert_eq!(action("require-probes"), "warn");
    assert_eq!(action("privileged"), "deny");

    // `check` agrees, and --fail-on warn makes the warnings fail the run.
    let check = run(&["check", "--config", CONFIG, HELM3], None);
    assert_eq!(check.status.code(), Some(0));
    let strict = run(
        &["check", "--config", CONFIG, "--fail-on", "warn", HELM3],
        None,
    );
    assert_eq!(strict.status.code(), Some(1));
}

/// The real stream with annotations added to the `cert-manager` Deployment's
/// pod template (a user who owns the chart would write them in values).
fn annotated_stream(ignore: &str) -> String {
    let input = std::fs::read_to_string(root().join(HELM3)).unwrap();
    let anchor = "kind: Deployment\nmetadata:\n  name: cert-manager\n";
    let start = input.find(anchor).unwrap();
    let template = start + input[start..].find("  template:\n    metadata:\n").unwrap();
    let insert = template + "  template:\n    metadata:\n".len();
    format!(
        "{}      annotations:\n        wasm-validate.dev/ignore: \"{ignore}\"\n        wasm-validate.dev/ignore-reason: controller probes come from leader election\n{}",
        &input[..insert],
        &input[insert..]
    )
}

#[test]
fn ignore_annotations_exempt_and_unknown_names_warn() {
    let stream =
        annotated_stream("require-probes, require-requests-and-limits, require-minimum-replica");
    // (The schema stage's notices on this stream are tested in schema.rs.)
    let output = run(
        &["check", "--no-config", "--schema=off", "-o", "json", "-"],
        Some(stream.as_bytes()),
    );
    let report = json(&output);
    // The typo leaves require-minimum-replicas failing: exit 1, and a notice says why.
    assert_eq!(output.status.code(), Some(1));
    let notices = report["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    let notice = notices[0]["message"].as_str().unwrap();
    assert!(
        notice.contains("\"require-minimum-replica\"") && notice.contains("exempts nothing"),
        "{notice}"
    );
    assert_eq!(report["summary"]["notices"], 1);
    let controller = |policy: &str| {
        results(&report, policy)
            .into_iter()
            .find(|r| r["resource"]["name"] == "cert-manager")
            .unwrap()
            .clone()
    };
    for policy in ["require-probes", "require-requests-and-limits"] {
        let entry = controller(policy);
        assert_eq!(entry["result"], "skip", "{entry:#}");
        assert_eq!(entry["exemption"]["by"], "annotation");
        assert_eq!(
            entry["exemption"]["reason"],
            "controller probes come from leader election"
        );
        assert!(!entry["exempted"].as_array().unwrap().is_empty());
    }
    assert_eq!(controller("require-minimum-replicas")["result"], "fail");
    // The other Deployments are not exempted.
    let others = results(&report, "require-probes")
        .into_iter()
        .filter(|r| r["resource"]["name"] == "cert-manager-cainjector")
        .all(|r| r["result"] == "fail");
    assert!(others);
    // The text output shows the notice as a warning.
    let text = run(&["check", "--no-config", "-"], Some(stream.as_bytes()));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("WARN -:") && text.contains("require-minimum-replica"),
        "{text}"
    );
    // A configuration can turn annotation exemptions off.
    let scratch = temp_dir("no-annotations");
    let dir = scratch.path();
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nannotationExemptions: false\n",
    )
    .unwrap();
    std::fs::write(dir.join("stream.yaml"), &stream).unwrap();
    let strict = run_in(dir, &["check", "--schema=off", "-o", "json", "stream.yaml"]);
    let report = json(&strict);
    assert_eq!(report["summary"]["skipped"], 0);
    assert_eq!(report["summary"]["notices"], 0);
}

#[test]
fn wasm_validate_yaml_is_found_in_the_working_directory() {
    let scratch = temp_dir("discovery");
    let dir = scratch.path();
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\npolicies:\n  - policy: privileged\n",
    )
    .unwrap();
    let manifest = root().join("testdata/fixtures/violations.yaml");
    let manifest = manifest.to_str().unwrap();
    let report = json(&run_in(dir, &["check", "-o", "json", manifest]));
    let names = policy_names(&report);
    assert_eq!(names, ["privileged"]);
    let ignored = json(&run_in(
        dir,
        &["check", "--no-config", "-o", "json", manifest],
    ));
    assert!(ignored["policies"].as_array().unwrap().len() > 20);
}

#[test]
fn configuration_errors_exit_2_with_file_line_and_key() {
    let scratch = temp_dir("errors");
    let dir = scratch.path();
    let cases = [
        (
            "policies:\n  - policy: privileged\n    enforce: true\n",
            "bad.yaml:5:5: policies[0]: unknown field `enforce`",
        ),
        (
            "policies:\n  - policy: privileged\n    match:\n      namespaces: [\"team-[a\"]\n",
            "bad.yaml:6: policies[0].match.namespaces[0]: invalid glob \"team-[a\"",
        ),
        (
            "policies:\n  - policy: privilegd\n",
            "bad.yaml:4: policies[0].policy: no built-in policy is named \"privilegd\"",
        ),
        (
            "exemptions:\n  - reason: legacy\n    names: [\"{a,b\"]\n",
            "bad.yaml:5: exemptions[0].names[0]: invalid glob",
        ),
        (
            "policies:\n  - policy: require-minimum-replicas\n    settings: {minimum: none}\n",
            "bad.yaml:5: policies[0].settings: policy require-minimum-replicas: invalid settings",
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(
            dir.join("bad.yaml"),
            format!("apiVersion: wasm-validate.dev/v1\nkind: Configuration\n{body}"),
        )
        .unwrap();
        for args in [
            &["check", "--config", "bad.yaml", "-"][..],
            &["post-render", "--config", "bad.yaml"][..],
        ] {
            let output = run_in(dir, args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{stderr}");
            assert!(
                stderr.contains(expected),
                "expected {expected:?} in {stderr}"
            );
            assert!(output.stdout.is_empty());
        }
    }
    let missing = run_in(dir, &["check", "--config", "nowhere.yaml", "-"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere.yaml: cannot read"));
}
