//! A CRD version's `x-kubernetes-validations` rules on the nodes of a
//! custom resource the schema stage found (`self` bound to each node), with
//! the API server's messages.
//!
//! **Transition rules.** A rule that reads `oldSelf` is a transition rule,
//! which the API server applies only on UPDATE, to a node whose old value
//! it could correlate, and skips otherwise; with `optionalOldSelf: true`
//! it always runs, `oldSelf` then being a CEL optional (`optional.none()`
//! without an old value). Source: the `ValidationRule` type of
//! `apiextensions.k8s.io/v1` (fields `rule` and `optionalOldSelf`) and
//! Kubernetes' "Transition rules" section of the CRD validation rules
//! page. A node of the request carries its old value as `oldSelf` when the
//! host correlated one (the admission server on UPDATE); offline there is
//! none, so a transition rule runs only with `optionalOldSelf`, as on
//! CREATE.

use cel::objects::OptionalValue;

use super::*;
use crate::bindings::field;

/// A compiled `x-kubernetes-validations` rule.
pub(super) struct CompiledRule {
    validation: CompiledValidation,
    /// Whether the rule reads `oldSelf`.
    transition: bool,
    /// The rule's `optionalOldSelf`.
    optional_old_self: bool,
}

/// Compiles a CRD version's rules (`x-kubernetes-validations[i].rule` in
/// errors, which go to `errors`).
pub(super) fn compile(
    env: &Arc<Env>,
    rules: &[CrdRule],
    errors: &mut Vec<String>,
) -> Vec<CompiledRule> {
    rules
        .iter()
        .enumerate()
        .filter_map(|(i, rule)| {
            let expression = Validation {
                expression: rule.rule.clone(),
                message: rule.message.clone(),
                message_expression: rule.message_expression.clone(),
                field_path: rule.field_path.clone(),
            };
            let name = format!("x-kubernetes-validations[{i}]");
            let validation = compile_validation(env, &name, "rule", &expression, &[], errors)?;
            Some(CompiledRule {
                transition: validation.expression.reads.iter().any(|v| v == "oldSelf"),
                optional_old_self: rule.optional_old_self,
                validation,
            })
        })
        .collect()
}

/// The value `oldSelf` is bound to for `rule` on a node whose old value is
/// `old`; `None` when the rule is skipped there.
fn old_self(rule: &CompiledRule, old: Option<&Value>) -> Option<Value> {
    let optional = |value: Option<&Value>| {
        Value::Opaque(Arc::new(match value {
            Some(value) => OptionalValue::of(value.clone()),
            None => OptionalValue::none(),
        }))
    };
    match (rule.optional_old_self, old) {
        (true, old) => Some(optional(old)),
        (false, Some(old)) => Some(old.clone()),
        (false, None) if rule.transition => None,
        // Not a transition rule: it does not read `oldSelf`.
        (false, None) => Some(Value::Null),
    }
}

/// The CEL type name of a value, as the API server's rule messages give it
/// (`Invalid value: "object"`).
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "object",
        Value::List(_) => "array",
        Value::String(_) => "string",
        Value::Int(_) | Value::UInt(_) => "integer",
        Value::Float(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        _ => "object",
    }
}

/// Evaluates a CRD version's rules on the nodes of a custom resource.
pub(super) fn run_crd_rules(prepared: &Prepared, nodes: &Value) -> Result<Response, String> {
    let Some(Value::List(nodes)) = field(nodes, &["nodes"]) else {
        return Err("a rules request's object must be {\"nodes\": [...]}".to_owned());
    };
    let mut violations = Vec::new();
    for node in nodes.iter() {
        let (Some(Value::Int(index)), Some(self_value)) =
            (field(node, &["rule"]), field(node, &["self"]))
        else {
            return Err("a rules request's node needs `rule` and `self`".to_owned());
        };
        let text = |key: &str| match field(node, &[key]) {
            Some(Value::String(s)) => s.to_string(),
            _ => String::new(),
        };
        let compiled = usize::try_from(*index)
            .ok()
            .and_then(|i| prepared.crd_rules.get(i))
            .ok_or_else(|| format!("no rule {index}"))?;
        let Some(old) = old_self(compiled, field(node, &["oldSelf"])) else {
            continue;
        };
        let rule = &compiled.validation;
        let mut context = Context::with_env(prepared.env.clone());
        context.add_variable_from_value("self", self_value.clone());
        context.add_variable_from_value("oldSelf", old);
        match cel::Value::resolve(&rule.expression.expression, &context) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                let message = if rule.message.is_none() && rule.message_expression.is_none() {
                    format!("failed rule: {}", rule.expression.source.trim())
                } else {
                    message_of(rule, &context)
                };
                let suffix = rule.pointer.clone();
                let field_suffix: String = suffix
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(".{}", s.replace("~1", "/").replace("~0", "~")))
                    .collect();
                let field = format!("{}{field_suffix}", text("field"));
                let field = field.trim_start_matches('.');
                let prefix = if field.is_empty() {
                    String::new()
                } else {
                    format!("{field}: ")
                };
                violations.push(Violation {
                    message: format!(
                        "{prefix}Invalid value: \"{}\": {message}",
                        type_name(self_value)
                    ),
                    path: format!("{}{suffix}", text("path")),
                });
            }
            Ok(other) => {
                return Err(format!(
                    "{}: evaluated to {other:?}, not a bool",
                    rule.expression.name
                ));
            }
            Err(error) => {
                return Err(format!(
                    "{} at {}: {} ({error})",
                    rule.expression.name,
                    text("field"),
                    rule.expression.source.trim()
                ));
            }
        }
    }
    Ok(Response::from_violations(violations))
}
