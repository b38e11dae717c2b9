//! `cargo xtask <command>`:
//!
//! - `build-policies [--out DIR]`: compiles `policies/` and `runtimes/` to
//!   `wasm32-unknown-unknown` and copies the modules to DIR (default
//!   `target/policies/out`; runtimes as `runtime-NAME.wasm`, the library
//!   module, every policy in one, as `library.wasm`), for use with
//!   `--policy PATH.wasm` elsewhere.
//! - `docs [--check]`: writes `docs/policies.md` from the policies'
//!   metadata; with `--check`, fails when the file is out of date.
//! - `ci`: the checks of `.ci/run` (fmt, clippy, docs, cargo-deny, tests,
//!   the cross check of aarch64 and armv7 with the dev profile) without the
//!   installation steps.
//! - `audit-memory [PODS...]`: peak memory (max RSS) and wall time of the
//!   release `kubectl-wasm_validate` auditing a loopback API server's
//!   namespace of PODS Pods (default 5000 and 50000) with the default
//!   policies, with `-o json` (written page by page: memory does not grow
//!   with the cluster) and `-o policyreport` (every result kept).
//! - `corpus [--resources N] [--out DIR]`: writes a deterministic corpus of
//!   N resources (default 50,000) multiplied from `testdata/real`, by default
//!   to `target/bench/corpus-N` (see `corpus.rs`).
//! - `bench [--runs N] [--resources N] [--checkov] [--no-write]`: the
//!   performance suite (cold start, throughput and memory with 1 and 2
//!   threads, Wasm against native per policy, post-render, optionally
//!   Checkov); prints the report and writes it into `docs/performance.md`
//!   (see `bench.rs`).
//! - `bench-cel [--runs N] [--no-write]`: the CEL runtime's figures
//!   (`bench_cel`), written into docs/performance.md.
//! - `load [--seconds N] [--no-write] [--rates R,R,...] [--server-cpus LIST]
//!   [--client-cpus LIST]`: the admission server under load on 127.0.0.1
//!   (closed loop at 1, 16 and 64 connections, then fixed rates over 64;
//!   requests/s, latency percentiles, peak RSS); writes into
//!   `docs/performance.md` unless pinned to CPUs (see `load.rs`).
//! - `dist [--target TRIPLE]... [--release-url URL] [--out DIR]`: release
//!   archives, the Helm 4 plugin archive, the krew manifest with its URL and
//!   digests filled, SHA256SUMS (see `dist.rs`).
//! - `cross [--target TRIPLE]... [--profile PROFILE]`: cross-builds for aarch64, armv7 and
//!   riscv64 Linux and checks `testdata/real` under qemu-user; the JSON
//!   reports must be byte-identical to the host's (see `cross.rs`).
//! - `fuzz [--time SECS] [TARGET]...`: runs the cargo-fuzz targets of
//!   `fuzz/` (manifest, abi_response, patch) for SECS seconds each (default
//!   60), seeded from `testdata/`; every crash becomes a regression input in
//!   `testdata/fuzz/TARGET/` (see `fuzz.rs`).
//! - `hostile`: exit code, time and peak memory of the release binary on
//!   each hostile manifest and policy of `docs/security.md` (see
//!   `hostile.rs`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod bench_cel;
mod bench_rego;
mod bench_schema;
mod corpus;
mod cross;
mod dist;
mod fuzz;
mod hostile;
mod load;
mod measure;
#[path = "../../crates/builtin/policy_build.rs"]
mod policy_build;
mod schemas;
mod targets;

use wasm_validate_abi::{Level, Metadata};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn build_policies(out: Option<PathBuf>) -> Result<(), String> {
    let root = workspace();
    let out = out.unwrap_or_else(|| root.join("target/policies/out"));
    let target = root.join("target/policies");
    let mut built = policy_build::build(&cargo(), &root, &target)?;
    for (name, wasm) in policy_build::build_runtimes(&cargo(), &root, &target.join("runtimes"))? {
        built.push((format!("runtime-{name}"), wasm));
    }
    built.push((
        "library".to_owned(),
        policy_build::build_library(&cargo(), &root, &target)?,
    ));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, wasm) in built {
        let to = out.join(format!("{name}.wasm"));
        std::fs::copy(&wasm, &to).map_err(|e| format!("{}: {e}", to.display()))?;
        let size = std::fs::metadata(&to).map(|m| m.len()).unwrap_or(0);
        println!("{} ({size} bytes)", to.display());
    }
    Ok(())
}

