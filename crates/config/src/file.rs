//! The configuration file's format (`wasm-validate.yaml`, documented in
//! `docs/configuration.md`) and reading it: the structure only, checked
//! with file, line and key; what it chooses is resolved by
//! [`crate::build_policy_set`].

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use wasm_validate_builtin::Profile;
use wasm_validate_pipeline::{Action, FailurePolicy, LabelSelector};

use crate::{ServeSpec, SourceText};

/// The file looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "wasm-validate.yaml";
/// The `apiVersion` of the configuration.
pub const API_VERSION: &str = "wasm-validate.dev/v1";
/// The `kind` of the configuration.
pub const KIND: &str = "Configuration";

/// A configuration error: the file, line and key when known, and what is
/// wrong. The front ends print it and exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A profile name as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    /// `baseline`.
    Baseline,
    /// `restricted`.
    Restricted,
    /// `best-practices`.
    BestPractices,
    /// `fixes`.
    Fixes,
}

impl From<ProfileName> for Profile {
    fn from(value: ProfileName) -> Self {
        match value {
            ProfileName::Baseline => Profile::Baseline,
            ProfileName::Restricted => Profile::Restricted,
            ProfileName::BestPractices => Profile::BestPractices,
            ProfileName::Fixes => Profile::Fixes,
        }
    }
}

/// `defaults`: what every policy gets unless its entry says otherwise.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Action of every policy (`deny` when not given).
    pub action: Option<Action>,
    /// `failurePolicy` of every policy at admission (`Fail` when not given).
    pub failure_policy: Option<FailurePolicy>,
    /// Fuel per evaluation.
    pub fuel: Option<u64>,
    /// Linear memory cap per evaluation, in MiB.
    pub memory_limit: Option<usize>,
}

/// A resource filter as written (`match`, `exclude`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterSpec {
    /// Globs over `kind`.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Globs over `metadata.namespace`.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Globs over `metadata.name`.
    #[serde(default)]
    pub names: Vec<String>,
    /// A Kubernetes label selector.
    pub label_selector: Option<LabelSelector>,
}

/// One entry of `policies`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// A built-in name or alias, or a path to a `.wasm`/`.wat` module
    /// (relative to the file's directory).
    pub policy: String,
    /// The name it is reported under (default: the policy's own name);
    /// lets one module run twice with different settings.
    pub id: Option<String>,
    /// Its settings (validated against its `settingsSchema`).
    pub settings: Option<Value>,
    /// Its action.
    pub action: Option<Action>,
    /// At admission, what an error of this policy does (`Fail` denies,
    /// `Ignore` allows with a warning); default `Fail`.
    pub failure_policy: Option<FailurePolicy>,
    /// It runs only on the resources this selects.
    #[serde(rename = "match")]
    pub matching: Option<FilterSpec>,
    /// It does not run on the resources any of these select.
    #[serde(default)]
    pub exclude: Vec<FilterSpec>,
    /// Fuel per evaluation.
    pub fuel: Option<u64>,
    /// Linear memory cap per evaluation, in MiB.
    pub memory_limit: Option<usize>,
}

/// One entry of `exemptions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExemptionSpec {
    /// Why (required, reported with every exempted finding).
    pub reason: String,
    /// The policies (ids, names or aliases); every policy when empty.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Globs over `kind`.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Globs over `metadata.namespace`.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Globs over `metadata.name`.
    #[serde(default)]
    pub names: Vec<String>,
    /// Globs over container names: only findings inside these containers.
    #[serde(default)]
    pub containers: Vec<String>,
}

/// The policy part of a configuration (shared with test suites).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConfig {
    /// Profiles of the built-in library.
    #[serde(default)]
    pub profiles: Vec<ProfileName>,
    /// Defaults for every policy.
    #[serde(default)]
    pub defaults: Defaults,
    /// Policies, in order.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// Exemptions, in order.
    #[serde(default)]
    pub exemptions: Vec<ExemptionSpec>,
    /// Whether `wasm-validate.dev/ignore` annotations exempt resources
    /// (default true).
    pub annotation_exemptions: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    profiles: Vec<ProfileName>,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    policies: Vec<PolicySpec>,
    #[serde(default)]
    exemptions: Vec<ExemptionSpec>,
    annotation_exemptions: Option<bool>,
    serve: Option<ServeSpec>,
    schema: Option<crate::SchemaSpec>,
}

/// A configuration read from a file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The policy part.
    pub policies: PolicyConfig,
    /// `serve:`: options of `wasm-validate serve` (see [`ServeSpec`]).
    pub serve: Option<ServeSpec>,
    /// `schema:`: the schema stage's options (see [`crate::SchemaSpec`]).
    pub schema: Option<crate::SchemaSpec>,
    /// The file's text, for error lines.
    pub source: SourceText,
    /// The directory policy paths are relative to.
    pub base: PathBuf,
    /// Modules carried by a policy bundle: when set, they are used instead
    /// of the files the configuration names and of the binary's built-in
    /// modules (see [`BundledModules`]).
    pub bundled: Option<std::sync::Arc<BundledModules>>,
}

/// The modules of a policy bundle (`wasm-validate-bundle`), already checked
/// against its manifest. A configuration read from a bundle takes every
/// module it names by path from `by_reference` (a path missing there is an
/// error, the file system is not read) and every built-in policy it chooses
/// from `builtins` when present there, so that the bundle runs the code it
/// carries whatever binary opens it.
#[derive(Debug, Clone, Default)]
pub struct BundledModules {
    /// Module path as the configuration writes it → module bytes.
    pub by_reference: std::collections::BTreeMap<String, Vec<u8>>,
    /// Built-in policy name → module bytes.
    pub builtins: std::collections::BTreeMap<String, Vec<u8>>,
}

/// A module a configuration chooses, as [`crate::chosen_modules`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenModule {
    /// A built-in policy, by its canonical name.
    Builtin(String),
    /// A module file: the path as written, and where it is read from.
    File {
        /// The path as the configuration (or `--policy`) writes it.
        reference: String,
        /// The file it names (relative to the configuration's directory).
        path: PathBuf,
    },
}

impl Config {
    /// Reads and validates the structure of the file at `path` (unknown
    /// keys, types, `apiVersion` and `kind`). Policies are resolved later,
    /// by [`crate::build_policy_set`].
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::from_text(&path.display().to_string(), text, base)
    }

    /// As [`Config::read`], from text.
    pub fn from_text(name: &str, text: String, base: PathBuf) -> Result<Config, ConfigError> {
        let source = SourceText {
            name: name.to_owned(),
            text,
        };
        let file: ConfigFile = source.parse()?;
        source.check_header(&file.api_version, &file.kind, KIND)?;
        Ok(Config {
            policies: PolicyConfig {
                profiles: file.profiles,
                defaults: file.defaults,
                policies: file.policies,
                exemptions: file.exemptions,
                annotation_exemptions: file.annotation_exemptions,
            },
            serve: file.serve,
            schema: file.schema,
            source,
            base,
            bundled: None,
        })
    }

    /// The configuration to use: `explicit` if given (it must exist), else
    /// [`DEFAULT_FILE`] in the working directory if present, else none.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<Config>, ConfigError> {
        match explicit {
            Some(path) => Config::read(path).map(Some),
            None => {
                let path = Path::new(DEFAULT_FILE);
                if path.is_file() {
                    Config::read(path).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }
}
