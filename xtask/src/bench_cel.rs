//! `cargo xtask bench-cel [--runs N] [--no-write]`: the CEL runtime's
//! figures (issue 22), written into `docs/performance.md` between its own
//! markers ([`BEGIN`], [`END`]): microseconds per evaluation of a
//! ValidatingAdmissionPolicy for the Pod Security "privileged" control
//! (`testdata/vap/policies/privileged.yaml`) on the typical Pod, in wasmi
//! and natively (`policy-bench --cel`), beside the built-in Rust policy for
//! the same control; the time to prepare it; the Kyverno suites under
//! `wasm-validate test` (when `../shared` has them); and the cold start of
//! a check with that one policy.

use std::fmt::Write as _;
use std::process::Command;

use crate::bench::{Unit, series, strings, verdict};

/// The line after which `docs/performance.md` holds this report.
pub const BEGIN: &str = "<!-- cargo xtask bench-cel: begin -->";
/// The line before which it ends.
pub const END: &str = "<!-- cargo xtask bench-cel: end -->";

/// Targets on a 2-core machine (issue 22).
const TARGET_EVALUATION_US: f64 = 50.0;
const TARGET_COLD_MS: f64 = 40.0;

/// Measures and writes the section; `runs` runs of each command.
pub fn bench_cel(runs: usize, write: bool) -> Result<(), String> {
    let root = crate::workspace();
    crate::step(&[
        "build",
        "--release",
        "-p",
        "wasm-validate-cli",
        "-p",
        "wasm-validate-bench",
    ])?;
    let binary = root.join("target/release/wasm-validate");
    let policy = root.join("testdata/vap/policies/privileged.yaml");
    let pod = root.join("testdata/bench/typical-pod.yaml");
    println!("cel runtime ...");
    let output = Command::new(root.join("target/release/policy-bench"))
        .args([
            "--tsv",
            "--cel",
            &policy.display().to_string(),
            "privileged",
        ])
        .output()
        .map_err(|e| format!("policy-bench: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "policy-bench --cel failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let cells: Vec<&str> = line.split('\t').collect();
    let number = |i: usize| -> Result<f64, String> {
        cells
            .get(i)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("policy-bench --cel: bad line {line:?}"))
    };
    let (wasm, native, builtin) = (
        [number(2)?, number(3)?, number(4)?],
        [number(5)?, number(6)?, number(7)?],
        number(8)?,
    );
    let mut w = String::from("### CEL runtime (issue 22)\n\n");
    let _ = writeln!(
        w,
        "`policy-bench --cel` (crates/bench/src/cel.rs): the ValidatingAdmissionPolicy of `testdata/vap/policies/privileged.yaml` (the Pod Security \"privileged\" control in CEL: a variable joining the containers, one validation with a message expression) on the typical Pod, microseconds per evaluation, median (fastest–slowest) of 11 rounds. Wasm: the CEL runtime prepared once, each evaluation in an instance in that prepared state (the first restored from the snapshot, the next ones reused and written back; `Engine::evaluate`). Native: the same runtime crate compiled for this machine. Built-in: the Rust policy `privileged` in wasmi on the same request.\n\n| policy | violations | Wasm µs | native µs | ratio | built-in `privileged` µs | fuel | snapshot KiB | prepare ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {:.0} ({:.0}–{:.0}) | {:.1} ({:.1}–{:.1}) | {:.0} | {:.1} | {:.0} | {:.0} | {:.1} |",
        cells[0],
        cells[1],
        wasm[0],
        wasm[1],
        wasm[2],
        native[0],
        native[1],
        native[2],
        wasm[0] / native[0],
        builtin,
        number(9)?,
        number(10)? / 1024.0,
        number(11)?
    );
    let cold = series(
        runs * 4,
        &binary,
        &strings(&[
            "check",
            "--no-config",
            "--schema=off",
            "--policy",
            &policy.display().to_string(),
            &pod.display().to_string(),
        ]),
        None,
    )?;
    let cold_ms = cold.median() * 1e3;
    let _ = writeln!(
        w,
        "\n| what | ms | peak memory (MiB) |\n|---|---:|---:|\n| cold start: `check --schema=off` of the typical Pod with that one policy, {} runs | {} | {:.1} |",
        runs * 4,
        cold.wall(Unit::Ms),
        cold.rss_mib()
    );
    let kyverno = root.join("../shared/corpus/kyverno-policies");
    if kyverno.is_dir() {
        println!("kyverno suites ...");
        let suites = series(
            runs,
            &binary,
            &strings(&["test", &kyverno.display().to_string()]),
            None,
        )?;
        let _ = writeln!(
            w,
            "| `wasm-validate test` over kyverno/policies' CEL suites (31 test files, 928 results), {runs} runs | {} | {:.1} |",
            suites.wall(Unit::Ms),
            suites.rss_mib()
        );
    }
    let _ = writeln!(
        w,
        "\n| target (issue 22) | measured | verdict |\n|---|---:|---|\n| one evaluation of the typical Pod: at most {TARGET_EVALUATION_US} µs | {:.0} µs | {} |\n| cold start with one CEL policy: at most {TARGET_COLD_MS} ms | {cold_ms:.1} ms | {} |",
        wasm[0],
        verdict(wasm[0], TARGET_EVALUATION_US, false),
        verdict(cold_ms, TARGET_COLD_MS, false)
    );
    println!("\n{w}");
    if write {
        let path = root.join("docs/performance.md");
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(
            &path,
            crate::bench::splice_between(&current, BEGIN, END, &w),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("written to {}", path.display());
    }
    Ok(())
}
