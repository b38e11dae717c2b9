//! A CRD version's `x-kubernetes-validations` rules on the nodes of a
//! custom resource the schema stage found (`self` bound to each node), with
//! the API server's messages.

use super::*;
use crate::bindings::field;

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
        let rule = usize::try_from(*index)
            .ok()
            .and_then(|i| prepared.crd_rules.get(i))
            .ok_or_else(|| format!("no rule {index}"))?;
        let mut context = Context::with_env(prepared.env.clone());
        context.add_variable_from_value("self", self_value.clone());
        context.add_variable_from_value("oldSelf", Value::Null);
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
