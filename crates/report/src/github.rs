//! GitHub Actions workflow commands
//! (<https://docs.github.com/actions/reference/workflow-commands-for-github-actions>):
//! one `::error`, `::warning` or `::notice` line per violation with the file
//! and the line of the offending field, so that the findings appear as
//! annotations on the pull request: a `deny` policy's by severity, a `warn`
//! policy's as `::warning`, an `audit` policy's as `::notice`; exempted
//! findings are left out. Policy errors and unreadable inputs are `::error`
//! lines, notices `::warning` lines. Values are escaped as the runner expects (`%`, CR and LF
//! everywhere; `:` and `,` in properties too).

use std::fmt::Write as _;

use wasm_validate_abi::Severity;

use wasm_validate_pipeline::Action;

use crate::{CheckReport, ResultEntry, ResultKind};

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "notice",
    }
}

impl CheckReport {
    /// The report as GitHub Actions annotations, one per line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        github_results(&self.results, &mut out);
        self.github_problems(&mut out);
        out
    }

    /// The annotations of the input errors and notices.
    pub(crate) fn github_problems(&self, out: &mut String) {
        let problems = self
            .errors
            .iter()
            .map(|e| (e, "error", "input error"))
            .chain(self.notices.iter().map(|n| (n, "warning", "notice")));
        for (error, level, title) in problems {
            let line = error.line.map(|l| format!(",line={l}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "::{level} file={}{line},title={title}::{}",
                escape_property(&error.file),
                escape_data(&error.message),
            );
        }
    }
}

/// The annotations of `results`' violations and policy errors.
pub(crate) fn github_results(results: &[ResultEntry], out: &mut String) {
    for entry in results {
        let r = &entry.resource;
        let title = match &entry.control {
            Some(control) => format!("{} ({control})", entry.policy),
            None => entry.policy.clone(),
        };
        let level = match entry.action {
            Action::Deny => command(entry.severity),
            Action::Warn => "warning",
            Action::Audit => "notice",
        };
        match entry.result {
            ResultKind::Fail | ResultKind::Warn => {
                for violation in &entry.violations {
                    let _ = writeln!(
                        out,
                        "::{level} file={},line={},title={}::{} {}/{}: {} (at {})",
                        escape_property(&r.file),
                        violation.line.unwrap_or(r.line),
                        escape_property(&title),
                        escape_data(&r.kind),
                        escape_data(r.namespace.as_deref().unwrap_or("")),
                        escape_data(&r.name),
                        escape_data(&violation.message),
                        escape_data(&violation.path),
                    );
                }
            }
            ResultKind::Error => {
                let _ = writeln!(
                    out,
                    "::error file={},line={},title={}::{}",
                    escape_property(&r.file),
                    r.line,
                    escape_property(&format!("policy error: {}", entry.policy)),
                    escape_data(entry.error.as_deref().unwrap_or_default()),
                );
            }
            ResultKind::Pass | ResultKind::Skip => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_the_runner_expects() {
        assert_eq!(escape_data("50% of\r\nlines"), "50%25 of%0D%0Alines");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
