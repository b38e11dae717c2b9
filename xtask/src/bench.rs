//! `cargo xtask bench [--runs N] [--resources N] [--checkov] [--no-write]`:
//! the performance suite. Builds the release binaries, generates the
//! corpus ([`crate::corpus`]), measures, prints one report and writes it
//! into `docs/performance.md` between the markers [`BEGIN`] and [`END`]
//! (the text around them is kept).
//!
//! Measured, each as the median of several runs with the fastest and
//! slowest run beside it:
//! 1. cold start: `wasm-validate check` of one typical Pod with the whole
//!    built-in library, process start to exit;
//! 2. throughput of `check` on `testdata/real` and on the generated corpus,
//!    with 1 and 2 threads: wall time, resources and evaluations per second,
//!    peak memory (max RSS) against the input size;
//! 3. per policy, microseconds per evaluation of the typical Pod as Wasm
//!    in wasmi and natively (`policy-bench`, crates/bench), and the ratio;
//! 4. `post-render` of the cert-manager stream as Helm 3 sends it;
//! 6. the schema stage ([`crate::bench_schema`]);
//! 7. the Rego runtime ([`crate::bench_rego`]);
//! 5. with `--checkov`, Checkov's Kubernetes checks (installed from PyPI in
//!    a virtual environment under `target/bench`) on `testdata/real` and on
//!    the typical Pod: a peer doing different work, shown for scale.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::measure::{self, Measured};

/// The line after which `docs/performance.md` holds the generated report.
pub const BEGIN: &str = "<!-- cargo xtask bench: begin -->";
/// The line before which the generated report ends.
pub const END: &str = "<!-- cargo xtask bench: end -->";

/// Checkov's version, as measured in `notes-field.md`.
const CHECKOV: &str = "checkov==3.3.30";

/// The targets of issue 18 (ABI v2) on a 2-core machine.
const TARGET_EVALUATION_US: f64 = 10.0;
const TARGET_CORPUS_SECONDS: f64 = 3.0;
const TARGET_COLD_MS: f64 = 20.0;
const TARGET_POST_RENDER_MS: f64 = 50.0;
const TARGET_SPEEDUP: f64 = 1.8;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Runs of each throughput measurement (cold start and post-render run
    /// four times as often).
    pub runs: usize,
    /// Resources in the generated corpus.
    pub resources: usize,
    /// Also measure Checkov.
    pub checkov: bool,
    /// Write `docs/performance.md`.
    pub write: bool,
}

/// Several runs of one command.
pub(crate) struct Series {
    walls: Vec<f64>,
    max_rss_kib: u64,
    code: Option<i32>,
}

