//! What both front ends (`wasm-validate` and `kubectl wasm-validate`) share:
//! the policy arguments (resolved with the configuration file by
//! `wasm-validate-config`), running a check over files or a cluster audit
//! (read by `wasm-validate-cluster`), `post-render`, `test`, and writing
//! reports. No policy logic lives here: policies are Wasm modules run
//! by `wasm-validate-engine` through `wasm-validate-pipeline`.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::path::Path;

pub mod bundle;

use wasm_validate_builtin::Profile;
use wasm_validate_config::{CommandLine, Config};
pub use wasm_validate_engine::Engine;
use wasm_validate_manifest::{self as manifest, ManifestError, Parsed};
use wasm_validate_pipeline::{self as pipeline, PolicySet};
use wasm_validate_report::{CheckReport, EXIT_ERROR, FailOn, StreamFormat, StreamWriter};

pub use wasm_validate_report::{EXIT_DENIED, EXIT_OK};

/// Report formats of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, grouped by resource, with a summary line.
    Text,
    /// The stable JSON schema of `docs/json-report.md`.
    Json,
    /// SARIF 2.1.0, for code-scanning tools (one rule per policy).
    Sarif,
    /// JUnit XML: a test suite per policy, a test case per resource.
    Junit,
    /// GitHub Actions annotations (`::error file=...,line=...::...`).
    Github,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReports (one per namespace) and a
    /// ClusterPolicyReport, as YAML for `kubectl apply -f -`.
    Policyreport,
}

/// One `-o FORMAT[=PATH]`: a report format and where to write it (stdout
/// when no path is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The format.
    pub format: OutputFormat,
    /// The file to write, or `None` for stdout.
    pub path: Option<std::path::PathBuf>,
}

impl std::str::FromStr for OutputSpec {
    type Err = String;

    /// Parses a format name (`text`, `json`, `sarif`, `junit`, `github`,
    /// `policyreport`), optionally followed by `=PATH`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (name, path) = match value.split_once('=') {
            Some((name, path)) if !path.is_empty() => (name, Some(path.into())),
            Some((name, _)) => return Err(format!("{name}=: the file name is missing")),
            None => (value, None),
        };
        let format = <OutputFormat as clap::ValueEnum>::from_str(name, true).map_err(|_| {
            format!(
                "unknown format {name:?} (expected text, json, sarif, junit, github or policyreport, optionally =PATH)"
            )
        })?;
        Ok(OutputSpec { format, path })
    }
}

/// The report in `format` (`color` only matters for text).
pub fn render(report: &CheckReport, format: OutputFormat, color: bool) -> String {
    match format {
        OutputFormat::Text => report.text(color),
        OutputFormat::Json => report.json(),
        OutputFormat::Sarif => report.sarif(),
        OutputFormat::Junit => report.junit(),
        OutputFormat::Github => report.github(),
        OutputFormat::Policyreport => report.policy_report_yaml(),
    }
}

/// A `--profile`: a named selection of the built-in library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// Pod Security Standards, Baseline level.
    Baseline,
    /// Pod Security Standards, Restricted level (includes Baseline).
    Restricted,
    /// The best-practice checks that need no settings.
    BestPractices,
    /// The mutating fixes that need no settings (run before validation).
    Fixes,
}

impl From<ProfileArg> for Profile {
    fn from(value: ProfileArg) -> Self {
        match value {
            ProfileArg::Baseline => Profile::Baseline,
            ProfileArg::Restricted => Profile::Restricted,
            ProfileArg::BestPractices => Profile::BestPractices,
            ProfileArg::Fixes => Profile::Fixes,
        }
    }
}

