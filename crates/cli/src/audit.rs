//! `audit`: checking the resources of a live cluster, with a progress
//! line.

use std::io::{IsTerminal, Write};

use wasm_validate_cluster::{Definitions, Read};
use wasm_validate_config::EnforcementPoint;
use wasm_validate_engine::Engine;
use wasm_validate_pipeline::{self as pipeline, SchemaStage};
use wasm_validate_report::{CheckReport, EXIT_ERROR, InputError, StreamFormat, StreamWriter};

use crate::check::{close_schema_report, notice_unknown_ignores, report_unloadable};
use crate::*;

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
/// resources the policies' rules select, page by page, and runs the schema
/// stage and the policies on each page (on all pages together at the end
/// when a policy is prepared with the run's objects, as a referential
/// Gatekeeper constraint is). With the schema stage, the server's CRDs are
/// read first and its Kubernetes version picks the built-in schemas unless
/// `--kubernetes-version` (or the configuration) chose one
/// ([`live_schema_stage`]). Text, JSON and GitHub reports are written page
/// by page ([`wasm_validate_report::StreamWriter`]), so memory is bounded by
/// the page size; SARIF, JUnit and PolicyReport need every result first and
/// keep the results in memory. Resource types that cannot be read (403) are
/// input errors in the report (exit 2) and the others are still audited;
/// kinds the server does not serve are noted on stderr. Writes the report in
/// `format` to stdout (nothing when the cluster cannot be reached); returns
/// the exit code.
pub fn audit_command(
    cluster: &wasm_validate_cluster::ClusterOptions,
    policy_args: &PolicyArgs,
    format: OutputFormat,
) -> u8 {
    let engine = Engine::default();
    let set = match load_policies_at(&engine, policy_args, EnforcementPoint::Audit) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_ERROR;
        }
    };
    // What the policies select, and what policies prepared with the run's
    // objects read besides (a ValidatingAdmissionPolicy's paramKind).
    let rules: Vec<wasm_validate_abi::Rule> = set
        .policies
        .iter()
        .flat_map(|p| {
            let reads = p
                .run_objects
                .as_ref()
                .map(|r| r.reads())
                .unwrap_or_default();
            p.policy.metadata().rules.clone().into_iter().chain(reads)
        })
        .collect();
    let cluster = wasm_validate_cluster::ClusterOptions {
        definitions: set.schema.is_some(),
        ..cluster.clone()
    };
    let threads = policy_args.threads();
    let stream_format = match format {
        OutputFormat::Text => Some(StreamFormat::Text {
            color: stdout_color(),
        }),
        OutputFormat::Json => Some(StreamFormat::Json),
        OutputFormat::Github => Some(StreamFormat::Github),
        OutputFormat::Sarif | OutputFormat::Junit | OutputFormat::Policyreport => None,
    };
    // The sink opens (and a streamed report's head is written) with the
    // first thing read, once the schema stage knows the server's version.
    let mut stage = set.schema.clone();
    let mut sink: Opening<AuditSink<_>> = Opening::NotYet;
    let open = |stage: &Option<SchemaStage>, notices: Vec<InputError>| {
        let mut head = CheckReport::new(&set, &[], &[], &[]);
        head.from_api_server = true;
        report_unloadable(&mut head, &set);
        if let Some(stage) = stage {
            head.add_schema_results(stage, &[], &[]);
        }
        head.summary.notices += notices.len();
        head.notices.extend(notices);
        match stream_format {
            Some(stream_format) => StreamWriter::new(
                stream_format,
                std::io::BufWriter::new(std::io::stdout().lock()),
                head,
            )
            .map(AuditSink::Stream),
            None => Ok(AuditSink::Collect(head)),
        }
    };
    let mut write_error = None;
    let mut progress = Progress::on_stderr();
    // Policies prepared with the run's objects (Gatekeeper's
    // data.inventory) must see every object read: the pages are then kept
    // and checked together at the end, so memory follows the cluster's
    // size instead of a page's.
    let whole_run = set.needs_run_objects();
    let mut kept: Vec<wasm_validate_manifest::Resource> = Vec::new();
    let mut check_page = |mut resources: Vec<wasm_validate_manifest::Resource>,
                          stage: &Option<SchemaStage>,
                          sink: &mut AuditSink<_>| {
        let outcomes = stage.as_ref().map(|s| {
            let mut outcomes = pipeline::check_schemas(&s.schemas, &resources);
            pipeline::check_crd_rules(&engine, &s.schemas, &mut outcomes, &s.rule_cache);
            outcomes
        });
        let results = pipeline::run(&engine, &set, &mut resources, threads);
        let mut page_report = CheckReport::new(&set, &resources, &results, &[]);
        if let (Some(stage), Some(outcomes)) = (stage, outcomes) {
            page_report.add_schema_results(stage, &resources, &outcomes);
        }
        if !set.ignore_annotations {
            notice_unknown_ignores(&mut page_report, &set, &resources);
        }
        match sink {
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
        }
    };
    let outcome = wasm_validate_cluster::audit(&cluster, &rules, &mut |read| match read {
        Read::Definitions(definitions) => {
            let mut notices = Vec::new();
            if let Some(configured) = &stage {
                stage = Some(live_schema_stage(configured, &definitions, &mut notices));
            }
            sink.open_with(|| open(&stage, notices));
        }
        Read::Page(page) => {
            sink.open_with(|| open(&stage, Vec::new()));
            let checked = if whole_run {
                kept.extend(page.resources);
                kept.len()
            } else if let Opening::Open(sink) = &mut sink {
                check_page(page.resources, &stage, sink)
            } else {
                0
            };
            progress.update(checked, &page.resource_type);
        }
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
    sink.open_with(|| open(&stage, Vec::new()));
    let mut sink = match sink {
        Opening::Open(sink) => sink,
        Opening::Failed(error) => {
            eprintln!("error: cannot write the report: {error}");
            return EXIT_ERROR;
        }
        Opening::NotYet => unreachable!("opened above"),
    };
    if whole_run {
        check_page(std::mem::take(&mut kept), &stage, &mut sink);
    }
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
    close_schema_report(totals, stage.as_ref().map(|s| &*s.schemas));
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

/// The schema stage of a live audit: `configured` with the cluster's CRDs
/// added and, unless the user chose a Kubernetes version, the built-in
/// schemas of the server's version (the nearest built in when it is not,
/// with a notice). What could not be read from the cluster (the CRDs on a
/// 403, the version) becomes a notice in `notices`.
pub fn live_schema_stage(
    configured: &SchemaStage,
    definitions: &Definitions,
    notices: &mut Vec<InputError>,
) -> SchemaStage {
    let mut notice = |message: String| {
        notices.push(InputError {
            file: wasm_validate_cluster::CLUSTER_INPUT.to_owned(),
            document: None,
            line: None,
            message,
        })
    };
    for problem in &definitions.problems {
        notice(problem.clone());
    }
    let mut schemas = (*configured.schemas).clone();
    let server = definitions.server_version.as_deref();
    if !configured.version_given
        && let Some(server) = server
    {
        match wasm_validate_schema::version_for_server(server) {
            Some((version, exact)) => {
                if !exact {
                    let shipped = wasm_validate_schema::versions();
                    notice(format!(
                        "the server runs Kubernetes {server}: the schemas of {version}, the nearest built in ({}–{}), are used",
                        shipped.first().copied().unwrap_or_default(),
                        shipped.last().copied().unwrap_or_default()
                    ));
                }
                if let Ok(for_server) = schemas.for_version(version) {
                    schemas = for_server;
                }
            }
            None => notice(format!(
                "the server's version {server:?} is not a Kubernetes version: the schemas of {} are used",
                schemas.kubernetes_version()
            )),
        }
    }
    for crd in &definitions.crds {
        schemas.add_crd(crd, wasm_validate_cluster::CLUSTER_INPUT);
    }
    SchemaStage {
        mode: configured.mode,
        schemas: std::sync::Arc::new(schemas),
        version_given: configured.version_given,
        rule_cache: configured.rule_cache.clone(),
    }
}

/// Something opened on first use, once: not yet, open, or failed to open.
enum Opening<T> {
    NotYet,
    Open(T),
    Failed(std::io::Error),
}

impl<T> Opening<T> {
    /// Opens with `open` unless already opened (or failed).
    fn open_with(&mut self, open: impl FnOnce() -> std::io::Result<T>) {
        if matches!(self, Opening::NotYet) {
            *self = match open() {
                Ok(value) => Opening::Open(value),
                Err(error) => Opening::Failed(error),
            };
        }
    }
}

/// Where an audit's pages go: written as they come, or kept for a format
/// that needs them all.
enum AuditSink<W: Write> {
    Stream(StreamWriter<W>),
    Collect(CheckReport),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use wasm_validate_manifest as manifest;

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
