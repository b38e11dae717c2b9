//! The wasm-validate policy ABI, versions 1 and 2: the types that cross the boundary
//! between the host (crates/engine) and a policy module.
//!
//! The full contract (exports, imports, memory ownership, encodings) is written
//! down in `docs/abi.md`; this crate holds the data shapes so that host and
//! guest cannot disagree on them. It builds for the host and for
//! `wasm32-unknown-unknown` and has no I/O.
//!
//! Wire encoding: the request is UTF-8 JSON in version 1 and a binary tape
//! in version 2 ([`tape`]); the response and the metadata are UTF-8 JSON
//! with camelCase keys in both.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod tape;

pub use json_patch::{self, Patch, PatchOperation};

/// The ABI version the SDK speaks: version 2, whose request is a binary
/// tape ([`tape`]). A module reports its version through the
/// [`exports::ABI_VERSION`] export and in [`Metadata::abi_version`].
pub const ABI_VERSION: u32 = 2;

/// The ABI versions the host runs: 1 (JSON request) and 2 (tape request);
/// the response is JSON in both (`docs/abi.md`).
pub const SUPPORTED_ABI_VERSIONS: [u32; 2] = [1, 2];

/// Name of the Wasm custom section that carries a policy's [`Metadata`] as JSON.
pub const METADATA_SECTION: &str = "wasm-validate.metadata";

/// Import module name of the functions the host offers to a policy.
pub const HOST_MODULE: &str = "wasm_validate";

/// Names of the functions a policy module may import from [`HOST_MODULE`].
pub mod imports {
    /// `log(level: i32, ptr: i32, len: i32)`: a UTF-8 message at `ptr..ptr+len`
    /// of the guest's memory; `level` is a [`crate::LogLevel`] as `i32`.
    pub const LOG: &str = "log";
}

/// Names of the functions a policy module must export.
pub mod exports {
    /// The module's linear memory.
    pub const MEMORY: &str = "memory";
    /// `wv_abi_version() -> i32`: the ABI version the module speaks, as in its
    /// metadata (one of [`crate::SUPPORTED_ABI_VERSIONS`]).
    pub const ABI_VERSION: &str = "wv_abi_version";
    /// `wv_alloc(len: i32) -> i32`: reserves `len` bytes that the host then
    /// fills with the request; returns the offset, or 0 when out of memory.
    pub const ALLOC: &str = "wv_alloc";
    /// `wv_evaluate(ptr: i32, len: i32) -> i64`: evaluates the request (JSON
    /// in version 1, a [`crate::tape`] request in version 2) at
    /// `ptr..ptr+len` (ownership passes to the guest). Returns 0 for "allowed,
    /// nothing to report", else `(response_ptr << 32) | response_len` of a
    /// JSON [`crate::Response`] in the guest's memory.
    pub const EVALUATE: &str = "wv_evaluate";
    /// Optional `wv_prepare(ptr: i32, len: i32) -> i64`: called once with
    /// the policy's settings (a [`crate::tape`] section at `ptr..ptr+len`)
    /// before any evaluation, so the module can do its settings' expensive
    /// work once (the Rego runtime compiles the policy's modules). The host
    /// keeps the memory and mutable globals it leaves as the starting state
    /// of every evaluation (`docs/abi.md`, "Preparation"). Returns 0 when
    /// ready, else a response as `wv_evaluate` does; a response with an
    /// `error` refuses the settings.
    pub const PREPARE: &str = "wv_prepare";
    /// A library module's `wv_mark()`: keeps what was allocated so far
    /// (the host's request buffer, reserved with `wv_alloc` and written)
    /// and makes it the point the guest's heap goes back to before each
    /// `wv_evaluate_at` (`docs/abi.md`, "Library modules").
    pub const MARK: &str = "wv_mark";
    /// A library module's `wv_evaluate_at(index: i32, ptr: i32, len: i32)
    /// -> i64`: evaluates the version 2 request at `ptr..ptr+len` (inside
    /// the marked buffer) with the module's policy `index`, after freeing
    /// what the guest allocated since the mark; answers as `wv_evaluate`.
    pub const EVALUATE_AT: &str = "wv_evaluate_at";
}