/// Options that choose policies, their settings and their limits, and the
/// limits of reading inputs (shared by every command that reads manifests).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Policy to run: a built-in name (or alias), or a path to a `.wasm` (or
    /// `.wat`) module. Repeatable. Without --policy and --profile: the
    /// restricted and best-practices profiles.
    #[arg(long = "policy", short = 'p', value_name = "NAME|PATH")]
    pub policies: Vec<String>,
    /// Run a profile of the built-in library: baseline, restricted (includes
    /// baseline), best-practices, fixes (mutations). Repeatable.
    #[arg(long = "profile", value_enum, value_name = "PROFILE")]
    pub profiles: Vec<ProfileArg>,
    /// Settings of a policy as NAME=VALUE, VALUE a JSON or YAML mapping, for
    /// example `allowed-image-registries={registries: [ghcr.io/acme/]}`.
    /// Validated against the policy's schema before anything runs. Giving
    /// settings for a built-in policy also selects it. Repeatable.
    #[arg(long = "settings", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Fuel (deterministic instruction budget) per evaluation, an exact cap
    /// [default: the configuration's `defaults.fuel`, else 100000000 plus
    /// 1000 per byte of the request, so that large objects are not cut
    /// short]. A policy's own `fuel` in the configuration wins.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Linear memory cap per evaluation, in MiB [default: the
    /// configuration's `defaults.memoryLimit`, else 64].
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<usize>,
    /// Configuration file (default: wasm-validate.yaml in the working
    /// directory, if present). See docs/configuration.md.
    #[arg(long, value_name = "PATH", conflicts_with = "no_config")]
    pub config: Option<std::path::PathBuf>,
    /// Do not read wasm-validate.yaml from the working directory.
    #[arg(long)]
    pub no_config: bool,
    /// Run the policies of a bundle made by `wasm-validate bundle create`:
    /// its configuration, modules and built-in policies, checked against
    /// its SHA-256 manifest before anything runs (a changed, missing or
    /// added file is an error, exit 2). Replaces --config, --policy,
    /// --profile and --settings. See docs/air-gapped.md.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["config", "no_config", "policies", "profiles", "settings"]
    )]
    pub bundle: Option<std::path::PathBuf>,
    /// Ed25519 public key (SPKI PEM) the --bundle must be signed with; an
    /// unsigned bundle or another signature is an error (exit 2).
    #[arg(long, value_name = "PEM", requires = "bundle")]
    pub bundle_key: Option<std::path::PathBuf>,
    /// Largest input (a file, or stdin) to read, in MiB; a larger one is an
    /// error (exit 2) and nothing of it is checked.
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_input_size: u64,
    /// Largest document of a stream, in MiB (`List` documents included); a
    /// larger one is an error (exit 2) and is not checked.
    #[arg(long, value_name = "MIB", default_value_t = 32,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_document_size: usize,
    /// Most items in one sequence, a `List` document's items included;
    /// more is an error (exit 2).
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_list_items: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// What makes the run exit 1: `deny` (a denial) or `warn` (a denial or
    /// a warning). Input and policy errors exit 2 either way.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "deny")]
    pub fail_on: FailOnArg,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOnArg {
    /// Exit 1 when a policy denied something.
    #[default]
    Deny,
    /// Exit 1 also when a policy only warned.
    Warn,
}

impl From<FailOnArg> for FailOn {
    fn from(value: FailOnArg) -> Self {
        match value {
            FailOnArg::Deny => FailOn::Deny,
            FailOnArg::Warn => FailOn::Warn,
        }
    }
}

impl PolicyArgs {
    fn threads(&self) -> usize {
        threads_or_cores(self.threads)
    }

    /// The bounds on reading inputs, from `--max-input-size`,
    /// `--max-document-size` and `--max-list-items` (clap refuses 0). A
    /// `PolicyArgs` built without clap (all zero) gets the defaults.
    pub fn read_limits(&self) -> manifest::ReadLimits {
        fn or<T: PartialEq + Default>(value: T, default: T) -> T {
            if value == T::default() {
                default
            } else {
                value
            }
        }
        let default = manifest::ReadLimits::default();
        manifest::ReadLimits {
            input_bytes: or(
                self.max_input_size.saturating_mul(1 << 20),
                default.input_bytes,
            ),
            document_bytes: or(
                self.max_document_size.saturating_mul(1 << 20),
                default.document_bytes,
            ),
            list_items: or(self.max_list_items, default.list_items),
        }
    }
}