/// The metadata embedded in a built policy module's
/// `wasm-validate.metadata` custom section (read with wasmparser).
fn embedded_metadata(wasm: &Path) -> Result<Metadata, String> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        let payload = payload.map_err(|e| format!("{}: {e}", wasm.display()))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == wasm_validate_abi::METADATA_SECTION
        {
            return serde_json::from_slice(section.data())
                .map_err(|e| format!("{}: metadata: {e}", wasm.display()));
        }
    }
    Err(format!("{}: no metadata section", wasm.display()))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn severity(metadata: &Metadata) -> String {
    serde_json::to_value(metadata.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn sources(metadata: &Metadata) -> String {
    metadata
        .references
        .iter()
        .map(|r| format!(" [source]({r})"))
        .collect()
}

/// One line per setting of a policy: `key` (type, required): description.
fn settings(metadata: &Metadata) -> String {
    let Some(schema) = &metadata.settings_schema else {
        return "none".to_owned();
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let Some(properties) = schema["properties"].as_object() else {
        return "none".to_owned();
    };
    properties
        .iter()
        .map(|(key, property)| {
            let kind = property["type"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| property.get("enum").map(|e| format!("one of {e}")))
                .unwrap_or_default();
            let need = if required.contains(&key.as_str()) {
                ", required"
            } else {
                ""
            };
            let description = property["description"].as_str().unwrap_or_default();
            cell(&format!("`{key}` ({kind}{need}) {description}"))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The text of `docs/policies.md`, from the metadata embedded in each built
/// module (so the catalogue shows exactly what the binaries carry).
fn policies_doc(root: &Path) -> Result<String, String> {
    let built = policy_build::build(&cargo(), root, &root.join("target/policies"))?;
    let mut catalog = Vec::new();
    for (name, wasm) in built {
        let metadata = embedded_metadata(&wasm)?;
        if metadata.name != name {
            return Err(format!(
                "policies/{name}: metadata name {} differs",
                metadata.name
            ));
        }
        catalog.push(metadata);
    }
    let in_group = |category: &str, level: Option<Level>| -> Vec<&Metadata> {
        catalog
            .iter()
            .filter(|m| m.category.as_deref() == Some(category) && m.level == level)
            .collect()
    };
    let mut out = String::from(
        "# Built-in policies\n\n\
         Generated by `cargo xtask docs` from the metadata embedded in each built policy module; do not edit by hand.\n\
         Each policy is a crate under `policies/`, compiled to `wasm32-unknown-unknown` and embedded in the binaries.\n\n\
         Choose policies with `--profile` (`baseline`, `restricted`, `best-practices`, `fixes`; repeatable), with\n\
         `--policy NAME` (a name or an alias), or both. Without either, `check`, `post-render` and the kubectl plugin\n\
         run the `restricted` and `best-practices` profiles. Settings are given as `--settings NAME=VALUE` (JSON or\n\
         YAML) and validated against the policy's JSON Schema before anything runs; a profile leaves out policies\n\
         whose settings are required unless they are given, and giving settings for a policy selects it.\n\n\
         ## Pod Security Standards\n\n\
         One policy per control of the [Pod Security Standards](https://kubernetes.io/docs/concepts/security/pod-security-standards/),\n\
         following pod-security-admission at policy version **v1.37** (the `latest` version of Kubernetes v1.37). Each applies to\n\
         every kind that carries a pod spec (Pod, PodTemplate, Deployment, ReplicaSet, ReplicationController, StatefulSet,\n\
         DaemonSet, Job, CronJob) and looks at containers, init containers and ephemeral containers alike.\n\
         `--profile restricted` runs the Baseline controls and the Restricted ones, each Restricted control replacing the\n\
         Baseline control it tightens. Pods with `spec.os.name: windows` are exempt from the Linux-only Restricted controls\n\
         (Privilege Escalation, Seccomp, Capabilities); pods with `spec.hostUsers: false` from Running as Non-root,\n\
         Running as Non-root user and the Baseline /proc Mount Type control.\n\n",
    );
    for (title, level) in [
        ("Baseline", Level::Baseline),
        ("Restricted", Level::Restricted),
    ] {
        out.push_str(&format!(
            "### {title}\n\n| policy | control | severity | what it checks | replaces | aliases |\n|---|---|---|---|---|---|\n"
        ));
        for m in in_group("pod-security", Some(level)) {
            let names = |list: &[String]| {
                list.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {}{} | {} | {} |\n",
                m.name,
                m.control.as_deref().unwrap_or_default(),
                severity(m),
                cell(&m.description),
                sources(m),
                names(&m.overrides),
                names(&m.aliases),
            ));
        }
        out.push('\n');
    }
    for (title, category, intro) in [
        (
            "Best practices",
            "best-practices",
            "Validating checks beyond the Pod Security Standards (`--profile best-practices` takes those that need no settings).",
        ),
        (
            "Fixes",
            "fixes",
            "Mutating policies: each answers with an RFC 6902 JSON Patch, applied with json-patch before the validating policies run; a patch that does not apply is an error result and the resource is left untouched. `--profile fixes --profile restricted` fixes what can be fixed and reports the rest.",
        ),
    ] {
        out.push_str(&format!(
            "## {title}\n\n{intro}\n\n| policy | kind | severity | applies to | what it does | settings | aliases |\n|---|---|---|---|---|---|---|\n"
        ));
        for m in in_group(category, None) {
            let kinds: Vec<String> = m.rules.iter().flat_map(|r| r.kinds.clone()).collect();
            let aliases: Vec<String> = m.aliases.iter().map(|a| format!("`{a}`")).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {}{} | {} | {} |\n",
                m.name,
                if m.mutating { "mutating" } else { "validating" },
                severity(m),
                kinds.join(", "),
                cell(&m.description),
                sources(m),
                settings(m),
                aliases.join(", "),
            ));
        }
        out.push('\n');
    }
    let others: Vec<&Metadata> = catalog
        .iter()
        .filter(|m| {
            !matches!(
                m.category.as_deref(),
                Some("pod-security" | "best-practices" | "fixes")
            )
        })
        .collect();
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|m| m.name.as_str()).collect();
        return Err(format!(
            "policies without a known category: {}",
            names.join(", ")
        ));
    }
    Ok(out)
}

fn docs(check: bool) -> Result<(), String> {
    let root = workspace();
    let path = root.join("docs/policies.md");
    let text = policies_doc(&root)?;
    if check {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            return Err("docs/policies.md is out of date: run `cargo xtask docs`".to_owned());
        }
        return Ok(());
    }
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn step(args: &[&str]) -> Result<(), String> {
    println!("+ cargo {}", args.join(" "));
    let status = Command::new(cargo())
        .args(args)
        .current_dir(workspace())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

fn ci() -> Result<(), String> {
    step(&["fmt", "--all", "--", "--check"])?;
    docs(true)?;
    step(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // The guest SDK's unsafe code is compiled for wasm32 only.
    step(&[
        "clippy",
        "-p",
        "wasm-validate-sdk",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ])?;
    step(&[
        "deny",
        "--log-level",
        "error",
        "check",
        "bans",
        "licenses",
        "sources",
    ])?;
    step(&["test", "--workspace"])?;
    cross::cross(
        &workspace(),
        &[
            "--profile",
            "dev",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target",
            "armv7-unknown-linux-gnueabihf",
        ],
    )
}

/// `cargo xtask audit-memory`: see the module's documentation.
fn audit_memory(pod_counts: &[usize]) -> Result<(), String> {
    let root = workspace();
    step(&["build", "--release", "-p", "kubectl-wasm-validate"])?;
    let plugin = root.join("target/release/kubectl-wasm_validate");
    let dir = root.join("target/audit-memory");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!();
    println!(
        "| Pods in the namespace | output | wall (s, median of 3) | max RSS (MiB, max of 3) | exit |"
    );
    println!("|---:|---|---:|---:|---:|");
    for (&pods, format) in pod_counts
        .iter()
        .flat_map(|p| [(p, "json"), (p, "policyreport")])
    {
        let server = wasm_validate_test_apiserver::ApiServer::start(
            wasm_validate_test_apiserver::demo_cluster(&root, pods),
        );
        let kubeconfig = server.kubeconfig(&dir);
        let args: Vec<String> = [
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--context",
            "good",
            "-n",
            "load",
            "-o",
            format,
        ]
        .map(str::to_owned)
        .to_vec();
        let mut walls = Vec::new();
        let mut peak = 0;
        let mut code = None;
        for _ in 0..3 {
            let run = measure::run(&plugin, &args)?;
            walls.push(run.wall);
            peak = peak.max(run.max_rss_kib);
            code = run.code;
        }
        println!(
            "| {pods} | {format} | {:.2} | {:.1} | {} |",
            measure::median(&mut walls),
            peak as f64 / 1024.0,
            code.map_or("signal".to_owned(), |c| c.to_string())
        );
    }
    println!();
    println!(
        "(pages of 500; json is written page by page, policyreport keeps every result; exit 2: the demo cluster forbids listing DaemonSets, reported as an input error; {} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}

/// `cargo xtask bench ...`: see [`bench`].
fn bench_command(args: &[&str]) -> Result<(), String> {
    let mut options = bench::Options {
        runs: 3,
        resources: 50_000,
        checkov: false,
        write: true,
    };
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg {
            "--runs" => options.runs = number("--runs")?,
            "--resources" => options.resources = number("--resources")?,
            "--checkov" => options.checkov = true,
            "--no-write" => options.write = false,
            _ => return Err(format!("bench: unknown argument {arg}")),
        }
    }
    bench::bench(&options)
}

/// `cargo xtask bench-cel [--runs N] [--no-write]`: see [`bench_cel`].
fn bench_cel_command(args: &[&str]) -> Result<(), String> {
    let (mut runs, mut write) = (3, true);
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        match arg {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--runs needs a number")?
            }
            "--no-write" => write = false,
            _ => return Err(format!("bench-cel: unknown argument {arg}")),
        }
    }
    bench_cel::bench_cel(runs, write)
}

/// `cargo xtask load [--seconds N] [--no-write] [--rates R,R,...]
/// [--server-cpus LIST] [--client-cpus LIST]`: see [`load`].
///
/// `cargo xtask` is a debug build, and a load generator built so spent a
/// quarter of the two cores on TLS and HTTP in debug code, taken from the
/// server it measures. The command therefore runs again as a release build
/// of xtask (built once), which generates the load.
fn load_command(args: &[&str]) -> Result<(), String> {
    if cfg!(debug_assertions) {
        let status = Command::new(env!("CARGO"))
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "xtask",
                "--",
                "load",
            ])
            .args(args)
            .current_dir(workspace())
            .status()
            .map_err(|e| e.to_string())?;
        return if status.success() {
            Ok(())
        } else {
            Err("the release build of `xtask load` failed".to_owned())
        };
    }
    let mut options = load::Options {
        seconds: 5,
        write: true,
        server_cpus: None,
        client_cpus: None,
        rates: load::PACED_RATES.to_vec(),
    };
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        match arg {
            "--seconds" => {
                options.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seconds needs a number")?
            }
            "--no-write" => options.write = false,
            "--rates" => {
                options.rates = args
                    .next()
                    .map(|list| {
                        list.split(',')
                            .map(str::parse)
                            .collect::<Result<Vec<f64>, _>>()
                    })
                    .and_then(Result::ok)
                    .filter(|rates| rates.iter().all(|r| *r > 0.0))
                    .ok_or("--rates needs requests/s separated by commas, such as 1000,2000")?
            }
            "--server-cpus" | "--client-cpus" => {
                let list = args.next().ok_or(format!("{arg} needs a CPU list"))?;
                let slot = if arg == "--server-cpus" {
                    &mut options.server_cpus
                } else {
                    &mut options.client_cpus
                };
                *slot = Some((*list).to_owned());
                // Figures for a share of the machine do not replace the
                // whole machine's in docs/performance.md.
                options.write = false;
            }
            _ => return Err(format!("load: unknown argument {arg}")),
        }
    }
    load::load(&options)
}

