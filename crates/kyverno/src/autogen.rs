//! Kyverno's autogen for a ValidatingPolicy written for Pods: the same
//! rules for the pod controllers' templates, as Kyverno computes them
//! (kyverno/kyverno `pkg/cel/autogen`, the behaviour its docs describe at
//! <https://kyverno.io/docs/policy-types/validating-policy/>).
//!
//! - It applies when `matchConstraints` has exactly one resource rule, for
//!   `pods` in the core group, version `v1`, without resource names, and
//!   neither object nor namespace selector nor exclusions.
//! - The controllers are `spec.autogen.podControllers.controllers` (plural
//!   resources; kinds are accepted too), else DaemonSets, Deployments,
//!   Jobs, StatefulSets, ReplicaSets and CronJobs.
//! - Every expression (and message) is rewritten: `object.spec` and
//!   `object.metadata` (and `oldObject.`'s) point into the pod template
//!   (`spec.template.` for the controllers, `spec.jobTemplate.spec.template.`
//!   for CronJobs), except `.metadata.name` and `.metadata.namespace`,
//!   which stay the controller's own. Match conditions are guarded by the
//!   target kinds, as Kyverno's are.

use serde_json::{Value, json};

/// A pod controller autogen can target.
struct Controller {
    resource: &'static str,
    kind: &'static str,
    api_version: &'static str,
    /// Where the pod template is: `spec.template` or
    /// `spec.jobTemplate.spec.template`.
    template: &'static str,
}

const CONTROLLERS: [Controller; 6] = [
    Controller {
        resource: "daemonsets",
        kind: "DaemonSet",
        api_version: "apps/v1",
        template: "spec.template",
    },
    Controller {
        resource: "deployments",
        kind: "Deployment",
        api_version: "apps/v1",
        template: "spec.template",
    },
    Controller {
        resource: "replicasets",
        kind: "ReplicaSet",
        api_version: "apps/v1",
        template: "spec.template",
    },
    Controller {
        resource: "statefulsets",
        kind: "StatefulSet",
        api_version: "apps/v1",
        template: "spec.template",
    },
    Controller {
        resource: "jobs",
        kind: "Job",
        api_version: "batch/v1",
        template: "spec.template",
    },
    Controller {
        resource: "cronjobs",
        kind: "CronJob",
        api_version: "batch/v1",
        template: "spec.jobTemplate.spec.template",
    },
];

