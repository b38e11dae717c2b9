//! The configuration file `wasm-validate.yaml` and how it combines with the
//! command line into the [`PolicySet`] of a run. The format is documented in
//! `docs/configuration.md`:
//!
//! ```yaml
//! apiVersion: wasm-validate.dev/v1
//! kind: Configuration
//! profiles: [restricted]            # baseline, restricted, best-practices, fixes
//! defaults: {action: deny, fuel: 100000000, memoryLimit: 64}
//! annotationExemptions: true        # honour wasm-validate.dev/ignore
//! policies:
//!   - policy: allowed-image-registries   # built-in name or alias, or a .wasm/.wat path
//!     id: registries-prod                 # optional: the name it is reported under
//!     settings: {registries: [registry.example.com/]}
//!     action: warn                        # deny, warn or audit
//!     failurePolicy: Ignore               # at admission: Fail (default) or Ignore
//!     match: {kinds: [Deployment], namespaces: ["prod-*"], labelSelector: {matchLabels: {tier: web}}}
//!     exclude: [{names: ["legacy-*"]}]
//!     fuel: 50000000                      # per evaluation
//!     memoryLimit: 32                     # MiB
//! exemptions:
//!   - reason: node agents need the host network
//!     policies: [host-namespaces]         # optional: every policy
//!     kinds: [DaemonSet]
//!     namespaces: ["kube-*"]
//!     names: ["node-exporter*"]
//!     containers: ["exporter"]            # optional: only findings in these containers
//! serve: {securePort: 8443, requestTimeout: 8s, loggingFormat: json}   # wasm-validate serve's flags
//! ```
//!
//! Unknown keys, wrong types, bad globs, bad label selectors, unknown
//! policies and settings that break a policy's schema are [`ConfigError`]s
//! naming the file, the line and the key (`policies[1].match.namespaces[0]`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

mod file;
mod foreign;
mod schema;
mod serve;
mod source;
pub use file::{
    API_VERSION, BundledModules, ChosenModule, Config, ConfigError, DEFAULT_FILE, Defaults,
    ExemptionSpec, FilterSpec, KIND, PolicyConfig, PolicySpec, ProfileName,
};
pub use foreign::bundle_bytes;
pub use schema::{SchemaOptions, SchemaSpec, crd_bundle_bytes, crd_reference, schema_stage};
pub use serve::{LoggingFormat, ServeSpec};
pub use source::SourceText;
pub use wasm_validate_gatekeeper::EnforcementPoint;

use serde_json::Value;
use wasm_validate_builtin::Profile;
use wasm_validate_engine::{Engine, Limits};
use wasm_validate_pipeline::{
    ConfiguredPolicy, Exempt, Exemption, ExemptionSource, Glob, PolicySet, ResourceFilter,
};

/// What the command line adds to (or overrides in) the configuration.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    /// `--policy`: built-in names or module paths (relative to the working
    /// directory), added after the configuration's.
    pub policies: Vec<String>,
    /// `--profile`, added to the configuration's.
    pub profiles: Vec<Profile>,
    /// `--settings NAME=VALUE`: replaces the settings of the policy with
    /// that id or name; a built-in policy not otherwise chosen is added.
    pub settings: Vec<(String, Value)>,
    /// `--fuel`: overrides `defaults.fuel` (a policy's own `fuel` still wins).
    pub fuel: Option<u64>,
    /// `--memory-limit` in MiB: overrides `defaults.memoryLimit`.
    pub memory_limit: Option<usize>,
    /// `--rego-namespace`: the Conftest namespaces (Rego packages) to run
    /// from Rego policy paths; `main` when empty, every one with `*`.
    pub rego_namespaces: Vec<String>,
    /// The schema stage's flags, for the commands that run it (`check`,
    /// `post-render`, `kubectl wasm-validate -f`); `None` for the others.
    pub schema: Option<SchemaOptions>,
    /// `--gatekeeper-engine cel`: ConstraintTemplates that have both
    /// engines run their `K8sNativeValidation` (CEL) one instead of Rego.
    pub gatekeeper_cel: bool,
    /// The Gatekeeper enforcement point the command is: a constraint with
    /// `enforcementAction: scoped` takes its action there, and is left out
    /// where it has none (`gator.gatekeeper.sh` by default).
    pub gatekeeper_point: wasm_validate_gatekeeper::EnforcementPoint,
    /// `--combine`: Conftest policies see every document of the run as one
    /// input, as Conftest's `--combine`.
    pub conftest_combine: bool,
    /// `--data`: files or directories whose YAML and JSON documents make
    /// Conftest policies' `data` document, as Conftest's `--data`.
    pub conftest_data: Vec<PathBuf>,
}