/// A setup error (unknown policy, unreadable module): message for stderr, exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the `--settings NAME=VALUE` arguments into (name, settings object)
/// pairs, with built-in names resolved through their aliases.
fn parse_settings(args: &[String]) -> Result<Vec<(String, serde_json::Value)>, SetupError> {
    let mut parsed: Vec<(String, serde_json::Value)> = Vec::new();
    for arg in args {
        let Some((name, value)) = arg.split_once('=') else {
            return Err(SetupError(format!(
                "--settings {arg}: expected NAME=VALUE, for example require-minimum-replicas={{minimum: 3}}"
            )));
        };
        let name = wasm_validate_builtin::resolve(name)
            .unwrap_or(name)
            .to_owned();
        let value: serde_json::Value = serde_yaml::from_str(value)
            .map_err(|e| SetupError(format!("--settings {name}: not a JSON or YAML value: {e}")))?;
        if !value.is_object() {
            return Err(SetupError(format!(
                "--settings {name}: settings must be a mapping, got {value}"
            )));
        }
        if parsed.iter().any(|(seen, _)| *seen == name) {
            return Err(SetupError(format!("--settings {name}: given twice")));
        }
        parsed.push((name, value));
    }
    Ok(parsed)
}

/// Loads the policies of the run: the configuration file (`--config`, else
/// `wasm-validate.yaml` in the working directory unless `--no-config`)
/// combined with the command line, as
/// [`wasm_validate_config::build_policy_set`] describes. Unknown names,
/// unreadable modules, invalid settings and configuration errors are setup
/// errors.
///
/// With `--bundle`, the configuration and every module come from the bundle,
/// checked first ([`bundle::open_bundle`]); a signed bundle opened without
/// `--bundle-key` is noted on stderr.
pub fn load_policies(engine: &Engine, args: &PolicyArgs) -> Result<PolicySet, SetupError> {
    let config = if let Some(path) = &args.bundle {
        let opened = bundle::open_bundle(path, args.bundle_key.as_deref())?;
        if let Some(note) = bundle::signature_note(path, &opened) {
            eprintln!("{note}");
        }
        Some(bundle::bundle_config(path, &opened)?)
    } else if args.no_config {
        None
    } else {
        Config::discover(args.config.as_deref()).map_err(|e| SetupError(e.0))?
    };
    let command_line = CommandLine {
        policies: args.policies.clone(),
        profiles: args.profiles.iter().map(|&p| p.into()).collect(),
        settings: parse_settings(&args.settings)?,
        fuel: args.fuel,
        memory_limit: args.memory_limit,
    };
    wasm_validate_config::build_policy_set(engine, config.as_ref(), &command_line)
        .map_err(|e| SetupError(e.0))
}

/// Lists the built-in policies: a table (name, level or category, severity,
/// validating or mutating, description) or, for JSON, an array of their
/// metadata. Reads the catalogue; no module is compiled.
pub fn list_policies(format: OutputFormat) -> String {
    let catalog = wasm_validate_builtin::catalog();
    match format {
        OutputFormat::Text => {
            let mut out = String::new();
            for m in catalog {
                let kind = if m.mutating { "mutating" } else { "validating" };
                let severity = serde_json::to_value(m.severity).expect("severity encodes");
                let group = match m.level {
                    Some(level) => serde_json::to_value(level)
                        .expect("level encodes")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    None => m.category.clone().unwrap_or_default(),
                };
                out.push_str(&format!(
                    "{:<40} {:<15} {:<8} {:<10} {}\n",
                    m.name,
                    group,
                    severity.as_str().unwrap_or_default(),
                    kind,
                    m.description
                ));
            }
            out
        }
        // The catalogue is metadata, not a report: every other format lists it as JSON.
        _ => {
            let mut out = serde_json::to_string_pretty(catalog).expect("metadata encodes");
            out.push('\n');
            out
        }
    }
}

