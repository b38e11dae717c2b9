//! Constraints (`constraints.gatekeeper.sh/v1beta1`, `v1alpha1`, `v1`):
//! an instance of a template's kind with its `match`, `parameters` and
//! `enforcementAction` (or, with `enforcementAction: scoped`, its
//! `scopedEnforcementActions`: an action per enforcement point).
//! Sources: <https://open-policy-agent.github.io/gatekeeper/website/docs/howto#constraints>,
//! <https://open-policy-agent.github.io/gatekeeper/website/docs/enforcement-points>.

use serde_json::Value;
use wasm_validate_pipeline::Action;

use crate::matching::Match;
use crate::template::Template;
use crate::{GatekeeperError, Location};

/// The API group of constraints.
pub const CONSTRAINT_GROUP: &str = "constraints.gatekeeper.sh";

/// A constraint's `enforcementAction`, ordered from the weakest: where
/// several apply at one enforcement point, the strongest is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EnforcementAction {
    /// `dryrun`: a violation is only recorded (audit).
    Dryrun,
    /// `warn`: a violation is a warning.
    Warn,
    /// `deny` (the default): a violation denies.
    Deny,
}

/// Where a constraint is enforced, as Gatekeeper names the places
/// (`scopedEnforcementActions[].enforcementPoints[].name`), and the front
/// ends of wasm-validate that are each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnforcementPoint {
    /// `gator.gatekeeper.sh`, shift-left: `check`, `post-render`,
    /// `kubectl wasm-validate -f` (the default).
    #[default]
    Gator,
    /// `validation.gatekeeper.sh`, the validating webhook: `serve`.
    Validation,
    /// `audit.gatekeeper.sh`, the audit of a cluster's resources:
    /// `kubectl wasm-validate` without `-f`.
    Audit,
}

impl EnforcementPoint {
    /// Gatekeeper's name for the point.
    pub fn name(self) -> &'static str {
        match self {
            EnforcementPoint::Gator => "gator.gatekeeper.sh",
            EnforcementPoint::Validation => "validation.gatekeeper.sh",
            EnforcementPoint::Audit => "audit.gatekeeper.sh",
        }
    }
}

/// A constraint's `spec.enforcementAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// `deny`, `warn` or `dryrun` (`deny` when absent), at every point.
    Action(EnforcementAction),
    /// `scoped`: the entries of `spec.scopedEnforcementActions`, at least
    /// one.
    Scoped(Vec<ScopedAction>),
}

