//! Report formats. [`CheckReport`] is the one model every format is written
//! from; its JSON form (`--output json`) is the stable schema documented in
//! `docs/json-report.md` (`apiVersion: wasm-validate.dev/v1`,
//! `kind: CheckReport`). [`CheckReport::text`] is the human-readable form.
//!
//! Exit codes ([`CheckReport::exit_code`]): 0 nothing denied, 1 a policy
//! whose action is `deny` denied something, 2 an input or a policy could not
//! be processed (2 wins over 1: the check is incomplete). Findings of `warn`
//! policies count only with [`FailOn::Warn`]; findings of `audit` policies
//! and exempted findings never change the exit code.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use serde::Serialize;
mod github;
mod junit;
mod policy_report;

pub use policy_report::POLICY_REPORT_API_VERSION;
mod sarif;
mod schema;
mod stream;
mod text;

pub use schema::SCHEMA_POLICY;

pub use stream::{StreamFormat, StreamWriter};
use text::{paint, text_results};

use wasm_validate_abi::{Patch, Severity, Violation};
use wasm_validate_manifest::{ManifestError, Resource};
use wasm_validate_pipeline::{Action, Exempt, ExemptionSource, Outcome, PolicyResult, PolicySet};

/// Exit code: nothing was denied.
pub const EXIT_OK: u8 = 0;
/// Exit code: a policy denied at least one resource.
pub const EXIT_DENIED: u8 = 1;
/// Exit code: an input or a policy could not be processed.
pub const EXIT_ERROR: u8 = 2;

/// `apiVersion` of the JSON report.
pub const API_VERSION: &str = "wasm-validate.dev/v1";

/// The whole result of a check, in input order then policy order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Always [`API_VERSION`].
    pub api_version: &'static str,
    /// Always `CheckReport`.
    pub kind: &'static str,
    /// Counts.
    pub summary: Summary,
    /// The policies that ran, in configuration order.
    pub policies: Vec<PolicyInfo>,
    /// Inputs or documents that could not be read.
    pub errors: Vec<InputError>,
    /// Warnings about the input that are not policy findings, for example
    /// an ignore annotation naming a policy that does not exist.
    pub notices: Vec<InputError>,
    /// One entry per (resource, applicable policy).
    pub results: Vec<ResultEntry>,
    /// The resources were read from an API server (a cluster audit), so one
    /// without a namespace is cluster-scoped whatever its kind. From files,
    /// only the well-known cluster-scoped kinds are; other resources without
    /// a namespace belong to `default`. Used by the PolicyReport format.
    #[serde(skip)]
    pub from_api_server: bool,
}

/// Counts of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Resources read.
    pub resources: usize,
    /// Policy evaluations (resource × applicable policy).
    pub evaluations: usize,
    /// Evaluations that passed.
    pub passed: usize,
    /// Evaluations of `deny` policies that found violations (result `fail`).
    pub failed: usize,
    /// Evaluations of `warn` policies that found violations (result `warn`).
    pub warned: usize,
    /// Evaluations of `audit` policies that found violations (result
    /// `fail`, action `audit`).
    pub audited: usize,
    /// Evaluations whose every finding was exempted (result `skip`).
    pub skipped: usize,
    /// Evaluations that could not be completed.
    pub errors: usize,
    /// Violations that were not exempted, in failed, warned and audited results.
    pub violations: usize,
    /// Findings that were exempted.
    pub exempted: usize,
    /// Warnings given (not counting those of skipped results).
    pub warnings: usize,
    /// Resources changed by mutating policies.
    pub mutated: usize,
    /// Inputs or documents that could not be read.
    pub input_errors: usize,
    /// Notices about the input (see [`CheckReport::notices`]).
    pub notices: usize,
}

