//! The pipeline: runs a [`PolicySet`] over resources, in parallel with rayon.
//!
//! For each resource, as admission control does: the mutating policies run
//! first, in configuration order, each seeing the patches of the ones before;
//! then the validating policies see the mutated object. A policy is called only
//! for resources its metadata's rules match. Results come back in input order,
//! then policy (configuration) order, identical for any number of threads.
//!
//! A patch may not change what identifies a resource (`apiVersion`, `kind`,
//! `metadata.name`, `metadata.namespace`) nor Helm 4's
//! `postrenderer.helm.sh/postrender-filename` annotation; such a patch, or one
//! that does not apply, is an error result for that policy and is not applied.
#![forbid(unsafe_code)]

use serde_json::Value;
use wasm_validate_abi::{Patch, Violation};
use wasm_validate_engine::{Engine, Evaluation, LogRecord, Policy};
use wasm_validate_manifest::{HELM_POSTRENDER_FILENAME, Resource};

/// A policy with the settings it runs with.
#[derive(Debug, Clone)]
pub struct ConfiguredPolicy {
    /// The loaded policy.
    pub policy: Policy,
    /// Its settings object (`{}` when none).
    pub settings: Value,
    request_prefix: Vec<u8>,
}

impl ConfiguredPolicy {
    /// Pairs a policy with its settings, without checking them against the
    /// policy's schema (see [`ConfiguredPolicy::configure`]). The request
    /// prefix (`{"operation":"CREATE","settings":...,"object":`) is encoded
    /// once here.
    pub fn new(policy: Policy, settings: Value) -> Self {
        let mut request_prefix = br#"{"operation":"CREATE","settings":"#.to_vec();
        serde_json::to_writer(&mut request_prefix, &settings).expect("a JSON value encodes");
        request_prefix.extend_from_slice(br#","object":"#);
        ConfiguredPolicy {
            policy,
            settings,
            request_prefix,
        }
    }

    /// Pairs a policy with its settings after validating them against the
    /// JSON Schema in the policy's metadata (`settingsSchema`, validated with
    /// the `jsonschema` crate). A policy without a schema takes no settings:
    /// anything but `{}` is refused. Errors name each offending setting by
    /// its JSON Pointer.
    pub fn configure(policy: Policy, settings: Value) -> Result<Self, SettingsError> {
        validate_settings(policy.metadata(), &settings)?;
        Ok(ConfiguredPolicy::new(policy, settings))
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        self.policy.name()
    }
}

/// Settings that do not satisfy a policy's schema: the policy's name and one
/// message per problem (`/registries: [] has less than 1 item`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The policy.
    pub policy: String,
    /// The problems, each led by the JSON Pointer of the setting.
    pub problems: Vec<String>,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "policy {}: invalid settings: {}",
            self.policy,
            self.problems.join("; ")
        )
    }
}

impl std::error::Error for SettingsError {}

/// Validates `settings` against `metadata.settings_schema` (see
/// [`ConfiguredPolicy::configure`]).
pub fn validate_settings(
    metadata: &wasm_validate_abi::Metadata,
    settings: &Value,
) -> Result<(), SettingsError> {
    let error = |problems: Vec<String>| SettingsError {
        policy: metadata.name.clone(),
        problems,
    };
    let Some(schema) = &metadata.settings_schema else {
        return match settings {
            Value::Object(map) if map.is_empty() => Ok(()),
            _ => Err(error(vec!["this policy takes no settings".to_owned()])),
        };
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        error(vec![format!(
            "the policy's settings schema is invalid: {e}"
        )])
    })?;
    let problems: Vec<String> = validator
        .iter_errors(settings)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() { "/" } else { path.as_str() };
            format!("{at}: {e}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(error(problems))
    }
}

/// The policies of a run, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The policies; a result's `policy` field indexes this list.
    pub policies: Vec<ConfiguredPolicy>,
}

/// What one policy said about one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Allowed (a mutating policy's patch, if any, is in [`PolicyResult::patch`]).
    Pass,
    /// Denied, with the reasons.
    Fail(Vec<Violation>),
    /// The policy could not evaluate the resource: the cause.
    Error(String),
}

/// The result of one policy on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyResult {
    /// Index of the policy in [`PolicySet::policies`].
    pub policy: usize,
    /// Pass, fail or error.
    pub outcome: Outcome,
    /// Warnings the policy gave (they do not deny).
    pub warnings: Vec<String>,
    /// The RFC 6902 patch a mutating policy applied, if any.
    pub patch: Option<Patch>,
    /// Messages the policy logged.
    pub logs: Vec<LogRecord>,
    /// Fuel the evaluation used (0 when it failed).
    pub fuel_used: u64,
}

