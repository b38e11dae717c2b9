//! ValidatingAdmissionPolicies and their bindings through the CLI:
//! `--policy` with their YAML in `check` (testdata/vap, written for these
//! tests after the Kubernetes documentation's examples).

use crate::common::{json, run, scratch};

const POLICIES: &str = "testdata/vap/policies/";
const MANIFESTS: &str = "testdata/vap/manifests.yaml";

/// `(policy, kind, namespace/name, result, messages)` of a JSON report's
/// results, the schema stage's left out.
fn verdicts(report: &serde_json::Value) -> Vec<(String, String, String, String, Vec<String>)> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] != "schema")
        .map(|r| {
            (
                r["policy"].as_str().unwrap().to_owned(),
                r["resource"]["kind"].as_str().unwrap().to_owned(),
                format!(
                    "{}/{}",
                    r["resource"]["namespace"].as_str().unwrap_or(""),
                    r["resource"]["name"].as_str().unwrap()
                ),
                r["result"].as_str().unwrap().to_owned(),
                r["violations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v["message"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn bound_and_unbound_policies_check_what_they_match() {
    let output = run(
        &["check", "--policy", POLICIES, "-o", "json", MANIFESTS],
        None,
    );
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let verdicts = verdicts(&report);
    // The binding's namespaceSelector (environment: test) leaves the
    // Deployment in prod-ns out; the Namespaces are not deployments or pods.
    assert_eq!(
        verdicts,
        [
            (
                "replica-limit".into(),
                "Deployment".into(),
                "test-ns/big".into(),
                "fail".into(),
                vec!["object.spec.replicas must be no greater than 3".to_owned()]
            ),
            (
                "privileged-containers".into(),
                "Pod".into(),
                "test-ns/root".into(),
                "fail".into(),
                vec!["privileged containers are not allowed: app".to_owned()]
            ),
        ]
    );
    // fieldPath is the violation's pointer, located in the file.
    let replicas = &report["results"][0]["violations"][0];
    assert_eq!(replicas["path"], "/spec/replicas");
    assert_eq!(replicas["line"], 22);
    let described: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["description"].as_str().unwrap())
        .collect();
    assert!(
        described
            .contains(&"ValidatingAdmissionPolicy replica-limit (bound by replica-limit-test)")
    );
    assert!(
        described
            .iter()
            .any(|d| d.contains("privileged-containers (no binding among the policies given"))
    );
}

/// Writes `policy` (a VAP and what goes with it) under a scratch
/// directory and checks `manifests` with it; returns the output.
fn check_with(name: &str, policy: &str, manifests: &str) -> std::process::Output {
    let dir = scratch("vap", name);
    std::fs::write(dir.join("policy.yaml"), policy).unwrap();
    std::fs::write(dir.join("manifests.yaml"), manifests).unwrap();
    let policy = dir.join("policy.yaml");
    let manifests = dir.join("manifests.yaml");
    run(
        &[
            "check",
            "--schema=off",
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            "json",
            manifests.to_str().unwrap(),
        ],
        None,
    )
}

const NO_LATEST: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-latest}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
    - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
      message: an image uses the latest tag
"#;

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers: [{name: app, image: "nginx:latest"}]
"#;

fn binding(actions: &str) -> String {
    format!(
        "---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: no-latest-binding}}\nspec:\n  policyName: no-latest\n  validationActions: {actions}\n"
    )
}

#[test]
fn validation_actions_map_to_deny_warn_and_audit() {
    // An audit finding is a `fail` result with action `audit` (exit 0).
    for (actions, result, action, exit) in [
        ("[Deny]", "fail", "deny", 1),
        ("[Warn]", "warn", "warn", 0),
        ("[Audit]", "fail", "audit", 0),
        ("[Warn, Audit]", "warn", "warn", 0),
    ] {
        let output = check_with("actions", &format!("{NO_LATEST}{}", binding(actions)), POD);
        let report = json(&output);
        assert_eq!(output.status.code(), Some(exit), "{actions}: {report:#}");
        let verdicts = verdicts(&report);
        assert_eq!(verdicts.len(), 1, "{actions}");
        assert_eq!(verdicts[0].3, result, "{actions}");
        assert_eq!(report["results"][0]["action"], action, "{actions}");
        assert_eq!(verdicts[0].4, ["an image uses the latest tag"], "{actions}");
    }
}

#[test]
fn invalid_policy_sets_are_refused_naming_file_line_and_field() {
    for (policy, expected) in [
        (
            format!("{NO_LATEST}{}", binding("[Deny, Warn]")),
            "policy.yaml:12: document 2: ValidatingAdmissionPolicyBinding no-latest-binding: spec.validationActions: Invalid value",
        ),
        (
            format!("{NO_LATEST}{}", binding("[]")),
            "ValidatingAdmissionPolicyBinding no-latest-binding: spec.validationActions: Required value",
        ),
        (
            binding("[Deny]"),
            "policy.yaml:2: document 1: ValidatingAdmissionPolicyBinding no-latest-binding: spec.policyName: no ValidatingAdmissionPolicy \"no-latest\" among the policies given",
        ),
        (
            NO_LATEST.replace("!c.image.endsWith(':latest')", "c.image.("),
            "policy.yaml:1: document 1: ValidatingAdmissionPolicy no-latest: spec.validations[0].expression:",
        ),
        (
            NO_LATEST.replace("endsWith", "endsWithLatest"),
            "spec.validations[0].expression: the function endsWithLatest is not available in the CEL runtime",
        ),
        (
            NO_LATEST.replace("  validations:", "  colour: blue\n  validations:"),
            "ValidatingAdmissionPolicy no-latest: spec: unknown field `colour`",
        ),
        (
            NO_LATEST
                .replace("ValidatingAdmissionPolicy", "MutatingAdmissionPolicy")
                .replace(
                    "admissionregistration.k8s.io/v1",
                    "admissionregistration.k8s.io/v1beta1",
                ),
            "policy.yaml:1: document 1: MutatingAdmissionPolicy: not supported",
        ),
    ] {
        let output = check_with("invalid", &policy, POD);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[test]
fn a_missing_parameter_denies_unless_the_binding_allows_it() {
    let policy = NO_LATEST.replace(
        "spec:\n",
        "spec:\n  paramKind: {apiVersion: v1, kind: ConfigMap}\n",
    );
    let with_ref = |action: &str| {
        format!(
            "{policy}{}  paramRef: {{name: absent, parameterNotFoundAction: {action}}}\n",
            binding("[Deny]")
        )
    };
    let output = check_with("params-deny", &with_ref("Deny"), POD);
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        verdicts(&report)[0].4[0].starts_with("failed to configure binding: no params found"),
        "{report:#}"
    );
    let output = check_with("params-allow", &with_ref("Allow"), POD);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(json(&output)["summary"]["evaluations"], 0);
}

#[test]
fn an_expression_that_fails_to_evaluate_is_an_error_result() {
    let policy = NO_LATEST.replace(
        "object.spec.containers.all(c, !c.image.endsWith(':latest'))",
        "object.spec.replicas > 1",
    );
    let output = check_with("eval-error", &policy, POD);
    let report = json(&output);
    let result = &report["results"][0];
    assert_eq!(result["result"], "error", "{report:#}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("validations[0].expression"), "{error}");
    assert!(error.contains("replicas"), "{error}");
}

/// A policy's `auditAnnotations` are evaluated offline and reported with
/// the result, keyed `POLICY/KEY`, in the JSON report and as properties of
/// the PolicyReport result; one that evaluates to `null` is left out.
#[test]
fn audit_annotations_are_reported() {
    let args = |format: &'static str| {
        [
            "check",
            "--policy",
            "testdata/vap/audit/policy.yaml",
            "--schema=off",
            "-o",
            format,
            MANIFESTS,
        ]
    };
    let output = run(&args("json"), None);
    assert_eq!(output.status.code(), Some(0));
    let report = json(&output);
    let annotations: Vec<(String, serde_json::Value)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resource"]["namespace"].as_str().unwrap().to_owned(),
                r["auditAnnotations"].clone(),
            )
        })
        .collect();
    let expected = serde_json::json!({
        "demo-policy.example.com/high-replica-count": "Deployment spec.replicas set to 5"
    });
    assert_eq!(
        annotations,
        [
            ("test-ns".to_owned(), expected.clone()),
            ("prod-ns".to_owned(), expected)
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let low = dir.path().join("low.yaml");
    std::fs::write(
        &low,
        std::fs::read_to_string(crate::common::root().join(MANIFESTS))
            .unwrap()
            .replace("replicas: 5", "replicas: 2"),
    )
    .unwrap();
    let output = run(
        &[
            "check",
            "--policy",
            "testdata/vap/audit/policy.yaml",
            "--schema=off",
            "-o",
            "json",
            low.to_str().unwrap(),
        ],
        None,
    );
    let report = json(&output);
    assert!(
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("auditAnnotations").is_none()),
        "{report}"
    );

    let output = run(&args("policyreport"), None);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.matches(
            "demo-policy.example.com/high-replica-count: Deployment spec.replicas set to 5"
        )
        .count(),
        2,
        "{text}"
    );
}

