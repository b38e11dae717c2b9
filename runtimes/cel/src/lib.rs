//! wasm-validate's CEL runtime: a policy module (ABI version 2, with
//! `wv_prepare`) that evaluates CEL with the `cel` crate, so that a
//! ValidatingAdmissionPolicy's (or a Kyverno ValidatingPolicy's)
//! expressions run inside the same Wasm sandbox, under the same fuel and
//! memory limits, as every other policy. The host never evaluates CEL.
//!
//! `wv_prepare` receives the [`Program`] as the policy's settings and
//! compiles every expression once; the engine keeps the resulting memory
//! as the starting state of every evaluation (`docs/abi.md`,
//! "Preparation"). `wv_evaluate` binds the variables the API server binds
//! (`object`, `oldObject`, `request`, `params`, `namespaceObject`,
//! `variables`) and evaluates, as the API server does
//! (https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/):
//! the match conditions (any `false`: the policy does not apply), then
//! each validation (`false`: a violation with its message), then the audit
//! annotations ([`audit`]).
#![deny(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{CelMap, CelMapKey, CelNull};
use cel::common::value::Val;
use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, Value};
use serde::Deserialize;
use wasm_validate_abi::tape::{RequestView, Tape, TapeError};
use wasm_validate_abi::{Operation, Response, Violation};

pub mod audit;
mod bind;
mod bindings;
mod chain;
mod crd_rules;
mod fast;
mod regexes;
mod run;

use bindings::{bind, field, namespace_object, request_of, variables_map};
pub use run::evaluate;
use run::message_of;
pub mod format;
pub mod kubernetes;
pub mod lazy;
pub mod net;
pub mod parse;
pub mod quantity;
mod select;
pub mod semver_lib;
pub mod sets;
pub mod two_var;
pub mod value;

/// The runtime's metadata, also embedded in the module.
pub const METADATA_JSON: &str = include_str!("../metadata.json");

/// What the runtime runs: the settings given to `wv_prepare`, built by the
/// host from a policy object's `spec`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Program {
    /// `spec.variables`: evaluated in order, each seeing the ones before
    /// it as `variables.NAME`.
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// `spec.matchConditions`: all must be true for the policy to apply.
    #[serde(default)]
    pub match_conditions: Vec<Variable>,
    /// `spec.validations`.
    #[serde(default)]
    pub validations: Vec<Validation>,
    /// The parameter resource bound as `params` (`null` without one).
    #[serde(default)]
    pub params: serde_json::Value,
    /// A CRD version's `x-kubernetes-validations` rules, for the schema
    /// stage: with rules, a request's object is `{"nodes": [{"rule", "self",
    /// "path", "field", "oldSelf"?}]}` (each node of the custom resource a
    /// rule applies to, with its JSON Pointer and field path, and the
    /// correlated node of the old object when there is one), and each rule
    /// is evaluated with `self` bound to its node. A transition rule (one
    /// that reads `oldSelf`) is skipped on a node without `oldSelf`, unless
    /// it sets `optionalOldSelf` (`crd_rules.rs`).
    #[serde(default)]
    pub rules: Vec<CrdRule>,
    /// Rule sets for other kinds (Kyverno's autogen for pod controllers):
    /// the first whose targets name the object's `apiVersion` and `kind`
    /// runs instead of the main one.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// The Namespace objects known, by name: `namespaceObject` is the one
    /// of the object's namespace (`default` when it has none and its kind
    /// is namespaced), or a Namespace with only that name when it is not
    /// known; `null` for cluster-scoped kinds.
    #[serde(default)]
    pub namespaces: serde_json::Map<String, serde_json::Value>,
    /// `spec.auditAnnotations`, keys in the API server's `POLICY/KEY` form.
    #[serde(default)]
    pub audit_annotations: Vec<audit::AuditAnnotation>,
}

/// One `x-kubernetes-validations` rule.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrdRule {
    /// The CEL expression, with `self` the node it is declared on.
    pub rule: String,
    /// The message when it is false.
    #[serde(default)]
    pub message: Option<String>,
    /// A CEL expression giving the message.
    #[serde(default)]
    pub message_expression: Option<String>,
    /// A path relative to the node (`.spec.replicas`, `['a.b']`) the
    /// failure is reported at.
    #[serde(default)]
    pub field_path: Option<String>,
    /// Whether a transition rule also runs without an old value, with
    /// `oldSelf` an optional (`optional.none()` then).
    #[serde(default)]
    pub optional_old_self: bool,
}

