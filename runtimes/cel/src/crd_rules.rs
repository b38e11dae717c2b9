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

use cel::common::types::CelOptional;
use wasm_validate_abi::tape::Node;

use super::*;
use crate::fast::eval::{Run, Stop, V};

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
            let mut validation = compile_validation(env, &name, "rule", &expression, &[], errors)?;
            validation.expression.fast =
                fast::plan(&validation.expression.expression, &["self", "oldSelf"]).map(|(p, _)| p);
            Some(CompiledRule {
                transition: validation.expression.reads.iter().any(|v| v == "oldSelf"),
                optional_old_self: rule.optional_old_self,
                validation,
            })
        })
        .collect()
}

/// What `oldSelf` is bound to for `rule` on a node whose old value is
/// the node `old` of the tape; `None` when the rule is skipped there.
enum OldSelf {
    /// `null`: the rule does not read `oldSelf`.
    Null,
    /// The old value.
    Value(u32),
    /// An optional of the old value, or `optional.none()`.
    Optional(Option<u32>),
}

fn old_self(rule: &CompiledRule, old: Option<u32>) -> Option<OldSelf> {
    match (rule.optional_old_self, old) {
        (true, old) => Some(OldSelf::Optional(old)),
        (false, Some(old)) => Some(OldSelf::Value(old)),
        (false, None) if rule.transition => None,
        // Not a transition rule: it does not read `oldSelf`.
        (false, None) => Some(OldSelf::Null),
    }
}

impl OldSelf {
    fn value<'a>(&self, tape: Tape<'a>) -> V<'a> {
        match self {
            OldSelf::Null => V::Null,
            OldSelf::Value(at) => V::at(tape, *at),
            OldSelf::Optional(at) => V::Opt(at.map(|at| std::rc::Rc::new(V::at(tape, at)))),
        }
    }

    fn val<'a>(&self, tape: &Tape<'a>) -> Box<dyn Val + 'a> {
        match self {
            OldSelf::Null => Box::new(CelNull),
            OldSelf::Value(at) => crate::lazy::val_at(tape, *at).0,
            OldSelf::Optional(at) => Box::new(match at {
                Some(at) => CelOptional::of(crate::lazy::val_at(tape, *at).0),
                None => CelOptional::none(),
            }),
        }
    }
}

