//! The schema stage: checks each resource the way the API server would
//! before any policy runs, with `fieldValidation=Strict`.
//!
//! - **Built-in kinds** against Kubernetes' own OpenAPI definitions for a
//!   chosen minor version ([`versions`], default [`DEFAULT_VERSION`]):
//!   unknown fields, wrong types, missing required fields, `null` where not
//!   allowed, quantities, int-or-string, date-times, base64 `byte` fields,
//!   `int32`/`int64` ranges, and what the API server validates in Go that the
//!   definitions do not carry: the common enumerations (`Unsupported value`)
//!   and unique container and volume names.
//! - **Every object's metadata** as apimachinery's `ValidateObjectMeta`:
//!   name or generateName (DNS subdomain, RFC 1123 or 1035 label, or path
//!   segment, by kind), namespace, label keys and values, annotation keys
//!   and total size.
//! - **Custom resources** against their CRD's `openAPIV3Schema` for the
//!   version they use (structural schema semantics: `nullable`,
//!   `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string`,
//!   `x-kubernetes-embedded-resource`, list types and map keys, the value
//!   validations), CRDs read with [`Schemas::add_crd`]; a version the CRD
//!   does not serve is an error. `x-kubernetes-validations` (CEL) rules are
//!   evaluated by the caller in the CEL runtime: [`Outcome::rule_checks`]
//!   names the nodes they apply to, [`Schemas::crd_rules`] the rules.
//! - **CRDs themselves**: their schema as a built-in kind, plus the name,
//!   storage version and structural-schema rules.
//! - **Removed API versions** (`extensions/v1beta1` Ingress, ...) with the
//!   release that removed them and the replacement; deprecated ones still
//!   served are warnings.
//!
//! Messages follow the API server's (`spec.replicas: Invalid value:
//! "string": spec.replicas in body must be of type integer: "string"`,
//! `spec.template.spec.containers[0].ports[0].protocol: Unsupported value:
//! "udp": supported values: "SCTP", "TCP", "UDP"`, `unknown field
//! "spec.foo"`); each finding also has the JSON Pointer of its field.
//! Duplicate keys never reach this stage: the manifest reader refuses them.
#![forbid(unsafe_code)]

mod builtin;
mod crd;
mod formats;
mod metadata;
mod model;
mod removed;
mod validate;

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

pub use builtin::{DEFAULT_VERSION, versions};

use crate::model::Dialect;
use crate::validate::{Step, Walk};

/// One problem the API server would reject the object for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// JSON Pointer (RFC 6901) to the field (or to where a missing field
    /// would be).
    pub pointer: String,
    /// The API server's message, field path first
    /// (`spec.replicas: Invalid value: ...`).
    pub message: String,
}

/// `--schema`: whether the stage runs, and whether a kind without a schema
/// is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No schema stage.
    Off,
    /// The stage runs; a kind without a schema gets one notice per kind.
    #[default]
    On,
    /// The stage runs; a kind without a schema is an error of the run (exit 2).
    Strict,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Mode::Off),
            "on" => Ok(Mode::On),
            "strict" => Ok(Mode::Strict),
            other => Err(format!("{other:?}: expected off, on or strict")),
        }
    }
}

/// What schema an object was checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// A built-in kind of the chosen Kubernetes version.
    BuiltIn,
    /// A custom resource, by the CRD of this name.
    Crd(String),
    /// An API version the chosen Kubernetes version no longer serves (the
    /// findings say which release removed it).
    Removed,
    /// No schema: not a built-in kind, no CRD given.
    NoSchema,
}

/// The schema stage's verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What it was checked against.
    pub checked: Checked,
    /// Problems (each a violation of the `schema` policy).
    pub findings: Vec<Finding>,
    /// Warnings: a deprecated API version that is still served.
    pub warnings: Vec<String>,
    /// A custom resource's nodes its CRD's `x-kubernetes-validations` (CEL)
    /// rules apply to: evaluated by the caller in the CEL runtime (this
    /// crate runs no CEL), with [`Schemas::crd_rules`].
    pub rule_checks: Option<RuleChecks>,
}