/// One policy to load and where it was asked for.
struct Choice<'a> {
    /// Name or path.
    reference: String,
    /// The file's entry, with its index.
    spec: Option<(usize, &'a PolicySpec)>,
}

/// Compiles globs written at `pointer` (an array).
fn globs(
    source: &SourceText,
    pointer: &str,
    patterns: &[String],
) -> Result<Vec<Glob>, ConfigError> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| Glob::new(p).map_err(|e| source.error(&format!("{pointer}/{i}"), e)))
        .collect()
}

fn filter(
    source: &SourceText,
    pointer: &str,
    spec: &FilterSpec,
) -> Result<ResourceFilter, ConfigError> {
    if let Some(selector) = &spec.label_selector {
        selector
            .validate()
            .map_err(|e| source.error(&format!("{pointer}/labelSelector"), e))?;
    }
    Ok(ResourceFilter {
        kinds: globs(source, &format!("{pointer}/kinds"), &spec.kinds)?,
        namespaces: globs(source, &format!("{pointer}/namespaces"), &spec.namespaces)?,
        names: globs(source, &format!("{pointer}/names"), &spec.names)?,
        label_selector: spec.label_selector.clone(),
    })
}

/// The built-in policy names, for error messages.
fn builtin_names() -> String {
    wasm_validate_builtin::catalog()
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `reference` names a module file rather than a built-in policy.
pub fn is_module_path(reference: &str) -> bool {
    reference.ends_with(".wasm") || reference.ends_with(".wat") || reference.contains('/')
}

/// Which policies a configuration and a command line choose, in order (see
/// [`build_policy_set`]).
fn choose<'a>(file: &'a PolicyConfig, command_line: &CommandLine) -> Vec<Choice<'a>> {
    let cli_settings = &command_line.settings;
    let has_settings = |name: &str| {
        cli_settings.iter().any(|(n, _)| n == name)
            || file.policies.iter().any(|p| {
                wasm_validate_builtin::resolve(&p.policy) == Some(name) && p.settings.is_some()
            })
    };
    let mut profiles: Vec<Profile> = file.profiles.iter().map(|&p| p.into()).collect();
    profiles.extend(command_line.profiles.iter().copied());
    let nothing_chosen = profiles.is_empty()
        && file.policies.is_empty()
        && command_line.policies.is_empty()
        && command_line.settings.is_empty();
    if nothing_chosen {
        profiles = vec![Profile::Restricted, Profile::BestPractices];
    }
    let canonical = |reference: &str| {
        wasm_validate_builtin::resolve(reference)
            .unwrap_or(reference)
            .to_owned()
    };
    let mut choices: Vec<Choice> = wasm_validate_builtin::select(&profiles, has_settings)
        .into_iter()
        .map(|name| Choice {
            reference: name.to_owned(),
            spec: None,
        })
        .collect();
    for (index, spec) in file.policies.iter().enumerate() {
        let name = canonical(&spec.policy);
        let from_profile = choices
            .iter_mut()
            .find(|c| c.spec.is_none() && c.reference == name && spec.id.is_none());
        match from_profile {
            Some(choice) => choice.spec = Some((index, spec)),
            None => choices.push(Choice {
                reference: spec.policy.clone(),
                spec: Some((index, spec)),
            }),
        }
    }
    for reference in command_line
        .policies
        .iter()
        .chain(cli_settings.iter().map(|(n, _)| n))
    {
        let name = canonical(reference);
        let is_builtin = wasm_validate_builtin::resolve(reference).is_some();
        let is_setting_only = !command_line.policies.contains(reference);
        if is_setting_only && !is_builtin {
            continue;
        }
        let known = choices.iter().any(|c| {
            canonical(&c.reference) == name
                || c.spec.and_then(|(_, s)| s.id.as_deref()) == Some(reference.as_str())
        });
        if !known {
            choices.push(Choice {
                reference: reference.clone(),
                spec: None,
            });
        }
    }

    choices
}

/// The file a module choice names: relative to the configuration's
/// directory `base` for an entry of the file, to the working directory for
/// `--policy`.
fn module_file(base: &Path, choice: &Choice) -> PathBuf {
    if choice.spec.is_some() {
        base.join(&choice.reference)
    } else {
        PathBuf::from(&choice.reference)
    }
}