impl Series {
    pub(crate) fn median(&self) -> f64 {
        measure::median(&mut self.walls.clone())
    }
    fn min(&self) -> f64 {
        self.walls.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.walls.iter().copied().fold(0.0, f64::max)
    }
    pub(crate) fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
    /// `median (min–max)` in milliseconds or seconds.
    pub(crate) fn wall(&self, unit: Unit) -> String {
        let f = |s: f64| match unit {
            Unit::Ms => format!("{:.1}", s * 1e3),
            Unit::S => format!("{s:.2}"),
        };
        format!("{} ({}–{})", f(self.median()), f(self.min()), f(self.max()))
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Unit {
    Ms,
    S,
}

pub(crate) fn series(
    runs: usize,
    program: &Path,
    args: &[String],
    stdin: Option<&Path>,
) -> Result<Series, String> {
    // One run first that is not counted: the files are then in the page
    // cache for every counted run.
    measure::run_with_stdin(program, args, stdin)?;
    let mut out = Series {
        walls: Vec::new(),
        max_rss_kib: 0,
        code: None,
    };
    for _ in 0..runs.max(1) {
        let Measured {
            wall,
            max_rss_kib,
            code,
        } = measure::run_with_stdin(program, args, stdin)?;
        out.walls.push(wall);
        out.max_rss_kib = out.max_rss_kib.max(max_rss_kib);
        out.code = code;
    }
    Ok(out)
}

pub(crate) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Total size of the inputs `check` reads from `path` (a file, or the
/// `.yaml`, `.yml` and `.json` files under a directory, as
/// [`wasm_validate_manifest::collect_inputs`] finds them).
fn input_bytes(path: &Path) -> u64 {
    wasm_validate_manifest::collect_inputs(&[path], true)
        .unwrap_or_default()
        .iter()
        .map(|input| match input {
            wasm_validate_manifest::Input::File(file) => {
                std::fs::metadata(file).map_or(0, |m| m.len())
            }
            wasm_validate_manifest::Input::Stdin => 0,
        })
        .sum()
}

/// `resources` and `evaluations` of a check of `input` (one `-o json` run).
fn counts(binary: &Path, input: &Path, out: &Path) -> Result<(u64, u64), String> {
    let report = out.join("counts.json");
    Command::new(binary)
        .args(["check", "--no-config", "--schema=off", "-o"])
        .arg(format!("json={}", report.display()))
        .arg(input)
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let text =
        std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let summary = &json["summary"];
    Ok((
        summary["resources"].as_u64().unwrap_or(0),
        summary["evaluations"].as_u64().unwrap_or(0),
    ))
}

/// One line of `policy-bench --tsv`.
struct PolicyLine {
    name: String,
    applies: bool,
    wasm: [f64; 3],
    native: [f64; 3],
    native_json: [f64; 3],
    fuel: u64,
}

fn policy_lines(program: &Path) -> Result<Vec<PolicyLine>, String> {
    let output = Command::new(program)
        .arg("--tsv")
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "policy-bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let number = |i: usize| -> Result<f64, String> {
                cells
                    .get(i)
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| format!("policy-bench: bad line {line:?}"))
            };
            Ok(PolicyLine {
                name: cells.first().copied().unwrap_or_default().to_owned(),
                applies: cells.get(1) == Some(&"true"),
                wasm: [number(2)?, number(3)?, number(4)?],
                native: [number(5)?, number(6)?, number(7)?],
                native_json: [number(8)?, number(9)?, number(10)?],
                fuel: number(11)? as u64,
            })
        })
        .collect()
}

/// Installs Checkov in a virtual environment under `dir` (once) and returns
/// its executable.
fn checkov(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("checkov-venv");
    let executable = venv.join("bin/checkov");
    if executable.is_file() {
        return Ok(executable);
    }
    let run = |program: &Path, args: &[&str]| -> Result<(), String> {
        let status = Command::new(program)
            .args(args)
            .status()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("{} {} failed ({status})", program.display(), args.join(" ")))
    };
    run(
        Path::new("python3"),
        &["-m", "venv", &venv.display().to_string()],
    )?;
    run(
        &venv.join("bin/pip"),
        &["install", "--quiet", "--disable-pip-version-check", CHECKOV],
    )?;
    Ok(executable)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// Says whether `value` meets a target `limit` (at most, or at least when
/// `at_least`), and by how much it misses.
pub(crate) fn verdict(value: f64, limit: f64, at_least: bool) -> String {
    let met = if at_least {
        value >= limit
    } else {
        value <= limit
    };
    if met {
        "met".to_owned()
    } else if at_least {
        format!("missed: {:.0}% short", (1.0 - value / limit) * 100.0)
    } else {
        format!("missed: {:.1}x the target", value / limit)
    }
}

