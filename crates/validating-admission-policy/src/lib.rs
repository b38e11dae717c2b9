//! Kubernetes' ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
//! (`admissionregistration.k8s.io/v1`, also `v1beta1`), turned into the
//! pipeline's policies: the one home of everything about them.
//!
//! Semantics follow
//! <https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/>:
//!
//! - A policy runs through its bindings: one pipeline policy per binding
//!   (and per parameter resource the binding selects). A policy with no
//!   binding among the objects given is run as if bound with
//!   `validationActions: [Deny]` and no parameters: giving it is asking
//!   for it (as `kyverno apply` runs an unbound policy); its description
//!   says so.
//! - `spec.matchConstraints.resourceRules` become the policy's rules (API
//!   groups, versions, plural resources, operations; subresources are not
//!   admitted offline and are left out); `excludeResourceRules`,
//!   `namespaceSelector`, `objectSelector`, `resourceNames` and the
//!   binding's `matchResources` are its [`selector::VapSelector`].
//! - `validationActions` map to actions: `Deny` to deny, `Warn` to warn,
//!   `Audit` to audit (`Deny` with `Warn` is refused, as the API server
//!   refuses it). `failurePolicy` (default `Fail`) is the failure policy.
//! - `variables`, `matchConditions`, `validations` (with `message`,
//!   `messageExpression` and `fieldPath`) and the parameter resource are
//!   evaluated by the built-in CEL runtime (`runtimes/cel`), never by the
//!   host.
//! - Parameters (`paramKind` and the binding's `paramRef`) are found among
//!   the objects given with the policies, by name (and namespace when the
//!   reference gives one) or by selector, else among the run's objects
//!   ([`ParamLookup`]: the inputs, or what a cluster audit reads);
//!   `parameterNotFoundAction: Deny` (the default) denies every matched
//!   resource with the API server's message, `Allow` runs nothing.
//!
//! - `auditAnnotations` are evaluated by the CEL runtime for every
//!   resource the policy applies to, keyed `POLICY/KEY` as the API server
//!   keys them; they are reported with the result and, at admission, added
//!   to the AdmissionResponse's `auditAnnotations`.
//!
//! Not available: the authorizer. `namespaceObject` offline is the
//! Namespace among the run's objects, or one with only its name.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use wasm_validate_abi::{Metadata, Rule, Severity};
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::Parsed;
use wasm_validate_pipeline::{Action, ConfiguredPolicy, FailurePolicy, LabelSelector};

mod params;
pub use params::ParamLookup;
use params::matching_params;
pub mod selector;

pub use selector::{MatchResources, NamedRule, VapSelector};

/// The API group of both kinds.
pub const GROUP: &str = "admissionregistration.k8s.io";
/// The policy's kind.
pub const POLICY_KIND: &str = "ValidatingAdmissionPolicy";
/// The binding's kind.
pub const BINDING_KIND: &str = "ValidatingAdmissionPolicyBinding";

/// Where an object was read.
#[derive(Debug, Clone)]
pub struct Location {
    /// The file as the user named it.
    pub file: Arc<str>,
    /// 1-based document.
    pub document: usize,
    /// 1-based line of the document's start.
    pub line: usize,
}

/// An object that is not a valid policy or binding, or a policy set that
/// does not hold together: `file:line: document N: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VapError(pub String);

impl VapError {
    fn at(location: &Location, message: impl fmt::Display) -> VapError {
        VapError(format!(
            "{}:{}: document {}: {message}",
            location.file, location.line, location.document
        ))
    }
}

impl fmt::Display for VapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VapError {}

/// `spec.paramKind`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamKind {
    /// `group/version` of the parameter resource.
    pub api_version: String,
    /// Its kind.
    pub kind: String,
}