/// Whether a `matchConstraints` allows autogen.
pub fn can_autogen(match_constraints: &Value) -> bool {
    let selector_set = |key: &str| {
        let selector = &match_constraints[key];
        selector["matchLabels"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
            || selector["matchExpressions"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
    };
    if selector_set("namespaceSelector") || selector_set("objectSelector") {
        return false;
    }
    if match_constraints["excludeResourceRules"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
    {
        return false;
    }
    let Some([rule]) = match_constraints["resourceRules"]
        .as_array()
        .map(Vec::as_slice)
    else {
        return false;
    };
    let only = |key: &str, value: &str| rule[key] == json!([value]);
    rule["resourceNames"]
        .as_array()
        .is_none_or(|n| n.is_empty())
        && only("apiGroups", "")
        && only("apiVersions", "v1")
        && only("resources", "pods")
}

/// Rewrites `object.FROM` (and `oldObject.FROM`) to `TO` in `text`, except
/// where what follows is `.name` or `.namespace` as a whole segment.
fn replace(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        out.push_str(&rest[..at]);
        let after = &rest[at + from.len()..];
        let protected = [".namespace", ".name"].iter().any(|suffix| {
            after.strip_prefix(suffix).is_some_and(|next| {
                !next
                    .chars()
                    .next()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
            })
        });
        out.push_str(if protected { from } else { to });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Every string in `value` rewritten for a controller whose pod template
/// is at `template`.
fn rewrite(value: &Value, template: &str) -> Value {
    match value {
        Value::String(text) => {
            let mut text = text.clone();
            for root in ["object.", "oldObject."] {
                text = replace(
                    &text,
                    &format!("{root}spec"),
                    &format!("{root}{template}.spec"),
                );
                text = replace(
                    &text,
                    &format!("{root}metadata"),
                    &format!("{root}{template}.metadata"),
                );
            }
            Value::String(text)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| rewrite(v, template)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), rewrite(v, template)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The controllers `spec.autogen.podControllers.controllers` names (by
/// plural resource or by kind), or all of them.
fn chosen(spec: &Value) -> Vec<&'static Controller> {
    match spec["autogen"]["podControllers"]["controllers"].as_array() {
        None => CONTROLLERS.iter().collect(),
        Some(names) => CONTROLLERS
            .iter()
            .filter(|c| names.iter().any(|n| n == c.resource || n == c.kind))
            .collect(),
    }
}

/// The autogen variants of a ValidatingPolicy's `spec` (`runtimes/cel`'s
/// `variants`, one per pod template location) and the `(apiVersion,
/// kind)` pairs they target; none when autogen does not apply.
pub fn variants(spec: &Value) -> (Vec<Value>, Vec<(String, String)>) {
    if !can_autogen(&spec["matchConstraints"]) {
        return (Vec::new(), Vec::new());
    }
    let controllers = chosen(spec);
    let mut variants = Vec::new();
    let mut targets_all = Vec::new();
    for template in ["spec.template", "spec.jobTemplate.spec.template"] {
        let group: Vec<&&Controller> = controllers
            .iter()
            .filter(|c| c.template == template)
            .collect();
        if group.is_empty() {
            continue;
        }
        let targets: Vec<Value> = group
            .iter()
            .map(|c| json!({"apiVersion": c.api_version, "kind": c.kind}))
            .collect();
        targets_all.extend(
            group
                .iter()
                .map(|c| (c.api_version.to_owned(), c.kind.to_owned())),
        );
        variants.push(json!({
            "targets": targets,
            "variables": rewrite(&spec["variables"], template).as_array().cloned().unwrap_or_default(),
            "matchConditions": rewrite(&spec["matchConditions"], template).as_array().cloned().unwrap_or_default(),
            "validations": rewrite(&spec["validations"], template).as_array().cloned().unwrap_or_default(),
        }));
    }
    (variants, targets_all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_move_into_the_template_but_name_and_namespace_stay() {
        let spec = json!({
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]},
            "validations": [{"expression": "object.spec.containers.all(c, c.name != object.metadata.name && object.metadata.labels.app != '' && object.metadata.namespace != 'x' && object.metadata.nameSuffix == '')"}]
        });
        let (variants, targets) = variants(&spec);
        assert_eq!(variants.len(), 2);
        assert_eq!(targets.len(), 6);
        assert_eq!(
            variants[0]["validations"][0]["expression"],
            "object.spec.template.spec.containers.all(c, c.name != object.metadata.name && object.spec.template.metadata.labels.app != '' && object.metadata.namespace != 'x' && object.spec.template.metadata.nameSuffix == '')"
        );
        assert!(
            variants[1]["validations"][0]["expression"]
                .as_str()
                .unwrap()
                .starts_with("object.spec.jobTemplate.spec.template.spec.containers")
        );
    }

    #[test]
    fn autogen_needs_a_single_pod_rule_without_selectors() {
        let rule = json!({"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]});
        assert!(can_autogen(&json!({"resourceRules": [rule]})));
        assert!(!can_autogen(&json!({"resourceRules": [rule, rule]})));
        assert!(!can_autogen(
            &json!({"resourceRules": [rule], "objectSelector": {"matchLabels": {"a": "b"}}})
        ));
        assert!(!can_autogen(
            &json!({"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"]}]})
        ));
        let chosen_kinds = chosen(
            &json!({"autogen": {"podControllers": {"controllers": ["Deployment", "cronjobs"]}}}),
        );
        assert_eq!(
            chosen_kinds.iter().map(|c| c.kind).collect::<Vec<_>>(),
            ["Deployment", "CronJob"]
        );
    }
}
