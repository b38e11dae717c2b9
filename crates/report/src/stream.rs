//! A report written page by page, for cluster audits: each page's results
//! are written as soon as they are known and then dropped, so memory does
//! not grow with the number of resources. Only the counts, input errors and
//! notices are kept for the end.
//!
//! Three formats can be written this way: text (results, then input errors
//! and notices, then the summary line), JSON (the same keys as
//! [`CheckReport::json`], with `results` before `summary`, `errors` and
//! `notices`) and GitHub annotations. SARIF, JUnit and PolicyReport need
//! every result before they can be written (counts in headers, grouping by
//! namespace) and are not streamed.

use std::io::{self, Write};

use crate::{CheckReport, github::github_results, text_results};

/// A format that can be written page by page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// [`CheckReport::text`], with ANSI colours when `color`.
    Text {
        /// Colour the labels.
        color: bool,
    },
    /// [`CheckReport::json`]'s document.
    Json,
    /// [`CheckReport::github`]'s annotations.
    Github,
}

/// Writes a report page by page; see the module documentation.
pub struct StreamWriter<W: Write> {
    format: StreamFormat,
    out: W,
    totals: CheckReport,
    first_result: bool,
}

/// `value` pretty-printed as JSON, every line after the first indented by
/// `indent` spaces (JSON strings hold no raw newlines, so this is safe).
fn pretty(value: &impl serde::Serialize, indent: usize) -> String {
    let text = serde_json::to_string_pretty(value).expect("the report encodes");
    text.replace('\n', &format!("\n{}", " ".repeat(indent)))
}

impl<W: Write> StreamWriter<W> {
    /// Starts a report in `format` on `out`. `head` is the report before
    /// any page: its policies (and any errors or notices known so far);
    /// results in it are written as a first page.
    ///
    /// Errors: writing to `out` failed.
    pub fn new(format: StreamFormat, mut out: W, mut head: CheckReport) -> io::Result<Self> {
        let results = std::mem::take(&mut head.results);
        if format == StreamFormat::Json {
            write!(
                out,
                "{{\n  \"apiVersion\": {},\n  \"kind\": {},\n  \"policies\": {},\n  \"results\": [",
                pretty(&head.api_version, 2),
                pretty(&head.kind, 2),
                pretty(&head.policies, 2),
            )?;
        }
        let mut writer = StreamWriter {
            format,
            out,
            totals: head,
            first_result: true,
        };
        writer.write_results(&results)?;
        Ok(writer)
    }

    fn write_results(&mut self, results: &[crate::ResultEntry]) -> io::Result<()> {
        match self.format {
            StreamFormat::Text { color } => {
                let mut text = String::new();
                text_results(results, color, &mut text);
                self.out.write_all(text.as_bytes())
            }
            StreamFormat::Github => {
                let mut text = String::new();
                github_results(results, &mut text);
                self.out.write_all(text.as_bytes())
            }
            StreamFormat::Json => {
                for entry in results {
                    let comma = if self.first_result { "" } else { "," };
                    self.first_result = false;
                    write!(self.out, "{comma}\n    {}", pretty(entry, 4))?;
                }
                Ok(())
            }
        }
    }

    /// Writes `page`'s results and adds its counts, errors and notices to
    /// the totals. Errors: writing failed.
    pub fn page(&mut self, mut page: CheckReport) -> io::Result<()> {
        let results = std::mem::take(&mut page.results);
        self.write_results(&results)?;
        self.totals.merge(page);
        Ok(())
    }

    /// The totals so far (no results), for example to add an input error
    /// before [`StreamWriter::finish`].
    pub fn totals_mut(&mut self) -> &mut CheckReport {
        &mut self.totals
    }

