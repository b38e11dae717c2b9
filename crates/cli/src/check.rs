//! `check`: reading inputs in batches and checking them, and the report
//! of a check.

use std::path::Path;

use wasm_validate_engine::Engine;
use wasm_validate_manifest::{self as manifest, ManifestError, Parsed};
use wasm_validate_pipeline::{self as pipeline, PolicySet};
use wasm_validate_report::{CheckReport, EXIT_ERROR};
use wasm_validate_schema::Schemas;

use crate::*;

/// Runs the schema stage (with `schemas`, when the set has a stage) and
/// the policies over every resource of the parsed inputs (mutating them in
/// place) and builds the report.
pub fn run_check(
    engine: &Engine,
    set: &PolicySet,
    schemas: Option<&Schemas>,
    parsed: &mut [Parsed],
    input_errors: &[ManifestError],
    threads: usize,
) -> CheckReport {
    let counts: Vec<usize> = parsed.iter().map(|p| p.resources.len()).collect();
    let mut resources: Vec<_> = parsed
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.resources))
        .collect();
    let outcomes = schemas.map(|s| {
        let mut outcomes = pipeline::check_schemas(s, &resources);
        if let Some(stage) = &set.schema {
            pipeline::check_crd_rules(engine, s, &mut outcomes, &stage.rule_cache);
        }
        outcomes
    });
    let results = pipeline::run(engine, set, &mut resources, threads);
    let mut report = CheckReport::new(set, &resources, &results, input_errors);
    // The report names the stage even with no resources (the head report
    // of a batched check, which the batches' reports are merged into).
    if let Some(stage) = &set.schema {
        report.add_schema_results(stage, &resources, &outcomes.unwrap_or_default());
    }
    if !set.ignore_annotations {
        notice_unknown_ignores(&mut report, set, &resources);
    }
    // Violations point into the input as the user wrote it (before mutations).
    report.locate_violations(|resource, pointers| {
        match parsed.iter().find(|p| *p.file == *resource.file) {
            Some(input) => input.lines_of(resource.document, resource.item, pointers),
            None => vec![None; pointers.len()],
        }
    });
    // Give each input its (possibly mutated) resources back, in order.
    let mut resources = resources.into_iter();
    for (one, count) in parsed.iter_mut().zip(counts) {
        one.resources = resources.by_ref().take(count).collect();
    }
    report
}

/// Adds an error (exit 2) for every chosen module the engine refused to
/// load, naming the module, where it was chosen and the cause; the other
/// policies' results are unaffected.
pub(crate) fn report_unloadable(report: &mut CheckReport, set: &PolicySet) {
    for module in &set.unloadable {
        report.add_input_error(
            &module.module,
            format!(
                "the policy cannot be loaded and checked nothing ({}): {}",
                module.chosen_at, module.error
            ),
        );
    }
}