/// The nodes of one custom resource that `x-kubernetes-validations` rules
/// apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChecks {
    /// The CRD (`widgets.example.com`).
    pub crd: String,
    /// The served version the resource uses.
    pub version: String,
    /// The nodes, in walk order.
    pub nodes: Vec<RuleNode>,
}

/// One node a rule applies to: the indexes of its rules in
/// [`Schemas::crd_rules`], its value (`self`), JSON Pointer and field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleNode {
    /// Indexes into the CRD version's rules.
    pub rules: Vec<u32>,
    /// The node's value.
    pub value: Value,
    /// Its JSON Pointer (RFC 6901).
    pub pointer: String,
    /// Its field path as the API server writes it (`spec.ports[0]`).
    pub field: String,
    /// The node's old value ([`Schemas::validate_update`]): the node of
    /// the old object that correlates with it, as the API server pairs
    /// them for transition rules (`oldSelf`): through object properties and
    /// map keys, and through the items of a `x-kubernetes-list-type: map`
    /// list by their map keys; `None` without an old object, when the old
    /// object has no such node, or under a list of another type, whose
    /// items do not correlate.
    pub old: Option<Value>,
}

/// The schemas of a run: one Kubernetes version's built-in kinds and the
/// CRDs read so far.
#[derive(Debug, Clone)]
pub struct Schemas {
    builtin: &'static builtin::BuiltIn,
    /// By (group, kind).
    crds: HashMap<(String, String), crd::Crd>,
    groups: BTreeSet<String>,
}

/// `1.37` from `1.37`, `v1.37`, `1.37.0` or `v1.37.2`.
pub fn minor_version(version: &str) -> Option<String> {
    let v = version.strip_prefix('v').unwrap_or(version);
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    if major.parse::<u32>().is_err() || minor.parse::<u32>().is_err() {
        return None;
    }
    Some(format!("{major}.{minor}"))
}