/// Severity of a policy's findings, as in SARIF and PolicyReport results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// Low impact.
    Low,
    /// Medium impact.
    Medium,
    /// High impact.
    High,
    /// Critical impact.
    Critical,
}

/// Which resources a policy applies to: a resource matches a rule when its
/// API group and version are each in the lists (or the list holds `*`), and
/// its kind is in `kinds` or its plural resource name (as Kubernetes guesses
/// it from the kind, [`plural_of`]) is in `resources`. The core group is `""`.
/// At admission, the request's operation must also be in `operations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// API groups, for example `["", "apps", "batch"]`; `*` matches all.
    pub api_groups: Vec<String>,
    /// API versions, for example `["v1"]`; `*` matches all. Defaults to `["*"]`.
    #[serde(default = "star")]
    pub api_versions: Vec<String>,
    /// Kinds, for example `["Pod", "Deployment"]`; `*` matches all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Plural resource names, as admission webhooks and Kubewarden name
    /// them (`["pods", "deployments"]`); `*` matches all. Empty by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The admission operations the rule covers, as in a webhook
    /// configuration's rules (`CREATE`, `UPDATE`, `DELETE`, `CONNECT`, `*`).
    /// Defaults to `CREATE` and `UPDATE`: a policy about an object's
    /// content has nothing to say about its deletion. Offline runs are
    /// CREATE.
    #[serde(
        default = "create_and_update",
        skip_serializing_if = "is_create_and_update"
    )]
    pub operations: Vec<RuleOperation>,
}

/// An operation in a [`Rule`]'s `operations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleOperation {
    /// `CREATE`.
    #[serde(rename = "CREATE")]
    Create,
    /// `UPDATE`.
    #[serde(rename = "UPDATE")]
    Update,
    /// `DELETE`.
    #[serde(rename = "DELETE")]
    Delete,
    /// `CONNECT`.
    #[serde(rename = "CONNECT")]
    Connect,
    /// `*`: every operation.
    #[serde(rename = "*")]
    All,
}

impl RuleOperation {
    /// Whether this entry covers `operation`.
    pub fn covers(self, operation: Operation) -> bool {
        matches!(
            (self, operation),
            (RuleOperation::All, _)
                | (RuleOperation::Create, Operation::Create)
                | (RuleOperation::Update, Operation::Update)
                | (RuleOperation::Delete, Operation::Delete)
                | (RuleOperation::Connect, Operation::Connect)
        )
    }
}

/// A rule's operations when it names none: CREATE and UPDATE.
pub fn create_and_update() -> Vec<RuleOperation> {
    vec![RuleOperation::Create, RuleOperation::Update]
}

fn is_create_and_update(operations: &[RuleOperation]) -> bool {
    operations == create_and_update()
}

fn star() -> Vec<String> {
    vec!["*".to_owned()]
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|item| item == "*" || item == value)
}

impl Rule {
    /// The rule that selects Namespaces (`v1`, core group): what a policy
    /// whose `namespaceSelector` reads Namespaces' labels reads besides
    /// what it selects.
    pub fn namespaces() -> Rule {
        Rule {
            api_groups: vec![String::new()],
            api_versions: vec!["v1".to_owned()],
            kinds: vec!["Namespace".to_owned()],
            resources: Vec::new(),
            operations: create_and_update(),
        }
    }

    /// Whether a resource of this `apiVersion` (`group/version` or `version`
    /// for the core group) and `kind` matches the rule.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        matches(&self.api_groups, group)
            && matches(&self.api_versions, version)
            && (matches(&self.kinds, kind)
                || (!self.resources.is_empty() && matches(&self.resources, &plural_of(kind))))
    }
}

/// The plural resource name Kubernetes guesses for a kind (apimachinery's
/// `UnsafeGuessKindToResource`): lowercase, then `-s` → `-ses`, `-y` →
/// `-ies`, else `+s`. `Ingress` → `ingresses`, `NetworkPolicy` →
/// `networkpolicies`, `Pod` → `pods`.
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        lower
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

