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
//!
//! Each configured policy has an [`Action`] and may be limited to some
//! resources ([`ResourceFilter`]); findings may be exempted by configuration
//! ([`Exemption`]) or by the resource's `wasm-validate.dev/ignore` annotation.
//! Exempted policies still run: their findings are kept in
//! [`PolicyResult::exempted`] with the reason, and their patches are not
//! applied.
#![forbid(unsafe_code)]

mod library;
mod policy_set;
mod run_objects;
mod schema_stage;
mod scope;

pub use policy_set::{
    ConfiguredPolicy, InLibrary, LibraryModule, PolicySet, Selector, SettingsError, Unloadable,
    validate_settings,
};
pub use run_objects::RunObjects;
pub use schema_stage::{
    CEL_PREPARE_FUEL, CrdRuleCache, SCHEMA_POLICY, SchemaStage, add_crds, check_crd_rules,
    check_crd_rules_in, check_schemas, load_cel_runtime,
};

pub use scope::{
    Action, Exempt, Exemption, ExemptionSource, FailurePolicy, Glob, IGNORE_ANNOTATION,
    IGNORE_REASON_ANNOTATION, LabelRequirement, LabelSelector, Namespaces, ResourceFilter,
    SelectorOperator, annotation_exemption, container_of, namespaces_of,
};

use serde_json::Value;
use wasm_validate_abi::{Operation, Patch, Violation, tape};
use wasm_validate_engine::{Context, Engine, Evaluation, LogRecord};
use wasm_validate_manifest::{HELM_POSTRENDER_FILENAME, Resource};

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
    /// The RFC 6902 patch a mutating policy returned, if any (what was
    /// applied when [`PolicyResult::patch_applied`]).
    pub patch: Option<Patch>,
    /// Whether the patch was applied (not when the policy is exempted for
    /// the resource or its action is `audit`).
    pub patch_applied: bool,
    /// When the whole resource is exempted from this policy: why. The
    /// policy's violations are then all in [`PolicyResult::exempted`].
    pub exemption: Option<Exempt>,
    /// Findings that were exempted, each with why: violations, and patch
    /// operations left out inside exempted containers.
    pub exempted: Vec<(Violation, Exempt)>,
    /// Messages the policy logged.
    pub logs: Vec<LogRecord>,
    /// Fuel the evaluation used (0 when it failed).
    pub fuel_used: u64,
    /// Audit annotations the policy gave (a ValidatingAdmissionPolicy's
    /// `auditAnnotations`), keyed `POLICY/KEY`.
    pub audit_annotations: std::collections::BTreeMap<String, String>,
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
    let prepared;
    let set = if set.needs_run_objects() {
        let read: Vec<&Resource> = resources.iter().collect();
        prepared = set.with_run_objects(engine, &read);
        &prepared
    } else {
        set
    };
    // Context-aware (Kubewarden) policies look up the other resources of the
    // run, as they were read; the copy is made only when one is configured.
    let context = if set.policies.iter().any(|p| p.policy.is_context_aware()) {
        Context::new(resources.iter().map(|r| r.object.clone()).collect())
    } else {
        Context::default()
    };
    let context = &context;
    let work = |resources: &mut [Resource]| -> Vec<Vec<PolicyResult>> {
        resources
            .par_iter_mut()
            .map(|resource| evaluate_resource(engine, set, resource, context))
            .collect()
    };
    if threads <= 1 {
        return resources
            .iter_mut()
            .map(|resource| evaluate_resource(engine, set, resource, context))
            .collect();
    }
    // Already on a pool of that size (the CLI runs a whole check on one).
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads {
        return work(resources);
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| work(resources)),
        Err(_) => work(resources),
    }
}

/// Evaluates every applicable policy on one resource: mutating ones first, in
/// order, then validating ones on the mutated object. Exemptions are applied
/// to each result (see [`PolicyResult::exempted`]). `context` holds the
/// run's resources for context-aware policies' lookups.
///
/// Inside a rayon pool (as [`run`] with more than one thread calls it), the
/// validating policies of the resource run in parallel, so that one large
/// resource, or a run over a single resource, uses every thread; their
/// results keep policy order. Outside a pool everything runs on the calling
/// thread.
pub fn evaluate_resource(
    engine: &Engine,
    set: &PolicySet,
    resource: &mut Resource,
    context: &Context,
) -> Vec<PolicyResult> {
    evaluate_admission(engine, set, resource, &Admission::default(), context)
}