/// Runs the suite; see the module's documentation.
pub fn bench(options: &Options) -> Result<(), String> {
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
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let corpus = crate::corpus::generate(
        &root,
        options.resources,
        &crate::corpus::default_dir(&root, options.resources),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs = options.runs;
    let mut report = String::new();
    let w = &mut report;
    let _ = writeln!(
        w,
        "Machine: {cores} cores ({}). Release build (`cargo build --release`), policies built with the `policy` profile (opt-level 3, LTO, 32 KiB stack, LLVM inline threshold 500). Each figure is the median of the runs, with the fastest and slowest in brackets; one unmeasured run first warms the page cache. Peak memory is the maximum resident set size (GNU time) over the runs.\n",
        cpu_model()
    );
    let _ = writeln!(
        w,
        "Reproduce with `cargo xtask bench` (add `--checkov` for the peer; `--runs N` for more runs).\n"
    );

    // 1. Cold start.
    let pod = root.join("testdata/bench/typical-pod.yaml");
    println!("cold start ...");
    let cold = series(
        runs * 4,
        &binary,
        &strings(&[
            "check",
            "--no-config",
            "--schema=off",
            &pod.display().to_string(),
        ]),
        None,
    )?;
    let cold_ms = cold.median() * 1e3;
    let _ = writeln!(
        w,
        "### Cold start\n\n`wasm-validate check --schema=off testdata/bench/typical-pod.yaml` (the policy engine's figures; the schema stage has its own section below): one Pod (microservices-demo's frontend), the whole default library (restricted level and best practices, 23 policies), from process start to exit, {} runs.\n\n| ms | peak memory (MiB) | exit |\n|---:|---:|---:|\n| {} | {:.1} | {} |\n",
        runs * 4,
        cold.wall(Unit::Ms),
        cold.rss_mib(),
        cold.code.map_or("signal".to_owned(), |c| c.to_string())
    );

    // 2. Throughput.
    let inputs = [
        ("testdata/real", root.join("testdata/real")),
        ("generated corpus", corpus.dir.clone()),
    ];
    let _ = writeln!(
        w,
        "### Throughput and memory\n\n`wasm-validate check --schema=off --threads T INPUT` with the default library, text report to /dev/null, {runs} runs each. The generated corpus is `cargo xtask corpus --resources {}`: {} files, {:.1} MB (see `xtask/src/corpus.rs` for what it holds). Memory target: at most twice the input size plus 64 MiB.\n\n| input | input MB | threads | wall s | resources/s | evaluations/s | peak memory MiB | memory target MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|",
        corpus.resources,
        corpus.files,
        corpus.bytes as f64 / 1e6
    );
    let mut corpus_walls = [0.0; 2];
    let mut rss_worst: f64 = 0.0;
    for (label, path) in &inputs {
        let bytes = input_bytes(path);
        let (resources, evaluations) = counts(&binary, path, &out)?;
        let target_mib = 2.0 * bytes as f64 / (1 << 20) as f64 + 64.0;
        for threads in [1, 2] {
            println!("{label}, {threads} thread(s) ...");
            let run = series(
                runs,
                &binary,
                &strings(&[
                    "check",
                    "--no-config",
                    "--schema=off",
                    "--threads",
                    &threads.to_string(),
                    &path.display().to_string(),
                ]),
                None,
            )?;
            let wall = run.median();
            if *label == "generated corpus" {
                corpus_walls[threads - 1] = wall;
            }
            rss_worst = rss_worst.max(run.rss_mib() / target_mib);
            let _ = writeln!(
                w,
                "| {label} ({resources} resources, {evaluations} evaluations) | {:.1} | {threads} | {} | {:.0} | {:.0} | {:.1} | {target_mib:.0} |",
                bytes as f64 / 1e6,
                run.wall(Unit::S),
                resources as f64 / wall,
                evaluations as f64 / wall,
                run.rss_mib(),
            );
        }
    }
    let speedup = corpus_walls[0] / corpus_walls[1];
    let _ = writeln!(
        w,
        "\nOn the corpus, 2 threads are {speedup:.2}x as fast as 1.\n"
    );

    // 3. Per policy.
    println!("per policy ...");
    let lines = policy_lines(&root.join("target/release/policy-bench"))?;
    let mut ratios: Vec<f64> = lines.iter().map(|l| l.wasm[0] / l.native[0]).collect();
    let median_ratio = measure::median(&mut ratios);
    let mut ratios_json: Vec<f64> = lines.iter().map(|l| l.wasm[0] / l.native_json[0]).collect();
    let median_ratio_json = measure::median(&mut ratios_json);
    let mut applying: Vec<f64> = lines
        .iter()
        .filter(|l| l.applies)
        .map(|l| l.wasm[0])
        .collect();
    let median_wasm_us = measure::median(&mut applying);
    let _ = writeln!(
        w,
        "### Per policy: Wasm in wasmi against native

`target/release/policy-bench` (crates/bench): microseconds per evaluation of the typical Pod, median (fastest–slowest) of 11 rounds of about 20 ms. Wasm: `Engine::evaluate` on the ABI version 2 request (an instance in the module's starting state, reused as every run reuses it after its first evaluation, the tape written into the guest, the answer read back). Native tape: the same policy crate compiled for this machine, its `evaluate_tape` called directly on the same request bytes (the sandbox's cost). Native JSON: its `evaluate_json` on the version 1 JSON request, decoded with serde_json (what a policy compiled into the host would cost a user). \"applies\": whether the policy's rules select a Pod (a real run calls it only then; it is measured either way).\n\n| policy | applies | Wasm µs | native tape µs | ratio | native JSON µs | ratio | fuel |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for line in &lines {
        let _ = writeln!(
            w,
            "| {} | {} | {:.1} ({:.1}–{:.1}) | {:.2} ({:.2}–{:.2}) | {:.0} | {:.2} ({:.2}–{:.2}) | {:.0} | {} |",
            line.name,
            if line.applies { "yes" } else { "no" },
            line.wasm[0],
            line.wasm[1],
            line.wasm[2],
            line.native[0],
            line.native[1],
            line.native[2],
            line.wasm[0] / line.native[0],
            line.native_json[0],
            line.native_json[1],
            line.native_json[2],
            line.wasm[0] / line.native_json[0],
            line.fuel
        );
    }
    let _ = writeln!(
        w,
        "\nAcross the {} policies, the median Wasm/native ratio is {median_ratio:.1} on the same tape and {median_ratio_json:.1} against the native JSON path; the median Wasm evaluation of the {} policies that apply to a Pod takes {median_wasm_us:.1} µs.\n",
        lines.len(),
        applying.len()
    );

    // 4. Post-render.
    println!("post-render ...");
    let stream = root.join("testdata/real/cert-manager.helm3-post-render-stdin.yaml");
    let config = root.join("testdata/config/cert-manager.yaml");
    let post = series(
        runs * 4,
        &binary,
        &strings(&["post-render", "--config", &config.display().to_string()]),
        Some(&stream),
    )?;
    let _ = writeln!(
        w,
        "### Post-render\n\n`wasm-validate post-render --config testdata/config/cert-manager.yaml < testdata/real/cert-manager.helm3-post-render-stdin.yaml` ({:.0} KB, what Helm 3 writes to a post-renderer), end to end, {} runs.\n\n| ms | peak memory (MiB) | exit |\n|---:|---:|---:|\n| {} | {:.1} | {} |\n",
        input_bytes(&stream) as f64 / 1e3,
        runs * 4,
        post.wall(Unit::Ms),
        post.rss_mib(),
        post.code.map_or("signal".to_owned(), |c| c.to_string())
    );

    // 5. Checkov.
    if options.checkov {
        println!("checkov (installing once from PyPI) ...");
        let checkov = checkov(&out)?;
        let real = root.join("testdata/real");
        let common = [
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ];
        let mut on_dir = strings(&["-d", &real.display().to_string()]);
        on_dir.extend(strings(&common));
        let mut on_pod = strings(&["-f", &pod.display().to_string()]);
        on_pod.extend(strings(&common));
        let dir = series(runs, &checkov, &on_dir, None)?;
        let one = series(runs, &checkov, &on_pod, None)?;
        let _ = writeln!(
            w,
            "### A peer, for scale: Checkov\n\nCheckov ({CHECKOV}, from PyPI; `checkov --framework kubernetes --quiet --compact -o json`) runs its own Kubernetes checks in Python: **different work** from wasm-validate's policies, shown only for the order of magnitude. Not run on the generated corpus: at its speed on `testdata/real` it would take most of an hour. {runs} runs each.\n\n| what | wall s | peak memory (MiB) |\n|---|---:|---:|\n| `-d testdata/real` | {} | {:.0} |\n| `-f testdata/bench/typical-pod.yaml` | {} | {:.0} |\n",
            dir.wall(Unit::S),
            dir.rss_mib(),
            one.wall(Unit::S),
            one.rss_mib()
        );
    }

    // Targets.
    let post_ms = post.median() * 1e3;
    let _ = writeln!(
        w,
        "### Targets (issue 18, ABI v2; 2 cores)\n\n| target | measured | verdict |\n|---|---:|---|\n| one evaluation of the typical Pod, median across the library: at most {TARGET_EVALUATION_US} µs | {median_wasm_us:.1} µs | {} |\n| {} resources, whole library, 2 threads: at most {TARGET_CORPUS_SECONDS} s | {:.2} s | {} |\n| 2 threads against 1 on the corpus: at least {TARGET_SPEEDUP}x | {speedup:.2}x | {} |\n| cold start, one Pod: at most {TARGET_COLD_MS} ms | {cold_ms:.1} ms | {} |\n| post-render of the Helm 3 cert-manager stream: at most {TARGET_POST_RENDER_MS} ms | {post_ms:.1} ms | {} |\n| peak memory: at most 2 x input + 64 MiB | worst run at {:.0}% of its limit | {} |\n| Wasm/native on the same tape (reported, no target) | {median_ratio:.1}x | — |\n| Wasm/native JSON path (reported, no target) | {median_ratio_json:.1}x | — |",
        verdict(median_wasm_us, TARGET_EVALUATION_US, false),
        corpus.resources,
        corpus_walls[1],
        verdict(corpus_walls[1], TARGET_CORPUS_SECONDS, false),
        verdict(speedup, TARGET_SPEEDUP, true),
        verdict(cold_ms, TARGET_COLD_MS, false),
        verdict(post_ms, TARGET_POST_RENDER_MS, false),
        rss_worst * 100.0,
        verdict(rss_worst, 1.0, false),
    );

    report.push_str("\n\n");
    report.push_str(&crate::bench_schema::section(
        &root,
        &binary,
        &corpus.dir,
        corpus.resources,
        runs,
    )?);
    report.push('\n');
    report.push_str(&crate::bench_rego::section(&root, &binary, runs)?);

    println!("\n{report}");
    if options.write {
        let path = root.join("docs/performance.md");
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, splice(&current, &report))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("written to {}", path.display());
    }
    Ok(())
}

