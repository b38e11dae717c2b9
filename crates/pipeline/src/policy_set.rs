//! The configured policies: each policy with its settings, action, failure
//! policy and the resources it is limited to ([`ConfiguredPolicy`]), the
//! set a run evaluates ([`PolicySet`]), and the check of a policy's
//! settings against its schema ([`validate_settings`]).

use serde_json::Value;
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::{Engine, Limits, Policy, Protocol};
use wasm_validate_manifest::Resource;

use crate::{Action, Exemption, FailurePolicy, ResourceFilter, RunObjects, SchemaStage};

/// A policy with the settings it runs with, its action and the resources
/// it is limited to.
#[derive(Debug, Clone)]
pub struct ConfiguredPolicy {
    /// The loaded policy.
    pub policy: Policy,
    /// Its settings object (`{}` when none).
    pub settings: Value,
    /// The name it is reported under: the policy's own name unless the
    /// configuration gives it an `id` (to run one module twice with
    /// different settings).
    pub id: String,
    /// What its findings do.
    pub action: Action,
    /// What admission does when it cannot evaluate a request.
    pub failure_policy: FailurePolicy,
    /// It runs only on resources this filter selects (all when `None`).
    pub include: Option<ResourceFilter>,
    /// It does not run on resources any of these filters select.
    pub exclude: Vec<ResourceFilter>,
    /// A selection the policy's own format brings (Gatekeeper's `match`),
    /// applied besides the metadata's rules and the filters above.
    pub selector: Option<std::sync::Arc<dyn Selector>>,
    /// Set when the policy is prepared with the objects of each run
    /// ([`RunObjects`]).
    pub run_objects: Option<std::sync::Arc<dyn RunObjects>>,
    /// Why the policy cannot run (its preparation for the run failed):
    /// every evaluation it would make is this error.
    pub unavailable: Option<String>,
    /// At admission, the policy receives the request's other fields
    /// (`userInfo`, `uid`, `dryRun`, `name`, `namespace`, `kind`, ...) in
    /// its settings' `review` member: the Rego runtime's protocol for
    /// Gatekeeper's `input.review` (docs/abi.md, "Preparation").
    pub review_in_settings: bool,
    /// The same policy in a library module (the built-in library, for a
    /// built-in policy loaded from the binary): at admission, the
    /// validating policies that have one are evaluated together in one
    /// instance of it ([`crate::evaluate_admission`]).
    pub library: Option<InLibrary>,
    pub(crate) request_prefix: Vec<u8>,
    pub(crate) settings_tape: Vec<u8>,
}

/// Where a policy's code is also found in a library module
/// (`wasm_validate_engine::Engine::evaluate_library`; docs/abi.md, "Library
/// modules"): the module, shared by the policies it holds, and the
/// policy's index in it. The module must hold the very code of the
/// policy's own module (for the built-in library, the binary's own
/// built-in policies).
#[derive(Debug, Clone)]
pub struct InLibrary {
    /// The library module.
    pub module: std::sync::Arc<LibraryModule>,
    /// The policy's index in it.
    pub index: u32,
}

/// A library module, loaded when it is first used (only admission uses
/// one, so that other commands do not pay for loading it).
pub struct LibraryModule {
    bytes: &'static [u8],
    loaded: std::sync::OnceLock<Option<Policy>>,
}

impl std::fmt::Debug for LibraryModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryModule")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl LibraryModule {
    /// The module `bytes`, not loaded yet. Its functions' bodies are
    /// validated when first called (`Engine::load_prevalidated`): the bytes
    /// must be a module the binary was built with and its tests validated
    /// in full (`wasm_validate_builtin::library`).
    pub fn new(bytes: &'static [u8]) -> std::sync::Arc<LibraryModule> {
        std::sync::Arc::new(LibraryModule {
            bytes,
            loaded: std::sync::OnceLock::new(),
        })
    }

    /// The module loaded with `engine`, the first time with default
    /// limits; `None` when it cannot be loaded (each policy then runs in
    /// its own module). It stays loaded with the engine that first asked:
    /// a process has one engine, and with another its evaluations would
    /// fail and every policy would run again in its own module.
    pub fn get(&self, engine: &Engine) -> Option<&Policy> {
        self.loaded
            .get_or_init(|| {
                engine
                    .load_prevalidated(self.bytes, Limits::default(), "library")
                    .ok()
            })
            .as_ref()
    }
}

