//! The plugin as kubectl runs it: a real `kubectl` (Debian's
//! `kubernetes-client`, installed by `.ci/run`) finds `kubectl-wasm_validate`
//! on PATH and runs it as `kubectl wasm-validate`.

use std::process::{Command, Output};

use crate::common::{kubectl_installed, path_with_plugin, plugin_binary as plugin, root};

/// kubectl, with the plugin's folder first on PATH; `None` when kubectl is
/// not installed outside CI.
fn kubectl(args: &[&str]) -> Option<Output> {
    if !kubectl_installed() {
        return None;
    }
    Some(
        Command::new("kubectl")
            .args(args)
            .current_dir(root())
            .env("PATH", path_with_plugin())
            .env("NO_COLOR", "1")
            .output()
            .unwrap(),
    )
}

/// The JSON report of a run that denied something (exit 1).
fn denied_report(output: &Output) -> serde_json::Value {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn kubectl_lists_the_plugin() {
    let Some(output) = kubectl(&["plugin", "list"]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.ends_with("/kubectl-wasm_validate")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn kubectl_runs_the_plugin_on_files() {
    let Some(output) = kubectl(&[
        "wasm-validate",
        "-f",
        "testdata/fixtures/violations.yaml",
        "-o",
        "json",
    ]) else {
        return;
    };
    let report = denied_report(&output);
    assert_eq!(report["kind"], "CheckReport");
    assert_eq!(report["summary"]["resources"], 5);

    let Some(clean) = kubectl(&[
        "wasm-validate",
        "-f",
        "testdata/fixtures/compliant-pod.yaml",
    ]) else {
        return;
    };
    assert_eq!(clean.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&clean.stdout)
            .contains("1 resources, 23 policies, 20 evaluations: 20 passed, 0 failed")
    );
}

#[test]
fn directories_need_dash_r_for_subdirectories_as_in_kubectl() {
    let run = |args: &[&str]| {
        let output = Command::new(plugin())
            .args(args)
            .current_dir(root())
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let flat = run(&["-f", "testdata/real", "-o", "json"]);
    let deep = run(&["-f", "testdata/real", "-R", "-o", "json"]);
    let files = |report: &serde_json::Value| {
        report["results"].as_array().unwrap().iter().any(|r| {
            r["resource"]["file"]
                .as_str()
                .unwrap()
                .contains("kube-prometheus/")
        })
    };
    assert!(!files(&flat));
    assert!(files(&deep));
}

#[test]
fn without_filename_it_explains_and_exits_2() {
    let output = Command::new(plugin()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("-f"));
}

#[test]
fn the_configuration_drives_the_plugin_too() {
    let output = Command::new(plugin())
        .args([
            "-f",
            "testdata/real/cert-manager.helm3-post-render-stdin.yaml",
            "--config",
            "testdata/config/cert-manager.yaml",
            "-o",
            "json",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    // The configuration softens and exempts every finding of the chart.
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["summary"]["skipped"], 3);
    assert!(report["summary"]["warned"].as_u64().unwrap() > 0);
    let bad = Command::new(plugin())
        .args(["-f", "-", "--config", "testdata/fixtures/violations.yaml"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("testdata/fixtures/violations.yaml:"));
}

#[test]
fn files_get_the_schema_stage_with_kubectl_style_flags() {
    let run = |args: &[&str]| {
        Command::new(plugin())
            .args(args)
            .current_dir(root())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let output = run(&[
        "-f",
        "testdata/schema/split",
        "-R",
        "-o",
        "json",
        "--no-config",
        "--policy",
        "privileged",
    ]);
    let report = denied_report(&output);
    let schema: Vec<&serde_json::Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "schema")
        .collect();
    assert_eq!(schema.len(), 1);
    assert_eq!(
        schema[0]["violations"][0]["message"],
        "spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\""
    );
    // --schema=off and --crd-path are there as in `wasm-validate check`.
    let off = run(&[
        "-f",
        "testdata/schema/split/widget.yaml",
        "--schema=off",
        "-o",
        "json",
        "--no-config",
        "--policy",
        "privileged",
    ]);
    assert_eq!(off.status.code(), Some(0));
    let with_crd = run(&[
        "-f",
        "testdata/schema/split/widget.yaml",
        "--crd-path",
        "testdata/schema/split/crd",
        "--no-config",
        "--policy",
        "privileged",
    ]);
    assert_eq!(with_crd.status.code(), Some(1));
}