/// `document` with the text between [`BEGIN`] and [`END`] replaced by
/// `report`; the markers and the report are appended when missing.
pub fn splice(document: &str, report: &str) -> String {
    splice_between(document, BEGIN, END, report)
}

/// [`splice`] between other markers (`cargo xtask load` has its own).
pub fn splice_between(
    document: &str,
    begin_marker: &str,
    end_marker: &str,
    report: &str,
) -> String {
    let generated = format!("{begin_marker}\n{}\n{end_marker}", report.trim_end());
    match (document.find(begin_marker), document.find(end_marker)) {
        (Some(begin), Some(end)) if begin < end => format!(
            "{}{generated}{}",
            &document[..begin],
            &document[end + end_marker.len()..]
        ),
        _ => format!("{}\n\n{generated}\n", document.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_generated_part() {
        let doc = format!("# Title\n\nintro\n\n{BEGIN}\nold\n{END}\n\nanalysis\n");
        let new = splice(&doc, "new\n");
        assert_eq!(
            new,
            format!("# Title\n\nintro\n\n{BEGIN}\nnew\n{END}\n\nanalysis\n")
        );
        assert_eq!(splice(&new, "new"), new, "idempotent");
        assert_eq!(
            splice("# Title\n", "r"),
            format!("# Title\n\n{BEGIN}\nr\n{END}\n")
        );
    }

    #[test]
    fn verdicts_say_by_how_much() {
        assert_eq!(verdict(4.0, 5.0, false), "met");
        assert_eq!(verdict(10.0, 5.0, false), "missed: 2.0x the target");
        assert_eq!(verdict(1.9, 1.8, true), "met");
        assert_eq!(verdict(0.9, 1.8, true), "missed: 50% short");
    }

    #[test]
    fn input_bytes_counts_manifest_files_only() {
        let dir = std::env::temp_dir().join(format!("wv-bench-bytes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.yaml"), "12345").unwrap();
        std::fs::write(dir.join("sub/b.json"), "123").unwrap();
        std::fs::write(dir.join("notes.txt"), "1234567").unwrap();
        assert_eq!(input_bytes(&dir), 8);
        assert_eq!(input_bytes(&dir.join("a.yaml")), 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
