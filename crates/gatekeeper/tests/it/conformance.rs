//! gatekeeper-library's `general/` suites (`../shared/corpus`, present in
//! CI; skipped with a notice where it is absent): every case passes, as
//! under `gator verify`.

use std::path::PathBuf;

use wasm_validate_engine::Engine;
use wasm_validate_gatekeeper::suite::{Outcome, find_suites, run_suite};

fn library() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/gatekeeper-library/general");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "notice: {} is absent; the gatekeeper-library conformance suite is skipped",
            dir.display()
        );
        None
    }
}

/// Runs `suites`; returns the failures and the counts of cases and passed
/// cases.
fn run_all(
    engine: &Engine,
    runtime: &wasm_validate_gatekeeper::Runtimes,
    dir: &std::path::Path,
    suites: &[PathBuf],
) -> (Vec<String>, usize, usize) {
    let mut failures = Vec::new();
    let (mut passed, mut cases) = (0, 0);
    for suite in suites {
        for result in run_suite(engine, runtime, suite).unwrap() {
            cases += 1;
            match &result.outcome {
                Outcome::Passed => passed += 1,
                Outcome::Skipped => {}
                Outcome::Failed(why) => failures.push(format!(
                    "{} / {} / {}: {why}",
                    suite.strip_prefix(dir).unwrap().display(),
                    result.test,
                    result.case
                )),
            }
        }
    }
    (failures, cases, passed)
}

#[test]
fn every_gatekeeper_library_case_passes() {
    let Some(dir) = library() else { return };
    let engine = Engine::default();
    let runtime = wasm_validate_gatekeeper::load_runtime(&engine);
    let suites = find_suites(&dir).unwrap();
    let (failures, cases, passed) = run_all(&engine, &runtime, &dir, &suites);
    eprintln!("{} suites, {cases} cases, {passed} passed", suites.len());
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(suites.len(), 30);
    assert_eq!(cases, 130);
}

/// The templates that carry a K8sNativeValidation (CEL) source pass their
/// suites with the CEL engine chosen, as they do with Rego.
#[test]
fn the_templates_with_cel_pass_their_suites_on_the_cel_engine() {
    let Some(dir) = library() else { return };
    let engine = Engine::default();
    let runtime = wasm_validate_gatekeeper::load_runtime(&engine).preferring_cel(true);
    let suites: Vec<PathBuf> = find_suites(&dir)
        .unwrap()
        .into_iter()
        .filter(|suite| {
            std::fs::read_to_string(suite.with_file_name("template.yaml"))
                .is_ok_and(|t| t.contains("K8sNativeValidation"))
        })
        .collect();
    assert!(!suites.is_empty());
    let (failures, cases, passed) = run_all(&engine, &runtime, &dir, &suites);
    eprintln!(
        "CEL: {} suites, {cases} cases, {passed} passed",
        suites.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 0);
}
