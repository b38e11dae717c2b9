//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): their served
//! versions' `openAPIV3Schema` compiled in the CRD dialect, the checks the
//! API server makes on a CRD beyond its schema (name, storage version,
//! structural schema). Their `x-kubernetes-validations` rules are compiled
//! with the schema (`model::Arena::rules`) and evaluated by the caller.

use serde_json::Value;

use crate::Finding;
use crate::model::{Arena, Compiler, Dialect, NodeId, escape, pattern_problem};

/// One version of a CRD.
#[derive(Debug, Clone)]
pub(crate) struct CrdVersion {
    pub name: String,
    pub served: bool,
    /// The version's `openAPIV3Schema`, when it has one.
    schema: Option<std::sync::Arc<Value>>,
    /// The schema compiled, on the first custom resource of this version
    /// (a chart's CRDs cost nothing when the chart has no custom resources).
    compiled: std::sync::OnceLock<Option<(Arena, NodeId)>>,
}

/// A CRD as the schema stage uses it.
#[derive(Debug, Clone)]
pub(crate) struct Crd {
    /// `metadata.name` (`widgets.example.com`).
    pub name: String,
    pub group: String,
    pub kind: String,
    pub versions: Vec<CrdVersion>,
    /// Where it was read (`file`, or `file: document N`).
    pub source: String,
}

impl Crd {
    /// Reads a CRD object; `None` when it lacks a group or kind (the CRD's
    /// own validation reports that).
    pub(crate) fn read(object: &Value, source: String) -> Option<Crd> {
        let spec = object.get("spec")?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
        let group = text(spec.get("group"));
        let kind = text(spec.pointer("/names/kind"));
        if group.is_empty() || kind.is_empty() {
            return None;
        }
        let versions = spec
            .get("versions")
            .and_then(Value::as_array)
            .map(|versions| {
                versions
                    .iter()
                    .map(|v| {
                        let schema = v.pointer("/schema/openAPIV3Schema");
                        CrdVersion {
                            name: text(v.get("name")),
                            served: v.get("served").and_then(Value::as_bool).unwrap_or(false),
                            schema: schema.map(|s| std::sync::Arc::new(s.clone())),
                            compiled: std::sync::OnceLock::new(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Crd {
            name: text(object.pointer("/metadata/name")),
            group,
            kind,
            versions,
            source,
        })
    }
}

impl CrdVersion {
    /// The compiled schema (compiled on first use), if the version has one.
    pub(crate) fn compiled(&self) -> Option<(&Arena, NodeId)> {
        self.compiled
            .get_or_init(|| {
                let schema = self.schema.as_ref()?;
                let none = |_: &str| None;
                let mut compiler = Compiler::new(Dialect::Crd, &none);
                let root = compiler.compile(schema);
                Some((compiler.arena, root))
            })
            .as_ref()
            .map(|(arena, root)| (arena, *root))
    }
}

/// What the API server checks on a CRD beyond its OpenAPI schema
/// (`apiextensions-apiserver/pkg/apis/apiextensions/validation`): the name
/// is `<plural>.<group>`, exactly one version is the storage version, and
/// each version's schema is structural (every node has a `type`, except
/// where `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`
/// allow none, and inside `allOf`/`anyOf`/`oneOf`/`not`), with valid
/// `pattern`s.
pub(crate) fn check_definition(object: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Some(spec) = object.get("spec") else {
        return findings;
    };
    fn text(v: Option<&Value>) -> &str {
        v.and_then(Value::as_str).unwrap_or_default()
    }
    let (name, plural, group) = (
        text(object.pointer("/metadata/name")),
        text(spec.pointer("/names/plural")),
        text(spec.get("group")),
    );
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        findings.push(Finding {
            pointer: "/metadata/name".to_owned(),
            message: format!(
                "metadata.name: Invalid value: {}: must be spec.names.plural+\".\"+spec.group",
                Value::String(name.to_owned())
            ),
        });
    }
    let Some(versions) = spec.get("versions").and_then(Value::as_array) else {
        return findings;
    };
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 && !versions.is_empty() {
        findings.push(Finding {
            pointer: "/spec/versions".to_owned(),
            message: format!(
                "spec.versions: Invalid value: {}: must have exactly one version marked as storage version",
                crate::validate::short(&Value::Array(
                    versions.iter().map(|v| v.get("name").cloned().unwrap_or(Value::Null)).collect()
                ))
            ),
        });
    }
    for (i, version) in versions.iter().enumerate() {
        let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
            continue;
        };
        let at = format!("/spec/versions/{i}/schema/openAPIV3Schema");
        let field = format!("spec.versions[{i}].schema.openAPIV3Schema");
        structural(schema, &at, &field, false, &mut findings);
    }
    findings
}

/// Structural schema: every node says its `type` (apiextensions'
/// `ValidateStructural`), unless in a value validation (`in_logic`).
fn structural(schema: &Value, at: &str, field: &str, in_logic: bool, findings: &mut Vec<Finding>) {
    let Value::Object(node) = schema else { return };
    let flag = |key: &str| node.get(key).and_then(Value::as_bool) == Some(true);
    let typed = node
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if !in_logic
        && !typed
        && !flag("x-kubernetes-int-or-string")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        let what = if node.contains_key("properties") {
            "must not be empty for specified object fields"
        } else if node.contains_key("items") {
            "must not be empty for specified array items"
        } else {
            "must not be empty"
        };
        findings.push(Finding {
            pointer: format!("{at}/type"),
            message: format!("{field}.type: Required value: {what}"),
        });
    }
    if let Some(problem) = node
        .get("pattern")
        .and_then(Value::as_str)
        .and_then(pattern_problem)
    {
        findings.push(Finding {
            pointer: format!("{at}/pattern"),
            message: format!("{field}.pattern: Invalid value: {problem}"),
        });
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, property) in properties {
            structural(
                property,
                &format!("{at}/properties/{}", escape(name)),
                &format!("{field}.properties[{name}]"),
                in_logic,
                findings,
            );
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child @ Value::Object(_)) = node.get(key) {
            structural(
                child,
                &format!("{at}/{key}"),
                &format!("{field}.{key}"),
                in_logic,
                findings,
            );
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = node.get(key) {
            for (i, branch) in branches.iter().enumerate() {
                structural(
                    branch,
                    &format!("{at}/{key}/{i}"),
                    &format!("{field}.{key}[{i}]"),
                    true,
                    findings,
                );
            }
        }
    }
    if let Some(not) = node.get("not") {
        structural(
            not,
            &format!("{at}/not"),
            &format!("{field}.not"),
            true,
            findings,
        );
    }
}
