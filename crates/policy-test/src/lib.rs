//! `wasm-validate test`: runs the test suites a policy author keeps beside
//! the policies. The format is documented in `docs/policy-tests.md`:
//!
//! ```yaml
//! apiVersion: wasm-validate.dev/v1
//! kind: PolicyTest
//! resources: [resources.yaml]          # files or directories, relative to this file
//! policies:                            # as in wasm-validate.yaml (also profiles,
//!   - policy: ../target/my-policy.wasm #  defaults, exemptions, annotationExemptions)
//!     settings: {minimum: 2}
//! results:
//!   - resource: Deployment/web         # Kind/name or Kind/namespace/name
//!     result: fail                     # pass, fail, warn, error or skip
//!   - policy: my-policy                # needed when the suite runs several policies
//!     resources: [Pod/a, Pod/b]
//!     result: pass
//!     patch: []                        # the expected RFC 6902 patch ([] = none)
//! ```
//!
//! `skip` means the policy did not run on the resource (its rules or filters
//! leave it out) or every finding was exempted. A suite file is named
//! `wasm-validate-test.yaml`; a directory is searched recursively for them.
//!
//! Gatekeeper's gator suites (`kind: Suite`, `test.gatekeeper.sh/v1alpha1`,
//! what `gator verify` reads) are found the same way, in any `.yaml` or
//! `.yml` file, and run by `wasm_validate_gatekeeper::suite`; Kyverno's
//! test files (`kyverno-test.yaml`, `cli.kyverno.io/v1alpha1` Test, also in
//! `.kyverno-test` directories) are run by `wasm_validate_kyverno::suite`.
//! Rego unit tests (`*_test.rego`, what `conftest verify` runs) are run by
//! `wasm_validate_conftest::verify`: a directory given that holds one, at
//! any depth, is one run over all its `.rego` files (Conftest's
//! `verify --policy DIR`), and a `*_test.rego` file given is one run of
//! that file alone. None of them takes snapshots.
//!
//! With snapshots on, the result of every policy on every resource of a
//! suite is also written to `snapshots/<suite>.snap.yaml` beside the suite
//! (reviewable YAML) and compared on each run: a change fails, and `update`
//! rewrites the file.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use wasm_validate_config::{CommandLine, Config, PolicyConfig, SourceText};
use wasm_validate_engine::Engine;
use wasm_validate_pipeline::PolicySet;
use wasm_validate_report::{CheckReport, ResourceRef, ResultEntry, ResultKind};

/// The file name of a suite.
pub const SUITE_FILE: &str = "wasm-validate-test.yaml";
/// The `kind` of a suite.
pub const KIND: &str = "PolicyTest";

/// How to run the suites.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Compare (or record) the snapshot of every suite.
    pub snapshot: bool,
    /// Rewrite snapshots that differ or are missing instead of failing.
    pub update: bool,
    /// Worker threads for the pipeline.
    pub threads: usize,
    /// Run gator suites' templates that have both engines with CEL
    /// (`--gatekeeper-engine cel`).
    pub gatekeeper_cel: bool,
}

/// What became of a suite's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// It matched.
    Matched,
    /// It was written (new, or changed with `update`).
    Written(PathBuf),
    /// There is none (run with `update` to record it).
    Missing(PathBuf),
    /// It differs: the unified diff (old to new).
    Changed(PathBuf, String),
}

/// The outcome of one suite.
#[derive(Debug, Clone)]
pub struct SuiteOutcome {
    /// The suite file.
    pub file: PathBuf,
    /// Expectations checked (one per listed resource).
    pub checked: usize,
    /// What went wrong, one message per failed expectation, each led by
    /// `file:line:`.
    pub failures: Vec<String>,
    /// The snapshot, when snapshots are on.
    pub snapshot: Option<SnapshotStatus>,
}

impl SuiteOutcome {
    /// Whether every expectation held and the snapshot (if any) matched or
    /// was written.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
            && !matches!(
                self.snapshot,
                Some(SnapshotStatus::Missing(_) | SnapshotStatus::Changed(..))
            )
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SuiteFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    profiles: Vec<wasm_validate_config::ProfileName>,
    #[serde(default)]
    defaults: wasm_validate_config::Defaults,
    #[serde(default)]
    policies: Vec<wasm_validate_config::PolicySpec>,
    #[serde(default)]
    exemptions: Vec<wasm_validate_config::ExemptionSpec>,
    annotation_exemptions: Option<bool>,
    #[serde(default)]
    results: Vec<Expectation>,
}