/// Splits an `apiVersion` into `(group, version)`; the core group is `""`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// What a policy says about itself; embedded as JSON in the module's
/// [`METADATA_SECTION`] custom section and read by the host at load time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The ABI the module speaks: one of [`SUPPORTED_ABI_VERSIONS`].
    pub abi_version: u32,
    /// Unique name, lowercase with dashes, for example `disallow-host-namespaces`.
    pub name: String,
    /// One or two sentences for reports and `--list-policies`.
    pub description: String,
    /// Severity of the policy's violations.
    pub severity: Severity,
    /// Resources the policy applies to; the host does not call the policy for
    /// any other resource.
    pub rules: Vec<Rule>,
    /// Whether the policy may answer with a [`Response::patch`].
    #[serde(default)]
    pub mutating: bool,
    /// JSON Schema of the policy's settings object, if it takes settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_schema: Option<serde_json::Value>,
    /// Where the rule the policy implements is defined (URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// The group the policy belongs to, for catalogues and profiles, for
    /// example `pod-security` or `best-practices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// For Pod Security Standards controls: the level that defines the
    /// control, `baseline` or `restricted` (restricted includes baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// For Pod Security Standards controls: the control's title on the
    /// Kubernetes "Pod Security Standards" page, for example `Host Namespaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// Names of policies this one replaces when both would run in a profile:
    /// a restricted control overrides the baseline control it tightens
    /// (as pod-security-admission's `OverrideCheckIDs` do).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Former or alternative names the policy can also be chosen by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A Pod Security Standards level (the Privileged level restricts nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Baseline: prevents known privilege escalations.
    Baseline,
    /// Restricted: current pod hardening best practice; includes Baseline.
    Restricted,
}

impl Metadata {
    /// Whether the policy applies to a resource of this `apiVersion` and
    /// `kind` when it is created (what offline runs check).
    pub fn applies_to(&self, api_version: &str, kind: &str) -> bool {
        self.applies_at(api_version, kind, Operation::Create)
    }

    /// Whether the policy applies to a resource of this `apiVersion` and
    /// `kind` in an admission request for `operation`.
    pub fn applies_at(&self, api_version: &str, kind: &str, operation: Operation) -> bool {
        self.rules.iter().any(|rule| {
            rule.matches(api_version, kind) && rule.operations.iter().any(|o| o.covers(operation))
        })
    }
}

/// The admission operation a request stands for. Offline checks use `CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// The resource is being created (what offline checks and post-render use).
    #[default]
    Create,
    /// The resource is being updated.
    Update,
    /// The resource is being deleted.
    Delete,
    /// A connect request (exec, attach, port-forward).
    Connect,
}

impl Operation {
    /// The operation as Kubernetes writes it: `CREATE`, `UPDATE`, `DELETE`,
    /// `CONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// The request the host writes into the guest: `{"operation", "settings", "object"}`,
/// in that key order. `S` is the policy's settings type and `O` its view of the
/// resource object; a guest may decode only the fields it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<S, O> {
    /// The admission operation.
    #[serde(default)]
    pub operation: Operation,
    /// The policy's settings from the configuration; `{}` when none are given.
    pub settings: S,
    /// The resource object, after the patches of earlier mutating policies.
    pub object: O,
}

/// One reason a resource is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Violation {
    /// Human-readable reason, in the style of the admission controller's own messages.
    pub message: String,
    /// JSON Pointer (RFC 6901) to the offending field in the object; `""` is
    /// the whole object. The field may be absent when the violation is that it
    /// is missing.
    #[serde(default)]
    pub path: String,
}