/// A rule set for other kinds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    /// The `(apiVersion, kind)` pairs it is for.
    pub targets: Vec<Target>,
    /// As [`Program::variables`].
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// As [`Program::match_conditions`].
    #[serde(default)]
    pub match_conditions: Vec<Variable>,
    /// As [`Program::validations`].
    #[serde(default)]
    pub validations: Vec<Validation>,
}

/// An `apiVersion` and `kind`.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// `group/version`, or `v1`.
    pub api_version: String,
    /// The kind.
    pub kind: String,
}

/// A named expression: a variable or a match condition.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Its CEL expression.
    pub expression: String,
}

/// One validation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// A CEL expression that must evaluate to `true`.
    pub expression: String,
    /// The message when it is `false`.
    #[serde(default)]
    pub message: Option<String>,
    /// A CEL expression giving the message (a string); wins over
    /// `message` when it evaluates to a non-empty string.
    #[serde(default)]
    pub message_expression: Option<String>,
    /// The field the failure is about (`spec.replicas`,
    /// `spec.containers[0].image`): the violation's JSON Pointer.
    #[serde(default)]
    pub field_path: Option<String>,
}

struct Compiled {
    name: String,
    source: String,
    /// The parsed expression ([`parse`]).
    expression: cel::parser::Expression,
    /// Whether the expression reads `variables`.
    reads_variables: bool,
    /// The variables it reads (`object`, `request`, `params`, ...).
    reads: Vec<String>,
    /// Its plan for the fast evaluation, when it has one ([`fast`]).
    fast: Option<fast::Plan>,
}

struct CompiledValidation {
    expression: Compiled,
    message: Option<String>,
    message_expression: Option<Compiled>,
    pointer: String,
}

/// A compiled rule set.
struct Rules {
    variables: Vec<Compiled>,
    /// Each variable's name (`variables.NAME`), in the order of `variables`.
    variable_names: Vec<String>,
    /// The name each variable's value is bound to ([`select::VARIABLE`]
    /// and its name), in the order of `variables`.
    variable_idents: Vec<String>,
    /// Whether an expression reads `variables` other than as
    /// `variables.NAME` of a variable before it (`has(variables.a)`,
    /// `variables.?a`, the map itself, a name not declared), so that the
    /// `variables` map must be built.
    builds_map: bool,
    match_conditions: Vec<Compiled>,
    /// The most slots a fast evaluation of the rule set uses ([`fast`]).
    slots: usize,
    validations: Vec<CompiledValidation>,
}

struct Prepared {
    env: Arc<Env>,
    crd_rules: Vec<crd_rules::CompiledRule>,
    rules: Rules,
    variants: Vec<(Vec<Target>, Rules)>,
    params: Value,
    /// `params` as a tape, for the fast evaluation.
    params_tape: Vec<u8>,
    namespaces: HashMap<String, Value>,
    audit_annotations: audit::Annotations,
    /// The variables some expression reads: `request`, `params` and
    /// `namespaceObject` are built for an evaluation only when read.
    binds: Vec<String>,
}

impl Rules {
    /// Gives the variables, match conditions and validations that are in
    /// the fast evaluation's subset their plans ([`fast`]): the roots
    /// ([`fast::ROOTS`]) in the first slots, the variables after them.
    fn plan(&mut self) {
        let mut names = fast::ROOTS.to_vec();
        names.extend(self.variable_idents.iter().map(String::as_str));
        let mut most = names.len();
        let planned = self
            .variables
            .iter_mut()
            .chain(&mut self.match_conditions)
            .chain(self.validations.iter_mut().flat_map(|v| {
                std::iter::once(&mut v.expression).chain(v.message_expression.as_mut())
            }));
        for compiled in planned {
            if let Some((plan, slots)) = fast::plan(&compiled.expression, &names) {
                compiled.fast = Some(plan);
                most = most.max(slots);
            }
        }
        self.slots = most;
    }

    /// Every compiled expression of the rule set.
    fn expressions(&self) -> impl Iterator<Item = &Compiled> {
        self.variables.iter().chain(&self.match_conditions).chain(
            self.validations
                .iter()
                .flat_map(|v| std::iter::once(&v.expression).chain(v.message_expression.as_ref())),
        )
    }
}

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// The namespaces of the environment's functions (`lists.range`,
/// `math.abs`, `strings.quote`, `base64.encode`, `optional.of`,
/// `ip.isCanonical`).
const NAMESPACES: [&str; 8] = [
    "lists", "math", "strings", "base64", "optional", "ip", "format", "sets",
];