/// One entry of `results`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    policy: Option<String>,
    resource: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    result: ResultKind,
    patch: Option<Value>,
}

/// The suite files under `paths`: a file is taken as is, a directory is
/// searched recursively for [`SUITE_FILE`]s (sorted).
pub fn find_suites(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap_or_default();
            let hidden = name.to_string_lossy().starts_with('.') && name != ".kyverno-test";
            if path.is_dir() && name != "target" && !hidden {
                walk(&path, out)?;
            } else if name == SUITE_FILE || is_gator_suite(&path) || is_kyverno_test(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out)?;
        } else if path.is_file() {
            out.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(out)
}

/// Whether `path` is a YAML file holding a gator `Suite`
/// (`wasm_validate_gatekeeper::suite`).
fn is_gator_suite(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        && path.file_name() != Some(std::ffi::OsStr::new(SUITE_FILE))
        && std::fs::read_to_string(path)
            .is_ok_and(|text| wasm_validate_gatekeeper::suite::is_suite(&text))
}

/// Whether `path` is a Kyverno test file (`kyverno-test.yaml` holding a
/// `cli.kyverno.io` Test).
fn is_kyverno_test(path: &Path) -> bool {
    path.file_name()
        == Some(std::ffi::OsStr::new(
            wasm_validate_kyverno::suite::TEST_FILE,
        ))
        && std::fs::read_to_string(path)
            .is_ok_and(|text| wasm_validate_kyverno::suite::is_test(&text))
}

/// Writes a peer's suite as ours: `PASS`/`FAIL path (tool): N unit[, M
/// skipped]`, then each failure indented; returns whether it passed.
fn report_foreign(
    out: &mut dyn std::io::Write,
    path: &Path,
    tool: &str,
    count: usize,
    unit: &str,
    skipped: usize,
    failures: &[String],
) -> bool {
    let verdict = if failures.is_empty() { "PASS" } else { "FAIL" };
    let skipped = match skipped {
        0 => String::new(),
        n => format!(", {n} skipped"),
    };
    let _ = writeln!(
        out,
        "{verdict} {} ({tool}): {count} {unit}{skipped}",
        path.display()
    );
    for failure in failures {
        let _ = writeln!(out, "  {failure}");
    }
    failures.is_empty()
}

/// Runs a Kyverno test file and reports it like ours: `PASS`/`FAIL path
/// (kyverno): N results` and a line per failed expectation.
fn run_kyverno_test(
    engine: &Engine,
    runtime: &mut Option<wasm_validate_engine::Policy>,
    path: &Path,
    out: &mut dyn std::io::Write,
) -> Result<(bool, usize), String> {
    let runtime = runtime.get_or_insert_with(|| wasm_validate_kyverno::load_runtime(engine));
    let checked = wasm_validate_kyverno::suite::run_test(engine, runtime, path)?;
    let failures: Vec<String> = checked
        .iter()
        .filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.what)))
        .collect();
    let passed = report_foreign(out, path, "kyverno", checked.len(), "results", 0, &failures);
    Ok((passed, checked.len()))
}

/// Runs the Rego unit tests under `path` and reports them like our
/// suites: `PASS`/`FAIL path (conftest verify): N tests` and a line per
/// failed test.
fn run_rego_tests(
    engine: &Engine,
    path: &Path,
    data: Option<&Value>,
    out: &mut dyn std::io::Write,
) -> Result<(bool, usize), String> {
    use wasm_validate_conftest::verify::{TestOutcome, verify};
    let results = verify(engine, path, data, wasm_validate_engine::Limits::default())?;
    let skipped = results
        .iter()
        .filter(|r| r.outcome == TestOutcome::Skipped)
        .count();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            // A multi-line error (regorus's, with the source) stays
            // indented under its test.
            TestOutcome::Failed(why) => Some(format!(
                "{}: {}",
                r.name,
                why.trim().replace('\n', "\n    ")
            )),
            _ => None,
        })
        .collect();
    let passed = report_foreign(
        out,
        path,
        "conftest verify",
        results.len(),
        "tests",
        skipped,
        &failures,
    );
    Ok((passed, results.len()))
}