/// `threads`, or one per core.
fn threads_or_cores(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `test`: runs the policy test suites under `paths`, printing to stdout;
/// returns the exit code (0, 1 or 2, see [`wasm_validate_policy_test::run_all`]).
pub fn test_command(
    paths: &[std::path::PathBuf],
    snapshot: bool,
    update: bool,
    threads: Option<usize>,
) -> u8 {
    let options = wasm_validate_policy_test::Options {
        snapshot,
        update,
        threads: threads_or_cores(threads),
    };
    let mut out = Vec::new();
    let code = wasm_validate_policy_test::run_all(paths, options, &mut out);
    print(&String::from_utf8_lossy(&out));
    code
}

/// `--list-policies`: prints the built-in policies to stdout; returns the exit code.
pub fn list_command(format: OutputFormat) -> u8 {
    print(&list_policies(format));
    EXIT_OK
}

/// Runs the policies over every resource of the parsed inputs (mutating
/// them in place) and builds the report.
pub fn run_check(
    engine: &Engine,
    set: &PolicySet,
    parsed: &mut [Parsed],
    input_errors: &[ManifestError],
    threads: usize,
) -> CheckReport {
    let counts: Vec<usize> = parsed.iter().map(|p| p.resources.len()).collect();
    let mut resources: Vec<_> = parsed
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.resources))
        .collect();
    let results = pipeline::run(engine, set, &mut resources, threads);
    let mut report = CheckReport::new(set, &resources, &results, input_errors);
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
fn report_unloadable(report: &mut CheckReport, set: &PolicySet) {
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
fn notice_unknown_ignores(
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

/// Whether to colour text written to stdout: only on a terminal, and never
/// when `NO_COLOR` is set.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Writes `text` to stdout; a closed pipe is not an error worth a panic.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
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
        let mut report = run_check(&engine, &set, &mut parsed, &errors, threads);
        report_unloadable(&mut report, &set);
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
/// (its lookups see every resource of the run) everything is read at once.
pub fn check_report<P: AsRef<Path> + Sync>(
    paths: &[P],
    recursive: bool,
    policy_args: &PolicyArgs,
) -> Result<CheckReport, SetupError> {
    let engine = Engine::default();
    let set = load_policies(&engine, policy_args)?;
    let threads = policy_args.threads();
    let context_aware = set.policies.iter().any(|p| p.policy.is_context_aware());
    let limits = policy_args.read_limits();
    Ok(in_pool(threads, || {
        let (batches, errors) = match manifest::collect_inputs(paths, recursive) {
            Ok(inputs) if context_aware => (vec![inputs], Vec::new()),
            Ok(inputs) => (manifest::batches(inputs, BATCH_BYTES), Vec::new()),
            Err(error) => (Vec::new(), vec![error]),
        };
        let mut report = run_check(&engine, &set, &mut [], &errors, threads);
        report_unloadable(&mut report, &set);
        for batch in batches {
            if context_aware {
                let (mut parsed, errors) = manifest::read_inputs(&batch, &limits);
                report.merge(run_check(&engine, &set, &mut parsed, &errors, threads));
                continue;
            }
            // Each file is read, checked and located as one task, so that
            // no thread waits for a whole batch to be parsed before checking
            // starts; the reports are merged in input order.
            use rayon::prelude::*;
            let reports: Vec<CheckReport> = batch
                .par_iter()
                .map(|input| {
                    let (mut parsed, errors) =
                        manifest::read_inputs(std::slice::from_ref(input), &limits);
                    run_check(&engine, &set, &mut parsed, &errors, threads)
                })
                .collect();
            for one in reports {
                report.merge(one);
            }
        }
        report
    }))
}

/// Runs `work` on a rayon pool of `threads` threads (at least 1), which the
/// parallel reading and [`pipeline::run`] then use.
fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// The progress line of a cluster audit: shown on stderr only when stderr is
/// a terminal and the audit has run for longer than the delay (500 ms, or
/// `WASM_VALIDATE_PROGRESS_DELAY_MS`), redrawn in place with `\r`, and ended
/// with a newline.
struct Progress {
    out: Option<Box<dyn Write>>,
    started: std::time::Instant,
    delay: std::time::Duration,
    shown: bool,
}

impl Progress {
    fn on_stderr() -> Progress {
        let delay = std::env::var("WASM_VALIDATE_PROGRESS_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(500);
        let out: Option<Box<dyn Write>> = std::io::stderr()
            .is_terminal()
            .then(|| Box::new(std::io::stderr()) as Box<dyn Write>);
        Progress::new(out, std::time::Duration::from_millis(delay))
    }

    fn new(out: Option<Box<dyn Write>>, delay: std::time::Duration) -> Progress {
        Progress {
            out,
            started: std::time::Instant::now(),
            delay,
            shown: false,
        }
    }

    fn update(&mut self, checked: usize, resource_type: &str) {
        if self.started.elapsed() < self.delay {
            return;
        }
        if let Some(out) = &mut self.out {
            // The trailing spaces clear what a longer type name left.
            let _ = write!(
                out,
                "\r{checked} resources checked (listing {resource_type})        "
            );
            let _ = out.flush();
            self.shown = true;
        }
    }

    fn finish(&mut self) {
        if let (Some(out), true) = (&mut self.out, self.shown) {
            let _ = writeln!(out);
        }
    }
}

/// Audits a live cluster (`kubectl wasm-validate` without `-f`): lists the
/// resources the policies' rules select, page by page, and runs the policies
/// on each page. Text, JSON and GitHub reports are written page by page
/// ([`wasm_validate_report::StreamWriter`]), so memory is bounded by the page
/// size; SARIF, JUnit and PolicyReport need every result first and keep the
/// results in memory. Resource types that cannot be read (403) are input
/// errors in the report (exit 2) and the others are still audited; kinds the
/// server does not serve are noted on stderr. Writes the report in `format`
/// to stdout; returns the exit code.
pub fn audit_command(
    cluster: &wasm_validate_cluster::ClusterOptions,
    policy_args: &PolicyArgs,
    format: OutputFormat,
) -> u8 {
    let engine = Engine::default();
    let set = match load_policies(&engine, policy_args) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_ERROR;
        }
    };
    let rules: Vec<wasm_validate_abi::Rule> = set
        .policies
        .iter()
        .flat_map(|p| p.policy.metadata().rules.clone())
        .collect();
    let threads = policy_args.threads();
    let mut head = CheckReport::new(&set, &[], &[], &[]);
    head.from_api_server = true;
    report_unloadable(&mut head, &set);
    let stream_format = match format {
        OutputFormat::Text => Some(StreamFormat::Text {
            color: stdout_color(),
        }),
        OutputFormat::Json => Some(StreamFormat::Json),
        OutputFormat::Github => Some(StreamFormat::Github),
        OutputFormat::Sarif | OutputFormat::Junit | OutputFormat::Policyreport => None,
    };
    let mut sink = match stream_format {
        Some(stream_format) => match StreamWriter::new(
            stream_format,
            std::io::BufWriter::new(std::io::stdout().lock()),
            head,
        ) {
            Ok(writer) => AuditSink::Stream(writer),
            Err(error) => {
                eprintln!("error: cannot write the report: {error}");
                return EXIT_ERROR;
            }
        },
        None => AuditSink::Collect(head),
    };
    let mut write_error = None;
    let mut progress = Progress::on_stderr();
    let outcome = wasm_validate_cluster::audit(cluster, &rules, &mut |page| {
        let mut resources = page.resources;
        let results = pipeline::run(&engine, &set, &mut resources, threads);
        let mut page_report = CheckReport::new(&set, &resources, &results, &[]);
        if !set.ignore_annotations {
            notice_unknown_ignores(&mut page_report, &set, &resources);
        }
        let summary_resources = match &mut sink {
            AuditSink::Collect(report) => {
                report.merge(page_report);
                report.summary.resources
            }
            AuditSink::Stream(writer) => {
                if let Err(error) = writer.page(page_report) {
                    write_error.get_or_insert(error);
                }
                writer.totals_mut().summary.resources
            }
        };
        progress.update(summary_resources, &page.resource_type);
    });
    progress.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("(to check manifests instead of a cluster, give -f FILE|DIR|-)");
            return EXIT_ERROR;
        }
    };
    for note in &outcome.not_served {
        eprintln!("note: {note}");
    }
    let totals = match &mut sink {
        AuditSink::Collect(report) => report,
        AuditSink::Stream(writer) => writer.totals_mut(),
    };
    for unreadable in outcome.unreadable {
        totals.add_input_error(&outcome.server, format!("cannot list {unreadable}"));
    }
    let report = match sink {
        AuditSink::Collect(report) => {
            if format == OutputFormat::Policyreport {
                let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                if let Err(error) = report
                    .write_policy_report_yaml(&mut stdout)
                    .and_then(|()| stdout.flush())
                {
                    eprintln!("error: cannot write the report: {error}");
                    return EXIT_ERROR;
                }
            } else {
                print(&render(&report, format, stdout_color()));
            }
            report
        }
        AuditSink::Stream(writer) => match writer.finish() {
            Ok(report) => report,
            Err(error) => {
                eprintln!("error: cannot write the report: {error}");
                return EXIT_ERROR;
            }
        },
    };
    if let Some(error) = write_error {
        eprintln!("error: cannot write the report: {error}");
        return EXIT_ERROR;
    }
    report.exit_code_for(policy_args.fail_on.into())
}