/// What an admission request says about its resource besides the object
/// (`admission.k8s.io/v1` AdmissionRequest): the operation, and the object
/// as it was before an UPDATE or as it is before a DELETE. An offline run
/// is a CREATE with no old object ([`Admission::default`]).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// CREATE, UPDATE, DELETE or CONNECT; policies receive it in the ABI
    /// request (version 2's header, version 1's `operation`).
    pub operation: Operation,
    /// `oldObject` of the request, if any; version 2 policies receive it as
    /// the request's old-object section.
    pub old_object: Option<Value>,
}

/// [`evaluate_resource`] for an admission request: the same mutating then
/// validating order, exemptions and actions, with the request's operation
/// and old object passed to every policy through the ABI.
pub fn evaluate_admission(
    engine: &Engine,
    set: &PolicySet,
    resource: &mut Resource,
    admission: &Admission,
    context: &Context,
) -> Vec<PolicyResult> {
    use rayon::prelude::*;
    let applicable: Vec<usize> = set
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.applies_at(resource, admission.operation))
        .map(|(index, _)| index)
        .collect();
    let annotation = if set.ignore_annotations {
        None
    } else {
        annotation_exemption(&resource.object)
    };
    let (mutating, mut validating): (Vec<usize>, Vec<usize>) = applicable
        .iter()
        .partition(|&&index| set.policies[index].policy.metadata().mutating);
    // Each worker thread starts the validating policies at its own point of
    // the list (their results are sorted back into policy order below), so
    // that two threads checking two resources are not on the same policy
    // at the same time: the first evaluations of a policy translate its
    // functions, and wasmi makes a thread that needs a function another
    // thread is translating spin until it is done.
    if let Some(thread) = rayon::current_thread_index()
        && !validating.is_empty()
    {
        let len = validating.len();
        validating.rotate_left(thread * len / rayon::current_num_threads().max(1) % len);
    }
    let mut results = Vec::with_capacity(applicable.len());
    let fresh = || Encoded {
        operation: admission.operation,
        old_object: admission.old_object.as_ref(),
        ..Encoded::default()
    };
    let mut encoded = fresh();
    for index in mutating {
        encoded.prepare(&resource.object, [&set.policies[index]]);
        let Some(mut result) = evaluate_one(
            engine,
            set,
            index,
            resource,
            &encoded,
            annotation.as_ref(),
            context,
        ) else {
            continue;
        };
        let configured = &set.policies[index];
        let apply = result.exemption.is_none() && configured.action != Action::Audit;
        if let Some(patch) = result.patch.as_ref().filter(|p| apply && !p.0.is_empty()) {
            match apply_patch(&resource.object, patch) {
                Ok(patched) => {
                    resource.object = patched;
                    resource.modified = true;
                    result.patch_applied = true;
                    encoded = fresh();
                }
                Err(message) => {
                    result.outcome = Outcome::Error(message);
                    result.patch = None;
                }
            }
        }
        results.push(result);
    }
    if !validating.is_empty() {
        encoded.prepare(
            &resource.object,
            validating.iter().map(|&index| &set.policies[index]),
        );
        let (resource, encoded) = (&*resource, &encoded);
        let one = |&index: &usize| {
            evaluate_one(
                engine,
                set,
                index,
                resource,
                encoded,
                annotation.as_ref(),
                context,
            )
        };
        // The policies a library module holds run together in one instance
        // of it; any it could not answer (an error) run in their own module.
        let (in_library, alone) = library::partition(set, &validating);
        let (answered, again) = library::evaluate(
            engine,
            set,
            &in_library,
            resource,
            encoded,
            annotation.as_ref(),
            context,
        );
        results.extend(answered);
        let alone: Vec<usize> = alone.into_iter().chain(again).collect();
        if alone.len() > 1 && rayon::current_thread_index().is_some() {
            results.par_extend(alone.par_iter().filter_map(one));
        } else {
            results.extend(alone.iter().filter_map(one));
        }
    }
    results.sort_by_key(|r| r.policy);
    results
}

/// A resource's object encoded for the policies that read it: its JSON (ABI
/// version 1 and Kubewarden modules) and its tape (version 2), each made at
/// most once per state of the object and shared by every policy, with the
/// request's operation and old object.
#[derive(Default)]
struct Encoded<'o> {
    json: Option<Vec<u8>>,
    tape: Option<Vec<u8>>,
    operation: Operation,
    old_object: Option<&'o Value>,
    old_tape: Option<Vec<u8>>,
}

