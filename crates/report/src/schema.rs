//! The schema stage's results in a report: reported like a policy's, under
//! the policy name [`SCHEMA_POLICY`], before the policies' results of each
//! resource. A resource the stage passes without a warning adds no entry
//! (kubeconform's reports list only invalid resources, too); the summary
//! counts every entry the stage adds.

use wasm_validate_abi::Severity;
use wasm_validate_manifest::Resource;
use wasm_validate_pipeline::{Action, SchemaStage};
use wasm_validate_schema::{Checked, Mode, Outcome};

use crate::{
    CheckReport, InputError, PolicyInfo, ResourceRef, ResultEntry, ResultKind, ViolationEntry,
};

pub use wasm_validate_pipeline::SCHEMA_POLICY;

impl CheckReport {
    /// Adds the schema stage's `outcomes` (one per resource, in the order
    /// of `resources`, which must be the resources the report was built
    /// from): an entry with the findings (`fail`, action `deny`) or the
    /// warnings (`pass`) of each resource that has any, before that
    /// resource's policy entries; a notice per resource whose kind has no
    /// schema (an input error, exit 2, in `strict` mode); and the `schema`
    /// policy first in [`CheckReport::policies`].
    pub fn add_schema_results(
        &mut self,
        stage: &SchemaStage,
        resources: &[Resource],
        outcomes: &[Outcome],
    ) {
        self.policies.insert(
            0,
            PolicyInfo {
                name: SCHEMA_POLICY.to_owned(),
                action: Action::Deny,
                description: format!(
                    "Kubernetes {} schemas and CRDs, checked as the API server does with fieldValidation=Strict: unknown fields, types, required fields, formats, enumerations, metadata names and labels, removed API versions",
                    stage.schemas.kubernetes_version()
                ),
                severity: Severity::High,
                mutating: false,
                category: Some(SCHEMA_POLICY.to_owned()),
                level: None,
                control: None,
                references: vec![
                    "https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation".to_owned(),
                    "https://kubernetes.io/docs/reference/using-api/deprecation-guide/".to_owned(),
                ],
            },
        );
        let same = |a: &ResourceRef, b: &ResourceRef| {
            (&a.file, a.document, a.item) == (&b.file, b.document, b.item)
        };
        let old = std::mem::take(&mut self.results);
        let mut old = old.into_iter().peekable();
        for (resource, outcome) in resources.iter().zip(outcomes) {
            let reference = ResourceRef::of(resource);
            if outcome.checked == Checked::NoSchema {
                let message = format!(
                    "no schema for {} {}: not a built-in kind of Kubernetes {} and no CustomResourceDefinition given (--crd-path); not checked",
                    reference.api_version,
                    reference.kind,
                    stage.schemas.kubernetes_version()
                );
                if stage.mode == Mode::Strict {
                    self.summary.input_errors += 1;
                    self.errors.push(InputError {
                        file: reference.file.clone(),
                        document: Some(reference.document),
                        line: Some(reference.line),
                        message: format!("{message} (--schema=strict)"),
                    });
                } else {
                    self.add_notice(&reference, message);
                }
            }
            if !outcome.findings.is_empty() || !outcome.warnings.is_empty() {
                let failed = !outcome.findings.is_empty();
                self.summary.evaluations += 1;
                if failed {
                    self.summary.failed += 1;
                } else {
                    self.summary.passed += 1;
                }
                self.summary.violations += outcome.findings.len();
                self.summary.warnings += outcome.warnings.len();
                self.results.push(ResultEntry {
                    resource: reference.clone(),
                    policy: SCHEMA_POLICY.to_owned(),
                    severity: Severity::High,
                    control: None,
                    result: if failed {
                        ResultKind::Fail
                    } else {
                        ResultKind::Pass
                    },
                    action: Action::Deny,
                    violations: outcome
                        .findings
                        .iter()
                        .map(|f| ViolationEntry {
                            message: f.message.clone(),
                            path: f.pointer.clone(),
                            line: None,
                        })
                        .collect(),
                    exemption: None,
                    exempted: Vec::new(),
                    warnings: outcome.warnings.clone(),
                    patch: None,
                    patch_applied: None,
                    error: None,
                    audit_annotations: Default::default(),
                    logs: Vec::new(),
                });
            }
            while old.peek().is_some_and(|e| same(&e.resource, &reference)) {
                self.results.extend(old.next());
            }
        }
        self.results.extend(old);
    }

    /// Keeps the first of notices with the same message (the schema
    /// stage's "no schema for KIND" is said once per kind, not per resource).
    pub fn dedupe_notices(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.notices.retain(|n| seen.insert(n.message.clone()));
        self.summary.notices = self.notices.len();
    }
}