    /// Writes the end of the report (the input errors, notices and summary)
    /// and returns the totals, from which the exit code is taken. Errors:
    /// writing failed.
    pub fn finish(mut self) -> io::Result<CheckReport> {
        let totals = &self.totals;
        match self.format {
            StreamFormat::Text { color } => {
                let mut text = String::new();
                totals.text_problems(color, &mut text);
                totals.text_summary(&mut text);
                self.out.write_all(text.as_bytes())?;
            }
            StreamFormat::Github => {
                let mut text = String::new();
                totals.github_problems(&mut text);
                self.out.write_all(text.as_bytes())?;
            }
            StreamFormat::Json => {
                let close = if self.first_result { "]" } else { "\n  ]" };
                write!(
                    self.out,
                    "{close},\n  \"summary\": {},\n  \"errors\": {},\n  \"notices\": {}\n}}\n",
                    pretty(&totals.summary, 2),
                    pretty(&totals.errors, 2),
                    pretty(&totals.notices, 2),
                )?;
            }
        }
        self.out.flush()?;
        Ok(self.totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResourceRef, ResultEntry, ResultKind, Summary, ViolationEntry};
    use wasm_validate_abi::Severity;
    use wasm_validate_pipeline::Action;

    fn entry(name: &str, result: ResultKind) -> ResultEntry {
        ResultEntry {
            resource: ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("load".into()),
                name: name.into(),
                file: "cluster".into(),
                document: if name == "a" { 1 } else { 2 },
                line: 1,
                item: None,
                helm_source: None,
            },
            policy: "host-namespaces".into(),
            severity: Severity::High,
            control: Some("Host Namespaces".into()),
            result,
            action: Action::Deny,
            violations: if result == ResultKind::Fail {
                vec![ViolationEntry {
                    message: "hostNetwork must not be true".into(),
                    path: "/spec/hostNetwork".into(),
                    line: None,
                }]
            } else {
                Vec::new()
            },
            exemption: None,
            exempted: Vec::new(),
            warnings: Vec::new(),
            patch: None,
            patch_applied: None,
            error: None,
            audit_annotations: Default::default(),
            logs: Vec::new(),
        }
    }

    fn report(results: Vec<ResultEntry>) -> CheckReport {
        let mut summary = Summary {
            resources: results.len(),
            evaluations: results.len(),
            ..Summary::default()
        };
        for r in &results {
            match r.result {
                ResultKind::Fail => {
                    summary.failed += 1;
                    summary.violations += r.violations.len();
                }
                _ => summary.passed += 1,
            }
        }
        CheckReport {
            api_version: crate::API_VERSION,
            kind: "CheckReport",
            summary,
            policies: Vec::new(),
            errors: Vec::new(),
            notices: Vec::new(),
            results,
            from_api_server: true,
        }
    }

    /// A head (no results) and two pages: a failing Pod `a`, and a passing
    /// Pod `b` with an input error.
    fn pieces() -> (CheckReport, CheckReport, CheckReport) {
        let mut second = report(vec![entry("b", ResultKind::Pass)]);
        second.add_input_error(
            "cluster",
            "cannot list daemonsets.apps: forbidden (403)".into(),
        );
        (
            report(Vec::new()),
            report(vec![entry("a", ResultKind::Fail)]),
            second,
        )
    }

    fn streamed(format: StreamFormat) -> (String, CheckReport) {
        let (head, first, second) = pieces();
        let mut out = Vec::new();
        let mut writer = StreamWriter::new(format, &mut out, head).unwrap();
        writer.page(first).unwrap();
        writer.page(second).unwrap();
        let totals = writer.finish().unwrap();
        (String::from_utf8(out).unwrap(), totals)
    }

    /// The whole report the pages make up, as the non-streamed formats see it.
    fn whole() -> CheckReport {
        let (mut head, first, second) = pieces();
        head.merge(first);
        head.merge(second);
        head
    }

    #[test]
    fn streamed_json_is_the_same_document() {
        let (text, totals) = streamed(StreamFormat::Json);
        let streamed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let whole: serde_json::Value = serde_json::from_str(&whole().json()).unwrap();
        assert_eq!(streamed, whole);
        assert_eq!(totals.summary.failed, 1);
        assert_eq!(totals.summary.passed, 1);
        assert!(totals.results.is_empty());
        assert_eq!(totals.exit_code(), crate::EXIT_ERROR);
    }

    #[test]
    fn streamed_json_without_results_is_valid() {
        let (head, _, _) = pieces();
        let mut out = Vec::new();
        StreamWriter::new(StreamFormat::Json, &mut out, head)
            .unwrap()
            .finish()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["results"], serde_json::json!([]));
    }

    #[test]
    fn streamed_text_and_github_have_the_same_lines() {
        let whole = whole();
        let (text, _) = streamed(StreamFormat::Text { color: false });
        let mut lines: Vec<&str> = text.lines().collect();
        let mut expected: Vec<String> = whole.text(false).lines().map(str::to_owned).collect();
        // Streamed, the input errors come after the results.
        lines.sort_unstable();
        expected.sort_unstable();
        assert_eq!(lines, expected);
        assert!(
            text.lines()
                .last()
                .unwrap()
                .starts_with("2 resources, 0 policies")
        );
        let (github, _) = streamed(StreamFormat::Github);
        assert_eq!(github, whole.github());
    }
}
