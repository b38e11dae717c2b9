//! `--profile`, `--settings` and the restricted fixes, through the
//! `wasm-validate` binary as a user runs it.

use crate::common::{json, run};

/// The policies with a `fail` result, in report order.
fn failed(report: &serde_json::Value) -> Vec<&str> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .map(|r| r["policy"].as_str().unwrap())
        .collect()
}

/// `check -o json --profile fixes --profile restricted FILE`: exit code and report.
fn fixed_and_restricted(file: &str) -> (Option<i32>, serde_json::Value) {
    let args = [
        "check",
        "-o",
        "json",
        "--profile",
        "fixes",
        "--profile",
        "restricted",
        file,
    ];
    let output = run(&args, None);
    (output.status.code(), json(&output))
}

fn policy_names(report: &serde_json::Value) -> Vec<String> {
    crate::common::policy_names(report)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn profiles_select_the_levels_with_overrides() {
    let file = "testdata/fixtures/compliant-pod.yaml";
    let baseline = policy_names(&json(&run(
        &["check", "-o", "json", "--profile", "baseline", file],
        None,
    )));
    let restricted = policy_names(&json(&run(
        &["check", "-o", "json", "--profile", "restricted", file],
        None,
    )));
    assert_eq!(baseline.len(), 12, "{baseline:?}");
    assert!(baseline.contains(&"host-probes-and-host-lifecycle".to_owned()));
    // Restricted = baseline + 7 restricted controls - the 4 baseline controls they replace.
    assert_eq!(restricted.len(), 12 + 7 - 4, "{restricted:?}");
    for replaced in [
        "host-path-volumes",
        "seccomp-profile-baseline",
        "capabilities-baseline",
        "proc-mount",
    ] {
        assert!(baseline.contains(&replaced.to_owned()));
        assert!(!restricted.contains(&replaced.to_owned()), "{replaced}");
    }
    assert!(restricted.contains(&"privileged".to_owned()));
    assert!(restricted.contains(&"restricted-volumes".to_owned()));
    assert!(!restricted.iter().any(|n| n.starts_with("require-")));
}

#[test]
fn a_pod_at_baseline_fails_restricted_only() {
    // The starter fixture's "baseline-only" pod: nothing Baseline forbids,
    // but no restricted hardening.
    let pod = b"apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: nginx:1.27}\n";
    let baseline = run(&["check", "--profile", "baseline", "-"], Some(pod));
    assert_eq!(baseline.status.code(), Some(0));
    let restricted = run(
        &["check", "--profile", "restricted", "-o", "json", "-"],
        Some(pod),
    );
    assert_eq!(restricted.status.code(), Some(1));
    let report = json(&restricted);
    assert_eq!(
        failed(&report),
        [
            "allow-privilege-escalation",
            "capabilities-restricted",
            "run-as-non-root",
            "seccomp-profile-restricted"
        ]
    );
    let controls: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .map(|r| r["control"].as_str().unwrap())
        .collect();
    assert_eq!(
        controls,
        [
            "Privilege Escalation",
            "Capabilities",
            "Running as Non-root",
            "Seccomp"
        ]
    );
}

#[test]
fn settings_are_validated_before_anything_runs() {
    let file = "testdata/fixtures/compliant-pod.yaml";
    for (settings, expected) in [
        (
            "allowed-image-registries={registries: []}",
            "policy allowed-image-registries: invalid settings: /registries:",
        ),
        (
            "require-minimum-replicas={minimum: 0}",
            "policy require-minimum-replicas: invalid settings: /minimum:",
        ),
        (
            "require-minimum-replicas={minimum: 2, bogus: 1}",
            "'bogus' was unexpected",
        ),
        ("privileged={strict: true}", "this policy takes no settings"),
        ("required-labels=[a]", "settings must be a mapping"),
        ("required-labels", "expected NAME=VALUE"),
        (
            "no-such-policy={}",
            "--settings no-such-policy: no chosen policy",
        ),
    ] {
        let output = run(&["check", "--settings", settings, file], None);
        assert_eq!(output.status.code(), Some(2), "{settings}");
        assert!(output.stdout.is_empty(), "{settings}: nothing ran");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{settings}: {stderr}");
    }
    // A policy that needs settings is chosen by giving them; an alias works too.
    let output = run(
        &[
            "check",
            "-o",
            "json",
            "--settings",
            "allowed-image-registries={registries: [docker.io/library/]}",
            file,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(policy_names(&report), ["allowed-image-registries"]);
    let message = report["results"][0]["violations"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("registry.example/app:1.4.2"), "{message}");
}

#[test]
fn restricted_fixes_make_real_deployments_pass_restricted() {
    // Every workload of the microservices demo passes the restricted level
    // once the fixes ran; without them, every one of them fails.
    let file = "testdata/real/microservices-demo.yaml";
    let before = json(&run(
        &["check", "-o", "json", "--profile", "restricted", file],
        None,
    ));
    assert!(before["summary"]["failed"].as_u64().unwrap() >= 12);
    let (code, report) = fixed_and_restricted(file);
    assert_eq!(code, Some(0));
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["summary"]["mutated"], 12);
}

#[test]
fn restricted_fixes_leave_what_they_cannot_fix_reported() {
    // node-exporter shares the host's namespaces and mounts host paths: no
    // fix can change that (nor its added SYS_TIME capability), so restricted
    // still fails, for those reasons only.
    let file = "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml";
    let (code, report) = fixed_and_restricted(file);
    assert_eq!(code, Some(1));
    let mut failed = failed(&report);
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "capabilities-restricted",
            "host-namespaces",
            "host-ports",
            "restricted-volumes"
        ]
    );
}
