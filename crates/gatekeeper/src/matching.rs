//! A constraint's `spec.match`: which objects it applies to, with
//! Gatekeeper's semantics (every criterion given must hold).
//! Source: <https://open-policy-agent.github.io/gatekeeper/website/docs/howto#the-match-field>.
//!
//! - `kinds`: `[{apiGroups, kinds}]`; one entry must hold (`*` is any
//!   group or kind; no entries, or an entry without kinds, is any kind).
//! - `scope`: `*` (default), `Cluster` or `Namespaced`; an object without
//!   `metadata.namespace` counts as cluster-scoped.
//! - `namespaces`, `excludedNamespaces`: names, with one `*` allowed at the
//!   front or the end (`kube-*`, `*-system`).
//! - `labelSelector`: over the object's labels.
//! - `namespaceSelector`: over the labels of the object's Namespace, found
//!   among the Namespace objects the run knows ([`Namespaces`]); an object
//!   whose Namespace is unknown does not match, as Gatekeeper's audit
//!   cannot match it either.
//! - `name`: the object's name, with the same globbing as namespaces.
//!
//! The namespace criteria apply to a Namespace object through its own name
//! and labels; other cluster-scoped objects are not subject to them.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_validate_manifest::Resource;
use wasm_validate_pipeline::{LabelSelector, Selector};
pub use wasm_validate_pipeline::{Namespaces, namespaces_of};

/// A constraint's `spec.match`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Match {
    /// Groups and kinds.
    #[serde(default)]
    pub kinds: Vec<KindMatch>,
    /// `*`, `Cluster` or `Namespaced`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Namespaces the object must be in (globs at either end).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Namespaces the object must not be in.
    #[serde(default)]
    pub excluded_namespaces: Vec<String>,
    /// A selector over the object's labels.
    #[serde(default)]
    pub label_selector: Option<LabelSelector>,
    /// A selector over its Namespace's labels.
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    /// The object's name (a glob at either end).
    #[serde(default)]
    pub name: Option<String>,
}

/// One entry of `match.kinds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindMatch {
    /// API groups (`""` is the core group, `*` any).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Kinds (`*` any).
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// Gatekeeper's name glob: exact, or one `*` at the front or the end.
fn glob_matches(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        pattern == name
    }
}

impl Match {
    /// Whether the constraint applies to `object`.
    pub fn matches(&self, object: &Value, namespaces: &Namespaces) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
        let kind = object["kind"].as_str().unwrap_or_default();
        let metadata = &object["metadata"];
        let empty = Map::new();
        let labels = metadata["labels"].as_object().unwrap_or(&empty);
        let kinds_hold = self.kinds.is_empty()
            || self.kinds.iter().any(|entry| {
                entry.api_groups.iter().any(|g| g == "*" || g == group)
                    && (entry.kinds.is_empty() || entry.kinds.iter().any(|k| k == "*" || k == kind))
            });
        let own_namespace = metadata["namespace"].as_str().filter(|n| !n.is_empty());
        let scope_holds = match self.scope.as_deref() {
            Some("Cluster") => own_namespace.is_none(),
            Some("Namespaced") => own_namespace.is_some(),
            _ => true,
        };
        let name = metadata["name"].as_str().unwrap_or_default();
        let name_holds = self.name.as_deref().is_none_or(|p| glob_matches(p, name));
        let label_holds = self
            .label_selector
            .as_ref()
            .is_none_or(|s| s.matches(labels));
        // The namespace the namespace criteria look at: the object's own
        // for namespaced objects, its name for a Namespace, none otherwise.
        let namespace = match (own_namespace, kind == "Namespace" && group.is_empty()) {
            (Some(namespace), _) => Some(namespace),
            (None, true) => Some(name),
            (None, false) => None,
        };
        let namespace_holds = match namespace {
            None => true,
            Some(namespace) => {
                (self.namespaces.is_empty()
                    || self.namespaces.iter().any(|p| glob_matches(p, namespace)))
                    && !self
                        .excluded_namespaces
                        .iter()
                        .any(|p| glob_matches(p, namespace))
                    && self.namespace_selector.as_ref().is_none_or(|selector| {
                        let namespace_labels = if kind == "Namespace" && own_namespace.is_none() {
                            Some(labels)
                        } else {
                            namespaces.get(namespace)
                        };
                        namespace_labels.is_some_and(|l| selector.matches(l))
                    })
            }
        };
        kinds_hold && scope_holds && name_holds && label_holds && namespace_holds
    }
}

/// A [`Match`] with the Namespace labels a run knows, as the pipeline's
/// [`Selector`].
#[derive(Debug, Clone)]
pub struct MatchSelector {
    /// The match.
    pub matcher: Match,
    /// The Namespaces the run knows.
    pub namespaces: Arc<Namespaces>,
}

impl Selector for MatchSelector {
    fn selects(&self, resource: &Resource) -> bool {
        self.matcher.matches(&resource.object, &self.namespaces)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(namespace: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web-1", "namespace": namespace, "labels": labels}})
    }

    fn parse(yaml: &str) -> Match {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn kinds_need_group_and_kind() {
        let m = parse("kinds: [{apiGroups: [''], kinds: [Pod]}]");
        let none = Namespaces::new();
        assert!(m.matches(&pod("a", json!({})), &none));
        let deployment =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        assert!(!m.matches(&deployment, &none));
        assert!(parse("kinds: [{apiGroups: ['*'], kinds: []}]").matches(&deployment, &none));
        assert!(!parse("kinds: [{apiGroups: [''], kinds: ['*']}]").matches(&deployment, &none));
    }

    #[test]
    fn namespace_globs_at_either_end() {
        let none = Namespaces::new();
        let m = parse("excludedNamespaces: [kube-*, '*-system']");
        assert!(!m.matches(&pod("kube-public", json!({})), &none));
        assert!(!m.matches(&pod("gatekeeper-system", json!({})), &none));
        assert!(m.matches(&pod("prod", json!({})), &none));
        let m = parse("namespaces: [prod]");
        assert!(m.matches(&pod("prod", json!({})), &none));
        assert!(!m.matches(&pod("production", json!({})), &none));
        // Cluster-scoped objects other than Namespaces are not subject to
        // the namespace criteria; a Namespace is, by its own name.
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}});
        assert!(m.matches(&role, &none));
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}});
        assert!(!m.matches(&namespace, &none));
    }

    #[test]
    fn selectors_over_the_object_and_its_namespace() {
        let m = parse(
            "labelSelector: {matchLabels: {app: web}}\nnamespaceSelector: {matchExpressions: [{key: env, operator: In, values: [prod]}]}",
        );
        let namespaces = namespaces_of(&[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p", "labels": {"env": "prod"}}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "d", "labels": {"env": "dev"}}}),
        ]);
        assert!(m.matches(&pod("p", json!({"app": "web"})), &namespaces));
        assert!(!m.matches(&pod("p", json!({"app": "db"})), &namespaces));
        assert!(!m.matches(&pod("d", json!({"app": "web"})), &namespaces));
        assert!(!m.matches(&pod("unknown", json!({"app": "web"})), &namespaces));
    }

    #[test]
    fn scope_and_name() {
        let none = Namespaces::new();
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin"}});
        assert!(parse("scope: Cluster").matches(&role, &none));
        assert!(!parse("scope: Namespaced").matches(&role, &none));
        assert!(parse("name: adm*").matches(&role, &none));
        assert!(!parse("name: web").matches(&role, &none));
    }
}
