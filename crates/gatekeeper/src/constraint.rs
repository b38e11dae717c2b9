//! Constraints (`constraints.gatekeeper.sh/v1beta1`, `v1alpha1`, `v1`):
//! an instance of a template's kind with its `match`, `parameters` and
//! `enforcementAction`.
//! Source: <https://open-policy-agent.github.io/gatekeeper/website/docs/howto#constraints>.

use serde_json::Value;
use wasm_validate_pipeline::Action;

use crate::matching::Match;
use crate::template::Template;
use crate::{GatekeeperError, Location};

/// The API group of constraints.
pub const CONSTRAINT_GROUP: &str = "constraints.gatekeeper.sh";

/// A constraint's `enforcementAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnforcementAction {
    /// `deny` (the default): a violation denies.
    Deny,
    /// `warn`: a violation is a warning.
    Warn,
    /// `dryrun`: a violation is only recorded (audit).
    Dryrun,
}

impl EnforcementAction {
    /// The pipeline's action for it: deny, warn, audit.
    pub fn action(self) -> Action {
        match self {
            EnforcementAction::Deny => Action::Deny,
            EnforcementAction::Warn => Action::Warn,
            EnforcementAction::Dryrun => Action::Audit,
        }
    }
}

/// A constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// Its kind (a template's `spec.crd.spec.names.kind`).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.match` (everything when absent).
    pub matcher: Match,
    /// `spec.parameters` (`{}` when absent).
    pub parameters: Value,
    /// `spec.enforcementAction`.
    pub enforcement_action: EnforcementAction,
    /// Where it was read.
    pub location: Location,
}

impl Constraint {
    /// Whether `object` is a constraint (by apiVersion group).
    pub fn is_constraint(object: &Value) -> bool {
        object["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with(&format!("{CONSTRAINT_GROUP}/")))
    }

    /// Reads a constraint. Errors: no name; a `match` that is not
    /// Gatekeeper's (unknown fields included); an `enforcementAction`
    /// other than `deny`, `warn` or `dryrun` (`scoped` is not supported).
    pub fn from_object(object: &Value, location: Location) -> Result<Constraint, GatekeeperError> {
        let fail = |message: String| GatekeeperError::new(&location, message);
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .ok_or_else(|| fail(format!("{kind} without metadata.name")))?
            .to_owned();
        let spec = &object["spec"];
        let matcher = match &spec["match"] {
            Value::Null => Match::default(),
            value => serde_json::from_value(value.clone())
                .map_err(|e| fail(format!("{kind} {name}: spec.match: {e}")))?,
        };
        let enforcement_action = match spec["enforcementAction"].as_str() {
            None | Some("deny") | Some("") => EnforcementAction::Deny,
            Some("warn") => EnforcementAction::Warn,
            Some("dryrun") => EnforcementAction::Dryrun,
            Some(other) => {
                return Err(fail(format!(
                    "{kind} {name}: spec.enforcementAction {other:?} is not supported \
                     (deny, warn or dryrun)"
                )));
            }
        };
        let parameters = match &spec["parameters"] {
            Value::Null => Value::Object(Default::default()),
            value => value.clone(),
        };
        Ok(Constraint {
            kind,
            name,
            matcher,
            parameters,
            enforcement_action,
            location,
        })
    }

    /// Checks `parameters` against the template's schema, as the API
    /// server does for the constraint's CRD: one message per problem, each
    /// naming the parameter's JSON Pointer under `/spec/parameters`.
    pub fn check_parameters(&self, template: &Template) -> Result<(), Vec<(String, String)>> {
        let Some(schema) = &template.parameters_schema else {
            return Ok(());
        };
        let validator =
            jsonschema::validator_for(&openapi_to_json_schema(schema)).map_err(|e| {
                vec![(
                    String::new(),
                    format!("the template's parameters schema is invalid: {e}"),
                )]
            })?;
        let problems: Vec<(String, String)> = validator
            .iter_errors(&self.parameters)
            .map(|e| {
                (
                    format!("/spec/parameters{}", e.instance_path()),
                    e.to_string(),
                )
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// An OpenAPI v3 schema as JSON Schema: `nullable: true` admits `null`,
/// and the `x-kubernetes-*` extensions are dropped (what they mean for
/// pruning does not change validity, except `int-or-string`, which admits
/// both).
fn openapi_to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                if key.starts_with("x-kubernetes-") || key == "nullable" {
                    continue;
                }
                let converted = match key.as_str() {
                    "properties" | "patternProperties" | "definitions" => match value {
                        Value::Object(children) => Value::Object(
                            children
                                .iter()
                                .map(|(k, v)| (k.clone(), openapi_to_json_schema(v)))
                                .collect(),
                        ),
                        other => other.clone(),
                    },
                    "enum" | "required" | "type" | "default" | "example" => value.clone(),
                    _ => openapi_to_json_schema(value),
                };
                out.insert(key.clone(), converted);
            }
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                out.remove("type");
                out.insert("type".into(), serde_json::json!(["integer", "string"]));
            }
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(ty)) = out.get("type").cloned()
            {
                out.insert("type".into(), serde_json::json!([ty, "null"]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(openapi_to_json_schema).collect()),
        other => other.clone(),
    }
}