/// `cargo xtask corpus [--resources N] [--out DIR]`: see [`corpus`].
fn corpus_command(args: &[&str]) -> Result<(), String> {
    let mut resources = 50_000;
    let mut out = None;
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg {
            "--resources" => {
                resources = value
                    .parse()
                    .map_err(|_| format!("--resources {value}: expected a number"))?;
            }
            "--out" => out = Some(PathBuf::from(value)),
            _ => return Err(format!("corpus: unknown argument {arg}")),
        }
    }
    let root = workspace();
    let dir = out.unwrap_or_else(|| corpus::default_dir(&root, resources));
    let corpus = corpus::generate(&root, resources, &dir)?;
    println!(
        "{}: {} resources in {} files, {:.1} MB",
        corpus.dir.display(),
        corpus.resources,
        corpus.files,
        corpus.bytes as f64 / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["build-policies"] => build_policies(None),
        ["build-policies", "--out", dir] => build_policies(Some(PathBuf::from(dir))),
        ["docs"] => docs(false),
        ["docs", "--check"] => docs(true),
        ["ci"] => ci(),
        ["corpus", rest @ ..] => corpus_command(rest),
        ["dist", rest @ ..] => dist::dist(&workspace(), rest),
        ["cross", rest @ ..] => cross::cross(&workspace(), rest),
        ["fuzz", rest @ ..] => fuzz::fuzz(&workspace(), rest),
        ["hostile"] => hostile::hostile(&workspace()),
        ["schemas", rest @ ..] => schemas::schemas(&workspace(), rest),
        ["bench", rest @ ..] => bench_command(rest),
        ["load", rest @ ..] => load_command(rest),
        ["bench-cel", rest @ ..] => bench_cel_command(rest),
        ["audit-memory"] => audit_memory(&[5000, 50000]),
        ["audit-memory", counts @ ..] => counts
            .iter()
            .map(|c| c.parse().map_err(|_| format!("{c}: expected a number of Pods")))
            .collect::<Result<Vec<usize>, String>>()
            .and_then(|counts| audit_memory(&counts)),
        _ => Err(
            "usage: cargo xtask build-policies [--out DIR] | docs [--check] | ci | audit-memory [PODS...] | corpus [--resources N] [--out DIR] | bench [--runs N] [--resources N] [--checkov] [--no-write] | load [--seconds N] [--no-write] [--rates R,R,...] [--server-cpus LIST] [--client-cpus LIST] | bench-cel [--runs N] [--no-write] | dist [--target TRIPLE]... [--release-url URL] [--out DIR] | cross [--target TRIPLE]... [--profile PROFILE] | fuzz [--time SECS] [TARGET]... | hostile | schemas [--from DIR] [--versions 1.35,1.36,1.37]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod supply_chain {
    use super::workspace;

    /// Every crate root (`src/lib.rs`, `src/main.rs`, `build.rs`) of the
    /// workspace forbids unsafe code, except the guest SDK, which needs it
    /// for the ABI's exports and allocator, and the policies and runtimes,
    /// whose only unsafe is what the SDK's `export_policy!` and
    /// `export_runtime!` expand to (they keep the workspace's
    /// `unsafe_code = "deny"`). Unsafe blocks are checked for
    /// their `// SAFETY:` comment by clippy's `undocumented_unsafe_blocks`.
    #[test]
    fn every_crate_without_unsafe_forbids_it() {
        let root = workspace();
        let mut roots = Vec::new();
        for dir in ["crates", "policies", "runtimes"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                for file in ["src/lib.rs", "src/main.rs", "build.rs"] {
                    let path = entry.path().join(file);
                    if path.exists() {
                        roots.push(path);
                    }
                }
            }
        }
        roots.push(root.join("xtask/src/main.rs"));
        assert!(roots.len() > 40, "{} crate roots", roots.len());
        let mut missing = Vec::new();
        for path in roots {
            let text = std::fs::read_to_string(&path).unwrap();
            let relative = path.strip_prefix(&root).unwrap().display().to_string();
            // Policies and runtimes: only what the SDK's export macros expand to.
            let guest = relative.starts_with("policies/") || relative.starts_with("runtimes/");
            let exempt = relative == "crates/sdk/src/lib.rs" || guest;
            let forbids = text.contains("#![forbid(unsafe_code)]");
            if exempt {
                assert!(guest || !forbids, "{relative}: the SDK needs unsafe");
                assert!(
                    !text.contains("allow(unsafe_code)") || relative == "crates/sdk/src/lib.rs",
                    "{relative} allows unsafe code"
                );
            } else if !forbids {
                missing.push(relative);
            }
        }
        assert!(
            missing.is_empty(),
            "no #![forbid(unsafe_code)]: {missing:?}"
        );
    }
}