/// One entry of `spec.scopedEnforcementActions`: an action and the points
/// it applies at (`*` is every point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedAction {
    /// `action`.
    pub action: EnforcementAction,
    /// `enforcementPoints[].name`, as written.
    pub points: Vec<String>,
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
    /// `spec.enforcementAction`, with `spec.scopedEnforcementActions` when
    /// it is `scoped` ([`Constraint::action_at`] reads both).
    pub enforcement: Enforcement,
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
    /// other than `deny`, `warn`, `dryrun` or `scoped`; `scoped` without
    /// `scopedEnforcementActions`, or one of them without an action of
    /// those three or without a named enforcement point.
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
        let enforcement =
            match spec["enforcementAction"].as_str() {
                Some("scoped") => Enforcement::Scoped(
                    scoped_actions(&spec["scopedEnforcementActions"])
                        .map_err(|message| fail(format!("{kind} {name}: {message}")))?,
                ),
                given => Enforcement::Action(action_of(given.unwrap_or_default()).map_err(
                    |message| fail(format!("{kind} {name}: spec.enforcementAction {message}")),
                )?),
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
            enforcement,
            location,
        })
    }

    /// The action at `point`: `spec.enforcementAction`; or, when it is
    /// `scoped`, the strongest of the actions whose enforcement points name
    /// `point` or `*` (compared without case, as Gatekeeper does), and
    /// `None` (not enforced there) when none does.
    pub fn action_at(&self, point: EnforcementPoint) -> Option<EnforcementAction> {
        let scoped = match &self.enforcement {
            Enforcement::Action(action) => return Some(*action),
            Enforcement::Scoped(scoped) => scoped,
        };
        scoped
            .iter()
            .filter(|s| {
                s.points
                    .iter()
                    .any(|p| p == "*" || p.eq_ignore_ascii_case(point.name()))
            })
            .map(|s| s.action)
            .max()
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

/// An action as written (`deny` when empty), or why it is refused.
fn action_of(text: &str) -> Result<EnforcementAction, String> {
    match text {
        "" | "deny" => Ok(EnforcementAction::Deny),
        "warn" => Ok(EnforcementAction::Warn),
        "dryrun" => Ok(EnforcementAction::Dryrun),
        other => Err(format!("{other:?} is not supported (deny, warn or dryrun)")),
    }
}

/// `spec.scopedEnforcementActions` of a `scoped` constraint: at least one
/// entry, each with an action and at least one named enforcement point.
fn scoped_actions(value: &Value) -> Result<Vec<ScopedAction>, String> {
    let entries = value.as_array().filter(|a| !a.is_empty()).ok_or(
        "spec.enforcementAction is scoped but spec.scopedEnforcementActions lists no action",
    )?;
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = format!("spec.scopedEnforcementActions[{i}]");
            let action = match entry["action"].as_str() {
                None | Some("") => {
                    return Err(format!("{at}.action is missing (deny, warn or dryrun)"));
                }
                Some(text) => {
                    action_of(text).map_err(|message| format!("{at}.action {message}"))?
                }
            };
            let points: Vec<String> = entry["enforcementPoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str())
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect();
            if points.is_empty() {
                return Err(format!("{at}.enforcementPoints names no enforcement point"));
            }
            Ok(ScopedAction { action, points })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(spec: Value) -> Result<Constraint, String> {
        let object = json!({
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": "K8sRequiredLabels",
            "metadata": {"name": "c"},
            "spec": spec,
        });
        let location = Location {
            file: "c.yaml".into(),
            document: 1,
            item: None,
            line: 1,
            parsed: None,
        };
        Constraint::from_object(&object, location).map_err(|e| e.to_string())
    }

    fn points(constraint: &Constraint) -> Vec<Option<EnforcementAction>> {
        [
            EnforcementPoint::Gator,
            EnforcementPoint::Validation,
            EnforcementPoint::Audit,
        ]
        .map(|p| constraint.action_at(p))
        .to_vec()
    }

    #[test]
    fn an_unscoped_action_applies_at_every_point() {
        let warn = read(json!({"enforcementAction": "warn"})).unwrap();
        assert_eq!(points(&warn), [Some(EnforcementAction::Warn); 3]);
        let default = read(json!({})).unwrap();
        assert_eq!(points(&default), [Some(EnforcementAction::Deny); 3]);
        // The list is read only with `scoped`, as Gatekeeper reads it.
        let ignored = read(json!({
            "enforcementAction": "dryrun",
            "scopedEnforcementActions": [{"action": "deny", "enforcementPoints": [{"name": "*"}]}]
        }))
        .unwrap();
        assert_eq!(points(&ignored), [Some(EnforcementAction::Dryrun); 3]);
    }

    #[test]
    fn a_scoped_constraint_takes_the_strongest_action_naming_each_point() {
        let scoped = read(json!({
            "enforcementAction": "scoped",
            "scopedEnforcementActions": [
                {"action": "warn", "enforcementPoints": [{"name": "gator.gatekeeper.sh"}]},
                {"action": "deny", "enforcementPoints": [{"name": "VALIDATION.gatekeeper.sh"}, {"name": "vap.k8s.io"}]},
                {"action": "dryrun", "enforcementPoints": [{"name": "*"}]},
            ]
        }))
        .unwrap();
        use EnforcementAction::*;
        assert_eq!(points(&scoped), [Some(Warn), Some(Deny), Some(Dryrun)]);
        let validation_only = read(json!({
            "enforcementAction": "scoped",
            "scopedEnforcementActions": [
                {"action": "deny", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            ]
        }))
        .unwrap();
        assert_eq!(points(&validation_only), [None, Some(Deny), None]);
    }

    #[test]
    fn a_scoped_constraint_without_usable_actions_is_refused() {
        for (spec, expected) in [
            (
                json!({"enforcementAction": "scoped"}),
                "c.yaml:1: document 1: K8sRequiredLabels c: spec.enforcementAction is scoped but spec.scopedEnforcementActions lists no action",
            ),
            (
                json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
                    {"action": "block", "enforcementPoints": [{"name": "*"}]}]}),
                "spec.scopedEnforcementActions[0].action \"block\" is not supported (deny, warn or dryrun)",
            ),
            (
                json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
                    {"action": "deny", "enforcementPoints": [{"name": "*"}]},
                    {"enforcementPoints": [{"name": "*"}]}]}),
                "spec.scopedEnforcementActions[1].action is missing (deny, warn or dryrun)",
            ),
            (
                json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
                    {"action": "warn", "enforcementPoints": []}]}),
                "spec.scopedEnforcementActions[0].enforcementPoints names no enforcement point",
            ),
            (
                json!({"enforcementAction": "Deny"}),
                "spec.enforcementAction \"Deny\" is not supported (deny, warn or dryrun)",
            ),
        ] {
            let error = read(spec).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
