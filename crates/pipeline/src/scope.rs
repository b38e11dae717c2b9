//! Which resources a policy runs on, what its findings do, and which findings
//! are exempted.
//!
//! - [`Action`]: `deny` (a finding fails the run), `warn` (reported as a
//!   warning) or `audit` (only recorded in reports), as Gatekeeper's
//!   `enforcementAction` (`deny`, `warn`, `dryrun`) and Kyverno's
//!   `validationFailureAction` (`Enforce`, `Audit`).
//! - [`ResourceFilter`]: kinds, namespaces and names as globs, and a
//!   Kubernetes label selector (`matchLabels`, `matchExpressions` with `In`,
//!   `NotIn`, `Exists`, `DoesNotExist`, as in
//!   <https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements>).
//! - [`Exemption`]: a configured exemption; [`annotation_exemption`] reads
//!   the `wasm-validate.dev/ignore` annotation of a resource or its pod
//!   template.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_validate_manifest::Resource;

/// Annotation that exempts a resource from policies: a comma-separated list
/// of policy names (or aliases), on the resource or on its pod template.
pub const IGNORE_ANNOTATION: &str = "wasm-validate.dev/ignore";
/// Annotation beside [`IGNORE_ANNOTATION`] that says why.
pub const IGNORE_REASON_ANNOTATION: &str = "wasm-validate.dev/ignore-reason";

/// What a policy's findings do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A violation fails the run (exit 1) and stops a Helm release. A
    /// mutating policy's patch is applied.
    #[default]
    Deny,
    /// A violation is reported as a warning (exit 1 only with `--fail-on
    /// warn`). A mutating policy's patch is applied.
    Warn,
    /// A violation is only recorded in the reports and never changes the
    /// exit code. A mutating policy's patch is reported but not applied.
    Audit,
}

/// What admission does when a policy cannot evaluate a request (a trap,
/// fuel or memory exhausted, a malformed answer), as a webhook
/// configuration's `failurePolicy` (Kubernetes "Dynamic Admission
/// Control"). Offline runs report the error either way (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FailurePolicy {
    /// The request is denied, naming the error (Kubernetes' default).
    #[default]
    Fail,
    /// The request is allowed; the error is returned as a warning.
    Ignore,
}

/// A glob over names (`*` any run of characters, `?` one character,
/// `[a-z]` a class, `{a,b}` alternatives), matched against the whole name,
/// case-sensitively.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    matcher: globset::GlobMatcher,
}

impl Glob {
    /// Compiles `pattern`; the error says what is wrong with it
    /// (`unclosed character class; missing ']'`).
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(false)
            .backslash_escape(true)
            .empty_alternates(true)
            .build()
            .map_err(|e| format!("invalid glob {pattern:?}: {}", e.kind()))?;
        Ok(Glob {
            pattern: pattern.to_owned(),
            matcher: glob.compile_matcher(),
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// Whether `name` matches one of `globs` (an empty list matches anything).
fn any_matches(globs: &[Glob], name: &str) -> bool {
    globs.is_empty() || globs.iter().any(|g| g.matches(name))
}

/// A Kubernetes label selector (`metav1.LabelSelector`). Both parts must
/// hold; an empty selector matches every resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

/// One `matchExpressions` requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelRequirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: SelectorOperator,
    /// The values (non-empty for `In`/`NotIn`, empty otherwise).
    #[serde(default)]
    pub values: Vec<String>,
}

/// A label selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectorOperator {
    /// The label is present with one of the values.
    In,
    /// The label is absent, or present with none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl LabelSelector {
    /// Checks the rules of the API server: `In`/`NotIn` need values,
    /// `Exists`/`DoesNotExist` take none. The error names the requirement
    /// by its index.
    pub fn validate(&self) -> Result<(), String> {
        for (index, requirement) in self.match_expressions.iter().enumerate() {
            let needs_values = matches!(
                requirement.operator,
                SelectorOperator::In | SelectorOperator::NotIn
            );
            if needs_values == requirement.values.is_empty() {
                return Err(format!(
                    "matchExpressions[{index}] ({}): {:?} {}",
                    requirement.key,
                    requirement.operator,
                    if needs_values {
                        "needs at least one value"
                    } else {
                        "takes no values"
                    }
                ));
            }
        }
        Ok(())
    }

    /// Whether a resource with `labels` is selected.
    pub fn matches(&self, labels: &serde_json::Map<String, Value>) -> bool {
        let label = |key: &str| labels.get(key).and_then(Value::as_str);
        self.match_labels
            .iter()
            .all(|(key, value)| label(key) == Some(value.as_str()))
            && self.match_expressions.iter().all(|r| {
                let value = label(&r.key);
                let listed = value.is_some_and(|v| r.values.iter().any(|x| x == v));
                match r.operator {
                    SelectorOperator::In => listed,
                    SelectorOperator::NotIn => !listed,
                    SelectorOperator::Exists => value.is_some(),
                    SelectorOperator::DoesNotExist => value.is_none(),
                }
            })
    }
}

/// Selects resources by kind, namespace, name and labels; every criterion
/// given must hold, and an empty list or a missing selector matches any
/// resource. A resource without `metadata.namespace` is matched as the
/// namespace `""` (it matches `*`, not `default`).
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Globs over `kind` (`Deployment`, `*Binding`).
    pub kinds: Vec<Glob>,
    /// Globs over `metadata.namespace`.
    pub namespaces: Vec<Glob>,
    /// Globs over `metadata.name` (or `generateName`).
    pub names: Vec<Glob>,
    /// A label selector over `metadata.labels`.
    pub label_selector: Option<LabelSelector>,
}

