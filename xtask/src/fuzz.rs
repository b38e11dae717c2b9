//! `cargo xtask fuzz [--time SECS] [TARGET...]`: runs each cargo-fuzz target
//! of `fuzz/` (default: all of `wasm_validate_fuzzing::TARGETS`) for SECS
//! seconds (default 60) with libFuzzer, without a sanitizer (`-s none`:
//! works on the stable toolchain; the code under test has no `unsafe`).
//!
//! The corpus of each target is `target/fuzz/corpus/TARGET`, seeded from
//! `testdata/` and `policies/` (`wasm_validate_fuzzing::seeds`) and kept
//! between runs. Every input that crashes (a panic, a property that fails),
//! runs out of memory (2 GiB) or hangs (10 s) is copied to
//! `testdata/fuzz/TARGET/`, where `cargo test -p wasm-validate-fuzzing`
//! replays it from then on: commit it with the fix. The command prints
//! executions, executions per second, coverage and corpus size per target,
//! and fails when any target found something.
//!
//! Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).

use std::path::Path;
use std::process::Command;

/// What one target's run gave.
struct Outcome {
    target: String,
    runs: String,
    per_second: String,
    coverage: String,
    corpus: String,
    found: Vec<String>,
}

pub fn fuzz(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut targets: Vec<String> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--time" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time needs a number of seconds")?;
            }
            name if wasm_validate_fuzzing::TARGETS.contains(&name) => targets.push(name.to_owned()),
            other => {
                return Err(format!(
                    "unknown argument {other:?}: usage: cargo xtask fuzz [--time SECS] [{}]...",
                    wasm_validate_fuzzing::TARGETS.join("|")
                ));
            }
        }
    }
    if targets.is_empty() {
        targets = wasm_validate_fuzzing::TARGETS
            .iter()
            .map(|t| t.to_string())
            .collect();
    }
    let installed = Command::new(super::cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        return Err("cargo-fuzz is not installed: cargo install cargo-fuzz --locked".to_owned());
    }
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(root, target, seconds)?);
    }
    println!(
        "\n{:<14} {:>10} {:>8} {:>6} {:>7}  found",
        "target", "runs", "exec/s", "cov", "corpus"
    );
    for o in &outcomes {
        println!(
            "{:<14} {:>10} {:>8} {:>6} {:>7}  {}",
            o.target,
            o.runs,
            o.per_second,
            o.coverage,
            o.corpus,
            if o.found.is_empty() {
                "nothing".to_owned()
            } else {
                o.found.join(", ")
            }
        );
    }
    let found: Vec<&String> = outcomes.iter().flat_map(|o| &o.found).collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} input(s) failed; each is now a regression test under testdata/fuzz/ (cargo test -p wasm-validate-fuzzing): fix, then commit them",
            found.len()
        ))
    }
}

fn run_target(root: &Path, target: &str, seconds: u64) -> Result<Outcome, String> {
    let corpus = root.join("target/fuzz/corpus").join(target);
    let artifacts = root.join("target/fuzz/artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let seeds = wasm_validate_fuzzing::seeds(target);
    for seed in &seeds {
        let name = format!("seed-{}", &crate::dist::sha256(seed)[..16]);
        std::fs::write(corpus.join(name), seed)
            .map_err(|e| format!("{}: {e}", corpus.display()))?;
    }
    println!(
        "== fuzz {target}: {seconds} s, {} seeds, corpus {}",
        seeds.len(),
        corpus.display()
    );
    let output = Command::new(super::cargo())
        .current_dir(root)
        .args(["fuzz", "run", "-s", "none", "--fuzz-dir"])
        .arg(root.join("fuzz"))
        .arg(target)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-timeout=10")
        .arg("-max_len=65536")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .output()
        .map_err(|e| format!("cargo fuzz: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let status_line = log
        .lines()
        .rev()
        .find(|l| l.contains(" cov: "))
        .unwrap_or("");
    let field = |name: &str| {
        status_line
            .split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .unwrap_or("?")
            .to_owned()
    };
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    let mut found = Vec::new();
    let regressions = root.join("testdata/fuzz").join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&artifacts)
        .map_err(|e| format!("{}: {e}", artifacts.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for artifact in entries {
        std::fs::create_dir_all(&regressions)
            .map_err(|e| format!("{}: {e}", regressions.display()))?;
        let name = artifact.file_name().expect("a file").to_owned();
        let to = regressions.join(&name);
        std::fs::rename(&artifact, &to)
            .or_else(|_| std::fs::copy(&artifact, &to).map(|_| ()))
            .map_err(|e| format!("{}: {e}", to.display()))?;
        found.push(to.strip_prefix(root).unwrap_or(&to).display().to_string());
    }
    if !output.status.success() && found.is_empty() {
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "cargo fuzz run {target} failed:\n{}",
            tail.join("\n")
        ));
    }
    if !found.is_empty() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        eprintln!("{}", tail.join("\n"));
    }
    Ok(Outcome {
        target: target.to_owned(),
        runs: stat("number_of_executed_units"),
        per_second: stat("average_exec_per_sec"),
        coverage: field("cov:"),
        corpus: field("corp:").split('/').next().unwrap_or("?").to_owned(),
        found,
    })
}