impl ConfiguredPolicy {
    /// Pairs a policy with its settings, without checking them against the
    /// policy's schema (see [`ConfiguredPolicy::configure`]). The settings
    /// are encoded once here, in the form the policy's ABI takes: the JSON
    /// request prefix (`{"operation":"CREATE","settings":...,"object":`)
    /// for version 1 and Kubewarden modules, a tape section for version 2.
    pub fn new(policy: Policy, settings: Value) -> Self {
        let (mut request_prefix, mut settings_tape) = (Vec::new(), Vec::new());
        if policy.abi_version() == 2 {
            settings_tape = tape::encode(&settings);
        } else {
            request_prefix = br#"{"operation":"CREATE","settings":"#.to_vec();
            serde_json::to_writer(&mut request_prefix, &settings).expect("a JSON value encodes");
            request_prefix.extend_from_slice(br#","object":"#);
        }
        ConfiguredPolicy {
            id: policy.name().to_owned(),
            policy,
            settings,
            action: Action::Deny,
            failure_policy: FailurePolicy::Fail,
            include: None,
            exclude: Vec::new(),
            selector: None,
            run_objects: None,
            unavailable: None,
            review_in_settings: false,
            library: None,
            request_prefix,
            settings_tape,
        }
    }

    /// Pairs a policy with its settings after validating them against the
    /// JSON Schema in the policy's metadata (`settingsSchema`, validated with
    /// the `jsonschema` crate). A policy without a schema takes no settings:
    /// anything but `{}` is refused. Errors name each offending setting by
    /// its JSON Pointer. A Kubewarden policy has no schema and checks its
    /// settings itself ([`wasm_validate_engine::Engine::validate_settings`], called by the
    /// configuration loader); its settings are taken as given here.
    pub fn configure(policy: Policy, settings: Value) -> Result<Self, SettingsError> {
        if policy.protocol() == Protocol::Native {
            validate_settings(policy.metadata(), &settings)?;
        }
        Ok(ConfiguredPolicy::new(policy, settings))
    }

    /// The name the policy is reported under ([`ConfiguredPolicy::id`]).
    pub fn name(&self) -> &str {
        &self.id
    }

    /// Whether `name` designates this policy: its id, its own name or one
    /// of its aliases.
    pub fn is_named(&self, name: &str) -> bool {
        let metadata = self.policy.metadata();
        self.id == name || metadata.name == name || metadata.aliases.iter().any(|a| a == name)
    }

    /// Whether the policy runs on `resource`: its metadata's rules match,
    /// the include filter (if any) selects it and no exclude filter does.
    pub fn applies_to(&self, resource: &Resource) -> bool {
        self.applies_at(resource, Operation::Create)
    }

    /// [`ConfiguredPolicy::applies_to`] in an admission request for
    /// `operation`: the policy's rules must also cover the operation.
    pub fn applies_at(&self, resource: &Resource, operation: Operation) -> bool {
        self.policy
            .metadata()
            .applies_at(resource.api_version(), resource.kind(), operation)
            && self.include.as_ref().is_none_or(|f| f.matches(resource))
            && !self.exclude.iter().any(|f| f.matches(resource))
            && self.selector.as_ref().is_none_or(|s| s.selects(resource))
    }
}

/// Which resources a policy runs on, as a foreign policy format defines it
/// (Gatekeeper's constraint `match`, in `wasm-validate-gatekeeper`).
pub trait Selector: std::fmt::Debug + Send + Sync {
    /// Whether the policy runs on `resource`.
    fn selects(&self, resource: &Resource) -> bool;
}

/// Settings that do not satisfy a policy's schema: the policy's name and one
/// message per problem (`/registries: [] has less than 1 item`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The policy.
    pub policy: String,
    /// The problems, each led by the JSON Pointer of the setting.
    pub problems: Vec<String>,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "policy {}: invalid settings: {}",
            self.policy,
            self.problems.join("; ")
        )
    }
}

impl std::error::Error for SettingsError {}

/// Validates `settings` against `metadata.settings_schema` (see
/// [`ConfiguredPolicy::configure`]).
pub fn validate_settings(
    metadata: &wasm_validate_abi::Metadata,
    settings: &Value,
) -> Result<(), SettingsError> {
    let error = |problems: Vec<String>| SettingsError {
        policy: metadata.name.clone(),
        problems,
    };
    let Some(schema) = &metadata.settings_schema else {
        return match settings {
            Value::Object(map) if map.is_empty() => Ok(()),
            _ => Err(error(vec!["this policy takes no settings".to_owned()])),
        };
    };
    let validator = jsonschema::validator_for(schema).map_err(|e| {
        error(vec![format!(
            "the policy's settings schema is invalid: {e}"
        )])
    })?;
    let problems: Vec<String> = validator
        .iter_errors(settings)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() { "/" } else { path.as_str() };
            format!("{at}: {e}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(error(problems))
    }
}

/// The policies of a run, in configuration order, and the exemptions.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The policies; a result's `policy` field indexes this list.
    pub policies: Vec<ConfiguredPolicy>,
    /// Configured exemptions, in order (the first that matches gives the reason).
    pub exemptions: Vec<Exemption>,
    /// Ignore `wasm-validate.dev/ignore` annotations (a platform team may
    /// not want resource authors to exempt themselves).
    pub ignore_annotations: bool,
    /// Chosen modules the engine refused to load (invalid, a forbidden
    /// import, a wrong export, too large): they check nothing, and a run
    /// reports each as an error (exit 2) beside the other policies' results.
    pub unloadable: Vec<Unloadable>,
    /// The schema stage, when the run has one: every resource is checked
    /// against its Kubernetes or CRD schema before the policies
    /// ([`check_schemas`]).
    pub schema: Option<SchemaStage>,
}

impl PolicySet {
    /// The set, or the first module that could not be loaded as an error
    /// (`CHOSEN_AT: the module MODULE cannot be loaded: CAUSE`), for the
    /// commands that must load every policy: `bundle create` and `verify`,
    /// `test`.
    pub fn all_loaded(self) -> Result<PolicySet, String> {
        match self.unloadable.first() {
            None => Ok(self),
            Some(u) => Err(format!(
                "{}: the module {} cannot be loaded: {}",
                u.chosen_at, u.module, u.error
            )),
        }
    }
}

/// A chosen policy module that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unloadable {
    /// The module as chosen: its path, or a built-in policy's name.
    pub module: String,
    /// Where it was chosen: `--policy PATH`, or the configuration's file,
    /// line and key.
    pub chosen_at: String,
    /// Why it could not be loaded (the engine's `LoadError`).
    pub error: String,
}
