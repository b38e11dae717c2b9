//! The schema stage through the binary: on by default, its flags and its
//! configuration, CRDs from the inputs and from --crd-path, strict mode,
//! and its findings in the report formats and in post-render.

use serde_json::Value;

use crate::common::*;

fn schema_results(report: &Value) -> Vec<&Value> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "schema")
        .collect()
}

/// Copies the fixture at `from` (relative to the workspace) to `dir/to`.
fn copy_fixture(from: &str, dir: &std::path::Path, to: &str) {
    let target = dir.join(to);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::copy(root().join(from), target).unwrap();
}

/// The Gizmo custom resource and the DRA DeviceClass fixtures in `dir`.
fn copy_manifests(dir: &std::path::Path) {
    copy_fixture("testdata/schema/split/widget.yaml", dir, "widget.yaml");
    copy_fixture("testdata/schema/versions.yaml", dir, "dra.yaml");
}

/// The messages of the schema findings of a JSON report.
fn schema_messages(report: &Value) -> Vec<&str> {
    schema_results(report)
        .iter()
        .flat_map(|r| r["violations"].as_array().into_iter().flatten())
        .map(|v| v["message"].as_str().unwrap())
        .collect()
}

#[test]
fn schema_findings_are_reported_first_with_pointer_and_line() {
    let output = run(
        &[
            "check",
            "--no-config",
            "--policy",
            "privileged",
            "-o",
            "json",
            "testdata/schema/pods.yaml",
        ],
        None,
    );
    // Schema findings deny (exit 1). (Policies that read a field of the
    // wrong type would add errors, exit 2.)
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json(&output);
    assert_eq!(report["policies"][0]["name"], "schema");
    assert_eq!(report["policies"][0]["action"], "deny");
    let results = schema_results(&report);
    assert_eq!(results.len(), 7, "every invalid Pod, and only those");
    let protocol = results
        .iter()
        .flat_map(|r| r["violations"].as_array().unwrap())
        .find(|v| v["path"] == "/spec/containers/0/ports/0/protocol")
        .unwrap();
    assert_eq!(
        protocol["message"],
        "spec.containers[0].ports[0].protocol: Unsupported value: \"udp\": supported values: \"SCTP\", \"TCP\", \"UDP\""
    );
    let line = protocol["line"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(root().join("testdata/schema/pods.yaml")).unwrap();
    assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "protocol: udp");
    // The schema entry of a resource comes before its policies' entries.
    let all = report["results"].as_array().unwrap();
    let first = all
        .iter()
        .position(|r| r["resource"]["line"] == results[0]["resource"]["line"])
        .unwrap();
    assert_eq!(all[first]["policy"], "schema");
    assert!(report["summary"]["failed"].as_u64().unwrap() >= 7);
}

#[test]
fn crds_come_from_the_inputs_or_from_crd_path() {
    // The CR alone: no schema, a notice, and nothing fails.
    let alone = run(
        &[
            "check",
            "--no-config",
            "-o",
            "json",
            "testdata/schema/split/widget.yaml",
        ],
        None,
    );
    let report = json(&alone);
    assert_eq!(alone.status.code(), Some(0));
    assert!(schema_results(&report).is_empty());
    let notices = report["notices"].as_array().unwrap();
    assert!(
        notices.iter().any(|n| n["message"]
            .as_str()
            .unwrap()
            .starts_with("no schema for example.com/v1 Gizmo")),
        "{notices:#?}"
    );
    // With its CRD given: the enum is checked.
    let with_crd = run(
        &[
            "check",
            "--no-config",
            "-o",
            "json",
            "--crd-path",
            "testdata/schema/split/crd",
            "testdata/schema/split/widget.yaml",
        ],
        None,
    );
    assert_eq!(with_crd.status.code(), Some(1));
    let report = json(&with_crd);
    let found = schema_results(&report);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]["violations"][0]["message"],
        "spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\""
    );
    assert_eq!(found[0]["violations"][0]["line"], 8);
    // With the CRD among the inputs (a directory holding both), as a chart ships it.
    let together = run(
        &[
            "check",
            "--no-config",
            "-o",
            "json",
            "testdata/schema/split",
        ],
        None,
    );
    assert_eq!(together.status.code(), Some(1));
    assert_eq!(schema_results(&json(&together)).len(), 1);
    // A --crd-path without any CRD is an error naming it.
    let empty = run(
        &[
            "check",
            "--no-config",
            "--crd-path",
            "testdata/schema/split/widget.yaml",
            "testdata/schema/pods.yaml",
        ],
        None,
    );
    assert_eq!(empty.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(
        stderr.contains("testdata/schema/split/widget.yaml: no CustomResourceDefinition found"),
        "{stderr}"
    );
}