/// A policy that ran.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    /// Its name (the configured `id` when one is given).
    pub name: String,
    /// What its findings do: deny, warn or audit.
    pub action: Action,
    /// Its description.
    pub description: String,
    /// Its severity.
    pub severity: Severity,
    /// Whether it mutates.
    pub mutating: bool,
    /// Its category (`pod-security`, `best-practices`, `fixes`), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// For Pod Security Standards controls: `baseline` or `restricted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<wasm_validate_abi::Level>,
    /// For Pod Security Standards controls: the control's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// Where the rule it implements is defined (URLs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// An input or document that could not be read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputError {
    /// The input's name (`-` for stdin).
    pub file: String,
    /// 1-based document number, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The resource a result is about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName` followed by `*`).
    pub name: String,
    /// Input name.
    pub file: String,
    /// 1-based document number in the input.
    pub document: usize,
    /// 1-based first line of the document.
    pub line: usize,
    /// Index in a `List`'s items, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// Helm 3's `# Source:` template path, if present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_source: Option<String>,
}

/// `pass`, `fail`, `warn`, `error` or `skip`, as in PolicyReport results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultKind {
    /// Allowed.
    Pass,
    /// Denied by a `deny` policy, or found by an `audit` policy (see
    /// [`ResultEntry::action`]).
    Fail,
    /// Found by a `warn` policy.
    Warn,
    /// Could not be evaluated.
    Error,
    /// Every finding was exempted (or an exempted mutation was not applied).
    Skip,
}

impl ResultKind {
    /// The lowercase name (`pass`, `fail`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Pass => "pass",
            ResultKind::Fail => "fail",
            ResultKind::Warn => "warn",
            ResultKind::Error => "error",
            ResultKind::Skip => "skip",
        }
    }
}

/// What makes a run fail (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Only a denial (a `fail` result).
    #[default]
    Deny,
    /// A denial or a warning.
    Warn,
}

