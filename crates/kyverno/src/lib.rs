//! Kyverno's CEL policies, turned into the pipeline's policies: the one
//! home of everything Kyverno-specific.
//!
//! - [`Library`]: `ValidatingPolicy` objects (`policies.kyverno.io`,
//!   `v1alpha1`, `v1beta1` and `v1`) read from files. A ValidatingPolicy is
//!   shaped like a ValidatingAdmissionPolicy with its binding folded in
//!   (`matchConstraints`, `matchConditions`, `variables`, `validations`,
//!   `auditAnnotations`, `failurePolicy`, `validationActions`), so each is
//!   run through `wasm_validate_validating_admission_policy` by the
//!   built-in CEL runtime, with [`autogen`]'s rules for pod controllers.
//! - [`suite`]: `kyverno test` files (`cli.kyverno.io/v1alpha1` Test).
//!
//! Other Kyverno kinds (ClusterPolicy's YAML patterns, MutatingPolicy,
//! GeneratingPolicy, ImageValidatingPolicy, ...) are refused with a
//! message naming them.
#![forbid(unsafe_code)]

use serde_json::{Value, json};
use wasm_validate_abi::{Metadata, Severity};
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::Parsed;
use wasm_validate_pipeline::ConfiguredPolicy;
use wasm_validate_validating_admission_policy::{
    self as vap, AdmissionPolicy, Extras, Location, PolicySpec, VapError,
};

pub mod autogen;
pub mod suite;

/// The API group of Kyverno's CEL policies.
pub const GROUP: &str = "policies.kyverno.io";
/// The kind this crate runs.
pub const VALIDATING_POLICY: &str = "ValidatingPolicy";