/// The environment: CEL's standard library and macros, optionals, cel-go's
/// strings, lists, math and encoders extensions, and the Kubernetes
/// libraries of [`kubernetes`].
pub fn environment() -> Result<Env, String> {
    let mut env = Env::stdlib();
    let declared = (|| {
        cel::extensions::strings(&mut env)?;
        cel::extensions::lists(&mut env)?;
        cel::extensions::math(&mut env)?;
        cel::extensions::encoders(&mut env)?;
        two_var::extension(&mut env)?;
        select::extension(&mut env)?;
        chain::extension(&mut env)?;
        regexes::extension(&mut env)?;
        kubernetes::extension(&mut env)
    })();
    declared.map_err(|e| format!("the CEL environment: {e}"))?;
    Ok(env)
}

/// Compiles `source` (the expression named `name`, such as
/// `validations[0].expression`), where `variables` are the names of the
/// variables it may read as `variables.NAME` (those evaluated before it).
/// Errors: a syntax error (with its line and column), a function the
/// environment lacks, a variable the API server does not bind (the
/// authorizer included).
fn compile(
    env: &Arc<Env>,
    name: &str,
    source: &str,
    variables: &[String],
) -> Result<Compiled, String> {
    let mut expression =
        parse::parse(env, source).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))?;
    bind::expand(&mut expression).map_err(|e| format!("{name}: {e}"))?;
    select::rewrite(&mut expression, variables);
    chain::fuse(&mut expression);
    regexes::rewrite(&mut expression);
    let mut patterns = Vec::new();
    regexes::literal_patterns(&mut expression, &mut patterns);
    regexes::warm(&patterns);
    let references = expression.references();
    for variable in references.variables() {
        if variable == "authorizer" {
            return Err(format!(
                "{name}: authorizer needs the API server's authorization and is not available offline"
            ));
        }
    }
    for function in references.functions() {
        // Operators (`_+_`, `!_`, `-_`) and the runtime's own functions.
        if function.starts_with('_')
            || function.starts_with('@')
            || function == "!_"
            || function == "-_"
        {
            continue;
        }
        // A name the environment declares cannot be added again; a
        // namespaced function (`lists.range`) is referenced by its last part.
        let taken = |name: &str| {
            Context::with_env(env.clone())
                .add_function(name, |x: i64| x)
                .is_err()
        };
        let declared = taken(function)
            || NAMESPACES
                .iter()
                .any(|ns| taken(&format!("{ns}.{function}")));
        if !declared {
            return Err(format!(
                "{name}: the function {function} is not available in the CEL runtime (docs/cel.md lists what is)"
            ));
        }
    }
    let reads: Vec<String> = expression
        .references()
        .variables()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let reads_variables = reads.iter().any(|v| v == "variables");
    Ok(Compiled {
        name: name.to_owned(),
        source: source.to_owned(),
        expression,
        reads_variables,
        reads,
        fast: None,
    })
}

/// Compiles a validation (or a CRD rule) named `name`, its expression
/// reported as `name.field`; errors go to `errors`.
fn compile_validation(
    env: &Arc<Env>,
    name: &str,
    field: &str,
    validation: &Validation,
    variables: &[String],
    errors: &mut Vec<String>,
) -> Option<CompiledValidation> {
    let mut compiled = |suffix: &str, source: &str| match compile(
        env,
        &format!("{name}.{suffix}"),
        source,
        variables,
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let expression = compiled(field, &validation.expression);
    let message_expression = validation
        .message_expression
        .as_deref()
        .and_then(|m| compiled("messageExpression", m));
    Some(CompiledValidation {
        expression: expression?,
        message: validation.message.clone(),
        message_expression,
        pointer: validation
            .field_path
            .as_deref()
            .map(pointer_of)
            .unwrap_or_default(),
    })
}

/// Compiles one rule set; `prefix` leads the names in its errors.
fn compile_rules(
    env: &Arc<Env>,
    prefix: &str,
    variables: &[Variable],
    match_conditions: &[Variable],
    validations: &[Validation],
    errors: &mut Vec<String>,
) -> Rules {
    // A variable reads those before it; the rest read them all.
    let names: Vec<String> = variables.iter().map(|v| v.name.clone()).collect();
    let mut compiled = |name: String, source: &str, readable: &[String]| match compile(
        env,
        &format!("{prefix}{name}"),
        source,
        readable,
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let variables: Vec<Compiled> = variables
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            compiled(
                format!("variables {:?}", v.name),
                &v.expression,
                &names[..i],
            )
        })
        .collect();
    let match_conditions: Vec<Compiled> = match_conditions
        .iter()
        .filter_map(|c| {
            compiled(
                format!("matchConditions {:?}", c.name),
                &c.expression,
                &names,
            )
        })
        .collect();
    let mut compiled_validations = Vec::new();
    for (i, v) in validations.iter().enumerate() {
        let name = format!("{prefix}validations[{i}]");
        compiled_validations.extend(compile_validation(
            env,
            &name,
            "expression",
            v,
            &names,
            errors,
        ));
    }
    // A variable that did not compile fails the whole preparation, so
    // `variables` are those of `names`, in order.
    let mut rules = Rules {
        variable_idents: names
            .iter()
            .map(|name| format!("{}{name}", select::VARIABLE))
            .collect(),
        variable_names: names,
        variables,
        match_conditions,
        validations: compiled_validations,
        builds_map: false,
        slots: 0,
    };
    let builds_map = rules.expressions().any(|c| c.reads_variables);
    rules.builds_map = builds_map;
    rules
}