impl ResourceFilter {
    /// Whether `resource` is selected.
    pub fn matches(&self, resource: &Resource) -> bool {
        let metadata = &resource.object["metadata"];
        let name = metadata["name"]
            .as_str()
            .or_else(|| metadata["generateName"].as_str())
            .unwrap_or_default();
        let empty = serde_json::Map::new();
        let labels = metadata["labels"].as_object().unwrap_or(&empty);
        any_matches(&self.kinds, resource.kind())
            && any_matches(&self.namespaces, resource.namespace().unwrap_or_default())
            && any_matches(&self.names, name)
            && self
                .label_selector
                .as_ref()
                .is_none_or(|selector| selector.matches(labels))
    }
}

/// Where an exemption comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExemptionSource {
    /// The resource's (or its pod template's) `wasm-validate.dev/ignore`
    /// annotation.
    Annotation,
    /// A configuration entry: `file:line`.
    Config(String),
}

impl std::fmt::Display for ExemptionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExemptionSource::Annotation => write!(f, "annotation {IGNORE_ANNOTATION}"),
            ExemptionSource::Config(place) => write!(f, "{place}"),
        }
    }
}

/// Why a finding is exempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exempt {
    /// The reason the user gave.
    pub reason: String,
    /// Where the exemption is declared.
    pub source: ExemptionSource,
}

/// A configured exemption: the policies it covers (empty: every policy),
/// the resources (kinds, namespaces, names), optionally only some
/// containers, and the reason.
#[derive(Debug, Clone)]
pub struct Exemption {
    /// Policy names (configured names, metadata names or aliases); empty
    /// means every policy.
    pub policies: Vec<String>,
    /// The resources it covers.
    pub resources: ResourceFilter,
    /// Globs over container names: when given, only violations (and patch
    /// operations) inside a matching container (`containers`,
    /// `initContainers`, `ephemeralContainers`) are exempted.
    pub containers: Vec<Glob>,
    /// Why, and where it is declared.
    pub exempt: Exempt,
}

/// The names in a resource's `wasm-validate.dev/ignore` annotation (from
/// `metadata.annotations` and the pod template's, for workloads), each
/// trimmed, with the reason annotation if present. `None` when there is no
/// such annotation.
pub fn annotation_exemption(object: &Value) -> Option<(Vec<String>, Option<String>)> {
    let places = [
        "/metadata/annotations",
        "/spec/template/metadata/annotations",
        "/spec/jobTemplate/spec/template/metadata/annotations",
        "/template/metadata/annotations",
    ];
    let mut names: Vec<String> = Vec::new();
    let mut reason = None;
    let mut found = false;
    for annotations in places.iter().filter_map(|p| object.pointer(p)) {
        if let Some(value) = annotations[IGNORE_ANNOTATION].as_str() {
            found = true;
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
        }
        if reason.is_none() {
            reason = annotations[IGNORE_REASON_ANNOTATION]
                .as_str()
                .map(str::to_owned);
        }
    }
    found.then_some((names, reason))
}

/// The name of the container a JSON Pointer points into (the deepest
/// `containers`/`initContainers`/`ephemeralContainers` element on the
/// path), looked up in `object`.
pub fn container_of<'a>(object: &'a Value, path: &str) -> Option<&'a str> {
    let tokens: Vec<&str> = path.split('/').collect();
    let at = (1..tokens.len().saturating_sub(1)).rev().find(|&i| {
        matches!(
            tokens[i],
            "containers" | "initContainers" | "ephemeralContainers"
        ) && tokens[i + 1].parse::<usize>().is_ok()
    })?;
    let prefix = tokens[..at + 2].join("/");
    object.pointer(&prefix)?.get("name")?.as_str()
}