/// The modules `config` and `command_line` choose: built-in policies by
/// canonical name, module files with the path they are read from. What
/// `wasm-validate bundle create` packs.
pub fn chosen_modules(config: Option<&Config>, command_line: &CommandLine) -> Vec<ChosenModule> {
    let empty = PolicyConfig::default();
    let (file, base) = match config {
        Some(c) => (&c.policies, c.base.as_path()),
        None => (&empty, Path::new("")),
    };
    choose(file, command_line)
        .into_iter()
        .map(|choice| {
            if is_module_path(&choice.reference) {
                let path = module_file(base, &choice);
                ChosenModule::File {
                    reference: choice.reference,
                    path,
                }
            } else {
                ChosenModule::Builtin(
                    wasm_validate_builtin::resolve(&choice.reference)
                        .unwrap_or(&choice.reference)
                        .to_owned(),
                )
            }
        })
        .collect()
}

/// Resolves a configuration (`None`: no file) and the command line into the
/// policies of a run, loaded by `engine` with their limits, settings
/// (validated against each policy's schema), actions, filters and the
/// exemptions. `source` and `base` place errors and relative paths of the
/// configuration's entries.
///
/// Which policies run: the profiles (file and command line), the file's
/// `policies` (an entry naming a policy a profile already chose configures
/// it, unless it has its own `id`), `--policy`, and built-in policies that
/// only `--settings` names; with none of these, the `restricted` and
/// `best-practices` profiles.
pub fn build_policy_set(
    engine: &Engine,
    config: Option<&Config>,
    command_line: &CommandLine,
) -> Result<PolicySet, ConfigError> {
    let empty = PolicyConfig::default();
    let no_source = SourceText {
        name: "(command line)".to_owned(),
        text: String::new(),
    };
    let (file, source, base) = match config {
        Some(c) => (&c.policies, &c.source, c.base.as_path()),
        None => (&empty, &no_source, Path::new("")),
    };
    let bundled = config.and_then(|c| c.bundled.as_deref());
    let mut cli_settings = command_line.settings.clone();
    let choices = choose(file, command_line);

    let mut set = PolicySet {
        ignore_annotations: file.annotation_exemptions == Some(false),
        ..PolicySet::default()
    };
    // The built-in library module, shared by the built-in policies from the
    // binary (loaded when admission first uses it).
    let mut library: Option<std::sync::Arc<wasm_validate_pipeline::LibraryModule>> = None;
    if let Some(options) = &command_line.schema {
        set.schema = schema_stage(
            config.and_then(|c| c.schema.as_ref()),
            base,
            bundled,
            options,
        )?;
    }
    // Foreign references' files (Gatekeeper YAML, Conftest Rego), from the
    // file system or from the bundle; Gatekeeper's are read as one whole,
    // so that a constraint may find its template under another path.
    let mut sources: Vec<Option<foreign::Sources>> = Vec::with_capacity(choices.len());
    for choice in &choices {
        let path = module_file(base, choice);
        let read = match bundled {
            Some(bundled) => bundled
                .by_reference
                .get(choice.reference.as_str())
                .and_then(|bytes| foreign::Sources::unpack(bytes))
                .transpose(),
            None => foreign::format_of(&choice.reference, &path)
                .map(|format| foreign::Sources::read(format, &path))
                .transpose(),
        };
        sources.push(read.map_err(|e| ConfigError(format!("--policy {}: {e}", choice.reference)))?);
    }
    let conftest_data =
        wasm_validate_conftest::read_data(&command_line.conftest_data).map_err(ConfigError)?;
    let gatekeeper_sources: Vec<(String, foreign::Sources)> = choices
        .iter()
        .zip(&sources)
        .filter_map(|(choice, sources)| {
            sources
                .as_ref()
                .filter(|s| s.format == foreign::Format::PolicyObjects)
                .map(|s| (choice.reference.clone(), s.clone()))
        })
        .collect();
    let gatekeeper = match gatekeeper_sources.is_empty() {
        true => None,
        false => Some(
            foreign::PolicyObjects::read(
                engine,
                &gatekeeper_sources,
                command_line.gatekeeper_cel,
                command_line.gatekeeper_point,
            )
            .map_err(|e| ConfigError(format!("policy objects: {e}")))?,
        ),
    };
    for (choice, sources) in choices.iter().zip(&sources) {
        let pointer = choice.spec.map(|(i, _)| format!("/policies/{i}"));
        let place = |suffix: &str| match &pointer {
            Some(p) => source.at(&format!("{p}{suffix}")),
            None => format!("--policy {}", choice.reference),
        };
        let spec = choice.spec.map(|(_, s)| s);
        let reference = &choice.reference;
        let defaults = Limits::default();
        // Fuel given anywhere is an exact cap; the default grows with the
        // request's size (Limits::fuel_per_request_byte).
        let explicit_fuel = spec
            .and_then(|s| s.fuel)
            .or(command_line.fuel)
            .or(file.defaults.fuel);
        let fuel = explicit_fuel.unwrap_or(defaults.fuel);
        let fuel_per_request_byte = match explicit_fuel {
            Some(_) => 0,
            None => defaults.fuel_per_request_byte,
        };
        let memory = spec
            .and_then(|s| s.memory_limit)
            .or(command_line.memory_limit)
            .or(file.defaults.memory_limit)
            .map_or(defaults.memory_bytes, |mib| mib.saturating_mul(1 << 20));
        let limits = Limits {
            fuel,
            fuel_per_request_byte,
            memory_bytes: memory,
            ..defaults
        };
        let foreign = match (sources, &gatekeeper) {
            (Some(sources), _) if sources.format == foreign::Format::Conftest => {
                Some(foreign::conftest_policies(
                    engine,
                    sources,
                    &command_line.rego_namespaces,
                    limits,
                    command_line.conftest_combine,
                    conftest_data.as_ref(),
                ))
            }
            (Some(sources), Some(gatekeeper)) => {
                Some(gatekeeper.policies_from(engine, sources, limits))
            }
            _ => None,
        };
        if let Some(policies) = foreign {
            let policies =
                policies.map_err(|e| ConfigError(format!("{}: {e}", place("/policy"))))?;
            for mut configured in policies {
                if set.policies.iter().any(|p| p.id == configured.id) {
                    return Err(ConfigError(format!(
                        "{}: a policy named {} is already chosen",
                        place("/policy"),
                        configured.id
                    )));
                }
                // The constraint's enforcementAction, unless the entry gives one.
                if let Some(action) = spec.and_then(|s| s.action) {
                    configured.action = action;
                }
                configured.failure_policy = spec
                    .and_then(|s| s.failure_policy)
                    .or(file.defaults.failure_policy)
                    .unwrap_or_default();
                set.policies.push(configured);
            }
            continue;
        }
        let builtin = !is_module_path(reference);
        let from_bundle = match bundled {
            Some(bundled) if !builtin && spec.is_some() => Some(
                bundled
                    .by_reference
                    .get(reference.as_str())
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{}: the bundle carries no module {reference}",
                            place("/policy")
                        ))
                    })?,
            ),
            Some(bundled) if builtin => wasm_validate_builtin::resolve(reference)
                .and_then(|name| bundled.builtins.get(name)),
            _ => None,
        };
        let bytes: std::borrow::Cow<'_, [u8]> = if let Some(bytes) = from_bundle {
            bytes.as_slice().into()
        } else if !builtin {
            let path = module_file(base, choice);
            std::fs::read(&path)
                .map_err(|e| {
                    ConfigError(format!(
                        "{}: cannot read the module {}: {e}",
                        place("/policy"),
                        path.display()
                    ))
                })?
                .into()
        } else {
            wasm_validate_builtin::get(reference)
                .ok_or_else(|| {
                    ConfigError(format!(
                        "{}: no built-in policy is named {reference:?} (built-in: {}; a module is given by a path ending in .wasm)",
                        place("/policy"),
                        builtin_names()
                    ))
                })?
                .into()
        };
        // A Kubewarden module without a title annotation is named after its file.
        let stem = std::path::Path::new(reference.as_str())
            .file_stem()
            .map_or_else(|| reference.clone(), |s| s.to_string_lossy().into_owned());
        // The binary's built-in modules are validated in full by
        // crates/builtin's tests; their function bodies are validated on
        // first call. Modules from files and bundles are validated in full.
        let loaded = if builtin && from_bundle.is_none() {
            engine.load_prevalidated(&bytes, limits, &stem)
        } else {
            engine.load_named(&bytes, limits, &stem)
        };
        // A module the engine refuses (hostile or broken) checks nothing and
        // is reported as an error of the run; the other policies still run.
        let policy = match loaded {
            Ok(policy) => policy,
            Err(error) => {
                set.unloadable.push(wasm_validate_pipeline::Unloadable {
                    module: reference.clone(),
                    chosen_at: place("/policy"),
                    error: error.to_string(),
                });
                continue;
            }
        };
        let id = spec
            .and_then(|s| s.id.clone())
            .unwrap_or_else(|| policy.name().to_owned());
        if set.policies.iter().any(|p| p.id == id) {
            return Err(ConfigError(format!(
                "{}: a policy named {id} is already chosen (give this entry its own id to run it twice)",
                place("/policy")
            )));
        }
        let from_cli = cli_settings
            .iter()
            .position(|(n, _)| {
                *n == id || (spec.is_none_or(|s| s.id.is_none()) && *n == policy.name())
            })
            .map(|i| cli_settings.remove(i).1);
        let settings_place = match (&from_cli, spec.and_then(|s| s.settings.as_ref())) {
            (Some(_), _) => format!("--settings {id}"),
            (None, Some(_)) => place("/settings"),
            (None, None) => place(""),
        };
        let settings = from_cli
            .or_else(|| spec.and_then(|s| s.settings.clone()))
            .unwrap_or_else(|| serde_json::json!({}));
        // A Kubewarden policy checks its settings itself (validate_settings).
        engine.validate_settings(&policy, &settings).map_err(|e| {
            ConfigError(format!(
                "{settings_place}: the policy {} rejects its settings: {e}",
                policy.name()
            ))
        })?;
        let in_library = (builtin && from_bundle.is_none())
            .then(|| wasm_validate_builtin::library_index(policy.name()))
            .flatten()
            .map(|index| wasm_validate_pipeline::InLibrary {
                module: library
                    .get_or_insert_with(|| {
                        wasm_validate_pipeline::LibraryModule::new(wasm_validate_builtin::library())
                    })
                    .clone(),
                index,
            });
        let mut configured = ConfiguredPolicy::configure(policy, settings)
            .map_err(|e| ConfigError(format!("{settings_place}: {e}")))?;
        configured.library = in_library;
        configured.id = id;
        configured.action = spec
            .and_then(|s| s.action)
            .or(file.defaults.action)
            .unwrap_or_default();
        configured.failure_policy = spec
            .and_then(|s| s.failure_policy)
            .or(file.defaults.failure_policy)
            .unwrap_or_default();
        if let (Some(spec), Some(pointer)) = (spec, &pointer) {
            configured.include = spec
                .matching
                .as_ref()
                .map(|m| filter(source, &format!("{pointer}/match"), m))
                .transpose()?;
            configured.exclude = spec
                .exclude
                .iter()
                .enumerate()
                .map(|(i, e)| filter(source, &format!("{pointer}/exclude/{i}"), e))
                .collect::<Result<_, _>>()?;
        }
        set.policies.push(configured);
    }
    if let Some((name, _)) = cli_settings.first() {
        return Err(ConfigError(format!(
            "--settings {name}: no chosen policy has this name"
        )));
    }
    for (index, spec) in file.exemptions.iter().enumerate() {
        let pointer = format!("/exemptions/{index}");
        if spec.reason.trim().is_empty() {
            return Err(source.error(&format!("{pointer}/reason"), "a reason is required"));
        }
        for (i, name) in spec.policies.iter().enumerate() {
            let known = set.policies.iter().any(|p| p.is_named(name))
                || wasm_validate_builtin::resolve(name).is_some();
            if !known {
                return Err(source.error(
                    &format!("{pointer}/policies/{i}"),
                    format!("no policy is named {name:?} (neither a chosen policy's id nor a built-in policy)"),
                ));
            }
        }
        let resources = filter(
            source,
            &pointer,
            &FilterSpec {
                kinds: spec.kinds.clone(),
                namespaces: spec.namespaces.clone(),
                names: spec.names.clone(),
                label_selector: None,
            },
        )?;
        let line = source.at(&pointer);
        let place = line.rsplit_once(": ").map_or(line.as_str(), |(p, _)| p);
        set.exemptions.push(Exemption {
            policies: spec.policies.clone(),
            resources,
            containers: globs(source, &format!("{pointer}/containers"), &spec.containers)?,
            exempt: Exempt {
                reason: spec.reason.clone(),
                source: ExemptionSource::Config(place.to_owned()),
            },
        });
    }
    Ok(set)
}

/// Names in an ignore annotation that designate no policy: neither a policy
/// of `set` (id, name or alias) nor a built-in policy.
pub fn unknown_policy_names<'a>(set: &PolicySet, names: &'a [String]) -> Vec<&'a str> {
    names
        .iter()
        .filter(|name| {
            !set.policies.iter().any(|p| p.is_named(name))
                && wasm_validate_builtin::resolve(name).is_none()
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests;