/// A ValidatingAdmissionPolicy's `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// The kind of its parameter resource, if it takes one.
    #[serde(default)]
    pub param_kind: Option<ParamKind>,
    /// What it applies to.
    #[serde(default)]
    pub match_constraints: Option<MatchResources>,
    /// The validations, as the CEL runtime takes them.
    #[serde(default)]
    pub validations: Vec<Value>,
    /// `Fail` (default) or `Ignore`.
    #[serde(default)]
    pub failure_policy: Option<String>,
    /// `[{key, valueExpression}]`.
    #[serde(default)]
    pub audit_annotations: Vec<AuditAnnotation>,
    /// `[{name, expression}]`.
    #[serde(default)]
    pub match_conditions: Vec<Value>,
    /// `[{name, expression}]`.
    #[serde(default)]
    pub variables: Vec<Value>,
}

/// One of a policy's `spec.auditAnnotations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditAnnotation {
    /// A qualified name of at most 63 characters, unique in the policy;
    /// the annotation is keyed `POLICY/KEY`.
    pub key: String,
    /// A CEL expression giving the value: a string, or `null` for none.
    pub value_expression: String,
}

/// The longest `valueExpression` the API server takes, in bytes.
pub const MAX_AUDIT_EXPRESSION_BYTES: usize = 5 * 1024;

/// Whether `key` is a qualified name's name part, as the API server wants
/// an audit annotation key: at most 63 characters, alphanumerics, `-`,
/// `_` and `.`, starting and ending with an alphanumeric.
fn is_annotation_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A ValidatingAdmissionPolicy.
#[derive(Debug, Clone)]
pub struct AdmissionPolicy {
    /// `metadata.name`.
    pub name: String,
    /// Its spec.
    pub spec: PolicySpec,
    /// Where it was read.
    pub location: Location,
}

/// A binding's `spec.paramRef`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParamRef {
    /// The parameter resource's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its namespace (any namespace offline when not given).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A selector over parameter resources' labels, instead of a name.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    /// `Deny` (default) or `Allow` when no parameter resource is found.
    #[serde(default)]
    pub parameter_not_found_action: Option<String>,
}

/// A ValidatingAdmissionPolicyBinding's `spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingSpec {
    /// The policy it binds.
    pub policy_name: String,
    /// Its parameters.
    #[serde(default)]
    pub param_ref: Option<ParamRef>,
    /// What the binding further restricts the policy to.
    #[serde(default)]
    pub match_resources: Option<MatchResources>,
    /// `Deny`, `Warn`, `Audit`.
    #[serde(default)]
    pub validation_actions: Vec<String>,
}

/// A ValidatingAdmissionPolicyBinding.
#[derive(Debug, Clone)]
pub struct Binding {
    /// `metadata.name`.
    pub name: String,
    /// Its spec.
    pub spec: BindingSpec,
    /// Where it was read.
    pub location: Location,
}

/// The policies, bindings and other objects (candidate parameter
/// resources) read from the files given as policies.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// The policies, in reading order.
    pub policies: Vec<AdmissionPolicy>,
    /// The bindings, in reading order.
    pub bindings: Vec<Binding>,
    /// Every other object read (parameter resources).
    pub objects: Vec<Value>,
}

/// Whether `object` is a ValidatingAdmissionPolicy or a binding.
pub fn is_vap_object(object: &Value) -> bool {
    let group = object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map(|(group, _)| group);
    group == Some(GROUP) && matches!(object["kind"].as_str(), Some(POLICY_KIND | BINDING_KIND))
}

