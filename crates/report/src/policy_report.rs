//! `PolicyReport` and `ClusterPolicyReport` (`wgpolicyk8s.io/v1alpha2`, the
//! Kubernetes Policy working group's report API that Kyverno and others
//! install), as a YAML stream ready for `kubectl apply -f -`: one
//! PolicyReport per namespace and one ClusterPolicyReport for cluster-scoped
//! resources, each named `wasm-validate`. From a cluster audit, every
//! resource without a namespace is cluster-scoped; from files, the
//! well-known cluster-scoped kinds are and the rest go to `default`.
//!
//! A result is one (resource, policy) pair: `pass`, `fail` (a `deny` or
//! `audit` policy's findings, every violation in the message and the first
//! one's JSON Pointer and line in `properties`), `warn` (a `warn` policy's
//! findings, or a policy's warnings), `skip` (every finding exempted; the
//! reason in the message), or `error`. Timestamps are left out so that the
//! same input gives the same bytes.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wasm_validate_abi::Severity;

use crate::{CheckReport, ResultEntry, ResultKind};

/// API version of the reports.
pub const POLICY_REPORT_API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

/// Kinds that are cluster-scoped (they go into the ClusterPolicyReport);
/// any other resource without a namespace is reported in `default`, where
/// `kubectl apply` would create it.
const CLUSTER_SCOPED: [&str; 22] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "PodSecurityPolicy",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "ClusterIssuer",
];

/// The report API's severities are `high`, `medium` and `low`.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low | Severity::Info => "low",
    }
}

/// The report API's result of `entry`: pass, fail, warn, skip or error.
fn outcome(entry: &ResultEntry) -> &'static str {
    match entry.result {
        ResultKind::Pass if !entry.warnings.is_empty() => "warn",
        ResultKind::Pass => "pass",
        ResultKind::Skip => "skip",
        ResultKind::Fail | ResultKind::Warn => entry.result.as_str(),
        ResultKind::Error => "error",
    }
}

fn result(entry: &ResultEntry) -> Value {
    let r = &entry.resource;
    let mut resource = json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name});
    if let Some(namespace) = &r.namespace {
        resource["namespace"] = json!(namespace);
    }
    let mut properties = BTreeMap::from([("file".to_owned(), r.file.clone())]);
    // A ValidatingAdmissionPolicy's audit annotations, keyed `POLICY/KEY`.
    properties.extend(entry.audit_annotations.clone());
    let message = match entry.result {
        ResultKind::Pass => entry.warnings.join("; "),
        ResultKind::Skip => {
            let why = entry
                .exemption
                .as_ref()
                .or(entry.exempted.first().map(|x| &x.exemption));
            if let Some(why) = why {
                properties.insert("exemptedBy".to_owned(), why.by.to_owned());
            }
            why.map_or(String::new(), |e| format!("exempted: {}", e.reason))
        }
        ResultKind::Fail | ResultKind::Warn => {
            if let Some(first) = entry.violations.first() {
                properties.insert("path".to_owned(), first.path.clone());
                properties.insert("line".to_owned(), first.line.unwrap_or(r.line).to_string());
            }
            let messages: Vec<&str> = entry
                .violations
                .iter()
                .map(|v| v.message.as_str())
                .collect();
            messages.join("; ")
        }
        ResultKind::Error => entry.error.clone().unwrap_or_default(),
    };
    let mut out = json!({
        "policy": entry.policy,
        "result": outcome(entry),
        "severity": severity(entry.severity),
        "source": "wasm-validate",
        "scored": true,
        "resources": [resource],
        "properties": properties,
    });
    if let Some(control) = &entry.control {
        out["rule"] = json!(control);
    }
    if !message.is_empty() {
        out["message"] = json!(message);
    }
    out
}

impl CheckReport {
    /// The results grouped by report: `None` is the ClusterPolicyReport,
    /// `Some(namespace)` a namespace's PolicyReport; in order.
    fn by_scope(&self) -> BTreeMap<Option<&str>, Vec<&ResultEntry>> {
        let mut by_scope: BTreeMap<Option<&str>, Vec<&ResultEntry>> = BTreeMap::new();
        for entry in &self.results {
            let r = &entry.resource;
            let scope = match &r.namespace {
                Some(namespace) => Some(namespace.as_str()),
                None if self.from_api_server || CLUSTER_SCOPED.contains(&r.kind.as_str()) => None,
                None => Some("default"),
            };
            by_scope.entry(scope).or_default().push(entry);
        }
        by_scope
    }

    /// The results as a YAML stream of PolicyReports (one per namespace,
    /// in order) and a ClusterPolicyReport, documents introduced by `---`.
    pub fn policy_report_yaml(&self) -> String {
        let mut out = Vec::new();
        self.write_policy_report_yaml(&mut out)
            .expect("writing to memory succeeds");
        String::from_utf8(out).expect("YAML is UTF-8")
    }

    /// [`CheckReport::policy_report_yaml`] written to `out` as it is made:
    /// each result is encoded on its own, so memory does not hold the whole
    /// output. Errors: writing to `out` failed.
    pub fn write_policy_report_yaml(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for (namespace, entries) in self.by_scope() {
            let mut summary = BTreeMap::from([
                ("pass", 0),
                ("fail", 0),
                ("warn", 0),
                ("error", 0),
                ("skip", 0),
            ]);
            for entry in &entries {
                *summary.entry(outcome(entry)).or_default() += 1;
            }
            let mut metadata = json!({
                "name": "wasm-validate",
                "labels": {"app.kubernetes.io/managed-by": "wasm-validate"},
            });
            let kind = match namespace {
                Some(namespace) => {
                    metadata["namespace"] = json!(namespace);
                    "PolicyReport"
                }
                None => "ClusterPolicyReport",
            };
            let head = json!({
                "apiVersion": POLICY_REPORT_API_VERSION,
                "kind": kind,
                "metadata": metadata,
                "summary": summary,
            });
            out.write_all(b"---\n")?;
            out.write_all(
                serde_yaml::to_string(&head)
                    .expect("a report encodes as YAML")
                    .as_bytes(),
            )?;
            if entries.is_empty() {
                out.write_all(b"results: []\n")?;
                continue;
            }
            out.write_all(b"results:\n")?;
            for entry in entries {
                let item = serde_yaml::to_string(&result(entry)).expect("a result encodes as YAML");
                // A block sequence item: "- " before the first line, two
                // spaces before the others (block scalars keep their
                // relative indentation).
                for (i, line) in item.lines().enumerate() {
                    let indent = if i == 0 { "- " } else { "  " };
                    writeln!(out, "{indent}{line}")?;
                }
            }
        }
        Ok(())
    }
}