/// Runs a gator suite and reports it like ours: `PASS`/`FAIL path: N cases`
/// and a line per failed case. Returns whether it passed.
fn run_gator_suite(
    engine: &Engine,
    runtime: &mut Option<wasm_validate_gatekeeper::Runtimes>,
    path: &Path,
    cel: bool,
    out: &mut dyn std::io::Write,
) -> Result<(bool, usize), String> {
    use wasm_validate_gatekeeper::suite::{Outcome, run_suite};
    let runtime = runtime
        .get_or_insert_with(|| wasm_validate_gatekeeper::load_runtime(engine).preferring_cel(cel));
    let results = run_suite(engine, runtime, path)?;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(why) => Some(format!("{} / {}: {why}", r.test, r.case)),
            _ => None,
        })
        .collect();
    let skipped = results
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .count();
    let passed = report_foreign(
        out,
        path,
        "gator",
        results.len(),
        "cases",
        skipped,
        &failures,
    );
    Ok((passed, results.len()))
}

/// `Kind/name` or `Kind/namespace/name`.
fn parse_reference(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts[..] {
        [kind, name] if !kind.is_empty() && !name.is_empty() => Some((kind, None, name)),
        [kind, namespace, name] if !kind.is_empty() && !name.is_empty() => {
            Some((kind, Some(namespace), name))
        }
        _ => None,
    }
}

fn same_resource(a: &ResourceRef, b: &ResourceRef) -> bool {
    (&a.file, a.document, a.item) == (&b.file, b.document, b.item)
}

/// Runs one suite. `Err` when the suite cannot run at all (unreadable,
/// invalid, a configuration error, unreadable resources): exit 2.
pub fn run_suite(engine: &Engine, path: &Path, options: Options) -> Result<SuiteOutcome, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let source = SourceText {
        name: path.display().to_string(),
        text,
    };
    let suite: SuiteFile = source.parse().map_err(|e| e.0)?;
    source
        .check_header(&suite.api_version, &suite.kind, KIND)
        .map_err(|e| e.0)?;
    if suite.resources.is_empty() {
        return Err(source.error("/resources", "list at least one file").0);
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let config = Config {
        policies: PolicyConfig {
            profiles: suite.profiles,
            defaults: suite.defaults,
            policies: suite.policies,
            exemptions: suite.exemptions,
            annotation_exemptions: suite.annotation_exemptions,
        },
        serve: None,
        schema: None,
        source: source.clone(),
        base: base.clone(),
        bundled: None,
    };
    let set =
        wasm_validate_config::build_policy_set(engine, Some(&config), &CommandLine::default())
            .map_err(|e| e.0)?
            .all_loaded()?;
    let files: Vec<PathBuf> = suite.resources.iter().map(|r| base.join(r)).collect();
    let (parsed, errors) = wasm_validate_manifest::read_all(&files, true, &Default::default());
    if let Some(error) = errors.first() {
        return Err(format!("{}: resources: {error}", source.name));
    }
    let mut resources: Vec<_> = parsed.into_iter().flat_map(|p| p.resources).collect();
    let references: Vec<ResourceRef> = resources.iter().map(ResourceRef::of).collect();
    let results = wasm_validate_pipeline::run(engine, &set, &mut resources, options.threads.max(1));
    let report = CheckReport::new(&set, &resources, &results, &[]);

    let mut outcome = SuiteOutcome {
        file: path.to_path_buf(),
        checked: 0,
        failures: Vec::new(),
        snapshot: None,
    };
    for (index, expectation) in suite.results.iter().enumerate() {
        let pointer = format!("/results/{index}");
        let fail = |message: String| format!("{}: {message}", source.at(&pointer));
        let policy = match policy_id(&set, expectation.policy.as_deref()) {
            Ok(id) => id,
            Err(message) => {
                outcome.failures.push(fail(message));
                continue;
            }
        };
        let listed: Vec<&String> = expectation
            .resource
            .iter()
            .chain(&expectation.resources)
            .collect();
        if listed.is_empty() {
            outcome
                .failures
                .push(fail("name the resource (resource: Kind/name)".to_owned()));
        }
        for wanted in listed {
            outcome.checked += 1;
            let found = match find_resource(&references, wanted) {
                Ok(found) => found,
                Err(message) => {
                    outcome.failures.push(fail(message));
                    continue;
                }
            };
            let entry = report
                .results
                .iter()
                .find(|e| e.policy == policy && same_resource(&e.resource, found));
            let actual = entry.map_or(ResultKind::Skip, |e| e.result);
            if actual != expectation.result {
                outcome.failures.push(fail(format!(
                    "{policy} on {wanted}: expected {}, got {}{}",
                    expectation.result.as_str(),
                    actual.as_str(),
                    entry.map(details).unwrap_or_default()
                )));
                continue;
            }
            if let Some(expected) = &expectation.patch {
                let actual = entry
                    .and_then(|e| e.patch.as_ref())
                    .map_or(Value::Array(Vec::new()), |p| {
                        serde_json::to_value(p).expect("a patch encodes")
                    });
                if &actual != expected {
                    outcome.failures.push(fail(format!(
                        "{policy} on {wanted}: expected the patch {expected}, got {actual}"
                    )));
                }
            }
        }
    }
    if options.snapshot {
        outcome.snapshot = Some(snapshot(path, &report, options.update)?);
    }
    Ok(outcome)
}

