//! `cargo xtask bench`, the schema stage's section (issue 21): cold start
//! with schemas, the stage alone and with the whole default library on the
//! generated corpus, 2 threads, against the targets.

use std::fmt::Write as _;
use std::path::Path;

use crate::bench::{Unit, series, strings, verdict};

/// Issue 21's targets on a 2-core machine.
const TARGET_SCHEMA_SECONDS: f64 = 2.0;
const TARGET_SCHEMA_AND_LIBRARY_SECONDS: f64 = 4.0;
const TARGET_COLD_MS: f64 = 30.0;

/// The section's Markdown: `binary` is the release build, `corpus` the
/// generated corpus of `resources` resources.
pub fn section(
    root: &Path,
    binary: &Path,
    corpus: &Path,
    resources: usize,
    runs: usize,
) -> Result<String, String> {
    let pod = root
        .join("testdata/bench/typical-pod.yaml")
        .display()
        .to_string();
    let corpus = corpus.display().to_string();
    println!("schema stage: cold start ...");
    let cold = series(
        runs * 4,
        binary,
        &strings(&["check", "--no-config", &pod]),
        None,
    )?;
    let cold_off = series(
        runs * 4,
        binary,
        &strings(&["check", "--no-config", "--schema=off", &pod]),
        None,
    )?;
    // `require-ingress-tls` selects only Ingresses (none in the corpus):
    // the run is reading, parsing and the schema stage.
    let only = |schema: &str| {
        strings(&[
            "check",
            "--no-config",
            "--threads",
            "2",
            schema,
            "--policy",
            "require-ingress-tls",
            &corpus,
        ])
    };
    println!("schema stage: corpus ...");
    let read = series(runs, binary, &only("--schema=off"), None)?;
    let stage = series(runs, binary, &only("--schema=on"), None)?;
    let library = series(
        runs,
        binary,
        &strings(&["check", "--no-config", "--threads", "2", &corpus]),
        None,
    )?;
    let library_off = series(
        runs,
        binary,
        &strings(&[
            "check",
            "--no-config",
            "--threads",
            "2",
            "--schema=off",
            &corpus,
        ]),
        None,
    )?;
    let mut w = String::new();
    let _ = writeln!(
        w,
        "### Schema stage (issue 21)\n\nThe schema stage (docs/schema.md) checks every resource against its Kubernetes 1.37 schema before the policies. On the generated corpus ({resources} resources; its kube-prometheus custom resources have no CRD among the inputs and get a notice per kind), 2 threads, {runs} runs each; `--policy require-ingress-tls` selects no resource of the corpus, so those runs are reading, parsing and the stage. kubeconform needs 10.9 s for the same count on this machine (notes-field.md).\n\n| run | wall s | peak memory (MiB) |\n|---|---:|---:|\n| read and parse only (`--schema=off --policy require-ingress-tls`) | {} | {:.0} |\n| schema stage (`--policy require-ingress-tls`) | {} | {:.0} |\n| whole default library, no schema stage (`--schema=off`) | {} | {:.0} |\n| schema stage and whole default library (the default) | {} | {:.0} |\n| cold start, one Pod, default library, schemas | {} ms | {:.1} |\n| cold start, one Pod, default library, `--schema=off` | {} ms | {:.1} |\n",
        read.wall(Unit::S),
        read.rss_mib(),
        stage.wall(Unit::S),
        stage.rss_mib(),
        library_off.wall(Unit::S),
        library_off.rss_mib(),
        library.wall(Unit::S),
        library.rss_mib(),
        cold.wall(Unit::Ms),
        cold.rss_mib(),
        cold_off.wall(Unit::Ms),
        cold_off.rss_mib(),
    );
    let cold_ms = cold.median() * 1e3;
    // The differences are of two medians: on a noisy machine they can come
    // out below zero, which says the cost is within the noise.
    let stage_seconds = stage.median() - read.median();
    let cold_extra_ms = (cold.median() - cold_off.median()) * 1e3;
    let cost = if stage_seconds > 0.0 {
        format!(
            "The stage itself costs {stage_seconds:.2} s of the {resources} resources' run ({:.1} µs per resource on 2 threads)",
            stage_seconds * 2.0 / resources as f64 * 1e6
        )
    } else {
        "The stage's cost on the corpus is within the runs' noise".to_owned()
    };
    let cold_cost = if cold_extra_ms > 0.0 {
        format!(
            "loading the schemas and compiling the kinds met costs {cold_extra_ms:.1} ms of the cold start"
        )
    } else {
        "its cost in the cold start is within the noise".to_owned()
    };
    let _ = writeln!(
        w,
        "{cost}; {cold_cost}.\n\n| target (issue 21; 2 cores) | measured | verdict |\n|---|---:|---|\n| schema validation of {resources} resources, 2 threads: at most {TARGET_SCHEMA_SECONDS} s | {:.2} s | {} |\n| schema and the whole default library: at most {TARGET_SCHEMA_AND_LIBRARY_SECONDS} s | {:.2} s | {} |\n| cold start with schemas: at most {TARGET_COLD_MS} ms | {cold_ms:.1} ms | {} |",
        stage.median(),
        verdict(stage.median(), TARGET_SCHEMA_SECONDS, false),
        library.median(),
        verdict(library.median(), TARGET_SCHEMA_AND_LIBRARY_SECONDS, false),
        verdict(cold_ms, TARGET_COLD_MS, false),
    );
    Ok(w)
}