/// Adds a notice for every `wasm-validate.dev/ignore` annotation that names
/// a policy that does not exist (a typo would otherwise exempt nothing,
/// silently).
pub(crate) fn notice_unknown_ignores(
    report: &mut CheckReport,
    set: &PolicySet,
    resources: &[manifest::Resource],
) {
    for resource in resources {
        let Some((names, _)) = pipeline::annotation_exemption(&resource.object) else {
            continue;
        };
        let unknown = wasm_validate_config::unknown_policy_names(set, &names);
        if unknown.is_empty() {
            continue;
        }
        let reference = wasm_validate_report::ResourceRef::of(resource);
        let message = format!(
            "{} {}: annotation {}: no policy is named {} (the annotation exempts nothing for it)",
            reference.kind,
            reference.name,
            pipeline::IGNORE_ANNOTATION,
            unknown
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        report.add_notice(&reference, message);
    }
}

/// Loads the chosen policies, reads the inputs and runs the check, keeping
/// every parsed input (what `post-render` needs to write the stream back).
/// Returns the parsed (and mutated) inputs and the report, or the setup
/// error. Runs on a pool of `--threads` threads.
pub fn check_inputs<P: AsRef<Path> + Sync>(
    paths: &[P],
    recursive: bool,
    policy_args: &PolicyArgs,
) -> Result<(Vec<Parsed>, CheckReport), SetupError> {
    let engine = Engine::default();
    let set = load_policies(&engine, policy_args)?;
    let threads = policy_args.threads();
    Ok(in_pool(threads, || {
        let (mut parsed, errors) = manifest::read_all(paths, recursive, &policy_args.read_limits());
        let (schemas, _) = run_schemas(&set, &[], &parsed, &policy_args.read_limits());
        let mut report = run_check(
            &engine,
            &set,
            schemas.as_ref(),
            &mut parsed,
            &errors,
            threads,
        );
        report_unloadable(&mut report, &set);
        close_schema_report(&mut report, schemas.as_ref());
        (parsed, report)
    }))
}

/// Inputs are read and checked in batches of about this many bytes of files
/// (see [`check_report`]).
pub const BATCH_BYTES: u64 = 4 << 20;

/// What `check` runs: [`check_inputs`] without keeping the inputs. The files
/// are read, parsed and checked in batches of about [`BATCH_BYTES`] and
/// dropped after each, so memory follows the size of one batch and of the
/// report, not of the whole input. When a context-aware policy is chosen
/// (its lookups see every resource of the run), or one prepared with the
/// run's objects (a Gatekeeper constraint that reads `data.inventory`),
/// everything is read at once.
pub fn check_report<P: AsRef<Path> + Sync>(
    paths: &[P],
    recursive: bool,
    policy_args: &PolicyArgs,
) -> Result<CheckReport, SetupError> {
    let engine = Engine::default();
    let set = load_policies(&engine, policy_args)?;
    let threads = policy_args.threads();
    // Policies that look at other resources of the run (context-aware
    // Kubewarden lookups, Gatekeeper's data.inventory) need every input
    // read before any is checked.
    let mut context_aware =
        set.policies.iter().any(|p| p.policy.is_context_aware()) || set.needs_run_objects();
    let limits = policy_args.read_limits();
    Ok(in_pool(threads, || {
        let inputs = manifest::collect_inputs(paths, recursive);
        // The schema stage needs the CRDs among the inputs before it checks
        // any resource: files that mention CustomResourceDefinition are read
        // first, and kept for their turn (each file is parsed once); stdin,
        // which cannot be read twice, makes the run read everything at once,
        // and the CRDs are then taken from what was read.
        let mut schemas = None;
        let mut read_early = ReadEarly::new();
        if let (Some(_), Ok(inputs)) = (&set.schema, &inputs) {
            context_aware |= inputs.iter().any(|i| i.name() == "-");
            // Read at once, the CRDs come from the inputs as read.
            let files: &[manifest::Input] = if context_aware { &[] } else { inputs };
            (schemas, read_early) = run_schemas(&set, files, &[], &limits);
        }
        let read_early = std::sync::Mutex::new(read_early);
        let (batches, errors) = match inputs {
            Ok(inputs) if context_aware => (vec![inputs], Vec::new()),
            Ok(inputs) => (manifest::batches(inputs, BATCH_BYTES), Vec::new()),
            Err(error) => (Vec::new(), vec![error]),
        };
        let mut report = run_check(&engine, &set, None, &mut [], &errors, threads);
        report_unloadable(&mut report, &set);
        for batch in batches {
            if context_aware {
                let (mut parsed, errors) = manifest::read_inputs(&batch, &limits);
                if let Some(schemas) = &mut schemas {
                    pipeline::add_crds(schemas, &parsed);
                }
                report.merge(run_check(
                    &engine,
                    &set,
                    schemas.as_ref(),
                    &mut parsed,
                    &errors,
                    threads,
                ));
                continue;
            }
            // Each file is read, checked and located as one task, so that
            // no thread waits for a whole batch to be parsed before checking
            // starts; the reports are merged in input order.
            use rayon::prelude::*;
            let reports: Vec<CheckReport> = batch
                .par_iter()
                .map(|input| {
                    let early = read_early
                        .lock()
                        .ok()
                        .and_then(|mut early| early.remove(&input.name()));
                    let (mut parsed, errors) = early.unwrap_or_else(|| {
                        manifest::read_inputs(std::slice::from_ref(input), &limits)
                    });
                    run_check(
                        &engine,
                        &set,
                        schemas.as_ref(),
                        &mut parsed,
                        &errors,
                        threads,
                    )
                })
                .collect();
            for one in reports {
                report.merge(one);
            }
        }
        close_schema_report(&mut report, schemas.as_ref());
        report
    }))
}

/// What a file read early gives: its parsed documents and its errors.
type ReadEarly = std::collections::HashMap<String, (Vec<Parsed>, Vec<ManifestError>)>;

/// The schemas a run checks with, when the set has a schema stage: the
/// stage's (built-in kinds and `--crd-path` CRDs) plus the CRDs among the
/// inputs, from `files` (each parsed only if it mentions
/// `CustomResourceDefinition`; those are returned by name, so that the
/// check does not parse them again) and from `parsed`.
fn run_schemas(
    set: &PolicySet,
    files: &[manifest::Input],
    parsed: &[Parsed],
    limits: &manifest::ReadLimits,
) -> (Option<Schemas>, ReadEarly) {
    let mut early = ReadEarly::new();
    let Some(stage) = set.schema.as_ref() else {
        return (None, early);
    };
    let mut schemas = (*stage.schemas).clone();
    let finder = memchr::memmem::Finder::new(b"CustomResourceDefinition");
    for input in files {
        let name = input.name();
        let mentions = std::fs::read(&name).is_ok_and(|bytes| finder.find(&bytes).is_some());
        if mentions {
            let read = manifest::read_inputs(std::slice::from_ref(input), limits);
            pipeline::add_crds(&mut schemas, &read.0);
            early.insert(name, read);
        }
    }
    pipeline::add_crds(&mut schemas, parsed);
    (Some(schemas), early)
}

/// The schema stage's notices that concern the run, not one resource:
/// "no schema for KIND" said once per kind.
pub(crate) fn close_schema_report(report: &mut CheckReport, schemas: Option<&Schemas>) {
    if schemas.is_some() {
        report.dedupe_notices();
    }
}

/// Runs `work` on a rayon pool of `threads` threads (at least 1), which the
/// parallel reading and [`pipeline::run`] then use.
pub(crate) fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// `check`: reads the inputs, runs the policies and writes the report in
/// every requested output (default: text on stdout; at most one output may
/// go to stdout). Returns the exit code (0, 1 or 2; a report file that
/// cannot be written is 2).
pub fn check_command<P: AsRef<Path> + Sync>(
    paths: &[P],
    recursive: bool,
    policy_args: &PolicyArgs,
    outputs: &[OutputSpec],
) -> u8 {
    let default = [OutputSpec {
        format: OutputFormat::Text,
        path: None,
    }];
    let outputs = if outputs.is_empty() {
        &default[..]
    } else {
        outputs
    };
    if outputs.iter().filter(|o| o.path.is_none()).count() > 1 {
        eprintln!(
            "error: at most one -o may write to stdout; give the others a file (-o sarif=results.sarif)"
        );
        return EXIT_ERROR;
    }
    let report = match check_report(paths, recursive, policy_args) {
        Ok(done) => done,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_ERROR;
        }
    };
    let mut code = report.exit_code_for(policy_args.fail_on.into());
    for output in outputs {
        match &output.path {
            None => print(&render(&report, output.format, stdout_color())),
            Some(path) => {
                if let Err(error) = std::fs::write(path, render(&report, output.format, false)) {
                    eprintln!("error: cannot write {}: {error}", path.display());
                    code = EXIT_ERROR;
                }
            }
        }
    }
    code
}