/// The id of the policy an expectation is about.
fn policy_id(set: &PolicySet, name: Option<&str>) -> Result<String, String> {
    match name {
        Some(name) => set
            .policies
            .iter()
            .find(|p| p.is_named(name))
            .map(|p| p.name().to_owned())
            .ok_or_else(|| format!("the suite runs no policy named {name:?}")),
        None => match &set.policies[..] {
            [only] => Ok(only.name().to_owned()),
            _ => Err("the suite runs several policies: say which (policy: NAME)".to_owned()),
        },
    }
}

/// The one resource `wanted` (`Kind/name`, `Kind/namespace/name`) names.
fn find_resource<'a>(
    references: &'a [ResourceRef],
    wanted: &str,
) -> Result<&'a ResourceRef, String> {
    let Some((kind, namespace, name)) = parse_reference(wanted) else {
        return Err(format!(
            "{wanted:?} is not Kind/name or Kind/namespace/name"
        ));
    };
    let matching: Vec<&ResourceRef> = references
        .iter()
        .filter(|r| {
            r.kind == kind
                && r.name == name
                && namespace.is_none_or(|n| r.namespace.as_deref() == Some(n))
        })
        .collect();
    match matching[..] {
        [one] => Ok(one),
        [] => Err(format!("no resource {wanted} in the suite's resources")),
        _ => Err(format!(
            "{wanted} names {} resources; add the namespace (Kind/namespace/name)",
            matching.len()
        )),
    }
}

/// ` (first violation or error)` for a failure message.
fn details(entry: &ResultEntry) -> String {
    if let Some(error) = &entry.error {
        return format!(" ({error})");
    }
    match (entry.violations.first(), entry.exempted.first()) {
        (Some(v), _) => format!(" ({} at {})", v.message, v.path),
        (None, Some(x)) => format!(" (exempted: {})", x.exemption.reason),
        _ => String::new(),
    }
}

/// The snapshot text of a report: every result, without lines and files
/// (which move when resources are edited), as YAML.
pub fn snapshot_text(report: &CheckReport) -> String {
    let entries: Vec<Value> = report
        .results
        .iter()
        .map(|entry| {
            let mut value = serde_json::to_value(entry).expect("a result encodes");
            let object = value.as_object_mut().expect("a result is an object");
            object.insert(
                "resource".to_owned(),
                Value::String(entry.resource.qualified_name()),
            );
            object.shift_remove("severity");
            object.shift_remove("control");
            for key in ["violations", "exempted"] {
                if let Some(Value::Array(items)) = object.get_mut(key) {
                    for item in items {
                        if let Some(item) = item.as_object_mut() {
                            item.shift_remove("line");
                        }
                    }
                }
            }
            value
        })
        .collect();
    let mut out = String::from(
        "# Written by `wasm-validate test --snapshot --update`; review changes like code.\n",
    );
    out.push_str(&serde_yaml::to_string(&entries).expect("a snapshot encodes"));
    out
}

fn snapshot(suite: &Path, report: &CheckReport, update: bool) -> Result<SnapshotStatus, String> {
    let dir = suite.parent().unwrap_or(Path::new("")).join("snapshots");
    let stem = suite
        .file_stem()
        .map_or("suite".into(), |s| s.to_string_lossy());
    let path = dir.join(format!("{stem}.snap.yaml"));
    let new = snapshot_text(report);
    let old = std::fs::read_to_string(&path).ok();
    if old.as_deref() == Some(new.as_str()) {
        return Ok(SnapshotStatus::Matched);
    }
    if update {
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, &new))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        return Ok(SnapshotStatus::Written(path));
    }
    match old {
        None => Ok(SnapshotStatus::Missing(path)),
        Some(old) => {
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(2)
                .header("recorded", "now")
                .to_string();
            Ok(SnapshotStatus::Changed(path, diff))
        }
    }
}