/// Runs every applicable policy on every resource, on `threads` threads
/// (at least 1). Mutations are applied to the resources in place and mark
/// them `modified`. Returns one list of results per resource, in input order,
/// each in policy order; policies that do not apply to a resource are absent.
pub fn run(
    engine: &Engine,
    set: &PolicySet,
    resources: &mut [Resource],
    threads: usize,
) -> Vec<Vec<PolicyResult>> {
    use rayon::prelude::*;
    let work = |resources: &mut [Resource]| -> Vec<Vec<PolicyResult>> {
        resources
            .par_iter_mut()
            .map(|resource| evaluate_resource(engine, set, resource))
            .collect()
    };
    if threads <= 1 {
        return resources
            .iter_mut()
            .map(|resource| evaluate_resource(engine, set, resource))
            .collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| work(resources)),
        Err(_) => work(resources),
    }
}

/// Evaluates every applicable policy on one resource: mutating ones first, in
/// order, then validating ones on the mutated object.
pub fn evaluate_resource(
    engine: &Engine,
    set: &PolicySet,
    resource: &mut Resource,
) -> Vec<PolicyResult> {
    let applicable: Vec<usize> = set
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.policy
                .metadata()
                .applies_to(resource.api_version(), resource.kind())
        })
        .map(|(index, _)| index)
        .collect();
    let mut results = Vec::with_capacity(applicable.len());
    let mut encoded: Option<Vec<u8>> = None;
    let (mutating, validating): (Vec<usize>, Vec<usize>) = applicable
        .iter()
        .partition(|&&index| set.policies[index].policy.metadata().mutating);
    for index in mutating.into_iter().chain(validating) {
        let configured = &set.policies[index];
        let object = encoded.get_or_insert_with(|| {
            serde_json::to_vec(&resource.object).expect("a JSON value encodes")
        });
        let mut request = Vec::with_capacity(configured.request_prefix.len() + object.len() + 1);
        request.extend_from_slice(&configured.request_prefix);
        request.extend_from_slice(object);
        request.push(b'}');
        let mut result = match engine.evaluate(&configured.policy, &request) {
            Ok(evaluation) => from_evaluation(index, evaluation),
            Err(error) => PolicyResult {
                policy: index,
                outcome: Outcome::Error(error.to_string()),
                warnings: Vec::new(),
                patch: None,
                logs: Vec::new(),
                fuel_used: 0,
            },
        };
        if let Some(patch) = result.patch.as_ref().filter(|p| !p.0.is_empty()) {
            match apply_patch(&resource.object, patch) {
                Ok(patched) => {
                    resource.object = patched;
                    resource.modified = true;
                    encoded = None;
                }
                Err(message) => {
                    result.outcome = Outcome::Error(message);
                    result.patch = None;
                }
            }
        }
        results.push(result);
    }
    results.sort_by_key(|r| r.policy);
    results
}

fn from_evaluation(policy: usize, evaluation: Evaluation) -> PolicyResult {
    let response = evaluation.response;
    PolicyResult {
        policy,
        outcome: if response.allowed {
            Outcome::Pass
        } else {
            Outcome::Fail(response.violations)
        },
        warnings: response.warnings,
        patch: response.patch,
        logs: evaluation.logs,
        fuel_used: evaluation.fuel_used,
    }
}

/// Applies an RFC 6902 patch (with json-patch) to a copy of `object`, and
/// checks that it keeps the resource's identity and Helm's annotation.
pub fn apply_patch(object: &Value, patch: &Patch) -> Result<Value, String> {
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch.0)
        .map_err(|e| format!("the policy's patch does not apply: {e}"))?;
    let guarded = [
        "/apiVersion".to_owned(),
        "/kind".to_owned(),
        "/metadata/name".to_owned(),
        "/metadata/namespace".to_owned(),
        format!(
            "/metadata/annotations/{}",
            wasm_validate_abi::escape_pointer_token(HELM_POSTRENDER_FILENAME)
        ),
    ];
    for pointer in &guarded {
        if object.pointer(pointer) != patched.pointer(pointer) {
            return Err(format!(
                "the policy's patch changes {pointer}, which a mutation may not change"
            ));
        }
    }
    if !patched["metadata"].is_object() && object["metadata"].is_object() {
        return Err("the policy's patch removes /metadata".to_owned());
    }
    Ok(patched)
}

#[cfg(test)]
mod tests;
