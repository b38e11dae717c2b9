//! SARIF 2.1.0 output (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/>),
//! built with the `serde-sarif` types: one run of the tool `wasm-validate`,
//! one rule per policy that ran (with its description, source and severity),
//! one result per violation located at the file and line of the offending
//! field (else the resource's first line), and policy errors, unreadable
//! inputs and notices as tool execution notifications.
//!
//! Levels: a `deny` policy's findings by severity (`error` for high and
//! critical, `warning` for medium, `note` for low and info), a `warn`
//! policy's as `warning`, an `audit` policy's as `note`. Exempted findings
//! are results with a suppression (`inSource` for an annotation, `external`
//! for the configuration) whose justification is the reason, so code
//! scanning shows them as dismissed.

use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, ReportingDescriptorReference, Result as SarifResult, ResultLevel, Run,
    SCHEMA_URL, Sarif, Suppression, Tool, ToolComponent,
};
use wasm_validate_abi::Severity;
use wasm_validate_pipeline::Action;

use crate::{CheckReport, ResourceRef, ResultEntry, ResultKind, ViolationEntry};

/// The SARIF level of a policy's findings: `error` for high and critical,
/// `warning` for medium, `note` for low and info.
fn result_level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

/// A location: the file and line, and the resource as a logical location.
fn location(resource: &ResourceRef, line: Option<usize>) -> Location {
    let line = line.unwrap_or(resource.line).max(1);
    Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(
                    ArtifactLocation::builder()
                        .uri(resource.file.clone())
                        .build(),
                )
                .region(Region::builder().start_line(line as i64).build())
                .build(),
        )
        .logical_locations(vec![
            LogicalLocation::builder()
                .fully_qualified_name(resource.qualified_name())
                .kind("resource")
                .build(),
        ])
        .build()
}

/// The level of `entry`'s findings, from its action and severity.
fn entry_level(entry: &ResultEntry) -> ResultLevel {
    match entry.action {
        Action::Deny => result_level(entry.severity),
        Action::Warn => ResultLevel::Warning,
        Action::Audit => ResultLevel::Note,
    }
}

/// A SARIF result for one finding of `entry`.
fn finding(
    entry: &ResultEntry,
    violation: &ViolationEntry,
    rule_index: Option<usize>,
) -> SarifResult {
    let mut text = violation.message.clone();
    if !violation.path.is_empty() {
        text.push_str(&format!(" (at {})", violation.path));
    }
    let mut result = SarifResult::builder()
        .rule_id(entry.policy.clone())
        .level(entry_level(entry))
        .message(Message::builder().text(text).build())
        .locations(vec![location(&entry.resource, violation.line)])
        .build();
    result.rule_index = rule_index.map(|i| i as i64);
    result
}

impl CheckReport {
    /// The report as SARIF 2.1.0 JSON, pretty-printed, ending with a newline.
    pub fn sarif(&self) -> String {
        let rules: Vec<ReportingDescriptor> = self
            .policies
            .iter()
            .map(|policy| {
                let mut tags = Vec::new();
                tags.extend(policy.category.clone());
                if let Some(level) = policy.level {
                    tags.push(format!("{level:?}").to_lowercase());
                }
                let properties = PropertyBag::builder()
                    .tags(tags)
                    .additional_properties(std::collections::BTreeMap::from([(
                        "severity".to_owned(),
                        serde_json::to_value(policy.severity).expect("severity encodes"),
                    )]))
                    .build();
                let mut rule = ReportingDescriptor::builder()
                    .id(policy.name.clone())
                    .short_description(
                        MultiformatMessageString::builder()
                            .text(
                                policy
                                    .control
                                    .clone()
                                    .unwrap_or_else(|| policy.name.clone()),
                            )
                            .build(),
                    )
                    .full_description(
                        MultiformatMessageString::builder()
                            .text(policy.description.clone())
                            .build(),
                    )
                    .default_configuration(
                        ReportingConfiguration::builder()
                            .level(
                                serde_json::to_value(result_level(policy.severity))
                                    .expect("a level encodes"),
                            )
                            .build(),
                    )
                    .properties(properties)
                    .build();
                rule.help_uri = policy.references.first().cloned();
                rule
            })
            .collect();
        let rule_index = |name: &str| self.policies.iter().position(|p| p.name == name);
        let mut results = Vec::new();
        let mut notifications = Vec::new();
        for entry in &self.results {
            let index = rule_index(&entry.policy);
            for violation in &entry.violations {
                results.push(finding(entry, violation, index));
            }
            for exempted in &entry.exempted {
                let mut result = finding(entry, &exempted.violation, index);
                let kind = match exempted.exemption.by {
                    "annotation" => "inSource",
                    _ => "external",
                };
                let mut suppression = Suppression::builder()
                    .kind(serde_json::json!(kind))
                    .justification(exempted.exemption.reason.clone())
                    .status(serde_json::json!("accepted"))
                    .build();
                if let Some(source) = &exempted.exemption.source {
                    suppression.properties = Some(
                        PropertyBag::builder()
                            .additional_properties(std::collections::BTreeMap::from([(
                                "source".to_owned(),
                                serde_json::json!(source),
                            )]))
                            .build(),
                    );
                }
                result.suppressions = Some(vec![suppression]);
                results.push(result);
            }
            match entry.result {
                ResultKind::Error => {
                    let text = format!(
                        "policy {} could not evaluate {}: {}",
                        entry.policy,
                        entry.resource.name,
                        entry.error.as_deref().unwrap_or_default()
                    );
                    notifications.push(
                        Notification::builder()
                            .message(Message::builder().text(text).build())
                            .level(serde_json::json!("error"))
                            .locations(vec![location(&entry.resource, None)])
                            .associated_rule(
                                ReportingDescriptorReference::builder()
                                    .id(entry.policy.clone())
                                    .build(),
                            )
                            .build(),
                    );
                }
                ResultKind::Pass | ResultKind::Fail | ResultKind::Warn | ResultKind::Skip => {}
            }
        }
        let problems = self
            .errors
            .iter()
            .map(|e| (e, "error"))
            .chain(self.notices.iter().map(|n| (n, "warning")));
        for (error, level) in problems {
            let mut physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(error.file.clone()).build())
                .build();
            physical.region = error
                .line
                .map(|line| Region::builder().start_line(line as i64).build());
            notifications.push(
                Notification::builder()
                    .message(Message::builder().text(error.message.clone()).build())
                    .level(serde_json::json!(level))
                    .locations(vec![
                        Location::builder().physical_location(physical).build(),
                    ])
                    .build(),
            );
        }
        let invocation = Invocation::builder()
            .execution_successful(self.summary.errors == 0 && self.summary.input_errors == 0)
            .tool_execution_notifications(notifications)
            .build();
        let driver = ToolComponent::builder()
            .name("wasm-validate")
            .version(env!("CARGO_PKG_VERSION"))
            .information_uri("https://github.com/wasm-validate/wasm-validate")
            .rules(rules)
            .build();
        let run = Run::builder()
            .tool(Tool::builder().driver(driver).build())
            .results(results)
            .invocations(vec![invocation])
            .build();
        let sarif = Sarif::builder()
            .schema(SCHEMA_URL)
            .version(serde_json::json!("2.1.0"))
            .runs(vec![run])
            .build();
        let mut out = serde_json::to_string_pretty(&sarif).expect("SARIF encodes");
        out.push('\n');
        out
    }
}