/// The labels of the Namespace objects a run knows, by name (what
/// `namespaceSelector`s match against offline).
pub type Namespaces = BTreeMap<String, serde_json::Map<String, Value>>;

/// The labels of every Namespace object (`v1`) among `objects`.
pub fn namespaces_of<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Namespaces {
    objects
        .into_iter()
        .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
        .filter_map(|o| {
            let name = o["metadata"]["name"].as_str()?;
            let labels = o["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            Some((name.to_owned(), labels))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(object: Value) -> Resource {
        Resource {
            object,
            source: wasm_validate_manifest::Source {
                file: "t.yaml".into(),
                document: 1,
                line: 1,
                item: None,
                helm_source: None,
            },
            modified: false,
        }
    }

    #[test]
    fn globs_match_whole_names_and_report_bad_patterns() {
        let glob = Glob::new("kube-*").unwrap();
        assert!(glob.matches("kube-system"));
        assert!(!glob.matches("my-kube-system"));
        assert!(Glob::new("{prod,stage}-?").unwrap().matches("stage-1"));
        assert!(Glob::new("*").unwrap().matches(""));
        let error = Glob::new("team-[a").unwrap_err();
        assert!(
            error.contains("team-[a") && error.contains("character class"),
            "{error}"
        );
    }

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "back"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]}
            ]
        }))
        .unwrap();
        selector.validate().unwrap();
        let labels = |v: Value| v.as_object().unwrap().clone();
        assert!(selector.matches(&labels(json!({"app": "web", "tier": "front"}))));
        assert!(!selector.matches(&labels(
            json!({"app": "web", "tier": "front", "env": "dev"})
        )));
        assert!(!selector.matches(&labels(
            json!({"app": "web", "tier": "front", "legacy": "y"})
        )));
        assert!(!selector.matches(&labels(json!({"app": "api", "tier": "front"}))));
        assert!(!selector.matches(&labels(json!({"app": "web"}))));
        assert!(LabelSelector::default().matches(&labels(json!({}))));
        let bad: LabelSelector = serde_json::from_value(
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        )
        .unwrap();
        assert!(bad.validate().unwrap_err().contains("takes no values"));
    }

    #[test]
    fn filters_need_every_criterion() {
        let filter = ResourceFilter {
            kinds: vec![Glob::new("Deployment").unwrap()],
            namespaces: vec![Glob::new("prod-*").unwrap()],
            names: vec![],
            label_selector: None,
        };
        let deployment = |namespace: Option<&str>| {
            let mut object =
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
            if let Some(n) = namespace {
                object["metadata"]["namespace"] = json!(n);
            }
            resource(object)
        };
        assert!(filter.matches(&deployment(Some("prod-eu"))));
        assert!(!filter.matches(&deployment(Some("dev"))));
        assert!(!filter.matches(&deployment(None)));
        assert!(ResourceFilter::default().matches(&deployment(None)));
    }

    #[test]
    fn annotations_are_read_from_the_resource_and_its_pod_template() {
        let object = json!({
            "metadata": {"annotations": {IGNORE_ANNOTATION: "privileged, host-ports"}},
            "spec": {"template": {"metadata": {"annotations": {
                IGNORE_ANNOTATION: "host-ports,sysctls",
                IGNORE_REASON_ANNOTATION: "node agent"
            }}}}
        });
        let (names, reason) = annotation_exemption(&object).unwrap();
        assert_eq!(names, ["privileged", "host-ports", "sysctls"]);
        assert_eq!(reason.as_deref(), Some("node agent"));
        assert!(annotation_exemption(&json!({"metadata": {}})).is_none());
    }

    #[test]
    fn containers_are_found_from_pointers() {
        let object = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "app"}, {"name": "sidecar"}],
            "initContainers": [{"name": "init"}]
        }}}});
        assert_eq!(
            container_of(
                &object,
                "/spec/template/spec/containers/1/securityContext/privileged"
            ),
            Some("sidecar")
        );
        assert_eq!(
            container_of(&object, "/spec/template/spec/initContainers/0"),
            Some("init")
        );
        assert_eq!(
            container_of(&object, "/spec/template/spec/hostNetwork"),
            None
        );
        assert_eq!(
            container_of(&object, "/spec/template/spec/containers/7/image"),
            None
        );
    }
}