/// The type name of a value, as the API server's rule messages give it
/// (`Invalid value: "object"`).
fn type_name(value: &V<'_>) -> &'static str {
    match value {
        V::Node(_, _, false) | V::List(_) => "array",
        V::Str(_) => "string",
        V::Int(_) | V::UInt(_) => "integer",
        V::Double(_) => "number",
        V::Bool(_) => "boolean",
        V::Null => "null",
        _ => "object",
    }
}

/// One node of a rules request: the rule's index, the tape indexes of
/// `self` and of `oldSelf`, and the node's JSON Pointer and field path.
struct RuleNode {
    rule: i64,
    this: u32,
    old: Option<u32>,
    path: String,
    field: String,
}

/// The nodes of a rules request, `{"nodes": [{"rule", "self", "path",
/// "field", "oldSelf"?}]}`.
fn nodes(tape: &Tape<'_>) -> Result<Vec<RuleNode>, String> {
    let shape = || "a rules request's object must be {\"nodes\": [...]}".to_owned();
    let list = tape.member(0, b"nodes").ok().flatten().ok_or_else(shape)?;
    let Ok(Node::Array { end, .. }) = tape.node(list) else {
        return Err(shape());
    };
    let mut nodes = Vec::new();
    let mut at = list + 1;
    while at < end {
        let member = |key: &str| tape.member(at, key.as_bytes()).ok().flatten();
        let text = |key: &str| match member(key).map(|i| tape.node(i)) {
            Some(Ok(Node::String(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let rule = match member("rule").map(|i| tape.node(i)) {
            Some(Ok(Node::UInt(n))) => i64::try_from(n).ok(),
            Some(Ok(Node::Int(n))) => Some(n),
            _ => None,
        };
        let (Some(rule), Some(this)) = (rule, member("self")) else {
            return Err("a rules request's node needs `rule` and `self`".to_owned());
        };
        nodes.push(RuleNode {
            rule,
            this,
            old: member("oldSelf"),
            path: text("path"),
            field: text("field"),
        });
        at = tape.next(at).map_err(|e| e.to_string())?.max(at + 1);
    }
    Ok(nodes)
}

/// Evaluates a CRD version's rules on the nodes of a custom resource,
/// under the API server's cost limit per rule and budget per resource
/// (`fast::cost`).
pub(super) fn run_crd_rules(prepared: &Prepared, tape: Tape<'_>) -> Result<Response, String> {
    let mut violations = Vec::new();
    let mut run = Run::new(prepared.env.clone(), Vec::new(), 0);
    let mut budget = fast::cost::RUNTIME_BUDGET;
    for node in nodes(&tape)? {
        let compiled = usize::try_from(node.rule)
            .ok()
            .and_then(|i| prepared.crd_rules.get(i))
            .ok_or_else(|| format!("no rule {}", node.rule))?;
        let Some(old) = old_self(compiled, node.old) else {
            continue;
        };
        let rule = &compiled.validation;
        let this = V::at(tape, node.this);
        let invalid = |field: &str, message: &str| {
            let prefix = if field.is_empty() {
                String::new()
            } else {
                format!("{field}: ")
            };
            format!("{prefix}Invalid value: \"{}\": {message}", type_name(&this))
        };
        run.slots = vec![Some(this.clone()), Some(old.value(tape))];
        run.start();
        let fast = match &rule.expression.fast {
            Some(plan) => fast::eval::eval(plan, &mut run),
            None => Err(Stop::Abandon),
        };
        let context = || {
            let mut context = Context::with_env(prepared.env.clone());
            context.add_variable_as_val("self", crate::lazy::val_at(&tape, node.this).0);
            context.add_variable_as_val("oldSelf", old.val(&tape));
            context
        };
        let answer = match fast {
            Ok(V::Bool(b)) => Ok(Value::Bool(b)),
            Err(Stop::CostLimit) => {
                let rule_text = rule.message.as_deref().unwrap_or(&rule.expression.source);
                violations.push(Violation {
                    message: invalid(
                        &node.field,
                        &format!(
                            "'{}': no further validation rules will be run due to call cost exceeds limit for rule: {}",
                            fast::cost::LIMIT_EXCEEDED,
                            rule_text.trim()
                        ),
                    ),
                    path: node.path.clone(),
                });
                break;
            }
            _ => cel::Value::resolve(&rule.expression.expression, &context()),
        };
        let Some(left) = budget.checked_sub(run.cost) else {
            violations.push(Violation {
                message: invalid(&node.field, fast::cost::OUT_OF_BUDGET),
                path: node.path.clone(),
            });
            break;
        };
        budget = left;
        match answer {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                violations.push(violation(rule, &node, &context(), &invalid));
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
                    node.field,
                    rule.expression.source.trim()
                ));
            }
        }
    }
    Ok(Response::from_violations(violations))
}

/// The violation of a rule that evaluated to false on `node`, with its
/// message (`context` binds `self` and `oldSelf` for a message expression).
fn violation(
    rule: &CompiledValidation,
    node: &RuleNode,
    context: &Context<'_, '_>,
    invalid: &dyn Fn(&str, &str) -> String,
) -> Violation {
    let message = if rule.message.is_none() && rule.message_expression.is_none() {
        format!("failed rule: {}", rule.expression.source.trim())
    } else {
        message_of(rule, context)
    };
    let suffix = rule.pointer.clone();
    let field_suffix: String = suffix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!(".{}", s.replace("~1", "/").replace("~0", "~")))
        .collect();
    let field = format!("{}{field_suffix}", node.field);
    Violation {
        message: invalid(field.trim_start_matches('.'), &message),
        path: format!("{}{suffix}", node.path),
    }
}