/// Compiles `program`: what `wv_prepare` runs.
pub fn prepare(settings: &Tape<'_>) -> Result<(), String> {
    let program: Program = settings
        .deserialize()
        .map_err(|e| format!("the CEL program: {e}"))?;
    let env = Arc::new(environment()?);
    let mut errors = Vec::new();
    let mut rules = compile_rules(
        &env,
        "",
        &program.variables,
        &program.match_conditions,
        &program.validations,
        &mut errors,
    );
    let mut variants: Vec<(Vec<Target>, Rules)> = program
        .variants
        .iter()
        .map(|variant| {
            let kinds: Vec<&str> = variant.targets.iter().map(|t| t.kind.as_str()).collect();
            let rules = compile_rules(
                &env,
                &format!("autogen for {}: ", kinds.join(", ")),
                &variant.variables,
                &variant.match_conditions,
                &variant.validations,
                &mut errors,
            );
            (variant.targets.clone(), rules)
        })
        .collect();
    let crd_rules = crd_rules::compile(&env, &program.rules, &mut errors);
    let audit_annotations = audit::compile(&env, &program.audit_annotations, &mut errors);
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    // Audit annotations read the variables of whichever rules ran.
    let annotations_read_variables = audit_annotations.iter().any(|(_, c)| c.reads_variables);
    for rules in std::iter::once(&mut rules).chain(variants.iter_mut().map(|(_, r)| r)) {
        rules.builds_map |= annotations_read_variables;
        // The fast evaluation binds no `variables` map: a rule set that
        // needs one is cel-rust's.
        if !rules.builds_map {
            rules.plan();
        }
    }
    let mut audit_annotations = audit_annotations;
    for (_, compiled) in &mut audit_annotations {
        compiled.fast = fast::plan(&compiled.expression, &fast::ROOTS).map(|(plan, _)| plan);
    }
    let mut binds: Vec<String> = rules
        .expressions()
        .chain(variants.iter().flat_map(|(_, r)| r.expressions()))
        .chain(audit_annotations.iter().map(|(_, c)| c))
        .flat_map(|c| c.reads.iter().cloned())
        .collect();
    binds.sort();
    binds.dedup();
    let prepared = Prepared {
        binds,
        audit_annotations,
        env,
        crd_rules,
        rules,
        variants,
        params: value::from_json(&program.params),
        params_tape: wasm_validate_abi::tape::encode(&program.params),
        namespaces: program
            .namespaces
            .iter()
            .map(|(name, object)| (name.clone(), value::from_json(object)))
            .collect(),
    };
    PREPARED.with(|p| *p.borrow_mut() = Some(prepared));
    Ok(())
}

/// A `fieldPath` (`spec.containers[0].image`, `metadata.labels['a/b']`)
/// as a JSON Pointer (RFC 6901).
pub fn pointer_of(field_path: &str) -> String {
    let mut pointer = String::new();
    let mut rest = field_path.trim_start_matches('.');
    let push = |pointer: &mut String, part: &str| {
        pointer.push('/');
        pointer.push_str(&part.replace('~', "~0").replace('/', "~1"));
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').unwrap_or(after.len());
            let inside = after[..end].trim_matches(|c| c == '\'' || c == '"');
            push(&mut pointer, inside);
            rest = after.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            push(&mut pointer, &rest[..end]);
            rest = &rest[end..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    pointer
}

wasm_validate_sdk::export_runtime!(
    metadata = METADATA_JSON,
    prepare = prepare_settings,
    evaluate = evaluate,
);

/// `wv_prepare`: [`prepare`] on the settings tape section.
pub fn prepare_settings(settings: &[u8]) -> Result<(), String> {
    let tape = Tape::parse(settings).map_err(|e| format!("cannot decode the settings: {e}"))?;
    prepare(&tape)
}

#[cfg(test)]
mod tests;
