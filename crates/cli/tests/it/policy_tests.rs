//! `wasm-validate test` on the built-in library's own suites
//! (`policies/*/tests/wasm-validate-test.yaml`), with their snapshots, as a
//! policy author would run it in CI.

use crate::common;
use crate::common::run;

#[test]
fn the_builtin_suites_pass_with_their_snapshots() {
    let output = run(&["test", "policies", "--snapshot"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let suites = std::fs::read_dir(common::root().join("policies"))
        .unwrap()
        .count();
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with(&format!(
            "{suites} suites: {suites} passed, 0 failed, 0 could not run;"
        )),
        "{summary}"
    );
    assert_eq!(stdout.matches(", snapshot matches").count(), suites);
}

#[test]
fn a_missing_path_is_exit_2() {
    let output = run(&["test", "no/such/dir"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("no/such/dir: no such file or directory")
    );
}

/// Copies testdata/kyverno/no-host-network (its policy and its
/// `.kyverno-test` directory) under a scratch directory, with `edit`
/// applied to the test file; returns the directory.
fn kyverno_copy(name: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let from = common::root().join("testdata/kyverno/no-host-network");
    let dir = common::scratch("kyverno", name);
    std::fs::create_dir_all(dir.join(".kyverno-test")).unwrap();
    std::fs::copy(
        from.join("no-host-network.yaml"),
        dir.join("no-host-network.yaml"),
    )
    .unwrap();
    for file in ["resources.yaml", "values.yaml", "kyverno-test.yaml"] {
        let text = std::fs::read_to_string(from.join(".kyverno-test").join(file)).unwrap();
        let text = if file == "kyverno-test.yaml" {
            edit(&text)
        } else {
            text
        };
        std::fs::write(dir.join(".kyverno-test").join(file), text).unwrap();
    }
    dir
}

#[test]
fn kyverno_test_files_run_with_autogen_namespace_objects_and_skips() {
    let output = run(&["test", "testdata/kyverno"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("PASS testdata/kyverno/no-host-network/.kyverno-test/kyverno-test.yaml (kyverno): 6 results"),
        "{stdout}"
    );
    // An expectation that does not hold fails the test (exit 1), naming
    // the resource, both results and the violation.
    let dir = kyverno_copy("wrong", |t| {
        t.replacen(
            "resources: [on-host]\n    result: fail",
            "resources: [on-host]\n    result: pass",
            1,
        )
    });
    let output = run(&["test", dir.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no-host-network Pod/on-host: expected pass, got fail: host network is not allowed: on-host"),
        "{stdout}"
    );
    // What the runner does not run is said, never passed.
    let dir = kyverno_copy("unsupported", |t| {
        t.replacen(
            "    result: skip\n",
            "    result: skip\n    patchedResources: patched.yaml\n",
            1,
        )
    });
    let output = run(&["test", dir.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`patchedResources` is not supported by this runner"),
        "{stdout}"
    );
}
