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