/// Where an audit's pages go: written as they come, or kept for a format
/// that needs them all.
enum AuditSink<W: Write> {
    Stream(StreamWriter<W>),
    Collect(CheckReport),
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

/// When `post-render` also writes its report to the controlling terminal
/// (`--tty-report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TtyReport {
    /// When run as a Helm plugin (`HELM_PLUGIN_NAME` is set: Helm 4 hides a
    /// plugin's stderr) and the release is denied or cannot be checked.
    #[default]
    Auto,
    /// Whenever the release is denied or cannot be checked.
    Always,
    /// Never.
    Never,
}

/// The environment variable Helm sets when it runs a plugin (Helm 4 runs a
/// `postrenderer/v1` plugin with it, and discards the plugin's stderr).
pub const HELM_PLUGIN_ENV: &str = "HELM_PLUGIN_NAME";

/// What `post-render` writes to stdout when its output would be empty or
/// blank (a chart that renders nothing): a comment, because Helm 4 rejects a
/// post-renderer's empty output, and a comment is an empty release to both
/// Helm 3 and Helm 4.
pub const EMPTY_STREAM_OUTPUT: &str =
    "# wasm-validate post-render: the rendered stream holds no resources\n";

/// Writes `text` to the controlling terminal (`/dev/tty`, `CONOUT$` on
/// Windows); nothing when the process has none (CI, a daemon) or it cannot
/// be written.
fn write_to_terminal(text: &str) {
    let device = if cfg!(windows) { "CONOUT$" } else { "/dev/tty" };
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(device)
        .and_then(|mut tty| tty.write_all(text.as_bytes()).and_then(|()| tty.flush()));
}