/// The built-in version closest to a server's (`v1.35.2`,
/// `v1.35.2-gke.100`, `1.35`): the same minor version when it is built in,
/// else the oldest or the newest built in; `None` for a version that does
/// not parse. The second value tells whether the minor version matched.
/// (kubectl-validate likewise validates against the server's version.)
pub fn version_for_server(server_version: &str) -> Option<(&'static str, bool)> {
    let minor = minor_version(server_version)?;
    let number = |v: &str| -> Option<(u32, u32)> {
        let (major, minor) = v.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let wanted = number(&minor)?;
    let shipped = versions();
    if let Some(exact) = shipped.iter().find(|v| number(v) == Some(wanted)) {
        return Some((exact, true));
    }
    let oldest = shipped.first()?;
    let newest = shipped.last()?;
    if Some(wanted) < number(oldest) {
        Some((oldest, false))
    } else {
        Some((newest, false))
    }
}

impl Schemas {
    /// The same CRDs with the built-in schemas of another Kubernetes
    /// version (as [`Schemas::new`]; errors likewise).
    pub fn for_version(&self, kubernetes_version: &str) -> Result<Schemas, String> {
        let mut out = Schemas::new(kubernetes_version)?;
        out.crds = self.crds.clone();
        Ok(out)
    }

    /// The built-in schemas of `kubernetes_version` (`1.37`, `v1.37.0`),
    /// decompressed and compiled on first use in the process (a few
    /// milliseconds). Errors name the versions built in.
    pub fn new(kubernetes_version: &str) -> Result<Schemas, String> {
        let minor = minor_version(kubernetes_version).ok_or_else(|| {
            format!(
                "{kubernetes_version:?}: expected a Kubernetes version such as {DEFAULT_VERSION}"
            )
        })?;
        let builtin = builtin::get(&minor)?;
        let groups = builtin
            .served()
            .map(|(api_version, _)| group_of(api_version).to_owned())
            .collect();
        Ok(Schemas {
            builtin,
            crds: HashMap::new(),
            groups,
        })
    }

    /// The Kubernetes minor version the built-in schemas are for (`1.37`).
    pub fn kubernetes_version(&self) -> &'static str {
        self.builtin.version
    }

    /// Whether `object` is a CustomResourceDefinition.
    pub fn is_crd(object: &Value) -> bool {
        object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
            && object
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
    }

    /// Adds a CRD (an `apiextensions.k8s.io/v1` CustomResourceDefinition
    /// object) whose custom resources are then checked; `source` says where
    /// it was read, for notices. A later CRD for the same group and kind
    /// replaces an earlier one, as applying it to a cluster would. Returns
    /// false (and adds nothing) for an object that is not a CRD or lacks a
    /// group or kind.
    pub fn add_crd(&mut self, object: &Value, source: &str) -> bool {
        if !Schemas::is_crd(object) {
            return false;
        }
        match crd::Crd::read(object, source.to_owned()) {
            Some(crd) => {
                self.crds.insert((crd.group.clone(), crd.kind.clone()), crd);
                true
            }
            None => false,
        }
    }

    /// The `x-kubernetes-validations` rules of a CRD's version (by CRD name
    /// and version name), indexed as [`RuleNode::rules`] index them; `None`
    /// for a CRD or version not known or not compiled yet.
    pub fn crd_rules(&self, crd: &str, version: &str) -> Option<&[Value]> {
        let crd = self.crds.values().find(|c| c.name == crd)?;
        let version = crd.versions.iter().find(|v| v.name == version)?;
        version.compiled().map(|(arena, _)| arena.rules.as_slice())
    }

    /// How many CRDs the schemas hold.
    pub fn crd_count(&self) -> usize {
        self.crds.len()
    }

    /// Whether a CRD among the schemas defines `object`'s group and kind
    /// (whatever its version): whether it is a custom resource they know.
    pub fn defines(&self, object: &Value) -> bool {
        if self.crds.is_empty() {
            return false;
        }
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        let group = group_of(text("apiVersion"));
        self.crds
            .contains_key(&(group.to_owned(), text("kind").to_owned()))
    }

    /// Checks one object (with `apiVersion` and `kind`).
    pub fn validate(&self, object: &Value) -> Outcome {
        self.validate_update(object, None)
    }

    /// Checks one object, as [`Schemas::validate`], on an UPDATE of `old`
    /// (`None`: a CREATE): a custom resource's rule nodes carry their
    /// correlated old values ([`RuleNode::old`]) for transition rules.
    pub fn validate_update(&self, object: &Value, old: Option<&Value>) -> Outcome {
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        let (api_version, kind) = (text("apiVersion"), text("kind"));
        let group = group_of(api_version);
        let version = self.builtin.version;
        let mut warnings = Vec::new();
        if let Some((arena, root)) = self.builtin.kind(api_version, kind) {
            let mut walk = Walk::new(arena, Dialect::BuiltIn);
            walk.value(root, object);
            let (rule, max) = metadata::name_rule(group, kind);
            metadata::check(&mut walk, object, rule, max);
            let mut findings = walk.finish();
            if Schemas::is_crd(object) {
                findings.extend(crd::check_definition(object));
            }
            if let Some(d) = removed::lookup(api_version, kind)
                && d.removed_in.is_none()
                && removed::minor(version) >= d.deprecated_in
            {
                warnings.push(format!(
                    "{kind} in {api_version} is deprecated since Kubernetes 1.{}; use {}",
                    d.deprecated_in, d.replacement
                ));
            }
            return Outcome {
                checked: Checked::BuiltIn,
                findings,
                warnings,
                rule_checks: None,
            };
        }
        if let Some(crd) = self.crds.get(&(group.to_owned(), kind.to_owned())) {
            return self.custom_resource(crd, object, old, api_version, kind);
        }
        let at_api_version = |message: String| Finding {
            pointer: "/apiVersion".to_owned(),
            message: format!(
                "apiVersion: Invalid value: {}: {message}",
                Value::String(api_version.to_owned())
            ),
        };
        if let Some(d) = removed::lookup(api_version, kind)
            && let Some(removed_in) = d.removed_in.filter(|&r| removed::minor(version) >= r)
        {
            return Outcome {
                checked: Checked::Removed,
                findings: vec![at_api_version(format!(
                    "{kind} in {api_version} was removed in Kubernetes 1.{removed_in} (deprecated since 1.{}); use {}",
                    d.deprecated_in, d.replacement
                ))],
                warnings,
                rule_checks: None,
            };
        }
        if self.groups.contains(group) {
            let served: Vec<&str> = self
                .builtin
                .served()
                .filter(|(_, k)| k == kind)
                .map(|(v, _)| v.as_str())
                .collect();
            let hint = if served.is_empty() {
                String::new()
            } else {
                let mut served = served;
                served.sort();
                format!(" ({kind} is served as {})", served.join(", "))
            };
            return Outcome {
                checked: Checked::Removed,
                findings: vec![at_api_version(format!(
                    "no matches for kind \"{kind}\" in version \"{api_version}\" in Kubernetes {version}{hint}"
                ))],
                warnings,
                rule_checks: None,
            };
        }
        Outcome {
            checked: Checked::NoSchema,
            findings: Vec::new(),
            warnings,
            rule_checks: None,
        }
    }

    fn custom_resource(
        &self,
        crd: &crd::Crd,
        object: &Value,
        old: Option<&Value>,
        api_version: &str,
        kind: &str,
    ) -> Outcome {
        let version_name = api_version.rsplit_once('/').map_or("", |(_, v)| v);
        let served: Vec<&str> = crd
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect();
        let problem = |message: String| Outcome {
            checked: Checked::Crd(crd.name.clone()),
            findings: vec![Finding {
                pointer: "/apiVersion".to_owned(),
                message: format!(
                    "apiVersion: Invalid value: {}: {message}",
                    Value::String(api_version.to_owned())
                ),
            }],
            warnings: Vec::new(),
            rule_checks: None,
        };
        let Some(version) = crd.versions.iter().find(|v| v.name == version_name) else {
            return problem(format!(
                "no matches for kind \"{kind}\" in version \"{api_version}\": CustomResourceDefinition {} ({}) has versions {}",
                crd.name,
                crd.source,
                crd.versions
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !version.served {
            return problem(format!(
                "version {version_name} of CustomResourceDefinition {} ({}) is not served (served: {})",
                crd.name,
                crd.source,
                if served.is_empty() {
                    "none".to_owned()
                } else {
                    served.join(", ")
                }
            ));
        }
        let mut findings = Vec::new();
        let mut rule_checks = None;
        if let Some((arena, root)) = version.compiled() {
            let mut walk = Walk::new(arena, Dialect::Crd);
            // apiVersion, kind and metadata are the API server's, not the schema's.
            let node = arena.node(root);
            if let Some(map) = object.as_object() {
                for (key, child) in map {
                    if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        continue;
                    }
                    walk.path.push(Step::Field(key));
                    walk.old = old.and_then(|o| o.get(key));
                    match node.properties.get(key) {
                        Some(&id) => walk.value(id, child),
                        None if node.additional == model::Additional::Forbidden => {
                            let field = walk.field();
                            walk.report_whole(format!("unknown field \"{field}\""));
                        }
                        None => {
                            if let model::Additional::Schema(id) = node.additional {
                                walk.value(id, child);
                            }
                        }
                    }
                    walk.path.pop();
                }
                for name in &node.required {
                    if !map.contains_key(name) {
                        walk.path.push(Step::Field(name));
                        walk.report("Required value".to_owned());
                        walk.path.pop();
                    }
                }
            }
            let mut nodes = std::mem::take(&mut walk.rule_nodes);
            if !node.rules.is_empty() {
                nodes.insert(
                    0,
                    RuleNode {
                        rules: node.rules.clone(),
                        value: object.clone(),
                        pointer: String::new(),
                        field: String::new(),
                        old: old.cloned(),
                    },
                );
            }
            if !nodes.is_empty() {
                rule_checks = Some(RuleChecks {
                    crd: crd.name.clone(),
                    version: version.name.clone(),
                    nodes,
                });
            }
            findings.extend(walk.finish());
        }
        if let Some((arena, object_meta)) = self.builtin.object_meta() {
            let mut meta = Walk::new(arena, Dialect::BuiltIn);
            if let Some(metadata) = object.get("metadata") {
                meta.path.push(Step::Field("metadata"));
                meta.value(object_meta, metadata);
                meta.path.pop();
            }
            metadata::check(&mut meta, object, metadata::NameRule::Subdomain, None);
            findings.extend(meta.finish());
        }
        Outcome {
            checked: Checked::Crd(crd.name.clone()),
            findings,
            warnings: Vec::new(),
            rule_checks,
        }
    }
}

/// The API group of an `apiVersion` (`apps` for `apps/v1`, empty for `v1`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}
