//! `matchConstraints` and a binding's `matchResources`
//! (`MatchResources`): which objects a policy applies to, with the API
//! server's semantics
//! (<https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/#matching-requests-matchconstraints>).
//!
//! - `resourceRules`: one must hold (API group, version, plural resource
//!   as Kubernetes guesses it from the kind, `resourceNames`, `scope`);
//!   an empty list holds for everything (a binding without rules).
//! - `excludeResourceRules`: none may hold.
//! - `objectSelector`: over the object's labels.
//! - `namespaceSelector`: over the labels of the object's Namespace, found
//!   among the Namespace objects of the run (unknown: no labels); a
//!   Namespace object is matched by its own labels; other cluster-scoped
//!   objects are not subject to it.
//!
//! Operations are matched through the policy's rules (offline runs are
//! CREATE); a binding's rules narrow by resource, not by operation.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use wasm_validate_abi::{Rule, plural_of, split_api_version};
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::Resource;
use wasm_validate_pipeline::{LabelSelector, Namespaces, RunObjects, Selector, namespaces_of};

/// `MatchResources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchResources {
    /// Over the labels of the object's Namespace.
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    /// Over the object's labels.
    #[serde(default)]
    pub object_selector: Option<LabelSelector>,
    /// What it applies to.
    #[serde(default)]
    pub resource_rules: Vec<NamedRule>,
    /// What it never applies to.
    #[serde(default)]
    pub exclude_resource_rules: Vec<NamedRule>,
    /// `Equivalent` (default) or `Exact`: offline, objects are matched as
    /// written.
    #[serde(default)]
    pub match_policy: Option<String>,
}

