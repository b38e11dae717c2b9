//! Gatekeeper templates and constraints through the CLI: `--policy` with
//! their YAML in `check`, and gator suites in `test`
//! (testdata/gatekeeper, written for these tests).

use crate::common::{json, run, scratch};

const TEMPLATE: &str = "testdata/gatekeeper/requiredlabels/template.yaml";
const CONSTRAINT: &str = "testdata/gatekeeper/requiredlabels/constraint.yaml";
const OBJECTS: &str = "testdata/gatekeeper/requiredlabels/objects.yaml";

#[test]
fn a_constraint_checks_the_objects_its_match_selects() {
    let output = run(
        &[
            "check", "--policy", TEMPLATE, "--policy", CONSTRAINT, "-o", "json", OBJECTS,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    // The schema stage comes first, then the constraint.
    assert_eq!(report["policies"][0]["name"], "schema");
    assert_eq!(
        report["policies"][1]["name"],
        "WvRequiredLabels/team-and-tier"
    );
    assert_eq!(report["policies"][1]["category"], "gatekeeper");
    // The labelled Pod passes, the bare one fails; the Pod in kube-system
    // (excludedNamespaces) and the Service (not in match.kinds) are not
    // evaluated.
    let results = report["results"].as_array().unwrap();
    let verdicts: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["resource"]["name"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(verdicts, [("labelled", "pass"), ("bare", "fail")]);
    assert_eq!(
        results[1]["violations"][0]["message"],
        r#"Pod <bare> lacks the labels {"team", "tier"}"#
    );
    assert_eq!(results[1]["violations"][0]["line"], 12);
}

#[test]
fn a_referential_template_sees_the_runs_objects_as_its_inventory() {
    let output = run(
        &[
            "check",
            "--policy",
            "testdata/gatekeeper/uniquehost/",
            "-o",
            "json",
            "testdata/gatekeeper/uniquehost/ingresses.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let failed: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .map(|r| r["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["shop", "shop-copy"]);
}

#[test]
fn parameters_the_schema_refuses_are_exit_2_with_file_line_and_key() {
    let output = run(
        &[
            "check",
            "--policy",
            TEMPLATE,
            "--policy",
            "testdata/gatekeeper/bad/constraint-wrong-parameters.yaml",
            OBJECTS,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "testdata/gatekeeper/bad/constraint-wrong-parameters.yaml:7: document 1: \
             WvRequiredLabels wrong: /spec/parameters/labels: \"team\" is not of type \"array\""
        ),
        "{stderr}"
    );
}

#[test]
fn a_constraint_without_its_template_and_a_template_without_an_engine_are_refused() {
    let output = run(&["check", "--policy", CONSTRAINT, OBJECTS], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no ConstraintTemplate defines the kind WvRequiredLabels"),
        "{stderr}"
    );

    let dir = scratch("gatekeeper", "no-engine");
    let template = std::fs::read_to_string(crate::common::root().join(TEMPLATE)).unwrap();
    let rego_at = template.find("      rego: |").unwrap();
    let no_engine = format!(
        "{}      code:\n        - engine: SomethingElse\n          source: {{}}\n",
        &template[..rego_at]
    );
    std::fs::write(dir.join("template.yaml"), no_engine).unwrap();
    let path = dir.join("template.yaml");
    let output = run(
        &["check", "--policy", path.to_str().unwrap(), OBJECTS],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("has neither Rego nor a K8sNativeValidation (CEL) engine"),
        "{stderr}"
    );
}

#[test]
fn rego_that_does_not_compile_is_exit_2_naming_the_template_and_line() {
    let dir = scratch("gatekeeper", "broken-rego");
    let template = std::fs::read_to_string(crate::common::root().join(TEMPLATE))
        .unwrap()
        .replace("count(missing) > 0", "count(missing) > > 0");
    std::fs::write(dir.join("template.yaml"), template).unwrap();
    std::fs::copy(
        crate::common::root().join(CONSTRAINT),
        dir.join("constraint.yaml"),
    )
    .unwrap();
    let policy = format!("{}/", dir.display());
    let output = run(&["check", "--policy", &policy, OBJECTS], None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ConstraintTemplate wvrequiredlabels"),
        "{stderr}"
    );
    // The position is the file's (line and column of the Rego block in the
    // YAML), with the line in the Rego beside it.
    assert!(
        stderr.contains("template.yaml:30:28 (ConstraintTemplate wvrequiredlabels, Rego line 7)"),
        "{stderr}"
    );
}

#[test]
fn gator_suites_run_under_test_and_a_failed_assertion_is_exit_1() {
    let output = run(&["test", "testdata/gatekeeper"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("PASS testdata/gatekeeper/requiredlabels/suite.yaml (gator): 3 cases"));
    assert!(stdout.contains("PASS testdata/gatekeeper/uniquehost/suite.yaml (gator): 2 cases"));

    let dir = scratch("gatekeeper", "failing-suite");
    let source = crate::common::root().join("testdata/gatekeeper/requiredlabels");
    for file in ["template.yaml", "constraint.yaml", "pod-labelled.yaml"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    std::fs::write(
        dir.join("suite.yaml"),
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: t\n  template: template.yaml\n  constraint: constraint.yaml\n  cases:\n  - name: wrongly-expects-a-violation\n    object: pod-labelled.yaml\n    assertions:\n    - violations: yes\n",
    )
    .unwrap();
    let output = run(&["test", dir.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("t / wrongly-expects-a-violation: assertion 0: expected at least one violation(s), got 0"),
        "{stdout}"
    );
}

#[test]
fn a_violation_whose_details_name_a_field_points_at_its_line() {
    let dir = scratch("gatekeeper", "details-field");
    std::fs::write(
        dir.join("policy.yaml"),
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: wvminreplicas
spec:
  crd:
    spec:
      names:
        kind: WvMinReplicas
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package wvminreplicas

        violation[{"msg": msg, "details": {"field": "spec.replicas"}}] {
          input.review.object.spec.replicas < 2
          msg := sprintf("%v replica(s) is fewer than 2", [input.review.object.spec.replicas])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: WvMinReplicas
metadata:
  name: two
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
"#,
    )
    .unwrap();
    let policy = dir.join("policy.yaml");
    let output = run(
        &[
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            "json",
            "testdata/conftest/manifests.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let failed = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["result"] == "fail")
        .unwrap();
    assert_eq!(failed["resource"]["name"], "web");
    assert_eq!(failed["violations"][0]["path"], "/spec/replicas");
    // testdata/conftest/manifests.yaml: `replicas: 1` of the first Deployment.
    assert_eq!(failed["violations"][0]["line"], 7);
}

/// The messages of the failed results of a JSON report.
fn fail_messages(report: &serde_json::Value) -> Vec<String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .flat_map(|r| r["violations"].as_array().unwrap())
        .map(|v| v["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_template_with_both_engines_runs_rego_unless_cel_is_chosen() {
    let both = "testdata/gatekeeper/bothengines/template.yaml";
    let base = [
        "check",
        "--schema=off",
        "--policy",
        both,
        "-o",
        "json",
        OBJECTS,
    ];
    // The bare Pod and the one in kube-system (this constraint excludes no
    // namespace) fail on either engine; only the message tells which ran.
    let rego = run(&base, None);
    assert_eq!(rego.status.code(), Some(1));
    assert_eq!(
        fail_messages(&json(&rego)),
        [r#"rego: missing {"team", "tier"}"#; 2]
    );
    let cel = run(&[&base[..], &["--gatekeeper-engine", "cel"]].concat(), None);
    assert_eq!(cel.status.code(), Some(1));
    assert_eq!(fail_messages(&json(&cel)), ["cel: missing team, tier"; 2]);
}

#[test]
fn a_template_with_only_the_cel_engine_runs_on_the_cel_runtime() {
    let dir = scratch("gatekeeper", "cel-only-runs");
    let text = std::fs::read_to_string(
        crate::common::root().join("testdata/gatekeeper/bothengines/template.yaml"),
    )
    .unwrap();
    let rego_at = text.find("        - engine: Rego").unwrap();
    let constraint_at = text.find("---\n").unwrap();
    let cel_only = format!("{}{}", &text[..rego_at], &text[constraint_at..]);
    let path = dir.join("template.yaml");
    std::fs::write(&path, cel_only).unwrap();
    let output = run(
        &[
            "check",
            "--schema=off",
            "--policy",
            path.to_str().unwrap(),
            "-o",
            "json",
            OBJECTS,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        fail_messages(&json(&output))
            .iter()
            .all(|m| m == "cel: missing team, tier")
    );
}

/// `check` is Gatekeeper's shift-left enforcement point
/// (`gator.gatekeeper.sh`): a `scoped` constraint takes the action its
/// `scopedEnforcementActions` give that point, and one they do not name
/// there is not run (testdata/gatekeeper/scoped).
#[test]
fn check_enforces_scoped_constraints_as_gator_does() {
    let output = run(
        &[
            "check",
            "--schema=off",
            "--policy",
            TEMPLATE,
            "--policy",
            "testdata/gatekeeper/scoped/",
            "-o",
            "json",
            OBJECTS,
        ],
        None,
    );
    let report = json(&output);
    let names: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["WvRequiredLabels/warn-in-ci"]);
    let verdicts: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"]["name"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    // The bare Pod lacks `team`: a warning, so the run passes.
    assert!(verdicts.contains(&("bare", "warn")), "{verdicts:?}");
    assert!(!verdicts.iter().any(|(_, v)| *v == "fail"), "{verdicts:?}");
    assert_eq!(output.status.code(), Some(0));
}