impl ResourceRef {
    /// The reference of a resource as read (after mutation).
    pub fn of(resource: &Resource) -> ResourceRef {
        ResourceRef {
            api_version: resource.api_version().to_owned(),
            kind: resource.kind().to_owned(),
            namespace: resource.namespace().map(str::to_owned),
            name: resource.name(),
            file: resource.source.file.to_string(),
            document: resource.source.document,
            line: resource.source.line,
            item: resource.source.item,
            helm_source: resource.source.helm_source.clone(),
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` without a namespace: how the
    /// SARIF and JUnit outputs name the resource.
    pub fn qualified_name(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// One reason a resource failed, as reported.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViolationEntry {
    /// The policy's message.
    pub message: String,
    /// JSON Pointer (RFC 6901) to the offending (or missing) field.
    pub path: String,
    /// 1-based line of that field in the input (of its deepest present
    /// ancestor when it is missing), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// Why findings were exempted.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptionEntry {
    /// The reason given.
    pub reason: String,
    /// `annotation` or `config`.
    pub by: &'static str,
    /// For `config`: `file:line` of the exemption entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&Exempt> for ExemptionEntry {
    fn from(exempt: &Exempt) -> Self {
        match &exempt.source {
            ExemptionSource::Annotation => ExemptionEntry {
                reason: exempt.reason.clone(),
                by: "annotation",
                source: None,
            },
            ExemptionSource::Config(place) => ExemptionEntry {
                reason: exempt.reason.clone(),
                by: "config",
                source: Some(place.clone()),
            },
        }
    }
}

/// A finding that was exempted, with why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptedEntry {
    /// The finding.
    #[serde(flatten)]
    pub violation: ViolationEntry,
    /// Why it is exempted.
    pub exemption: ExemptionEntry,
}

impl From<Violation> for ViolationEntry {
    fn from(violation: Violation) -> Self {
        ViolationEntry {
            message: violation.message,
            path: violation.path,
            line: None,
        }
    }
}

/// One policy's result on one resource.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultEntry {
    /// The resource.
    pub resource: ResourceRef,
    /// The policy's name.
    pub policy: String,
    /// The policy's severity.
    pub severity: Severity,
    /// For Pod Security Standards controls: the control's title, for example
    /// `Privileged Containers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// pass, fail, warn, error or skip.
    pub result: ResultKind,
    /// The policy's action: deny, warn or audit.
    pub action: Action,
    /// Why it failed (each with a JSON Pointer `path`, and the `line` of
    /// that field in the input when known).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<ViolationEntry>,
    /// When the resource is exempted from the policy: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<ExemptionEntry>,
    /// Findings that were exempted, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<ExemptedEntry>,
    /// Warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The RFC 6902 patch a mutating policy returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Patch>,
    /// With a patch: whether it was applied (not for an exempted resource
    /// or an `audit` policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_applied: Option<bool>,
    /// Why it could not be evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Audit annotations the policy gave, keyed `POLICY/KEY` (a
    /// ValidatingAdmissionPolicy's `auditAnnotations`). Not shown in the
    /// text report; a PolicyReport result carries them as properties.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub audit_annotations: std::collections::BTreeMap<String, String>,
    /// What the policy logged while evaluating this resource (the
    /// `wasm_validate.log` import; a Kubewarden policy's logger, console and
    /// stdout/stderr), each with its level. Not shown in the text report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogEntry>,
}

impl CheckReport {
    /// Fills in the `line` of every violation with `locate(resource, paths)`,
    /// called once per resource with the paths of all its violations (for
    /// example [`wasm_validate_manifest::Parsed::lines_of`], which parses the
    /// resource's document once) and answering one line per path.
    pub fn locate_violations(
        &mut self,
        locate: impl Fn(&ResourceRef, &[&str]) -> Vec<Option<usize>>,
    ) {
        // Results are in input order: a resource's entries are adjacent.
        let same = |a: &ResourceRef, b: &ResourceRef| {
            (&a.file, a.document, a.item) == (&b.file, b.document, b.item)
        };
        let mut start = 0;
        while start < self.results.len() {
            let mut end = start + 1;
            while end < self.results.len()
                && same(&self.results[start].resource, &self.results[end].resource)
            {
                end += 1;
            }
            let group = &mut self.results[start..end];
            let paths: Vec<&str> = group
                .iter()
                .flat_map(|e| {
                    e.violations
                        .iter()
                        .chain(e.exempted.iter().map(|x| &x.violation))
                        .map(|v| v.path.as_str())
                })
                .collect();
            if !paths.is_empty() {
                let lines = locate(&group[0].resource, &paths);
                let violations = group.iter_mut().flat_map(|e| {
                    e.violations
                        .iter_mut()
                        .chain(e.exempted.iter_mut().map(|x| &mut x.violation))
                });
                for (violation, line) in violations.zip(lines) {
                    violation.line = line;
                }
            }
            start = end;
        }
    }

    /// Builds the report from a run: the policies, the resources (after
    /// mutation), their results from the pipeline, and the input errors.
    pub fn new(
        set: &PolicySet,
        resources: &[Resource],
        results: &[Vec<PolicyResult>],
        input_errors: &[ManifestError],
    ) -> Self {
        let mut summary = Summary {
            resources: resources.len(),
            input_errors: input_errors.len(),
            mutated: resources.iter().filter(|r| r.modified).count(),
            ..Summary::default()
        };
        let mut entries = Vec::new();
        for (resource, results) in resources.iter().zip(results) {
            let reference = ResourceRef::of(resource);
            for result in results {
                let entry = entry_of(set, reference.clone(), result);
                summary.evaluations += 1;
                let found = entry.violations.len();
                match (entry.result, entry.action) {
                    (ResultKind::Pass, _) => summary.passed += 1,
                    (ResultKind::Fail, Action::Audit) => summary.audited += 1,
                    (ResultKind::Fail, _) => summary.failed += 1,
                    (ResultKind::Warn, _) => summary.warned += 1,
                    (ResultKind::Error, _) => summary.errors += 1,
                    (ResultKind::Skip, _) => summary.skipped += 1,
                }
                if entry.result != ResultKind::Skip {
                    summary.warnings += entry.warnings.len();
                }
                summary.violations += found;
                summary.exempted += entry.exempted.len();
                entries.push(entry);
            }
        }
        CheckReport {
            api_version: API_VERSION,
            kind: "CheckReport",
            summary,
            policies: set
                .policies
                .iter()
                .map(|p| {
                    let m = p.policy.metadata();
                    PolicyInfo {
                        name: p.name().to_owned(),
                        action: p.action,
                        description: m.description.clone(),
                        severity: m.severity,
                        mutating: m.mutating,
                        category: m.category.clone(),
                        level: m.level,
                        control: m.control.clone(),
                        references: m.references.clone(),
                    }
                })
                .collect(),
            errors: input_errors
                .iter()
                .map(|e| InputError {
                    file: e.file.to_string(),
                    document: e.document,
                    line: e.line,
                    message: e.message.clone(),
                })
                .collect(),
            notices: Vec::new(),
            results: entries,
            from_api_server: false,
        }
    }

    /// Appends `other` (a report of the same policies over more resources,
    /// for example the next page of a cluster audit): results, errors and
    /// notices in order, counts added.
    pub fn merge(&mut self, other: CheckReport) {
        let (a, b) = (&mut self.summary, other.summary);
        a.resources += b.resources;
        a.evaluations += b.evaluations;
        a.passed += b.passed;
        a.failed += b.failed;
        a.warned += b.warned;
        a.audited += b.audited;
        a.skipped += b.skipped;
        a.errors += b.errors;
        a.violations += b.violations;
        a.exempted += b.exempted;
        a.warnings += b.warnings;
        a.mutated += b.mutated;
        a.input_errors += b.input_errors;
        a.notices += b.notices;
        self.results.extend(other.results);
        self.errors.extend(other.errors);
        self.notices.extend(other.notices);
    }

    /// Adds an input error (something that could not be read, for example a
    /// resource type the cluster refused to list); the exit code becomes 2.
    pub fn add_input_error(&mut self, file: &str, message: String) {
        self.summary.input_errors += 1;
        self.errors.push(InputError {
            file: file.to_owned(),
            document: None,
            line: None,
            message,
        });
    }

    /// Adds a notice (a warning about the input that is not a policy
    /// finding) about a resource.
    pub fn add_notice(&mut self, resource: &ResourceRef, message: String) {
        self.summary.notices += 1;
        self.notices.push(InputError {
            file: resource.file.clone(),
            document: Some(resource.document),
            line: Some(resource.line),
            message,
        });
    }

    /// 0 nothing denied, 1 something denied, 2 an input or policy error.
    pub fn exit_code(&self) -> u8 {
        self.exit_code_for(FailOn::Deny)
    }

    /// As [`CheckReport::exit_code`], but with [`FailOn::Warn`] a warning (a
    /// `warn` policy's finding, a policy's warning or a notice) also gives 1 (as Conftest's `--fail-on-warn` and kube-score's
    /// `--exit-one-on-warning` do). Errors still win with 2.
    pub fn exit_code_for(&self, fail_on: FailOn) -> u8 {
        let s = &self.summary;
        let warned = fail_on == FailOn::Warn && (s.warned + s.warnings + s.notices) > 0;
        if self.summary.errors > 0 || self.summary.input_errors > 0 {
            EXIT_ERROR
        } else if self.summary.failed > 0 || warned {
            EXIT_DENIED
        } else {
            EXIT_OK
        }
    }

    /// The JSON report, pretty-printed, ending with a newline.
    pub fn json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect("the report encodes");
        out.push('\n');
        out
    }

    /// The text report: input errors and notices, then each resource with
    /// a noteworthy result (failed, warned, audited, errored, exempted
    /// findings, warnings, patches), then a summary line. With `color`, ANSI
    /// colours mark FAIL, WARN, AUDIT, ERROR, EXEMPT and MUTATE.
    pub fn text(&self, color: bool) -> String {
        let mut out = String::new();
        self.text_problems(color, &mut out);
        text_results(&self.results, color, &mut out);
        self.text_summary(&mut out);
        out
    }

    /// The text report's input errors and notices, one line each.
    fn text_problems(&self, color: bool, out: &mut String) {
        let problems = self
            .errors
            .iter()
            .map(|e| (paint(color, "1;31", "ERROR"), e))
            .chain(self.notices.iter().map(|n| (paint(color, "33", "WARN"), n)));
        for (label, problem) in problems {
            let mut place = problem.file.clone();
            if let Some(line) = problem.line {
                let _ = write!(place, ":{line}");
            }
            let document = problem
                .document
                .map(|d| format!("document {d}: "))
                .unwrap_or_default();
            let _ = writeln!(out, "{label} {place}: {document}{}", problem.message);
        }
    }

    /// The text report's summary line (the policies counted are the chosen
    /// ones; the schema stage's entries count as evaluations).
    fn text_summary(&self, out: &mut String) {
        let s = &self.summary;
        let _ = writeln!(
            out,
            "{} resources, {} policies, {} evaluations: {} passed, {} failed, {} warned, {} audited ({} violations), {} skipped ({} exempted findings), {} errors, {} warnings, {} mutated; {} input errors, {} notices",
            s.resources,
            self.policies
                .iter()
                .filter(|p| p.name != SCHEMA_POLICY)
                .count(),
            s.evaluations,
            s.passed,
            s.failed,
            s.warned,
            s.audited,
            s.violations,
            s.skipped,
            s.exempted,
            s.errors,
            s.warnings,
            s.mutated,
            s.input_errors,
            s.notices
        );
    }
}

/// One log message of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: wasm_validate_abi::LogLevel,
    /// The message.
    pub message: String,
}

