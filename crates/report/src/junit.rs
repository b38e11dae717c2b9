//! JUnit XML output, written with the `quick-junit` crate (from
//! cargo-nextest): one `<testsuite>` per policy that ran and one
//! `<testcase>` per resource it applied to, named `Kind/namespace/name`
//! with the file as `classname`. A denial is a `<failure>` whose text lists
//! every violation with its JSON Pointer and line; a policy that could not
//! evaluate the resource is an `<error>`; a result whose findings were all
//! exempted is `<skipped>` with the reason. Findings of `warn` and `audit`
//! policies do not fail the case: they are listed in its `<system-out>`. CI systems show each failing
//! (policy, resource) pair as a failed test.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use wasm_validate_pipeline::Action;

use crate::{CheckReport, ResultEntry, ResultKind};

/// One line per finding: `file:line: message (at pointer)`.
fn finding_lines(entry: &ResultEntry) -> Vec<String> {
    let r = &entry.resource;
    entry
        .violations
        .iter()
        .map(|v| {
            let line = v.line.unwrap_or(r.line);
            format!("{}:{line}: {} (at {})", r.file, v.message, v.path)
        })
        .collect()
}

impl CheckReport {
    /// The report as JUnit XML, ending with a newline.
    pub fn junit(&self) -> String {
        let mut report = Report::new("wasm-validate");
        for policy in &self.policies {
            let mut suite = TestSuite::new(policy.name.clone());
            for entry in self.results.iter().filter(|e| e.policy == policy.name) {
                let r = &entry.resource;
                let mut system_out = None;
                let status = match (entry.result, entry.action) {
                    (ResultKind::Pass, _) => TestCaseStatus::success(),
                    (ResultKind::Warn, _) | (ResultKind::Fail, Action::Audit) => {
                        system_out = Some(format!(
                            "{} ({}):\n{}",
                            entry.result.as_str(),
                            if entry.result == ResultKind::Warn {
                                "warn"
                            } else {
                                "audit"
                            },
                            finding_lines(entry).join("\n")
                        ));
                        TestCaseStatus::success()
                    }
                    (ResultKind::Skip, _) => {
                        let mut status = TestCaseStatus::skipped();
                        let reason = entry
                            .exemption
                            .as_ref()
                            .or(entry.exempted.first().map(|x| &x.exemption))
                            .map_or(String::new(), |e| format!("exempted: {}", e.reason));
                        status.set_message(reason);
                        status
                    }
                    (ResultKind::Fail, _) => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let lines = finding_lines(entry);
                        status
                            .set_message(
                                entry
                                    .violations
                                    .first()
                                    .map_or(String::new(), |v| v.message.clone()),
                            )
                            .set_type(format!("{:?}", entry.severity).to_lowercase())
                            .set_description(lines.join("\n"));
                        status
                    }
                    (ResultKind::Error, _) => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                        status.set_message(entry.error.clone().unwrap_or_default());
                        status
                    }
                };
                let mut case = TestCase::new(r.qualified_name(), status);
                if let Some(text) = system_out {
                    case.set_system_out(text);
                }
                case.set_classname(format!("{}:{}", r.file, r.line));
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        if !self.errors.is_empty() {
            let mut suite = TestSuite::new("inputs");
            for error in &self.errors {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(error.message.clone());
                let mut case = TestCase::new(error.file.clone(), status);
                if let Some(line) = error.line {
                    case.set_classname(format!("{}:{line}", error.file));
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        let mut out = report.to_string().expect("the JUnit report serializes");
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}