/// Runs every suite under `paths` and writes a summary to `out`: one line
/// per suite (`PASS`/`FAIL`/`ERROR`), the failures under it, then a total.
/// Returns the exit code: 0 all passed, 1 an expectation failed or a
/// snapshot differs, 2 a suite could not run (or none was found).
pub fn run_all(paths: &[PathBuf], options: Options, out: &mut dyn std::io::Write) -> u8 {
    run_all_with_data(paths, options, &[], out)
}

/// [`run_all`], with `rego_data` (files or directories of YAML and JSON)
/// as the `data` document of the Rego unit tests (Conftest's `--data`).
pub fn run_all_with_data(
    paths: &[PathBuf],
    options: Options,
    rego_data: &[PathBuf],
    out: &mut dyn std::io::Write,
) -> u8 {
    let rego_roots: Vec<PathBuf> = paths
        .iter()
        .filter(|p| wasm_validate_conftest::verify::has_tests(p))
        .cloned()
        .collect();
    let mut suites = match find_suites(paths) {
        Ok(suites) if suites.is_empty() && rego_roots.is_empty() => {
            let _ = writeln!(
                out,
                "ERROR no {SUITE_FILE}, gator Suite, kyverno-test.yaml or *_test.rego found"
            );
            return 2;
        }
        Ok(suites) => suites,
        Err(message) => {
            let _ = writeln!(out, "ERROR {message}");
            return 2;
        }
    };
    // A `*_test.rego` file given is found again as a file argument.
    suites.retain(|s| !rego_roots.contains(s));
    let rego_data = match wasm_validate_conftest::read_data(rego_data) {
        Ok(data) => data,
        Err(message) => {
            let _ = writeln!(out, "ERROR {message}");
            return 2;
        }
    };
    let engine = Engine::default();
    let (mut passed, mut failed, mut errors, mut checked) = (0, 0, 0, 0);
    let mut rego_runtime = None;
    let mut cel_runtime = None;
    let runs: Vec<(&PathBuf, bool)> = rego_roots
        .iter()
        .map(|r| (r, true))
        .chain(suites.iter().map(|s| (s, false)))
        .collect();
    for (suite, rego_tests) in runs {
        let foreign = if rego_tests {
            Some(run_rego_tests(&engine, suite, rego_data.as_ref(), out))
        } else if is_kyverno_test(suite) {
            Some(run_kyverno_test(&engine, &mut cel_runtime, suite, out))
        } else if is_gator_suite(suite) {
            Some(run_gator_suite(
                &engine,
                &mut rego_runtime,
                suite,
                options.gatekeeper_cel,
                out,
            ))
        } else {
            None
        };
        if let Some(ran) = foreign {
            match ran {
                Err(message) => {
                    errors += 1;
                    let _ = writeln!(out, "ERROR {message}");
                }
                Ok((ok, cases)) => {
                    checked += cases;
                    if ok {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                }
            }
            continue;
        }
        match run_suite(&engine, suite, options) {
            Err(message) => {
                errors += 1;
                let _ = writeln!(out, "ERROR {message}");
            }
            Ok(outcome) => {
                checked += outcome.checked;
                let verdict = if outcome.passed() {
                    passed += 1;
                    "PASS"
                } else {
                    failed += 1;
                    "FAIL"
                };
                let snapshot = match &outcome.snapshot {
                    None => String::new(),
                    Some(SnapshotStatus::Matched) => ", snapshot matches".to_owned(),
                    Some(SnapshotStatus::Written(p)) => {
                        format!(", snapshot written to {}", p.display())
                    }
                    Some(SnapshotStatus::Missing(p)) => {
                        format!(", no snapshot at {} (record it with --update)", p.display())
                    }
                    Some(SnapshotStatus::Changed(p, _)) => {
                        format!(", snapshot {} changed (accept with --update)", p.display())
                    }
                };
                let _ = writeln!(
                    out,
                    "{verdict} {}: {} results checked{snapshot}",
                    outcome.file.display(),
                    outcome.checked
                );
                for failure in &outcome.failures {
                    let _ = writeln!(out, "  {failure}");
                }
                if let Some(SnapshotStatus::Changed(_, diff)) = &outcome.snapshot {
                    for line in diff.lines() {
                        let _ = writeln!(out, "  {line}");
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "{} suites: {passed} passed, {failed} failed, {errors} could not run; {checked} results checked",
        suites.len() + rego_roots.len()
    );
    if errors > 0 {
        2
    } else if failed > 0 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