impl Library {
    /// Adds the policies and bindings of a parsed file (and keeps its
    /// other objects as candidate parameters); returns how many policies
    /// and bindings it held. Errors: a policy or binding whose spec is not
    /// valid (an unknown field, a wrong type, a missing name).
    pub fn add_parsed(&mut self, parsed: &Parsed) -> Result<usize, VapError> {
        let mut taken = 0;
        for resource in &parsed.resources {
            let object = &resource.object;
            let location = Location {
                file: resource.source.file.clone(),
                document: resource.source.document,
                line: resource.source.line,
            };
            let group = object["apiVersion"]
                .as_str()
                .and_then(|v| v.split_once('/'))
                .map(|(g, _)| g);
            let kind = object["kind"].as_str().unwrap_or_default();
            if group == Some(GROUP) && kind.starts_with("MutatingAdmissionPolicy") {
                return Err(VapError::at(
                    &location,
                    format!(
                        "{kind}: not supported: its mutations (ApplyConfiguration and JSONPatch built in CEL) need typed object construction the CEL runtime does not have (docs/cel.md); ValidatingAdmissionPolicy is supported"
                    ),
                ));
            }
            if !is_vap_object(object) {
                self.objects.push(object.clone());
                continue;
            }
            let name = object["metadata"]["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    VapError::at(&location, format!("{kind}: metadata.name is required"))
                })?
                .to_owned();
            let spec = object.get("spec").cloned().unwrap_or(json!({}));
            let invalid =
                |e: serde_json::Error| VapError::at(&location, format!("{kind} {name}: spec: {e}"));
            if kind == POLICY_KIND {
                let spec: PolicySpec = serde_json::from_value(spec).map_err(invalid)?;
                self.policies.push(AdmissionPolicy {
                    name,
                    spec,
                    location,
                });
            } else {
                let spec: BindingSpec = serde_json::from_value(spec).map_err(invalid)?;
                self.bindings.push(Binding {
                    name,
                    spec,
                    location,
                });
            }
            taken += 1;
        }
        Ok(taken)
    }

    /// Checks what the API server checks when the objects are created, and
    /// that the set holds together. Errors, each at its object: a policy
    /// with neither validations nor audit annotations, an unknown
    /// `failurePolicy`, a binding naming no policy given, empty or unknown
    /// `validationActions`, `Deny` with `Warn`, a `paramRef` on a policy
    /// without `paramKind` or with neither name nor selector.
    pub fn check(&self) -> Result<(), Vec<VapError>> {
        let mut errors = Vec::new();
        for policy in &self.policies {
            let at = |message: String| {
                VapError::at(
                    &policy.location,
                    format!("{POLICY_KIND} {}: {message}", policy.name),
                )
            };
            if policy.spec.validations.is_empty() && policy.spec.audit_annotations.is_empty() {
                errors.push(at(
                    "spec.validations: one of validations or auditAnnotations is required"
                        .to_owned(),
                ));
            }
            let mut keys: Vec<&str> = Vec::new();
            for (i, annotation) in policy.spec.audit_annotations.iter().enumerate() {
                let key = annotation.key.as_str();
                if !is_annotation_key(key) {
                    errors.push(at(format!(
                        "spec.auditAnnotations[{i}].key: Invalid value: {key:?}: a qualified name of at most 63 characters (alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric)"
                    )));
                } else if keys.contains(&key) {
                    errors.push(at(format!(
                        "spec.auditAnnotations[{i}].key: Duplicate value: {key:?}"
                    )));
                }
                keys.push(key);
                let expression = annotation.value_expression.trim();
                if expression.is_empty() {
                    errors.push(at(format!(
                        "spec.auditAnnotations[{i}].valueExpression: Required value"
                    )));
                } else if expression.len() > MAX_AUDIT_EXPRESSION_BYTES {
                    errors.push(at(format!(
                        "spec.auditAnnotations[{i}].valueExpression: Too long: may not be more than {MAX_AUDIT_EXPRESSION_BYTES} bytes"
                    )));
                }
            }
            if let Some(other) = policy
                .spec
                .failure_policy
                .as_deref()
                .filter(|f| !matches!(*f, "Fail" | "Ignore"))
            {
                errors.push(at(format!(
                    "spec.failurePolicy: Unsupported value: {other:?}: supported values: \"Fail\", \"Ignore\""
                )));
            }
        }
        for binding in &self.bindings {
            let at = |message: String| {
                VapError::at(
                    &binding.location,
                    format!("{BINDING_KIND} {}: {message}", binding.name),
                )
            };
            let policy = self
                .policies
                .iter()
                .find(|p| p.name == binding.spec.policy_name);
            if policy.is_none() {
                errors.push(at(format!(
                    "spec.policyName: no {POLICY_KIND} {:?} among the policies given",
                    binding.spec.policy_name
                )));
            }
            if let Err(message) = action_of(&binding.spec.validation_actions) {
                errors.push(at(message));
            }
            if let Some(param_ref) = &binding.spec.param_ref {
                if param_ref.name.is_none() == param_ref.selector.is_none() {
                    errors.push(at(
                        "spec.paramRef: exactly one of name or selector is required".to_owned(),
                    ));
                }
                if policy.is_some_and(|p| p.spec.param_kind.is_none()) {
                    errors.push(at(format!(
                        "spec.paramRef: {POLICY_KIND} {} has no paramKind",
                        binding.spec.policy_name
                    )));
                }
                if let Some(other) = param_ref
                    .parameter_not_found_action
                    .as_deref()
                    .filter(|a| !matches!(*a, "Deny" | "Allow"))
                {
                    errors.push(at(format!(
                        "spec.paramRef.parameterNotFoundAction: Unsupported value: {other:?}: supported values: \"Allow\", \"Deny\""
                    )));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The parameter resources `binding` selects for `policy`.
    fn params_for(&self, policy: &AdmissionPolicy, binding: &Binding) -> Vec<&Value> {
        let (Some(kind), Some(param_ref)) = (&policy.spec.param_kind, &binding.spec.param_ref)
        else {
            return Vec::new();
        };
        matching_params(self.objects.iter(), kind, param_ref)
    }

    /// One policy per binding (per parameter resource it selects, when more
    /// than one), in reading order, each the CEL runtime prepared with the
    /// policy's expressions and parameters; unbound policies run as if
    /// bound with `validationActions: [Deny]`. Reported as the policy's
    /// name, `POLICY/BINDING` when it has several bindings, with
    /// `/PARAM` added when a binding selects several parameter resources.
    /// Call [`Library::check`] first.
    ///
    /// Errors: an expression that does not compile, or calls a function the
    /// runtime lacks, at its policy (`spec.validations[0].expression: ...`).
    pub fn policies(
        &self,
        engine: &Engine,
        runtime: &Policy,
    ) -> Result<Vec<ConfiguredPolicy>, VapError> {
        let mut out = Vec::new();
        for policy in &self.policies {
            let bindings: Vec<&Binding> = self
                .bindings
                .iter()
                .filter(|b| b.spec.policy_name == policy.name)
                .collect();
            if bindings.is_empty() {
                out.push(configured_policy(
                    engine,
                    runtime,
                    policy,
                    None,
                    &Value::Null,
                    &policy.name,
                    Action::Deny,
                    &Extras::default(),
                )?);
                continue;
            }
            for binding in &bindings {
                let base_id = if bindings.len() == 1 {
                    policy.name.clone()
                } else {
                    format!("{}/{}", policy.name, binding.name)
                };
                let action = action_of(&binding.spec.validation_actions)
                    .map_err(|e| VapError::at(&binding.location, e))?;
                let params = self.params_for(policy, binding);
                let needs_params = binding.spec.param_ref.is_some();
                if needs_params && params.is_empty() {
                    // Not among the policy files: looked for among the
                    // run's objects (the inputs, or what a cluster audit
                    // reads), when the run prepares its policies.
                    let (Some(kind), Some(param_ref)) =
                        (&policy.spec.param_kind, &binding.spec.param_ref)
                    else {
                        continue;
                    };
                    let lookup = ParamLookup {
                        kind: kind.clone(),
                        param_ref: param_ref.clone(),
                        binding: binding.name.clone(),
                        program: full_program(policy, &Value::Null),
                        missing: program(policy, Some(binding), &Value::Null),
                        allow_missing: param_ref.parameter_not_found_action.as_deref()
                            == Some("Allow"),
                    };
                    out.push(configured_policy(
                        engine,
                        runtime,
                        policy,
                        Some(binding),
                        &Value::Null,
                        &base_id,
                        action,
                        &Extras {
                            params_from_run: Some(lookup),
                            ..Extras::default()
                        },
                    )?);
                    continue;
                }
                let params: Vec<&Value> = if needs_params {
                    params
                } else {
                    vec![&Value::Null]
                };
                let several = params.len() > 1;
                for param in params {
                    let id = match param["metadata"]["name"].as_str() {
                        Some(name) if several => format!("{base_id}/{name}"),
                        _ => base_id.clone(),
                    };
                    out.push(configured_policy(
                        engine,
                        runtime,
                        policy,
                        Some(binding),
                        param,
                        &id,
                        action,
                        &Extras::default(),
                    )?);
                }
            }
        }
        Ok(out)
    }
}

/// The action `validationActions` ask for: `Deny` wins over `Audit`,
/// `Warn` over `Audit`. Errors as the API server's: empty, an unknown
/// action, a repeated one, or `Deny` with `Warn`.
pub fn action_of(actions: &[String]) -> Result<Action, String> {
    if actions.is_empty() {
        return Err(
            "spec.validationActions: Required value: at least one validation action is required"
                .to_owned(),
        );
    }
    for (i, action) in actions.iter().enumerate() {
        if !matches!(action.as_str(), "Deny" | "Warn" | "Audit") {
            return Err(format!(
                "spec.validationActions[{i}]: Unsupported value: {action:?}: supported values: \"Audit\", \"Deny\", \"Warn\""
            ));
        }
        if actions[..i].contains(action) {
            return Err(format!(
                "spec.validationActions[{i}]: Duplicate value: {action:?}"
            ));
        }
    }
    let has = |a: &str| actions.iter().any(|x| x == a);
    if has("Deny") && has("Warn") {
        return Err("spec.validationActions: Invalid value: [\"Deny\", \"Warn\"]: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)".to_owned());
    }
    Ok(if has("Deny") {
        Action::Deny
    } else if has("Warn") {
        Action::Warn
    } else {
        Action::Audit
    })
}

/// The CEL runtime's program for `policy` with `params` (`null` for none):
/// `runtimes/cel`'s `Program`. A binding whose parameter is missing (and
/// not allowed to be) gets a single failing validation with the API
/// server's message.
pub fn program(policy: &AdmissionPolicy, binding: Option<&Binding>, params: &Value) -> Value {
    let missing_params = binding.is_some_and(|b| b.spec.param_ref.is_some()) && params.is_null();
    if missing_params {
        return json!({"validations": [{
            "expression": "false",
            "message": format!(
                "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction (binding {})",
                binding.map(|b| b.name.as_str()).unwrap_or_default()
            ),
        }]});
    }
    full_program(policy, params)
}

/// The CEL runtime's program for `policy` with `params` (`null` for none),
/// whether or not its binding wants parameters.
fn full_program(policy: &AdmissionPolicy, params: &Value) -> Value {
    let audit_annotations: Vec<Value> = policy
        .spec
        .audit_annotations
        .iter()
        .map(|a| {
            json!({
                "key": format!("{}/{}", policy.name, a.key),
                "valueExpression": a.value_expression,
            })
        })
        .collect();
    json!({
        "variables": policy.spec.variables,
        "matchConditions": policy.spec.match_conditions,
        "validations": policy.spec.validations,
        "params": params,
        "auditAnnotations": audit_annotations,
    })
}

/// The policy's metadata: its name, a description naming its binding, and
/// rules from `matchConstraints.resourceRules`.
pub fn metadata(policy: &AdmissionPolicy, binding: Option<&Binding>) -> Metadata {
    let rules: Vec<Rule> = policy
        .spec
        .match_constraints
        .as_ref()
        .map(MatchResources::rules)
        .unwrap_or_default();
    let bound = match binding {
        Some(binding) => format!("bound by {}", binding.name),
        None => {
            "no binding among the policies given: run as if bound with validationActions [Deny]"
                .to_owned()
        }
    };
    Metadata {
        abi_version: wasm_validate_abi::ABI_VERSION,
        name: policy.name.clone(),
        description: format!("{POLICY_KIND} {} ({bound})", policy.name),
        severity: Severity::Medium,
        rules,
        mutating: false,
        settings_schema: None,
        references: vec![
            "https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/"
                .to_owned(),
        ],
        category: Some("validating-admission-policy".into()),
        level: None,
        control: None,
        overrides: Vec::new(),
        aliases: Vec::new(),
    }
}

/// What a format built on this one adds to a policy (Kyverno's
/// ValidatingPolicy): rule sets for other kinds (`runtimes/cel`'s
/// `variants`) and its own metadata.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The program's `variants`.
    pub variants: Vec<Value>,
    /// The metadata to report the policy with, instead of [`metadata`]'s.
    pub metadata: Option<Metadata>,
    /// The kind errors name the policy by (`ValidatingPolicy`), instead of
    /// [`POLICY_KIND`].
    pub kind: Option<&'static str>,
    /// A parameter resource to find among the run's objects, when it is not
    /// among the policy files.
    pub params_from_run: Option<ParamLookup>,
}

/// The pipeline policy for `policy` under `binding` (`None`: unbound) with
/// `params` (`null` for none), reported as `id` with `action`: the CEL
/// runtime prepared with [`program`] (and `extras`), the policy's
/// `failurePolicy` and its [`VapSelector`]. A policy whose expressions
/// read `namespaceObject`, or whose match has a `namespaceSelector`, is
/// given the run's Namespaces for each run.
///
/// Errors: an expression that does not compile, or calls a function the
/// runtime lacks, at its policy (`spec.validations[0].expression: ...`).
#[allow(clippy::too_many_arguments)]
pub fn configured_policy(
    engine: &Engine,
    runtime: &Policy,
    policy: &AdmissionPolicy,
    binding: Option<&Binding>,
    params: &Value,
    id: &str,
    action: Action,
    extras: &Extras,
) -> Result<ConfiguredPolicy, VapError> {
    let mut program = match &extras.params_from_run {
        Some(lookup) => lookup.initial_program(),
        None => program(policy, binding, params),
    };
    if !extras.variants.is_empty() {
        program["variants"] = Value::Array(extras.variants.clone());
    }
    let metadata = extras
        .metadata
        .clone()
        .unwrap_or_else(|| metadata(policy, binding));
    let fail = |e: wasm_validate_engine::EvalError| {
        // The runtime names each expression (`validations[0].expression:
        // ...`); its other errors (fuel, memory) are the engine's.
        let message = match e {
            wasm_validate_engine::EvalError::Policy(message) => message,
            other => other.to_string(),
        };
        let message = message
            .split("; ")
            .map(|part| format!("spec.{part}"))
            .collect::<Vec<_>>()
            .join("; ");
        VapError::at(
            &policy.location,
            format!(
                "{} {}: {message}",
                extras.kind.unwrap_or(POLICY_KIND),
                policy.name
            ),
        )
    };
    let mut prepared = engine.prepare(runtime, &program).map_err(fail)?;
    prepared.set_metadata(metadata.clone());
    prepared.set_limits(wasm_validate_engine::Limits::default());
    let mut configured = ConfiguredPolicy::new(prepared, Value::Object(Default::default()));
    configured.id = id.to_owned();
    configured.action = action;
    configured.failure_policy = match policy.spec.failure_policy.as_deref() {
        Some("Ignore") => FailurePolicy::Ignore,
        _ => FailurePolicy::Fail,
    };
    configured.review_in_settings = true;
    let selector = VapSelector::new(
        policy.spec.match_constraints.clone(),
        binding.and_then(|b| b.spec.match_resources.clone()),
    );
    let lookup = extras.params_from_run.clone();
    let reads_namespace = match &lookup {
        Some(lookup) => lookup.program.to_string().contains("namespaceObject"),
        None => program.to_string().contains("namespaceObject"),
    };
    if selector.needs_namespaces() || reads_namespace || lookup.is_some() {
        configured.run_objects = Some(Arc::new(selector::FromRun {
            policy: configured.policy.clone(),
            selector: selector.clone(),
            reprepare: (reads_namespace || lookup.is_some()).then(|| selector::Reprepare {
                runtime: runtime.clone(),
                program,
                metadata,
                params: lookup,
            }),
        }));
    }
    configured.selector = Some(Arc::new(selector));
    Ok(configured)
}

/// The built-in CEL runtime (once per call; keep the result), loaded with
/// the pipeline's preparation budget
/// ([`wasm_validate_pipeline::CEL_PREPARE_FUEL`]); each prepared policy
/// evaluates under the default limits until given others.
pub fn load_runtime(engine: &Engine) -> Policy {
    wasm_validate_pipeline::load_cel_runtime(engine)
}