/// `NamedRuleWithOperations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedRule {
    /// Names the rule is limited to (any when empty).
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`, `*`.
    #[serde(default)]
    pub operations: Vec<String>,
    /// API groups (`""` is the core group, `*` any).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// API versions (`*` any).
    #[serde(default)]
    pub api_versions: Vec<String>,
    /// Plural resources (`pods`, `*`; `pods/status` is a subresource).
    #[serde(default)]
    pub resources: Vec<String>,
    /// `Cluster`, `Namespaced` or `*` (default).
    #[serde(default)]
    pub scope: Option<String>,
}

fn listed(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

impl NamedRule {
    /// Whether the rule holds for `object` (any operation).
    pub fn holds(&self, object: &Value) -> bool {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version) = split_api_version(api_version);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespaced = object["metadata"]["namespace"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let scope_holds = match self.scope.as_deref() {
            Some("Cluster") => !namespaced,
            Some("Namespaced") => namespaced,
            _ => true,
        };
        listed(&self.api_groups, group)
            && listed(&self.api_versions, version)
            && listed(&self.resources, &plural_of(kind))
            && (self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name))
            && scope_holds
    }

    /// The rule as the pipeline's [`Rule`] (subresources left out; `None`
    /// when nothing is left).
    pub fn rule(&self) -> Option<Rule> {
        let resources: Vec<&String> = self.resources.iter().filter(|r| !r.contains('/')).collect();
        if resources.is_empty() {
            return None;
        }
        let operations: Vec<&String> = if self.operations.is_empty() {
            // The API server requires operations; none here means all.
            Vec::new()
        } else {
            self.operations.iter().collect()
        };
        let mut rule = serde_json::json!({
            "apiGroups": self.api_groups,
            "apiVersions": if self.api_versions.is_empty() { vec!["*".to_owned()] } else { self.api_versions.clone() },
            "resources": resources,
        });
        rule["operations"] = if operations.is_empty() {
            serde_json::json!(["*"])
        } else {
            serde_json::json!(operations)
        };
        serde_json::from_value(rule).ok()
    }
}

impl MatchResources {
    /// The rules of `resourceRules`, for the policy's metadata.
    pub fn rules(&self) -> Vec<Rule> {
        self.resource_rules
            .iter()
            .filter_map(NamedRule::rule)
            .collect()
    }

    /// Whether `object` matches, its Namespace's labels taken from
    /// `namespaces`.
    pub fn matches(&self, object: &Value, namespaces: &Namespaces) -> bool {
        let empty = serde_json::Map::new();
        let labels = object["metadata"]["labels"].as_object().unwrap_or(&empty);
        let rules_hold =
            self.resource_rules.is_empty() || self.resource_rules.iter().any(|r| r.holds(object));
        let excluded = self.exclude_resource_rules.iter().any(|r| r.holds(object));
        let object_holds = self
            .object_selector
            .as_ref()
            .is_none_or(|s| s.matches(labels));
        let namespace_holds = match &self.namespace_selector {
            None => true,
            Some(selector) => match object["metadata"]["namespace"].as_str() {
                Some(ns) if !ns.is_empty() => {
                    selector.matches(namespaces.get(ns).unwrap_or(&empty))
                }
                _ if object["kind"] == "Namespace" => selector.matches(labels),
                _ => true,
            },
        };
        rules_hold && !excluded && object_holds && namespace_holds
    }
}

/// A policy's and its binding's `MatchResources`, with the Namespace
/// labels of the run, as the pipeline's [`Selector`].
#[derive(Debug, Clone)]
pub struct VapSelector {
    constraints: Option<MatchResources>,
    binding: Option<MatchResources>,
    namespaces: Arc<Namespaces>,
}

impl VapSelector {
    /// A selector that knows no Namespace yet.
    pub fn new(constraints: Option<MatchResources>, binding: Option<MatchResources>) -> Self {
        VapSelector {
            constraints,
            binding,
            namespaces: Arc::new(Namespaces::new()),
        }
    }

    /// Whether a `namespaceSelector` needs the run's Namespaces.
    pub fn needs_namespaces(&self) -> bool {
        [&self.constraints, &self.binding]
            .into_iter()
            .flatten()
            .any(|m| m.namespace_selector.is_some())
    }
}

impl Selector for VapSelector {
    fn selects(&self, resource: &Resource) -> bool {
        [&self.constraints, &self.binding]
            .into_iter()
            .flatten()
            .all(|m| m.matches(&resource.object, &self.namespaces))
    }
}

/// A policy given the run's objects: the Namespaces to its selector
/// always, and to its program (as `namespaces`, for `namespaceObject`) when
/// it reads them; its parameter resource when it is looked for among them
/// ([`crate::ParamLookup`]).
#[derive(Debug)]
pub(crate) struct FromRun {
    pub(crate) policy: Policy,
    pub(crate) selector: VapSelector,
    pub(crate) reprepare: Option<Reprepare>,
}

/// What preparing a policy again with the run's objects takes.
#[derive(Debug)]
pub(crate) struct Reprepare {
    pub(crate) runtime: Policy,
    pub(crate) program: Value,
    pub(crate) metadata: wasm_validate_abi::Metadata,
    /// Where the parameter resource comes from, when from the run.
    pub(crate) params: Option<crate::ParamLookup>,
}

impl RunObjects for FromRun {
    /// The parameter resources' kind, and the Namespaces when a
    /// `namespaceSelector` reads their labels: a cluster audit, and
    /// `serve --sync-interval`, list them even when no policy selects them.
    fn reads(&self) -> Vec<wasm_validate_abi::Rule> {
        let mut rules: Vec<wasm_validate_abi::Rule> = self
            .reprepare
            .iter()
            .filter_map(|r| r.params.as_ref())
            .map(crate::ParamLookup::rule)
            .collect();
        if self.selector.needs_namespaces() {
            rules.push(wasm_validate_abi::Rule::namespaces());
        }
        rules
    }

    fn selector(&self, resources: &[&Resource]) -> Option<Arc<dyn Selector>> {
        Some(Arc::new(VapSelector {
            namespaces: Arc::new(namespaces_of(resources.iter().map(|r| &r.object))),
            ..self.selector.clone()
        }))
    }

    fn prepare(
        &self,
        engine: &Engine,
        resources: &[&Resource],
    ) -> Result<(Policy, Option<Arc<dyn Selector>>), String> {
        let objects: Vec<&Value> = resources.iter().map(|r| &r.object).collect();
        let selector = VapSelector {
            namespaces: Arc::new(namespaces_of(objects.iter().copied())),
            ..self.selector.clone()
        };
        let policy = match &self.reprepare {
            None => self.policy.clone(),
            Some(again) => {
                let namespaces: serde_json::Map<String, Value> = objects
                    .iter()
                    .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
                    .filter_map(|o| {
                        Some((o["metadata"]["name"].as_str()?.to_owned(), (*o).clone()))
                    })
                    .collect();
                let mut program = match &again.params {
                    Some(lookup) => lookup.program_for(&objects)?,
                    None => again.program.clone(),
                };
                program["namespaces"] = Value::Object(namespaces);
                let mut policy = engine
                    .prepare(&again.runtime, &program)
                    .map_err(|e| e.to_string())?;
                policy.set_metadata(again.metadata.clone());
                policy
            }
        };
        Ok((policy, Some(Arc::new(selector))))
    }
}
