//! SARIF 2.1.0 output (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/>),
//! built with the `serde-sarif` types: one run of the tool `wasm-validate`,
//! one rule per policy that ran (with its description, source and severity),
//! one result per violation located at the file and line of the offending
//! field (else the resource's first line), and policy errors and unreadable
//! inputs as tool execution notifications.

use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, ReportingDescriptorReference, Result as SarifResult, ResultLevel, Run,
    SCHEMA_URL, Sarif, Tool, ToolComponent,
};
use wasm_validate_abi::Severity;

use crate::{CheckReport, ResourceRef, ResultKind};

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
            match entry.result {
                ResultKind::Fail => {
                    for violation in &entry.violations {
                        let mut text = violation.message.clone();
                        if !violation.path.is_empty() {
                            text.push_str(&format!(" (at {})", violation.path));
                        }
                        let mut result = SarifResult::builder()
                            .rule_id(entry.policy.clone())
                            .level(result_level(entry.severity))
                            .message(Message::builder().text(text).build())
                            .locations(vec![location(&entry.resource, violation.line)])
                            .build();
                        result.rule_index = rule_index(&entry.policy).map(|i| i as i64);
                        results.push(result);
                    }
                }
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
                ResultKind::Pass => {}
            }
        }
        for error in &self.errors {
            let mut physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(error.file.clone()).build())
                .build();
            physical.region = error
                .line
                .map(|line| Region::builder().start_line(line as i64).build());
            notifications.push(
                Notification::builder()
                    .message(Message::builder().text(error.message.clone()).build())
                    .level(serde_json::json!("error"))
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
