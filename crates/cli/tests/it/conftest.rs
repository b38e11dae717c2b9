//! Conftest policies through the CLI: `--policy` with `.rego` files or a
//! directory of them, `--rego-namespace`, deny/violation/warn rules
//! (testdata/conftest, written for these tests).

use crate::common::{json, run};

fn findings(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for result in report["results"].as_array().unwrap() {
        let resource = result["resource"]["name"].as_str().unwrap().to_owned();
        let policy = result["policy"].as_str().unwrap().to_owned();
        for violation in result["violations"].as_array().into_iter().flatten() {
            let message = violation["message"].as_str().unwrap().to_owned();
            out.push((resource.clone(), policy.clone(), message));
        }
        for warning in result["warnings"].as_array().into_iter().flatten() {
            let message = format!("warn: {}", warning.as_str().unwrap());
            out.push((resource.clone(), policy.clone(), message));
        }
    }
    out
}

#[test]
fn the_main_namespace_denies_and_warns_and_test_files_are_not_read() {
    let output = run(
        &[
            "check",
            "--policy",
            "testdata/conftest/policy/",
            "-o",
            "json",
            "testdata/conftest/manifests.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    let expected = [
        (
            "web",
            "data.main",
            "Deployment web: containers must not run as root",
        ),
        (
            "web",
            "data.main",
            "Deployment web: image registry.example/web:latest uses the latest tag",
        ),
        (
            "web",
            "data.main",
            "warn: Deployment web has a single replica",
        ),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(findings(&report), expected);
}

#[test]
fn every_namespace_with_a_star_and_v0_modules_are_read_as_v0() {
    let output = run(
        &[
            "check",
            "--policy",
            "testdata/conftest/policy/",
            "--rego-namespace",
            "*",
            "-o",
            "json",
            "testdata/conftest/manifests.yaml",
        ],
        None,
    );
    let report = json(&output);
    assert!(findings(&report).contains(&(
        "api".into(),
        "data.kubernetes.services".into(),
        "Service api: NodePort is not allowed".into()
    )));

    let output = run(
        &[
            "check",
            "--policy",
            "testdata/conftest/v0/labels.rego",
            "-o",
            "json",
            "testdata/conftest/manifests.yaml",
        ],
        None,
    );
    assert_eq!(
        findings(&json(&output)),
        [(
            "api".to_owned(),
            "data.main".to_owned(),
            "Service api has no app label".to_owned()
        )]
    );
}

#[test]
fn a_namespace_no_module_declares_is_exit_2() {
    let output = run(
        &[
            "check",
            "--policy",
            "testdata/conftest/policy/",
            "--rego-namespace",
            "nothing.here",
            "testdata/conftest/manifests.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no Rego module declares the namespace (package) nothing.here"),
        "{stderr}"
    );
}

/// Conftest's --combine: the policy sees every document of the run as
/// `[{path, contents}]` and runs once; its findings go on the first
/// resource. Without --combine the same policy finds nothing (its input is
/// one document).
#[test]
fn combine_mode_sees_every_document_as_one_input() {
    let args = |combine: bool| {
        let mut args = vec![
            "check",
            "--schema=off",
            "--policy",
            "testdata/conftest/combine/policy/",
            "-o",
            "json",
            "testdata/conftest/combine/manifests/",
        ];
        if combine {
            args.push("--combine");
        }
        args
    };
    let output = run(&args(true), None);
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["summary"]["evaluations"], 1);
    assert_eq!(
        findings(&report),
        [(
            "web".to_owned(),
            "data.main".to_owned(),
            "Deployment worker (testdata/conftest/combine/manifests/apps.yaml) has no Service selecting its Pods".to_owned()
        )]
    );
    let output = run(&args(false), None);
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["evaluations"], 3);
}

