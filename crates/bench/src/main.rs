//! `policy-bench [--object FILE] [--rounds N] [--round-ms MS] [--tsv]`:
//! prints, for each built-in policy, microseconds per evaluation of the
//! object (default `testdata/bench/typical-pod.yaml`) as Wasm in wasmi (ABI
//! version 2), natively on the same tape, and natively on JSON (version 1),
//! with the ratios. `--tsv` prints one tab-separated line per policy instead
//! (name, applies, Wasm median/min/max, native tape median/min/max, native
//! JSON median/min/max, fuel), which `cargo xtask bench` reads. Figures, not
//! assertions; build with `--release`.
//!
//! `policy-bench --rego TEMPLATE CONSTRAINT [--rego TEMPLATE CONSTRAINT]...`
//! measures Gatekeeper constraints in the Rego runtime instead
//! ([`wasm_validate_bench::rego`]); with `--tsv`, one line per constraint:
//! name, violations, Wasm median/min/max, native median/min/max, fuel,
//! snapshot bytes, prepare ms.
//!
//! `policy-bench --cel POLICY BUILTIN [--cel POLICY BUILTIN]...` measures a
//! ValidatingAdmissionPolicy's file in the CEL runtime against the built-in
//! policy for the same control ([`wasm_validate_bench::cel`]); with
//! `--tsv`, one line per policy: name, violations, Wasm median/min/max,
//! native median/min/max, built-in median, fuel, snapshot bytes, prepare ms.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use wasm_validate_bench::measure_all;

fn main() -> ExitCode {
    let mut object = format!(
        "{}/../../testdata/bench/typical-pod.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (mut rounds, mut round_ms, mut tsv) = (11usize, 20u64, false);
    let mut rego: Vec<(String, String)> = Vec::new();
    let mut cel: Vec<(String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let parsed = match arg.as_str() {
            "--object" => value().map(|v| object = v),
            "--rounds" => value()
                .and_then(|v| v.parse().map_err(|e| format!("--rounds: {e}")))
                .map(|v| rounds = v),
            "--round-ms" => value()
                .and_then(|v| v.parse().map_err(|e| format!("--round-ms: {e}")))
                .map(|v| round_ms = v),
            "--tsv" => {
                tsv = true;
                Ok(())
            }
            "--rego" => value().and_then(|template| {
                let constraint = args.next().ok_or("--rego needs TEMPLATE CONSTRAINT")?;
                rego.push((template, constraint));
                Ok(())
            }),
            "--cel" => value().and_then(|policy| {
                let builtin = args.next().ok_or("--cel needs POLICY BUILTIN")?;
                cel.push((policy, builtin));
                Ok(())
            }),
            _ => Err(format!("unknown argument {arg}")),
        };
        if let Err(error) = parsed {
            eprintln!("policy-bench: {error}");
            return ExitCode::from(2);
        }
    }
    let object: serde_json::Value = match std::fs::read_to_string(&object)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_yaml::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(object) => object,
        Err(error) => {
            eprintln!("policy-bench: {object}: {error}");
            return ExitCode::from(2);
        }
    };
    if !cel.is_empty() {
        return cel_figures(&cel, &object, rounds, Duration::from_millis(round_ms), tsv);
    }
    if !rego.is_empty() {
        return rego_figures(&rego, &object, rounds, Duration::from_millis(round_ms), tsv);
    }
    let figures = measure_all(&object, rounds, Duration::from_millis(round_ms));
    if tsv {
        for f in &figures {
            println!(
                "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{}",
                f.name,
                f.applies,
                f.wasm.median_us,
                f.wasm.min_us,
                f.wasm.max_us,
                f.native.median_us,
                f.native.min_us,
                f.native.max_us,
                f.native_json.median_us,
                f.native_json.min_us,
                f.native_json.max_us,
                f.fuel
            );
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<40} {:>8} {:>10} {:>10} {:>8} {:>10} {:>8} {:>10}",
        "policy", "applies", "Wasm us", "native us", "ratio", "JSON us", "ratio", "fuel"
    );
    for f in &figures {
        println!(
            "{:<40} {:>8} {:>10.2} {:>10.3} {:>8.1} {:>10.3} {:>8.1} {:>10}",
            f.name,
            f.applies,
            f.wasm.median_us,
            f.native.median_us,
            f.ratio(),
            f.native_json.median_us,
            f.ratio_to_json(),
            f.fuel
        );
    }
    let mut ratios: Vec<f64> = figures.iter().map(|f| f.ratio()).collect();
    ratios.sort_by(f64::total_cmp);
    if let Some(middle) = ratios.get(ratios.len() / 2) {
        println!("median ratio (the middle one): {middle:.1}");
    }
    ExitCode::SUCCESS
}

fn rego_figures(
    pairs: &[(String, String)],
    object: &serde_json::Value,
    rounds: usize,
    round: Duration,
    tsv: bool,
) -> ExitCode {
    use wasm_validate_bench::rego::measure;
    for (template, constraint) in pairs {
        let f = match measure(
            std::path::Path::new(template),
            std::path::Path::new(constraint),
            object,
            rounds,
            round,
        ) {
            Ok(f) => f,
            Err(error) => {
                eprintln!("policy-bench: {constraint}: {error}");
                return ExitCode::from(2);
            }
        };
        if tsv {
            println!(
                "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{}\t{}\t{:.2}",
                f.name,
                f.violations,
                f.wasm.median_us,
                f.wasm.min_us,
                f.wasm.max_us,
                f.native.median_us,
                f.native.min_us,
                f.native.max_us,
                f.fuel,
                f.snapshot_bytes,
                f.prepare_ms
            );
        } else {
            println!(
                "{}: {} violations; Wasm {:.1} us, native {:.1} us ({:.1}x); fuel {}; snapshot {} KiB; prepare {:.1} ms",
                f.name,
                f.violations,
                f.wasm.median_us,
                f.native.median_us,
                f.wasm.median_us / f.native.median_us,
                f.fuel,
                f.snapshot_bytes / 1024,
                f.prepare_ms
            );
        }
    }
    ExitCode::SUCCESS
}

fn cel_figures(
    pairs: &[(String, String)],
    object: &serde_json::Value,
    rounds: usize,
    round: Duration,
    tsv: bool,
) -> ExitCode {
    use wasm_validate_bench::cel::measure;
    for (policy, builtin) in pairs {
        let f = match measure(std::path::Path::new(policy), builtin, object, rounds, round) {
            Ok(f) => f,
            Err(error) => {
                eprintln!("policy-bench: {policy}: {error}");
                return ExitCode::from(2);
            }
        };
        if tsv {
            println!(
                "{}\t{}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{}\t{}\t{:.2}",
                f.name,
                f.violations,
                f.wasm.median_us,
                f.wasm.min_us,
                f.wasm.max_us,
                f.native.median_us,
                f.native.min_us,
                f.native.max_us,
                f.builtin.median_us,
                f.fuel,
                f.snapshot_bytes,
                f.prepare_ms
            );
        } else {
            println!(
                "{}: {} violations; Wasm {:.1} us, native {:.1} us ({:.1}x), built-in {builtin} {:.1} us; fuel {}; snapshot {} KiB; prepare {:.1} ms",
                f.name,
                f.violations,
                f.wasm.median_us,
                f.native.median_us,
                f.wasm.median_us / f.native.median_us,
                f.builtin.median_us,
                f.fuel,
                f.snapshot_bytes / 1024,
                f.prepare_ms
            );
        }
    }
    ExitCode::SUCCESS
}
