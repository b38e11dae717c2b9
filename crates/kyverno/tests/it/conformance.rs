//! Kyverno's CEL policies (`../shared/corpus/kyverno-policies`:
//! pod-security-vpol and best-practices-vpol from kyverno/policies, with
//! their `kyverno test` files; present in CI, skipped with a notice where it
//! is absent): every expected result holds, as under `kyverno test`.

use std::path::{Path, PathBuf};

use wasm_validate_engine::Engine;
use wasm_validate_kyverno::suite::{TEST_FILE, run_test};

fn corpus() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/kyverno-policies");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "notice: {} is absent; the Kyverno conformance suite is skipped",
            dir.display()
        );
        None
    }
}

fn tests_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            tests_under(&path, out);
        } else if path.file_name().is_some_and(|n| n == TEST_FILE) {
            out.push(path);
        }
    }
}

#[test]
fn every_kyverno_policies_test_passes() {
    let Some(dir) = corpus() else { return };
    let engine = Engine::default();
    let runtime = wasm_validate_kyverno::load_runtime(&engine);
    let mut tests = Vec::new();
    tests_under(&dir, &mut tests);
    assert!(tests.len() >= 30, "{} test files", tests.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for test in &tests {
        match run_test(&engine, &runtime, test) {
            Ok(results) => {
                checked += results.len();
                for result in results {
                    if let Some(failure) = result.failure {
                        failures.push(format!("{}: {}: {failure}", test.display(), result.what));
                    }
                }
            }
            Err(error) => failures.push(format!("{}: {error}", test.display())),
        }
    }
    eprintln!("{} test files, {checked} results checked", tests.len());
    assert!(checked >= 900, "{checked} results");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
