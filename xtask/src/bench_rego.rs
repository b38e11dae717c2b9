//! The Rego runtime's part of `cargo xtask bench` (issue 20): per
//! constraint, microseconds per evaluation of the typical Pod in wasmi and
//! natively (`policy-bench --rego`), the gatekeeper-library suite under
//! `wasm-validate test`, and the cold start of a check with one template.
//! Needs gatekeeper-library's `general/` in `../shared`; without it the
//! section says so and nothing is measured.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::bench::{Unit, series, strings, verdict};

/// Targets on a 2-core machine.
const TARGET_EVALUATION_US: f64 = 200.0;
const TARGET_COLD_MS: f64 = 50.0;

/// The constraints measured: (template directory, constraint sample).
const CONSTRAINTS: [(&str, &str); 2] = [
    ("requiredlabels", "all-must-have-owner"),
    ("containerlimits", "container-must-have-limits"),
];

/// The section's Markdown.
pub fn section(root: &Path, binary: &Path, runs: usize) -> Result<String, String> {
    let mut w = String::from("### Rego runtime (issue 20)\n\n");
    let library = root.join("../shared/corpus/gatekeeper-library/general");
    if !library.is_dir() {
        let _ = writeln!(
            w,
            "Not measured: {} is absent (gatekeeper-library's `general/`).\n",
            library.display()
        );
        return Ok(w);
    }
    let pair = |(dir, sample): (&str, &str)| {
        (
            library.join(dir).join("template.yaml"),
            library
                .join(dir)
                .join("samples")
                .join(sample)
                .join("constraint.yaml"),
        )
    };
    let mut args = strings(&["--tsv"]);
    for constraint in CONSTRAINTS {
        let (template, constraint) = pair(constraint);
        args.push("--rego".into());
        args.push(template.display().to_string());
        args.push(constraint.display().to_string());
    }
    println!("rego runtime ...");
    let output = Command::new(root.join("target/release/policy-bench"))
        .args(&args)
        .output()
        .map_err(|e| format!("policy-bench: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "policy-bench --rego failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let _ = writeln!(
        w,
        "`policy-bench --rego` (crates/bench/src/rego.rs): a gatekeeper-library constraint on the typical Pod, microseconds per evaluation, median (fastest–slowest) of 11 rounds. Wasm: the built-in Rego runtime (regorus compiled to wasm32) prepared once with the template and parameters, each evaluation in an instance in that prepared state (the first restored from the snapshot, the next ones reused and written back; `Engine::evaluate`, as every run does). Native: the same runtime crate compiled for this machine, on the same request. Prepare: parsing and compiling the template in wasmi, once per constraint.\n\n| constraint | violations | Wasm µs | native µs | ratio | fuel | snapshot KiB | prepare ms |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut medians = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let cells: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| -> Result<f64, String> {
            cells
                .get(i)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("policy-bench --rego: bad line {line:?}"))
        };
        let wasm = [number(2)?, number(3)?, number(4)?];
        let native = [number(5)?, number(6)?, number(7)?];
        medians.push((cells[0].to_owned(), wasm[0]));
        let _ = writeln!(
            w,
            "| {} | {} | {:.0} ({:.0}–{:.0}) | {:.1} ({:.1}–{:.1}) | {:.0} | {:.0} | {:.0} | {:.1} |",
            cells[0],
            cells[1],
            wasm[0],
            wasm[1],
            wasm[2],
            native[0],
            native[1],
            native[2],
            wasm[0] / native[0],
            number(8)?,
            number(9)? / 1024.0,
            number(10)?
        );
    }
    println!("gatekeeper-library suite ...");
    let suite = series(
        runs,
        binary,
        &strings(&["test", &library.display().to_string()]),
        None,
    )?;
    let (template, constraint) = pair(CONSTRAINTS[0]);
    let pod = root.join("testdata/bench/typical-pod.yaml");
    let cold = series(
        runs * 4,
        binary,
        &strings(&[
            "check",
            "--no-config",
            "--policy",
            &template.display().to_string(),
            "--policy",
            &constraint.display().to_string(),
            &pod.display().to_string(),
        ]),
        None,
    )?;
    let cold_ms = cold.median() * 1e3;
    let _ = writeln!(
        w,
        "\n| what | ms | peak memory (MiB) |\n|---|---:|---:|\n| `wasm-validate test` over gatekeeper-library `general/` (30 suites, 130 cases), {runs} runs | {} | {:.1} |\n| cold start: `check` of the typical Pod with one template and constraint (k8srequiredlabels), {} runs | {} | {:.1} |\n",
        suite.wall(Unit::Ms),
        suite.rss_mib(),
        runs * 4,
        cold.wall(Unit::Ms),
        cold.rss_mib()
    );
    let _ = writeln!(
        w,
        "| target (issue 20) | measured | verdict |\n|---|---:|---|"
    );
    for (name, us) in &medians {
        let _ = writeln!(
            w,
            "| {name}: at most {TARGET_EVALUATION_US} µs per evaluation | {us:.0} µs | {} |",
            verdict(*us, TARGET_EVALUATION_US, false)
        );
    }
    let _ = writeln!(
        w,
        "| cold start with one template: at most {TARGET_COLD_MS} ms | {cold_ms:.1} ms | {} |\n",
        verdict(cold_ms, TARGET_COLD_MS, false)
    );
    Ok(w)
}