#[cfg(test)]
mod determinism {
    use super::*;
    use proptest::prelude::*;

    /// The documents of the real charts and fixtures, one string each.
    fn documents() -> Vec<String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");
        let mut documents = Vec::new();
        for dir in ["real", "fixtures"] {
            let inputs = manifest::collect_inputs(&[format!("{root}/{dir}")], true).unwrap();
            for input in inputs {
                let name = input.name();
                if !name.ends_with(".yaml") {
                    continue;
                }
                let text = std::fs::read_to_string(&name).unwrap();
                for piece in manifest::split(&text) {
                    if piece.has_content {
                        let mut document = text[piece.range].to_owned();
                        if !document.starts_with("---") {
                            document.insert_str(0, "---\n");
                        }
                        documents.push(document);
                    }
                }
            }
        }
        documents
    }

    /// Every report format and the post-rendered stream of one run.
    fn outputs(stream: &Path, threads: usize) -> Vec<String> {
        let args = PolicyArgs {
            no_config: true,
            threads: Some(threads),
            profiles: vec![
                ProfileArg::Fixes,
                ProfileArg::Restricted,
                ProfileArg::BestPractices,
            ],
            ..PolicyArgs::default()
        };
        let (parsed, report) = check_inputs(&[stream], false, &args).unwrap();
        let mut outputs: Vec<String> = [
            OutputFormat::Text,
            OutputFormat::Json,
            OutputFormat::Sarif,
            OutputFormat::Junit,
            OutputFormat::Github,
            OutputFormat::Policyreport,
        ]
        .into_iter()
        .map(|format| render(&report, format, false))
        .collect();
        outputs.push(manifest::render(&parsed[0]).unwrap());
        outputs
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        /// Two runs over the same stream, each with any thread count, give
        /// byte-identical reports in every format and the same mutated stream.
        #[test]
        fn two_runs_give_byte_identical_output(
            picks in proptest::collection::vec(any::<proptest::sample::Index>(), 1..40),
            threads in (1usize..5, 1usize..5),
        ) {
            let documents = documents();
            let stream: String = picks.iter().map(|i| i.get(&documents).as_str()).collect();
            let dir = std::env::temp_dir().join(format!("wv-determinism-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("stream.yaml");
            std::fs::write(&path, &stream).unwrap();
            let first = outputs(&path, threads.0);
            let second = outputs(&path, threads.1);
            std::fs::remove_dir_all(&dir).unwrap();
            for (one, two) in first.iter().zip(&second) {
                prop_assert!(one == two, "outputs differ between {threads:?} threads");
            }
            prop_assert!(first[1].contains("\"results\""));
            // The mutated stream has every document, in order: untouched
            // ones byte for byte, mutated ones with the same identity.
            let rendered = &first[6];
            let (before, after) = (manifest::split(&stream), manifest::split(rendered));
            prop_assert_eq!(before.len(), after.len());
            let identity = |text: &str| {
                let value: serde_json::Value = serde_yaml::from_str(text).unwrap();
                let meta = &value["metadata"];
                (value["apiVersion"].clone(), value["kind"].clone(), meta["name"].clone(), meta["namespace"].clone())
            };
            for (old, new) in before.iter().zip(&after) {
                let (old, new) = (&stream[old.range.clone()], &rendered[new.range.clone()]);
                if old != new {
                    prop_assert_eq!(identity(old), identity(new));
                }
            }
        }
    }
}
