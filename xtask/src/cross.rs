//! `cargo xtask cross [--target TRIPLE]... [--profile PROFILE]`: builds
//! both binaries (with `release`, what ships, unless another cargo profile
//! is given; CI gives `cross-check`) for the Linux cross targets (default: aarch64, armv7 and riscv64; see
//! [`targets::CROSS`]) with Debian's cross toolchains, runs the check of
//! `testdata/real` with each under qemu-user, and compares the JSON report
//! and the exit code, byte for byte, with the host's release build. A
//! difference fails the command and leaves both reports in
//! `target/cross/` for `diff`.
//!
//! The checks run, from the workspace root: `wasm-validate check
//! testdata/real -o json` (the default policies: restricted and
//! best-practices) and `kubectl-wasm_validate -f testdata/real -R -o json
//! --profile fixes --profile baseline` (mutations included).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::targets::{self, CROSS, Target};

/// The two checks: binary name and arguments.
const CHECKS: [(&str, &[&str]); 2] = [
    ("wasm-validate", &["check", "testdata/real", "-o", "json"]),
    (
        "kubectl-wasm_validate",
        &[
            "-f",
            "testdata/real",
            "-R",
            "-o",
            "json",
            "--profile",
            "fixes",
            "--profile",
            "baseline",
        ],
    ),
];

/// One run: stdout, exit code, wall seconds.
struct Run {
    stdout: Vec<u8>,
    code: Option<i32>,
    seconds: f64,
}

/// Runs `binary args` from `root`, under `qemu` (emulator, sysroot) if
/// given, with a clean `NO_COLOR` environment and no configuration file.
fn run(
    root: &Path,
    qemu: Option<(&str, &str)>,
    binary: &Path,
    args: &[&str],
) -> Result<Run, String> {
    let mut command = match qemu {
        Some((emulator, sysroot)) => {
            let mut c = Command::new(emulator);
            c.arg("-L").arg(sysroot).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(args)
        .arg("--no-config")
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    let started = Instant::now();
    let output = command.output().map_err(|e| {
        let hint = qemu.map_or(String::new(), |(emulator, _)| {
            format!(" (apt-get install qemu-user for {emulator})")
        });
        format!("{}: {e}{hint}", binary.display())
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if output.stdout.is_empty() {
        return Err(format!(
            "{} printed no report (exit {:?}): {}",
            binary.display(),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Run {
        stdout: output.stdout,
        code: output.status.code(),
        seconds,
    })
}

/// `cargo xtask cross`: see the module's documentation.
pub fn cross(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut triples: Vec<String> = Vec::new();
    let mut profile = "release".to_owned();
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        match (arg, args.next()) {
            ("--target", Some(value)) => triples.push(value.to_string()),
            ("--profile", Some(value)) => profile = value.to_string(),
            _ => return Err(format!("cross: unknown argument {arg}")),
        }
    }
    if triples.is_empty() {
        triples = CROSS.map(str::to_owned).to_vec();
    }
    let host = targets::find(&targets::host()?)?;
    let targets: Vec<Target> = triples
        .iter()
        .map(|t| targets::find(t))
        .collect::<Result<_, _>>()?;
    if let Some(t) = targets.iter().find(|t| t.qemu.is_none()) {
        return Err(format!(
            "{}: not a Linux target qemu-user can run",
            t.triple
        ));
    }
    let started = Instant::now();
    let native_dir = targets::build(root, &host, &profile)?;
    let mut reference = Vec::new();
    for (binary, args) in CHECKS {
        reference.push(run(root, None, &native_dir.join(binary), args)?);
    }
    let out = root.join("target/cross");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut rows = vec![format!(
        "| {} (native) | {} | {} | {:.2} s, {:.2} s | reference |",
        host.triple,
        reference[0].stdout.len(),
        reference[1].stdout.len(),
        reference[0].seconds,
        reference[1].seconds
    )];
    let mut failures = Vec::new();
    for target in &targets {
        let build_started = Instant::now();
        let dir = targets::build(root, target, &profile)?;
        let build_seconds = build_started.elapsed().as_secs_f64();
        let mut verdicts = Vec::new();
        let mut seconds = Vec::new();
        let mut sizes = Vec::new();
        for ((binary, args), native) in CHECKS.iter().zip(&reference) {
            let emulated = run(root, target.qemu, &dir.join(binary), args)?;
            seconds.push(emulated.seconds);
            sizes.push(emulated.stdout.len());
            if emulated.stdout == native.stdout && emulated.code == native.code {
                verdicts.push("identical".to_owned());
            } else {
                let path = out.join(format!("{}-{binary}.json", target.triple));
                let native_path = out.join(format!("{}-{binary}.json", host.triple));
                let _ = std::fs::write(&path, &emulated.stdout);
                let _ = std::fs::write(&native_path, &native.stdout);
                verdicts.push(format!(
                    "DIFFERENT (exit {:?} vs {:?}; diff {} {})",
                    emulated.code,
                    native.code,
                    native_path.display(),
                    path.display()
                ));
                failures.push(format!("{} {binary}", target.triple));
            }
        }
        rows.push(format!(
            "| {} (qemu-user, built in {build_seconds:.0} s) | {} | {} | {:.2} s, {:.2} s | {} |",
            target.triple,
            sizes[0],
            sizes[1],
            seconds[0],
            seconds[1],
            verdicts.join("; ")
        ));
    }
    println!();
    println!(
        "| target | check JSON (bytes) | kubectl -f JSON (bytes) | wall (check, kubectl) | JSON and exit code against native |"
    );
    println!("|---|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!(
        "(profile {profile}; exit codes: check {:?}, kubectl {:?}; {:.0} s in all)",
        reference[0].code,
        reference[1].code,
        started.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "reports differ from the native ones: {}",
            failures.join(", ")
        ))
    }
}