/// A ValidatingPolicy as read.
#[derive(Debug, Clone)]
pub struct ValidatingPolicy {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations` (title, description, severity, category).
    pub annotations: serde_json::Map<String, Value>,
    /// `spec`, as written.
    pub spec: Value,
    /// Where it was read.
    pub location: Location,
}

/// The ValidatingPolicies read from the files given as policies.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// In reading order.
    pub policies: Vec<ValidatingPolicy>,
}

/// The `spec` keys of a ValidatingPolicy.
const SPEC_KEYS: [&str; 10] = [
    "validationActions",
    "evaluation",
    "matchConstraints",
    "matchConditions",
    "variables",
    "validations",
    "auditAnnotations",
    "failurePolicy",
    "autogen",
    "webhookConfiguration",
];

/// Whether `object` belongs to Kyverno's CEL policy group.
pub fn is_kyverno_policy(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .is_some_and(|(group, _)| group == GROUP || group == "kyverno.io")
}

fn at(location: &Location, message: impl std::fmt::Display) -> VapError {
    VapError(format!(
        "{}:{}: document {}: {message}",
        location.file, location.line, location.document
    ))
}

impl Library {
    /// Adds the ValidatingPolicies of a parsed file; returns how many it
    /// held. Errors: another Kyverno kind, a spec with a key a
    /// ValidatingPolicy does not have, a missing name.
    pub fn add_parsed(&mut self, parsed: &Parsed) -> Result<usize, VapError> {
        let mut taken = 0;
        for resource in &parsed.resources {
            let object = &resource.object;
            if !is_kyverno_policy(object) {
                continue;
            }
            let location = Location {
                file: resource.source.file.clone(),
                document: resource.source.document,
                line: resource.source.line,
            };
            let kind = object["kind"].as_str().unwrap_or_default();
            if kind != VALIDATING_POLICY
                || !object["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(GROUP)
            {
                return Err(at(
                    &location,
                    format!(
                        "{} {kind}: not supported (Kyverno's ValidatingPolicy is; docs/cel.md)",
                        object["apiVersion"].as_str().unwrap_or_default()
                    ),
                ));
            }
            let name = object["metadata"]["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| at(&location, "ValidatingPolicy: metadata.name is required"))?
                .to_owned();
            let spec = object.get("spec").cloned().unwrap_or(json!({}));
            if let Some(unknown) = spec
                .as_object()
                .and_then(|m| m.keys().find(|k| !SPEC_KEYS.contains(&k.as_str())))
            {
                return Err(at(
                    &location,
                    format!("ValidatingPolicy {name}: spec: unknown field `{unknown}`"),
                ));
            }
            self.policies.push(ValidatingPolicy {
                name,
                annotations: object["metadata"]["annotations"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                spec,
                location,
            });
            taken += 1;
        }
        Ok(taken)
    }

    /// One pipeline policy per ValidatingPolicy, reported under its name,
    /// run by the CEL runtime with its autogen variants.
    ///
    /// Errors: an invalid spec, `validationActions` the API server would
    /// refuse, an expression that does not compile, at the policy.
    pub fn policies(
        &self,
        engine: &Engine,
        runtime: &Policy,
    ) -> Result<Vec<ConfiguredPolicy>, VapError> {
        self.policies
            .iter()
            .map(|policy| configured(engine, runtime, policy))
            .collect()
    }
}

/// The pipeline policy of one ValidatingPolicy.
fn configured(
    engine: &Engine,
    runtime: &Policy,
    policy: &ValidatingPolicy,
) -> Result<ConfiguredPolicy, VapError> {
    let name = &policy.name;
    let actions: Vec<String> = serde_json::from_value(policy.spec["validationActions"].clone())
        .map_err(|e| {
            at(
                &policy.location,
                format!("ValidatingPolicy {name}: spec.validationActions: {e}"),
            )
        })?;
    let action = vap::action_of(&actions)
        .map_err(|e| at(&policy.location, format!("ValidatingPolicy {name}: {e}")))?;
    let (variants, targets) = autogen::variants(&policy.spec);
    // The VAP-shaped spec, with the autogen targets added to the match.
    let mut spec = serde_json::Map::new();
    for key in [
        "matchConstraints",
        "matchConditions",
        "variables",
        "validations",
        "auditAnnotations",
        "failurePolicy",
    ] {
        if let Some(value) = policy.spec.get(key) {
            spec.insert(key.to_owned(), value.clone());
        }
    }
    if !targets.is_empty() {
        let operations = policy.spec["matchConstraints"]["resourceRules"][0]["operations"].clone();
        let rules = spec
            .get_mut("matchConstraints")
            .and_then(|m| m.get_mut("resourceRules"))
            .and_then(Value::as_array_mut);
        if let Some(rules) = rules {
            for (api_version, kind) in &targets {
                let (group, version) = wasm_validate_abi::split_api_version(api_version);
                rules.push(json!({
                    "apiGroups": [group],
                    "apiVersions": [version],
                    "resources": [wasm_validate_abi::plural_of(kind)],
                    "operations": operations,
                }));
            }
        }
    }
    let spec: PolicySpec = serde_json::from_value(Value::Object(spec)).map_err(|e| {
        at(
            &policy.location,
            format!("ValidatingPolicy {name}: spec: {e}"),
        )
    })?;
    let admission_policy = AdmissionPolicy {
        name: name.clone(),
        spec,
        location: policy.location.clone(),
    };
    let metadata = metadata(policy, &admission_policy);
    vap::configured_policy(
        engine,
        runtime,
        &admission_policy,
        None,
        &Value::Null,
        name,
        action,
        &Extras {
            variants,
            metadata: Some(metadata),
            kind: Some(VALIDATING_POLICY),
            params_from_run: None,
        },
    )
}

/// The metadata of a ValidatingPolicy: its name, the title and description
/// of its `policies.kyverno.io/...` annotations, their severity, and the
/// rules of its match (autogen targets included).
fn metadata(policy: &ValidatingPolicy, admission: &AdmissionPolicy) -> Metadata {
    let annotation = |key: &str| {
        policy
            .annotations
            .get(&format!("policies.kyverno.io/{key}"))
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
    };
    let description = match (annotation("title"), annotation("description")) {
        (Some(title), Some(description)) => format!("{title}: {description}"),
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => format!("Kyverno ValidatingPolicy {}", policy.name),
    };
    let severity = match annotation("severity").as_deref() {
        Some("critical" | "high") => Severity::High,
        Some("low" | "info") => Severity::Low,
        _ => Severity::Medium,
    };
    Metadata {
        description,
        severity,
        category: Some("kyverno".into()),
        references: vec!["https://kyverno.io/docs/policy-types/validating-policy/".to_owned()],
        ..vap::metadata(admission, None)
    }
}

/// The built-in CEL runtime (as `wasm_validate_validating_admission_policy`
/// loads it).
pub fn load_runtime(engine: &Engine) -> Policy {
    vap::load_runtime(engine)
}
