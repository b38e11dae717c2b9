//! Report outputs: several in one run (`-o text -o sarif=FILE`), and SARIF
//! that validates against the official SARIF 2.1.0 JSON Schema kept in
//! `testdata/schemas`.

use crate::common::{json, root, run};

fn sarif_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("testdata/schemas/sarif-2.1.0.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn several_outputs_in_one_run() {
    let scratch = tempfile::Builder::new()
        .prefix("wv-outputs-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    let sarif = dir.join("results.sarif");
    let report = dir.join("report.json");
    let file = "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml";
    let output = run(
        &[
            "check",
            "-o",
            "text",
            "-o",
            &format!("sarif={}", sarif.display()),
            "-o",
            &format!("json={}", report.display()),
            file,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("FAIL host-namespaces"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let violations = report["summary"]["violations"].as_u64().unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len() as u64,
        violations
    );

    let two_on_stdout = run(&["check", "-o", "text", "-o", "json", file], None);
    assert_eq!(two_on_stdout.status.code(), Some(2));
    let bad = run(&["check", "-o", "yaml", file], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown format"));
}

#[test]
fn sarif_validates_against_the_official_schema_and_locates_fields() {
    let schema = sarif_schema();
    for file in [
        "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml",
        "testdata/real/microservices-demo.yaml",
        "testdata/bad/invalid.yaml",
    ] {
        let sarif = json(&run(&["check", "-o", "sarif", file], None));
        let errors: Vec<String> = schema.iter_errors(&sarif).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{file}: {errors:?}");
        assert_eq!(sarif["version"], "2.1.0");
        let run0 = &sarif["runs"][0];
        let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
        for result in run0["results"].as_array().unwrap() {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            let region = &result["locations"][0]["physicalLocation"]["region"];
            assert!(region["startLine"].as_u64().unwrap() >= 1);
        }
    }
    // The hostNetwork violation points at its own line, not the document's first.
    let sarif = json(&run(
        &[
            "check",
            "-o",
            "sarif",
            "--policy",
            "host-namespaces",
            "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml",
        ],
        None,
    ));
    let lines: Vec<u64> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, [100, 101]);
    // Unreadable input is a tool execution notification, and the run is not successful.
    let bad = json(&run(
        &["check", "-o", "sarif", "testdata/bad/invalid.yaml"],
        None,
    ));
    let invocation = &bad["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(
        !invocation["toolExecutionNotifications"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn junit_parses_back_with_one_suite_per_policy() {
    let file = "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml";
    let output = run(
        &["check", "-o", "junit", "-o", "json=/dev/null", file],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let xml = String::from_utf8(output.stdout).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let json = json(&run(&["check", "-o", "json", file], None));
    let policies = json["policies"].as_array().unwrap();
    assert_eq!(report.test_suites.len(), policies.len());
    assert_eq!(
        report.tests,
        json["summary"]["evaluations"].as_u64().unwrap() as usize
    );
    assert_eq!(
        report.failures,
        json["summary"]["failed"].as_u64().unwrap() as usize
    );
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "host-namespaces")
        .unwrap();
    let case = &suite.test_cases[0];
    assert_eq!(case.name.as_str(), "DaemonSet/monitoring/node-exporter");
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess {
            kind, description, ..
        } => {
            assert_eq!(*kind, quick_junit::NonSuccessKind::Failure);
            let text = description.as_ref().unwrap().as_str();
            assert!(
                text.contains(&format!("{file}:100: host namespaces")),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn github_annotations_point_at_the_field() {
    let output = run(
        &[
            "check",
            "-o",
            "github",
            "--policy",
            "host-namespaces",
            "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(
        "::error file=testdata/real/kube-prometheus/nodeExporter-daemonset.yaml,line=100,title=host-namespaces (Host Namespaces)::DaemonSet monitoring/node-exporter: host namespaces"
    ), "{text}");
    let bad = run(
        &["check", "-o", "github", "testdata/bad/invalid.yaml"],
        None,
    );
    assert!(
        String::from_utf8(bad.stdout)
            .unwrap()
            .contains("::error file=testdata/bad/invalid.yaml,line=9,title=input error::")
    );
}

#[test]
fn policy_reports_per_namespace_match_the_crd_schema() {
    let text = std::fs::read_to_string(root().join("testdata/schemas/policyreport-v1alpha2.json"))
        .unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    // required-labels applies to every resource, cluster-scoped ones included.
    let args = |format: &'static str| {
        [
            "check",
            "-o",
            format,
            "--profile",
            "baseline",
            "--settings",
            "required-labels={labels: [{key: app.kubernetes.io/name}]}",
            "testdata/real/kube-prometheus",
        ]
    };
    let output = run(&args("policyreport"), None);
    assert_eq!(output.status.code(), Some(1));
    let stream = String::from_utf8(output.stdout).unwrap();
    let json_report = json(&run(&args("json"), None));
    let mut reports = Vec::new();
    let documents: Vec<&str> = stream
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .collect();
    for document in documents {
        let report: serde_json::Value = serde_yaml::from_str(document).unwrap();
        let errors: Vec<String> = schema.iter_errors(&report).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        reports.push(report);
    }
    // One PolicyReport per namespace, one ClusterPolicyReport, every result once.
    let kinds: Vec<(&str, Option<&str>)> = reports
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap(),
                r["metadata"]["namespace"].as_str(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("PolicyReport", Some("monitoring"))),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("ClusterPolicyReport", None)), "{kinds:?}");
    let total: usize = reports
        .iter()
        .map(|r| r["results"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        total as u64,
        json_report["summary"]["evaluations"].as_u64().unwrap()
    );
    let failed: u64 = reports
        .iter()
        .map(|r| r["summary"]["fail"].as_u64().unwrap())
        .sum();
    assert_eq!(failed, json_report["summary"]["failed"].as_u64().unwrap());
    let cluster = reports
        .iter()
        .find(|r| r["kind"] == "ClusterPolicyReport")
        .unwrap();
    for result in cluster["results"].as_array().unwrap() {
        assert!(result["resources"][0].get("namespace").is_none());
    }
}

/// Every format with actions and exemptions, from the configuration of
/// `testdata/config/cert-manager.yaml` on the real cert-manager stream:
/// exempted findings are SARIF suppressions, JUnit skips and PolicyReport
/// `skip` results; `warn` findings are warnings everywhere.
#[test]
fn exemptions_and_actions_in_every_format() {
    let scratch = tempfile::Builder::new()
        .prefix("wv-outputs-exempt-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let output = run(
        &[
            "check",
            "--config",
            "testdata/config/cert-manager.yaml",
            "-o",
            "github",
            "-o",
            &format!("sarif={}", path("r.sarif")),
            "-o",
            &format!("junit={}", path("r.xml")),
            "-o",
            &format!("policyreport={}", path("r.yaml")),
            "-o",
            &format!("json={}", path("r.json")),
            "testdata/real/cert-manager.helm3-post-render-stdin.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let report: serde_json::Value = serde_json::from_str(&read("r.json")).unwrap();
    let summary = &report["summary"];

    let sarif: serde_json::Value = serde_json::from_str(&read("r.sarif")).unwrap();
    let errors: Vec<String> = sarif_schema()
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let suppressed: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(
        suppressed.len() as u64,
        summary["exempted"].as_u64().unwrap()
    );
    for result in &suppressed {
        let suppression = &result["suppressions"][0];
        assert_eq!(suppression["kind"], "external");
        assert!(
            suppression["justification"]
                .as_str()
                .unwrap()
                .contains("PLAT-42")
        );
        assert_eq!(result["ruleId"], "require-requests-and-limits");
    }
    let level = |rule: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .map(|r| r["level"].clone())
    };
    assert_eq!(level("require-probes").unwrap(), "warning");
    assert_eq!(level("require-minimum-replicas").unwrap(), "note");

    let junit = quick_junit::Report::deserialize_from_str(&read("r.xml")).unwrap();
    let skipped = junit
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::Skipped { .. }))
        .count();
    assert_eq!(skipped as u64, summary["skipped"].as_u64().unwrap());
    assert_eq!(junit.failures, 0);

    let text = std::fs::read_to_string(root().join("testdata/schemas/policyreport-v1alpha2.json"))
        .unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for document in read("r.yaml")
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
    {
        let policy_report: serde_json::Value = serde_yaml::from_str(document).unwrap();
        let errors: Vec<String> = schema
            .iter_errors(&policy_report)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        for result in policy_report["results"].as_array().unwrap() {
            *counts
                .entry(result["result"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(counts["skip"], summary["skipped"].as_u64().unwrap());
    assert_eq!(counts["warn"], summary["warned"].as_u64().unwrap());
    assert_eq!(counts["fail"], summary["audited"].as_u64().unwrap());

    let github = String::from_utf8(output.stdout).unwrap();
    assert!(!github.contains("::error"), "{github}");
    // Warned findings and the report's notices (the schema stage's "no
    // schema for" a kind without a CRD among the inputs, its unchecked CEL
    // rules) are warnings; audited findings are notices.
    assert_eq!(
        github.matches("::warning").count() as u64,
        summary["violations"].as_u64().unwrap() - summary["audited"].as_u64().unwrap()
            + summary["notices"].as_u64().unwrap()
    );
    assert_eq!(
        github.matches("::notice").count() as u64,
        summary["audited"].as_u64().unwrap()
    );
}