#[test]
fn strict_mode_makes_a_kind_without_schema_an_error_and_off_skips_the_stage() {
    let strict = run(
        &[
            "check",
            "--no-config",
            "--schema=strict",
            "-o",
            "json",
            "testdata/schema/split/widget.yaml",
        ],
        None,
    );
    assert_eq!(strict.status.code(), Some(2));
    let report = json(&strict);
    let errors = report["errors"].as_array().unwrap();
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("(--schema=strict)"),
        "{errors:#?}"
    );
    assert_eq!(errors[0]["line"], 3);

    let off = run(
        &[
            "check",
            "--no-config",
            "--schema=off",
            "-o",
            "json",
            "testdata/schema/pods.yaml",
        ],
        None,
    );
    let report = json(&off);
    assert!(schema_results(&report).is_empty());
    assert!(
        report["policies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "schema")
    );

    let bad = run(
        &[
            "check",
            "--no-config",
            "--kubernetes-version",
            "1.20",
            "testdata/schema/pods.yaml",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("Kubernetes 1.20 has no built-in schemas (built in: 1.33"),
        "{stderr}"
    );
    let mode = run(
        &[
            "check",
            "--no-config",
            "--schema=loose",
            "testdata/schema/pods.yaml",
        ],
        None,
    );
    assert_eq!(mode.status.code(), Some(2));
}

#[test]
fn the_configuration_sets_the_stage_and_flags_win() {
    let dir = scratch("schema", "config");
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nschema:\n  mode: strict\n  kubernetesVersion: \"1.33\"\n  crdPaths: [crds]\n",
    )
    .unwrap();
    copy_fixture(
        "testdata/schema/split/crd/gizmos.yaml",
        &dir,
        "crds/gizmos.yaml",
    );
    copy_manifests(&dir);
    // 1.33 from the file: resource.k8s.io/v1 DeviceClass is not served; the
    // CRD from crdPaths checks the Gizmo.
    let output = run_with(
        &dir,
        &["check", "-o", "json", "widget.yaml", "dra.yaml"],
        None,
        false,
    );
    let report = json(&output);
    let messages = schema_messages(&report);
    assert!(
        messages.iter().any(|m| m.contains("in Kubernetes 1.33")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("spec.size: Unsupported value")),
        "{messages:#?}"
    );
    // The flag wins: 1.37 serves resource.k8s.io/v1.
    let output = run_with(
        &dir,
        &[
            "check",
            "-o",
            "json",
            "--kubernetes-version",
            "v1.37.0",
            "dra.yaml",
        ],
        None,
        false,
    );
    let report = json(&output);
    assert!(
        schema_results(&report)
            .iter()
            .all(|r| r["result"] != "fail"),
        "{report:#}"
    );
    // A mode the file misspells is an error naming the key.
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nschema: {mode: loose}\n",
    )
    .unwrap();
    let output = run_with(&dir, &["check", "widget.yaml"], None, false);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("schema.mode"));
}