/// A binding's parameter resource that is not among the policy files is
/// looked for among the inputs: found, it is the policy's `params`;
/// not found, `parameterNotFoundAction: Deny` denies as before.
#[test]
fn parameters_are_found_among_the_inputs() {
    let text = std::fs::read_to_string(crate::common::root().join(POLICIES).join("replicas.yaml"))
        .unwrap();
    let (policy, param) = text.rsplit_once("---\n").unwrap();
    assert!(param.contains("kind: ReplicaLimit"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let check = |inputs: &[&str]| {
        let policy = dir.path().join("policy.yaml");
        let mut args = vec![
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--schema=off",
            "-o",
            "json",
            MANIFESTS,
        ];
        args.extend(inputs);
        let output = run(&args, None);
        let failed: Vec<(String, Vec<String>)> = verdicts(&json(&output))
            .into_iter()
            .filter(|v| v.3 == "fail")
            .map(|v| (v.2, v.4))
            .collect();
        (output.status.code(), failed)
    };
    for (max, file) in [("3", "params-3.yaml"), ("10", "params-10.yaml")] {
        std::fs::write(
            dir.path().join(file),
            param.replace("maxReplicas: 3", &format!("maxReplicas: {max}")),
        )
        .unwrap();
    }
    let params_3 = dir.path().join("params-3.yaml");
    assert_eq!(
        check(&[params_3.to_str().unwrap()]),
        (
            Some(1),
            vec![(
                "test-ns/big".to_owned(),
                vec!["object.spec.replicas must be no greater than 3".to_owned()]
            )]
        )
    );
    let params_10 = dir.path().join("params-10.yaml");
    assert_eq!(check(&[params_10.to_str().unwrap()]), (Some(0), vec![]));
    let (code, failed) = check(&[]);
    assert_eq!(code, Some(1));
    assert!(
        failed[0].1[0].starts_with("failed to configure binding: no params found"),
        "{failed:?}"
    );
    // Two found (a selector would take both) is an error, not a guess.
    std::fs::write(
        dir.path().join("policy.yaml"),
        policy.replace(
            "    name: replica-limit-test.example.com\n",
            "    selector: {}\n",
        ),
    )
    .unwrap();
    let output = run(
        &[
            "check",
            "--policy",
            dir.path().join("policy.yaml").to_str().unwrap(),
            "--schema=off",
            "-o",
            "json",
            MANIFESTS,
            params_3.to_str().unwrap(),
            params_10.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    let errors: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["error"].as_str())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("selects 2 ReplicaLimit resources")),
        "{report:#}"
    );
}