/// What a policy answers for one request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Response {
    /// `false` denies the resource; then `violations` says why.
    pub allowed: bool,
    /// Why the resource is denied; must be non-empty when `allowed` is false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// Messages that do not deny the resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// For mutating policies: an RFC 6902 JSON Patch to apply to the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Patch>,
    /// Set when the policy could not evaluate the request (bad settings, an
    /// object it cannot read); the host reports an error result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the policy finds it does not apply to the object (a
    /// ValidatingAdmissionPolicy's match condition is false): the host
    /// reports no result, as when the policy's rules leave the object out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
    /// Audit annotations the policy gives for the request, by key (a
    /// ValidatingAdmissionPolicy's `auditAnnotations`, keyed
    /// `POLICY/KEY` as the API server keys them): reported with the
    /// result, and at admission added to the AdmissionResponse's
    /// `auditAnnotations`. They neither allow nor deny.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub audit_annotations: std::collections::BTreeMap<String, String>,
}

impl Response {
    /// An allowing response with nothing to report.
    pub fn allow() -> Self {
        Response {
            allowed: true,
            ..Response::default()
        }
    }

    /// A response that denies when `violations` is non-empty and allows otherwise.
    pub fn from_violations(violations: Vec<Violation>) -> Self {
        Response {
            allowed: violations.is_empty(),
            violations,
            ..Response::default()
        }
    }

    /// An error response: the policy could not evaluate the request.
    pub fn error(message: impl Into<String>) -> Self {
        Response {
            allowed: false,
            error: Some(message.into()),
            ..Response::default()
        }
    }

    /// Whether this response carries nothing but "allowed" (encoded as 0 on the wire).
    pub fn is_plain_allow(&self) -> bool {
        self.allowed
            && self.violations.is_empty()
            && self.warnings.is_empty()
            && self.error.is_none()
            && self.patch.as_ref().is_none_or(|p| p.0.is_empty())
            && !self.not_applicable
            && self.audit_annotations.is_empty()
    }
}

/// Log levels of the `log` import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(i32)]
pub enum LogLevel {
    /// Trace.
    Trace = 0,
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warning.
    Warn = 3,
    /// Error.
    Error = 4,
}

impl LogLevel {
    /// The level for an `i32` from the wire; unknown values map to `Info`.
    pub fn from_i32(value: i32) -> Self {
        match value {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// Escapes one reference token for a JSON Pointer (RFC 6901 section 3:
/// `~` becomes `~0`, `/` becomes `~1`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_matching_uses_group_version_kind() {
        let rule = Rule {
            api_groups: vec!["".into(), "apps".into()],
            api_versions: star(),
            kinds: vec!["Pod".into(), "Deployment".into()],
            resources: Vec::new(),
            operations: create_and_update(),
        };
        assert!(rule.matches("v1", "Pod"));
        assert!(rule.matches("apps/v1", "Deployment"));
        assert!(!rule.matches("batch/v1", "Deployment"));
        assert!(!rule.matches("v1", "Service"));
    }

    #[test]
    fn rules_by_resource_name_match_the_kinds_plural() {
        let rule = Rule {
            api_groups: vec!["".into(), "networking.k8s.io".into()],
            api_versions: vec!["v1".into()],
            kinds: Vec::new(),
            resources: vec!["pods".into(), "ingresses".into(), "networkpolicies".into()],
            operations: create_and_update(),
        };
        assert!(rule.matches("v1", "Pod"));
        assert!(rule.matches("networking.k8s.io/v1", "Ingress"));
        assert!(rule.matches("networking.k8s.io/v1", "NetworkPolicy"));
        assert!(!rule.matches("v1", "Service"));
        assert!(!rule.matches("v2", "Pod"));
        assert_eq!(plural_of("Endpoints"), "endpointses");
    }

    #[test]
    fn plain_allow_detection() {
        assert!(Response::allow().is_plain_allow());
        let mut r = Response::allow();
        r.warnings.push("w".into());
        assert!(!r.is_plain_allow());
        assert!(!Response::error("x").is_plain_allow());
    }

    #[test]
    fn pointer_escaping() {
        assert_eq!(escape_pointer_token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn metadata_rejects_unknown_keys() {
        let err = serde_json::from_str::<Metadata>(
            r#"{"abiVersion":1,"name":"x","description":"d","severity":"low","rules":[],"bogus":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