#[test]
fn post_render_refuses_a_chart_whose_custom_resource_its_own_crd_rejects() {
    let crd =
        std::fs::read_to_string(root().join("testdata/schema/split/crd/gizmos.yaml")).unwrap();
    let cr = std::fs::read_to_string(root().join("testdata/schema/split/widget.yaml")).unwrap();
    let stream = format!("---\n{crd}---\n{cr}");
    let output = run(
        &["post-render", "--no-config", "--tty-report", "never"],
        Some(stream.as_bytes()),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "a denied release writes nothing");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("schema: spec.size: Unsupported value: \"huge\""),
        "{stderr}"
    );
    // Fixed, it goes through unchanged.
    let fixed = stream.replace("size: huge", "size: small");
    let output = run(
        &[
            "post-render",
            "--no-config",
            "--tty-report",
            "never",
            "--profile",
            "baseline",
        ],
        Some(fixed.as_bytes()),
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), fixed);
}

#[test]
fn schema_findings_reach_sarif_and_junit() {
    let sarif = json(&run(
        &[
            "check",
            "--no-config",
            "-o",
            "sarif",
            "testdata/schema/workloads.yaml",
        ],
        None,
    ));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "schema"),
        "{results:#?}"
    );
    let junit = run(
        &[
            "check",
            "--no-config",
            "-o",
            "junit",
            "testdata/schema/workloads.yaml",
        ],
        None,
    );
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("spec.selector: Required value"), "{xml}");
}

#[test]
fn a_bundle_carries_the_crds_and_the_kubernetes_version() {
    let dir = scratch("schema", "bundle");
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nprofiles: [baseline]\nschema:\n  kubernetesVersion: \"1.33\"\n  crdPaths: [crds]\n",
    )
    .unwrap();
    copy_fixture(
        "testdata/schema/split/crd/gizmos.yaml",
        &dir,
        "crds/gizmos.yaml",
    );
    let created = run_with(&dir, &["bundle", "create", "-o", "b.tgz"], None, false);
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    // The air-gapped machine has the bundle and the manifests, not the CRD files.
    std::fs::remove_dir_all(dir.join("crds")).unwrap();
    std::fs::remove_file(dir.join("wasm-validate.yaml")).unwrap();
    copy_manifests(&dir);
    let output = run_with(
        &dir,
        &[
            "check",
            "--bundle",
            "b.tgz",
            "-o",
            "json",
            "widget.yaml",
            "dra.yaml",
        ],
        None,
        false,
    );
    let report = json(&output);
    let messages = schema_messages(&report);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("spec.size: Unsupported value")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("in Kubernetes 1.33")),
        "{messages:#?}"
    );
}

/// A CRD's x-kubernetes-validations (CEL) rules are evaluated in the CEL
/// runtime, each failure a schema finding at its node, in the API server's
/// words, as the fixture's `# error:` comments state them.
#[test]
fn crd_cel_rules_are_evaluated_with_the_api_servers_messages() {
    let fixture = "testdata/schema/cel/rules.yaml";
    let output = run(
        &[
            "check",
            "--policy",
            "require-ingress-tls",
            "-o",
            "json",
            fixture,
        ],
        None,
    );
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let text = std::fs::read_to_string(root().join(fixture)).unwrap();
    let mut expected: Vec<(String, String)> = Vec::new();
    let mut comments = Vec::new();
    for line in text.lines() {
        if let Some(message) = line.strip_prefix("# error: ") {
            comments.push(message.to_owned());
        }
        if let Some(name) = line
            .strip_prefix("  name: ")
            .filter(|_| !comments.is_empty())
        {
            expected.extend(comments.drain(..).map(|m| (name.to_owned(), m)));
        }
    }
    assert_eq!(expected.len(), 5);
    let mut found: Vec<(String, String)> = schema_results(&report)
        .iter()
        .flat_map(|r| {
            let name = r["resource"]["name"].as_str().unwrap().to_owned();
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |v| (name.clone(), v["message"].as_str().unwrap().to_owned()))
        })
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    // The finding points at the node (and the rule's fieldPath).
    let bad = schema_results(&report)
        .into_iter()
        .find(|r| r["resource"]["name"] == "scale-bad")
        .unwrap();
    let paths: Vec<&str> = bad["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/spec", "/spec/minReplicas", "/spec/targets/1"]);
    assert!(
        report["notices"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
}