/// `post-render`, Helm's post-renderer contract (Helm 3's executable and
/// Helm 4's `postrenderer/v1` plugin alike; see docs/helm.md): reads the
/// whole stream from stdin, applies the mutating policies, and writes the
/// stream to stdout (untouched documents byte-for-byte, Helm 4's
/// `postrenderer.helm.sh/postrender-filename` annotations and Helm 3's
/// `# Source:` comments kept; a stream that is empty or only
/// blank gives [`EMPTY_STREAM_OUTPUT`]). When anything is denied or cannot be processed
/// it writes nothing to stdout, explains every finding on stderr, and
/// returns 1 (denied) or 2 (error). `report_file`, when given, always
/// receives the report in `report_format`; on a denial or an error, the text
/// report also goes to the controlling terminal as `tty` says, since Helm 4
/// shows nothing of a plugin's stderr.
pub fn post_render_command(
    policy_args: &PolicyArgs,
    report_file: Option<&Path>,
    report_format: OutputFormat,
    tty: TtyReport,
) -> u8 {
    let (parsed, report) = match check_inputs(&["-"], false, policy_args) {
        Ok(done) => done,
        Err(error) => {
            let message = format!("wasm-validate post-render: error: {error}\n");
            eprint!("{message}");
            if wants_terminal(tty) {
                write_to_terminal(&message);
            }
            return EXIT_ERROR;
        }
    };
    let mut code = report.exit_code_for(policy_args.fail_on.into());
    let rendered = if code == EXIT_OK {
        match parsed.first().map(manifest::render).transpose() {
            Ok(text) => {
                let text = text.unwrap_or_default();
                Some(if text.trim().is_empty() {
                    EMPTY_STREAM_OUTPUT.to_owned()
                } else {
                    text
                })
            }
            Err(error) => {
                eprintln!(
                    "wasm-validate post-render: error: cannot write a mutated document: {error}"
                );
                code = EXIT_ERROR;
                None
            }
        }
    } else {
        None
    };
    if let Some(path) = report_file {
        let text = render(&report, report_format, false);
        if let Err(error) = std::fs::write(path, text) {
            eprintln!(
                "wasm-validate post-render: error: cannot write {}: {error}",
                path.display()
            );
            code = code.max(EXIT_ERROR);
        }
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match rendered {
        Some(text) if code == EXIT_OK => {
            let s = &report.summary;
            if s.warnings + s.warned + s.audited + s.exempted + s.notices + s.mutated > 0 {
                eprint!("{}", report.text(color));
            }
            print(&text);
        }
        _ => {
            let verdict = if code == EXIT_DENIED {
                "denied by policy"
            } else {
                "could not be checked"
            };
            let closing = format!(
                "wasm-validate post-render: the release was {verdict}; nothing was written to stdout\n"
            );
            eprint!("{}{closing}", report.text(color));
            if wants_terminal(tty) {
                let mut text = report.text(std::env::var_os("NO_COLOR").is_none());
                text.push_str(&closing);
                if let Some(path) = report_file {
                    text.push_str(&format!("(the report is also in {})\n", path.display()));
                }
                write_to_terminal(&text);
            }
        }
    }
    code
}

/// Whether a denial or an error is also written to the controlling terminal.
fn wants_terminal(tty: TtyReport) -> bool {
    match tty {
        TtyReport::Always => true,
        TtyReport::Never => false,
        TtyReport::Auto => std::env::var_os(HELM_PLUGIN_ENV).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// `check` reads and checks the inputs in batches ([`check_report`]);
    /// the report is the one of reading everything at once, on
    /// testdata/real (about 10 MB: more than one batch).
    #[test]
    fn batched_check_reports_as_reading_everything_at_once() {
        let real = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/real");
        assert!(
            manifest::batches(
                manifest::collect_inputs(&[real], true).unwrap(),
                BATCH_BYTES
            )
            .len()
                > 1
        );
        let args = PolicyArgs {
            no_config: true,
            ..PolicyArgs::default()
        };
        let batched = check_report(&[real], true, &args).unwrap();
        let (_, whole) = check_inputs(&[real], true, &args).unwrap();
        assert!(batched.summary.evaluations > 500);
        assert_eq!(
            render(&batched, OutputFormat::Json, false),
            render(&whole, OutputFormat::Json, false)
        );
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn progress_redraws_one_line_after_the_delay_and_ends_it() {
        let out = Shared::default();
        let mut progress = Progress::new(Some(Box::new(out.clone())), Duration::ZERO);
        progress.update(500, "pods");
        progress.update(1000, "deployments.apps");
        progress.finish();
        let text = out.text();
        assert_eq!(text.matches('\r').count(), 2, "{text:?}");
        assert!(text.contains("\r500 resources checked (listing pods)"));
        assert!(text.contains("\r1000 resources checked (listing deployments.apps)"));
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    }

    #[test]
    fn progress_stays_silent_before_the_delay_or_off_a_terminal() {
        let out = Shared::default();
        let mut quick = Progress::new(Some(Box::new(out.clone())), Duration::from_secs(3600));
        quick.update(10, "pods");
        quick.finish();
        assert_eq!(out.text(), "");
        // Not a terminal: no writer at all, nothing to write to.
        let mut off = Progress::new(None, Duration::ZERO);
        off.update(10, "pods");
        off.finish();
        assert!(!off.shown);
    }
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