/// Conftest's --data: the YAML and JSON documents under the paths, merged,
/// are the policies' `data`; without them the rule finds no allowed
/// registry.
#[test]
fn data_files_are_the_policies_data_document() {
    let base = [
        "check",
        "--schema=off",
        "--policy",
        "testdata/conftest/data/policy/",
        "-o",
        "json",
        "testdata/conftest/combine/manifests/apps.yaml",
    ];
    let with_data = run(
        &[&base[..], &["--data", "testdata/conftest/data/data/"]].concat(),
        None,
    );
    let report = json(&with_data);
    assert_eq!(with_data.status.code(), Some(0), "{report:#}");
    assert_eq!(report["summary"]["evaluations"], 2);
    let without = run(&base, None);
    let report = json(&without);
    assert_eq!(without.status.code(), Some(1), "{report:#}");
    assert_eq!(
        findings(&report)[0].2,
        "web uses registry.example.com/web:1, from a registry not in data.registries.allowed"
    );
    let missing = run(
        &[&base[..], &["--data", "testdata/conftest/no-such-dir"]].concat(),
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("--data testdata/conftest/no-such-dir: no such file or directory")
    );
}

/// Conftest's exceptions: the names an `exception` rule yields for an
/// input turn off the rules named after them for that input only.
#[test]
fn exception_rules_turn_off_the_rules_they_name() {
    let output = run(
        &[
            "check",
            "--schema=off",
            "--policy",
            "testdata/conftest/exceptions/policy/",
            "-o",
            "json",
            "testdata/conftest/exceptions/manifests.yaml",
        ],
        None,
    );
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    let mut found = findings(&report);
    found.sort();
    assert_eq!(
        found,
        [
            (
                "legacy".to_owned(),
                "data.main".to_owned(),
                "legacy has no team label".to_owned()
            ),
            (
                "web".to_owned(),
                "data.main".to_owned(),
                "web uses a latest tag".to_owned()
            ),
        ]
    );
}

/// `wasm-validate test DIR` runs the Rego unit tests under DIR as
/// `conftest verify --policy DIR` does: every `test_*` rule of every
/// package, `todo_test_*` skipped.
#[test]
fn rego_unit_tests_run_as_conftest_verify_runs_them() {
    let output = run(&["test", "testdata/conftest/verify/pass"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("PASS testdata/conftest/verify/pass (conftest verify): 6 tests, 1 skipped"),
        "{stdout}"
    );
}

/// A test fails when it is undefined, false or an error, and a runaway
/// test is stopped by the runtime's limits; each failure is named with
/// what it was, and a passing test beside them is not listed.
#[test]
fn each_way_a_rego_unit_test_fails_is_reported() {
    let output = run(&["test", "testdata/conftest/verify/fail"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL testdata/conftest/verify/fail (conftest verify): 5 tests"),
        "{stdout}"
    );
    for line in [
        "  data.main.test_pods_are_allowed: undefined",
        "  data.main.test_false: false",
        "  data.main.test_conflict: error:",
        "    error: rule conflicts with rule at testdata/conftest/verify/fail/policy/rules.rego:7:1",
        "  data.main.test_runaway: the policy trapped",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "{line:?} not in\n{stdout}"
        );
    }
    assert!(!stdout.contains("test_pods_are_denied"), "{stdout}");
}

/// `--data` merges the data files into the tests' `data` document, as
/// `conftest verify --data` does; without them the tests that read them
/// fail, and a test may still replace data with `with`.
#[test]
fn rego_unit_tests_read_the_data_files() {
    let args = ["test", "testdata/conftest/data/policy"];
    let with = run(
        &[&args[..], &["--data", "testdata/conftest/data/data"]].concat(),
        None,
    );
    let stdout = String::from_utf8_lossy(&with.stdout);
    assert_eq!(with.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("(conftest verify): 4 tests"), "{stdout}");

    let without = run(&args, None);
    let stdout = String::from_utf8_lossy(&without.stdout);
    assert_eq!(without.status.code(), Some(1), "{stdout}");
    let failed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .collect();
    assert_eq!(
        failed,
        [
            "data.main.test_an_allowed_registry_passes: undefined",
            "data.main.test_both_data_files_are_merged: undefined"
        ],
        "{stdout}"
    );
}

/// A directory with only Rego that does not compile is an error (exit 2)
/// naming the file, line and column.
#[test]
fn rego_unit_tests_that_do_not_compile_cannot_run() {
    let output = run(
        &[
            "test",
            "testdata/conftest/verify/pass/policy/deployment_test.rego",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("deployment_test.rego:14:5") && stdout.contains("`deny`"),
        "{stdout}"
    );
}
