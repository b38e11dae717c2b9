//! JUnit XML output, written with the `quick-junit` crate (from
//! cargo-nextest): one `<testsuite>` per policy that ran and one
//! `<testcase>` per resource it applied to, named `Kind/namespace/name`
//! with the file as `classname`. A denial is a `<failure>` whose text lists
//! every violation with its JSON Pointer and line; a policy that could not
//! evaluate the resource is an `<error>`. CI systems show each failing
//! (policy, resource) pair as a failed test.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::{CheckReport, ResultKind};

impl CheckReport {
    /// The report as JUnit XML, ending with a newline.
    pub fn junit(&self) -> String {
        let mut report = Report::new("wasm-validate");
        for policy in &self.policies {
            let mut suite = TestSuite::new(policy.name.clone());
            for entry in self.results.iter().filter(|e| e.policy == policy.name) {
                let r = &entry.resource;
                let status = match entry.result {
                    ResultKind::Pass => TestCaseStatus::success(),
                    ResultKind::Fail => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let lines: Vec<String> = entry
                            .violations
                            .iter()
                            .map(|v| {
                                let line = v.line.unwrap_or(r.line);
                                format!("{}:{line}: {} (at {})", r.file, v.message, v.path)
                            })
                            .collect();
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
                    ResultKind::Error => {
                        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                        status.set_message(entry.error.clone().unwrap_or_default());
                        status
                    }
                };
                let mut case = TestCase::new(r.qualified_name(), status);
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