impl Encoded<'_> {
    /// Makes the forms that `policies` need and are not made yet.
    fn prepare<'a>(
        &mut self,
        object: &Value,
        policies: impl IntoIterator<Item = &'a ConfiguredPolicy>,
    ) {
        for configured in policies {
            if configured.policy.abi_version() == 2 {
                self.tape.get_or_insert_with(|| tape::encode(object));
                if let Some(old) = self.old_object {
                    self.old_tape.get_or_insert_with(|| tape::encode(old));
                }
            } else {
                self.json.get_or_insert_with(|| {
                    serde_json::to_vec(object).expect("a JSON value encodes")
                });
            }
        }
    }

    /// [`Encoded::request`] with the admission request's fields other than
    /// the objects in the settings' `review` member (version 2 modules).
    fn request_with_review(&self, configured: &ConfiguredPolicy, admission: &Value) -> Vec<u8> {
        let Some(object) = self
            .tape
            .as_deref()
            .filter(|_| configured.policy.abi_version() == 2)
        else {
            return self.request(configured);
        };
        let mut review = admission.as_object().cloned().unwrap_or_default();
        review.remove("object");
        review.remove("oldObject");
        let mut settings = configured.settings.clone();
        if let Value::Object(map) = &mut settings {
            map.insert("review".into(), Value::Object(review));
        }
        tape::request(
            self.operation,
            &tape::encode(&settings),
            object,
            self.old_tape.as_deref(),
        )
    }

    /// The request for one policy: its settings and the object, in the
    /// form its ABI takes ([`Encoded::prepare`] made it).
    fn request(&self, configured: &ConfiguredPolicy) -> Vec<u8> {
        if configured.policy.abi_version() == 2 {
            let object = self.tape.as_deref().expect("prepared");
            return tape::request(
                self.operation,
                &configured.settings_tape,
                object,
                self.old_tape.as_deref(),
            );
        }
        let object = self.json.as_deref().expect("prepared");
        let mut request = Vec::with_capacity(configured.request_prefix.len() + object.len() + 1);
        // The prefix names CREATE (`{"operation":"CREATE",...`); another
        // operation replaces that word.
        let create = br#"{"operation":"CREATE""#;
        match self.operation {
            Operation::Create => request.extend_from_slice(&configured.request_prefix),
            other => {
                request.extend_from_slice(br#"{"operation":""#);
                request.extend_from_slice(other.as_str().as_bytes());
                request.push(b'"');
                request.extend_from_slice(&configured.request_prefix[create.len()..]);
            }
        }
        request.extend_from_slice(object);
        request.push(b'}');
        request
    }
}

/// One policy on one resource (its object encoded in `encoded`), with the
/// exemptions that concern it applied; a patch is returned, not applied.
fn evaluate_one(
    engine: &Engine,
    set: &PolicySet,
    index: usize,
    resource: &Resource,
    encoded: &Encoded<'_>,
    annotation: Option<&(Vec<String>, Option<String>)>,
    context: &Context,
) -> Option<PolicyResult> {
    let configured = &set.policies[index];
    let request = match context.admission_request() {
        Some(admission) if configured.review_in_settings => {
            encoded.request_with_review(configured, admission)
        }
        _ => encoded.request(configured),
    };
    let evaluated = match &configured.unavailable {
        Some(error) => Err(error.clone()),
        None => engine
            .evaluate_in(&configured.policy, &request, context)
            .map_err(|e| e.to_string()),
    };
    conclude(set, index, resource, annotation, evaluated)
}

/// A policy's result from its evaluation (or the error that stopped it),
/// with the exemptions that concern it applied; `None` when the policy
/// found it does not apply.
fn conclude(
    set: &PolicySet,
    index: usize,
    resource: &Resource,
    annotation: Option<&(Vec<String>, Option<String>)>,
    evaluated: Result<Evaluation, String>,
) -> Option<PolicyResult> {
    let configured = &set.policies[index];
    let mut result = match evaluated {
        // The policy found it does not apply (a match condition is false):
        // as if its rules had left the resource out.
        Ok(evaluation) if evaluation.response.not_applicable => return None,
        Ok(evaluation) => from_evaluation(index, evaluation),
        Err(error) => PolicyResult {
            policy: index,
            outcome: Outcome::Error(error),
            warnings: Vec::new(),
            patch: None,
            patch_applied: false,
            exemption: None,
            exempted: Vec::new(),
            logs: Vec::new(),
            fuel_used: 0,
            audit_annotations: Default::default(),
        },
    };
    let exemptions = Exemptions::for_policy(set, configured, resource, annotation);
    exemptions.apply(&mut result, &resource.object);
    Some(result)
}

/// The exemptions that concern one policy on one resource.
struct Exemptions<'a> {
    /// The whole resource is exempted: why.
    whole: Option<Exempt>,
    /// Exemptions limited to some containers.
    containers: Vec<&'a Exemption>,
}