/// The report entry of one pipeline result.
fn entry_of(set: &PolicySet, resource: ResourceRef, result: &PolicyResult) -> ResultEntry {
    let configured = &set.policies[result.policy];
    let metadata = configured.policy.metadata();
    let exempted: Vec<ExemptedEntry> = result
        .exempted
        .iter()
        .map(|(violation, exempt)| ExemptedEntry {
            violation: violation.clone().into(),
            exemption: exempt.into(),
        })
        .collect();
    let (kind, violations, error) = match &result.outcome {
        Outcome::Error(message) => (ResultKind::Error, Vec::new(), Some(message.clone())),
        Outcome::Fail(violations) => (
            match configured.action {
                Action::Warn => ResultKind::Warn,
                Action::Deny | Action::Audit => ResultKind::Fail,
            },
            violations
                .iter()
                .cloned()
                .map(ViolationEntry::from)
                .collect(),
            None,
        ),
        Outcome::Pass => {
            let exempted_patch = result.exemption.is_some() && result.patch.is_some();
            if exempted.is_empty() && !exempted_patch {
                (ResultKind::Pass, Vec::new(), None)
            } else {
                (ResultKind::Skip, Vec::new(), None)
            }
        }
    };
    ResultEntry {
        resource,
        policy: configured.name().to_owned(),
        severity: metadata.severity,
        control: metadata.control.clone(),
        result: kind,
        action: configured.action,
        violations,
        exemption: result.exemption.as_ref().map(ExemptionEntry::from),
        exempted,
        warnings: result.warnings.clone(),
        patch: result.patch.clone(),
        patch_applied: result.patch.as_ref().map(|_| result.patch_applied),
        error,
        audit_annotations: result.audit_annotations.clone(),
        logs: result
            .logs
            .iter()
            .map(|l| LogEntry {
                level: l.level,
                message: l.message.clone(),
            })
            .collect(),
    }
}