impl<'a> Exemptions<'a> {
    fn for_policy(
        set: &'a PolicySet,
        policy: &ConfiguredPolicy,
        resource: &Resource,
        annotation: Option<&(Vec<String>, Option<String>)>,
    ) -> Self {
        let from_annotation = annotation
            .filter(|(names, _)| names.iter().any(|n| policy.is_named(n)))
            .map(|(_, reason)| Exempt {
                reason: reason
                    .clone()
                    .unwrap_or_else(|| format!("no reason given ({IGNORE_REASON_ANNOTATION})")),
                source: ExemptionSource::Annotation,
            });
        let configured = set.exemptions.iter().filter(|e| {
            (e.policies.is_empty() || e.policies.iter().any(|n| policy.is_named(n)))
                && e.resources.matches(resource)
        });
        let (containers, whole): (Vec<&Exemption>, Vec<&Exemption>) =
            configured.partition(|e| !e.containers.is_empty());
        Exemptions {
            whole: from_annotation.or_else(|| whole.first().map(|e| e.exempt.clone())),
            containers,
        }
    }

    /// The exemption covering the container `path` points into, if any.
    fn for_path(&self, object: &Value, path: &str) -> Option<&Exempt> {
        let container = container_of(object, path)?;
        self.containers
            .iter()
            .find(|e| e.containers.iter().any(|g| g.matches(container)))
            .map(|e| &e.exempt)
    }

    /// Moves exempted violations (all of them when the whole resource is
    /// exempted) to `result.exempted`, and drops patch operations inside
    /// exempted containers.
    fn apply(&self, result: &mut PolicyResult, object: &Value) {
        if let Some(exempt) = &self.whole {
            result.exemption = Some(exempt.clone());
            if let Outcome::Fail(violations) = &mut result.outcome {
                result.exempted.extend(
                    std::mem::take(violations)
                        .into_iter()
                        .map(|v| (v, exempt.clone())),
                );
                result.outcome = Outcome::Pass;
            }
            return;
        }
        if self.containers.is_empty() {
            return;
        }
        if let Outcome::Fail(violations) = &mut result.outcome {
            let mut kept = Vec::new();
            for violation in std::mem::take(violations) {
                match self.for_path(object, &violation.path) {
                    Some(exempt) => result.exempted.push((violation, exempt.clone())),
                    None => kept.push(violation),
                }
            }
            result.outcome = if kept.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Fail(kept)
            };
        }
        if let Some(patch) = &mut result.patch {
            let mut kept = Vec::new();
            for operation in std::mem::take(&mut patch.0) {
                match self.for_path(object, operation.path().as_str()) {
                    Some(exempt) => result.exempted.push((
                        Violation {
                            message: format!(
                                "patch operation not applied: {} {}",
                                patch_op_name(&operation),
                                operation.path()
                            ),
                            path: operation.path().to_string(),
                        },
                        exempt.clone(),
                    )),
                    None => kept.push(operation),
                }
            }
            patch.0 = kept;
            if patch.0.is_empty() {
                result.patch = None;
            }
        }
    }
}

/// The `op` of an RFC 6902 operation (`add`, `remove`, ...).
pub fn patch_op_name(op: &wasm_validate_abi::PatchOperation) -> &'static str {
    use wasm_validate_abi::PatchOperation as Op;
    match op {
        Op::Add(_) => "add",
        Op::Remove(_) => "remove",
        Op::Replace(_) => "replace",
        Op::Move(_) => "move",
        Op::Copy(_) => "copy",
        Op::Test(_) => "test",
    }
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
        patch_applied: false,
        exemption: None,
        exempted: Vec::new(),
        logs: evaluation.logs,
        fuel_used: evaluation.fuel_used,
        audit_annotations: response.audit_annotations,
    }
}

/// Applies an RFC 6902 patch (with json-patch) to a copy of `object`, and
/// checks that it keeps the resource's identity and Helm's annotation.
pub fn apply_patch(object: &Value, patch: &Patch) -> Result<Value, String> {
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &patch.0)
        .map_err(|e| format!("the policy's patch does not apply: {e}"))?;
    if object["metadata"].is_object() && !patched["metadata"].is_object() {
        return Err("the policy's patch removes /metadata or makes it a non-mapping".to_owned());
    }
    let guarded = [
        "/apiVersion".to_owned(),
        "/kind".to_owned(),
        "/metadata/name".to_owned(),
        "/metadata/generateName".to_owned(),
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
    Ok(patched)
}

#[cfg(test)]
mod tests;
