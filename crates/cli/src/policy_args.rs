//! The policy arguments every command takes, resolved with the
//! configuration file into a loaded policy set.

use wasm_validate_builtin::Profile;
use wasm_validate_config::{CommandLine, Config, EnforcementPoint};
use wasm_validate_engine::Engine;
use wasm_validate_manifest::{self as manifest};
use wasm_validate_pipeline::PolicySet;
use wasm_validate_report::FailOn;

use crate::*;

/// A `--profile`: a named selection of the built-in library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// Pod Security Standards, Baseline level.
    Baseline,
    /// Pod Security Standards, Restricted level (includes Baseline).
    Restricted,
    /// The best-practice checks that need no settings.
    BestPractices,
    /// The mutating fixes that need no settings (run before validation).
    Fixes,
}

impl From<ProfileArg> for Profile {
    fn from(value: ProfileArg) -> Self {
        match value {
            ProfileArg::Baseline => Profile::Baseline,
            ProfileArg::Restricted => Profile::Restricted,
            ProfileArg::BestPractices => Profile::BestPractices,
            ProfileArg::Fixes => Profile::Fixes,
        }
    }
}

/// `--gatekeeper-engine`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum GatekeeperEngine {
    /// The template's Rego.
    #[default]
    Rego,
    /// The template's K8sNativeValidation (CEL) source.
    Cel,
}

/// Options that choose policies, their settings and their limits, and the
/// limits of reading inputs (shared by every command that reads manifests).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// Policy to run: a built-in name (or alias); a path to a `.wasm` (or
    /// `.wat`) module; policy objects (a YAML file, or a directory given as
    /// a path like `./policies`): Gatekeeper ConstraintTemplates and
    /// constraints, ValidatingAdmissionPolicies and their bindings, Kyverno
    /// ValidatingPolicies; or Conftest Rego (a `.rego` file, or a directory
    /// holding them).
    /// Repeatable. Without --policy and --profile: the restricted and
    /// best-practices profiles.
    #[arg(long = "policy", short = 'p', value_name = "NAME|PATH")]
    pub policies: Vec<String>,
    /// Run a profile of the built-in library: baseline, restricted (includes
    /// baseline), best-practices, fixes (mutations). Repeatable.
    #[arg(long = "profile", value_enum, value_name = "PROFILE")]
    pub profiles: Vec<ProfileArg>,
    /// Settings of a policy as NAME=VALUE, VALUE a JSON or YAML mapping, for
    /// example `allowed-image-registries={registries: [ghcr.io/acme/]}`.
    /// Validated against the policy's schema before anything runs. Giving
    /// settings for a built-in policy also selects it. Repeatable.
    #[arg(long = "settings", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Conftest namespace (Rego package) to run from a Rego policy path
    /// (`--policy policy/`), as Conftest's `--namespace`: `main` by
    /// default, `*` for every package (Conftest's `--all-namespaces`).
    /// Repeatable.
    #[arg(long = "rego-namespace", value_name = "PACKAGE")]
    pub rego_namespaces: Vec<String>,
    /// Conftest's --combine: Rego policy paths see every document of the
    /// run as one input, `[{path, contents}]`, evaluated once; the results
    /// are reported on the first resource.
    #[arg(long)]
    pub combine: bool,
    /// Conftest's --data: YAML or JSON files (or directories of them) whose
    /// documents, merged, are Rego policy paths' `data` document.
    /// Repeatable.
    #[arg(long = "data", value_name = "PATH")]
    pub data: Vec<std::path::PathBuf>,
    /// The engine of Gatekeeper ConstraintTemplates that have both: rego
    /// (default) or cel (their K8sNativeValidation source). A template with
    /// only one engine runs on it.
    #[arg(
        long = "gatekeeper-engine",
        value_enum,
        value_name = "ENGINE",
        default_value = "rego"
    )]
    pub gatekeeper_engine: GatekeeperEngine,
    /// Fuel (deterministic instruction budget) per evaluation, an exact cap
    /// [default: the configuration's `defaults.fuel`, else 100000000 plus
    /// 1000 per byte of the request, so that large objects are not cut
    /// short]. A policy's own `fuel` in the configuration wins.
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Linear memory cap per evaluation, in MiB [default: the
    /// configuration's `defaults.memoryLimit`, else 64].
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<usize>,
    /// Configuration file (default: wasm-validate.yaml in the working
    /// directory, if present). See docs/configuration.md.
    #[arg(long, value_name = "PATH", conflicts_with = "no_config")]
    pub config: Option<std::path::PathBuf>,
    /// Do not read wasm-validate.yaml from the working directory.
    #[arg(long)]
    pub no_config: bool,
    /// Run the policies of a bundle made by `wasm-validate bundle create`:
    /// its configuration, modules and built-in policies, checked against
    /// its SHA-256 manifest before anything runs (a changed, missing or
    /// added file is an error, exit 2). Replaces --config, --policy,
    /// --profile and --settings. See docs/air-gapped.md.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["config", "no_config", "policies", "profiles", "settings"]
    )]
    pub bundle: Option<std::path::PathBuf>,
    /// Ed25519 public key (SPKI PEM) the --bundle must be signed with; an
    /// unsigned bundle or another signature is an error (exit 2).
    #[arg(long, value_name = "PEM", requires = "bundle")]
    pub bundle_key: Option<std::path::PathBuf>,
    /// Largest input (a file, or stdin) to read, in MiB; a larger one is an
    /// error (exit 2) and nothing of it is checked.
    #[arg(long, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_input_size: u64,
    /// Largest document of a stream, in MiB (`List` documents included); a
    /// larger one is an error (exit 2) and is not checked.
    #[arg(long, value_name = "MIB", default_value_t = 32,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_document_size: usize,
    /// Most items in one sequence, a `List` document's items included;
    /// more is an error (exit 2).
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_list_items: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// What makes the run exit 1: `deny` (a denial) or `warn` (a denial or
    /// a warning). Input and policy errors exit 2 either way.
    #[arg(long, value_enum, value_name = "LEVEL", default_value = "deny")]
    pub fail_on: FailOnArg,
    /// The schema stage's options, set by the commands that run it from
    /// their [`SchemaArgs`]; `None` runs no schema stage.
    #[arg(skip)]
    pub schema: Option<wasm_validate_config::SchemaOptions>,
}

/// `--schema`, `--kubernetes-version` and `--crd-path`: the schema stage of
/// `check`, `post-render` and `kubectl wasm-validate` (files and live
/// audits; docs/schema.md).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SchemaArgs {
    /// Check each resource against its Kubernetes or CRD schema before the
    /// policies, as the API server with fieldValidation=Strict: `on`
    /// (default; a kind without a schema gets a notice), `strict` (a kind
    /// without a schema is an error, exit 2) or `off` [default: the
    /// configuration's `schema.mode`, else on].
    #[arg(long = "schema", value_name = "MODE", value_parser = parse_schema_mode)]
    pub mode: Option<wasm_validate_schema::Mode>,
    /// The Kubernetes version whose built-in schemas apply, as 1.37 or
    /// v1.37.0 [default: the configuration's `schema.kubernetesVersion`,
    /// else in a live audit the server's, else the newest built in].
    #[arg(long, value_name = "VERSION")]
    pub kubernetes_version: Option<String>,
    /// CustomResourceDefinitions to check custom resources against: a file,
    /// or a directory searched recursively. Repeatable. CRDs among the
    /// checked inputs (or, in a live audit, the cluster's) are used too.
    #[arg(long = "crd-path", value_name = "FILE|DIR")]
    pub crd_paths: Vec<std::path::PathBuf>,
}

fn parse_schema_mode(value: &str) -> Result<wasm_validate_schema::Mode, String> {
    value.parse()
}

impl SchemaArgs {
    /// The options the configuration resolves the stage with.
    pub fn options(&self) -> wasm_validate_config::SchemaOptions {
        wasm_validate_config::SchemaOptions {
            mode: self.mode,
            kubernetes_version: self.kubernetes_version.clone(),
            crd_paths: self.crd_paths.clone(),
        }
    }
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOnArg {
    /// Exit 1 when a policy denied something.
    #[default]
    Deny,
    /// Exit 1 also when a policy only warned.
    Warn,
}

impl From<FailOnArg> for FailOn {
    fn from(value: FailOnArg) -> Self {
        match value {
            FailOnArg::Deny => FailOn::Deny,
            FailOnArg::Warn => FailOn::Warn,
        }
    }
}

impl PolicyArgs {
    pub(crate) fn threads(&self) -> usize {
        threads_or_cores(self.threads)
    }

    /// The bounds on reading inputs, from `--max-input-size`,
    /// `--max-document-size` and `--max-list-items` (clap refuses 0). A
    /// `PolicyArgs` built without clap (all zero) gets the defaults.
    pub fn read_limits(&self) -> manifest::ReadLimits {
        fn or<T: PartialEq + Default>(value: T, default: T) -> T {
            if value == T::default() {
                default
            } else {
                value
            }
        }
        let default = manifest::ReadLimits::default();
        manifest::ReadLimits {
            input_bytes: or(
                self.max_input_size.saturating_mul(1 << 20),
                default.input_bytes,
            ),
            document_bytes: or(
                self.max_document_size.saturating_mul(1 << 20),
                default.document_bytes,
            ),
            list_items: or(self.max_list_items, default.list_items),
        }
    }
}

/// A setup error (unknown policy, unreadable module): message for stderr, exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the `--settings NAME=VALUE` arguments into (name, settings object)
/// pairs, with built-in names resolved through their aliases.
pub(crate) fn parse_settings(
    args: &[String],
) -> Result<Vec<(String, serde_json::Value)>, SetupError> {
    let mut parsed: Vec<(String, serde_json::Value)> = Vec::new();
    for arg in args {
        let Some((name, value)) = arg.split_once('=') else {
            return Err(SetupError(format!(
                "--settings {arg}: expected NAME=VALUE, for example require-minimum-replicas={{minimum: 3}}"
            )));
        };
        let name = wasm_validate_builtin::resolve(name)
            .unwrap_or(name)
            .to_owned();
        let value: serde_json::Value = serde_yaml::from_str(value)
            .map_err(|e| SetupError(format!("--settings {name}: not a JSON or YAML value: {e}")))?;
        if !value.is_object() {
            return Err(SetupError(format!(
                "--settings {name}: settings must be a mapping, got {value}"
            )));
        }
        if parsed.iter().any(|(seen, _)| *seen == name) {
            return Err(SetupError(format!("--settings {name}: given twice")));
        }
        parsed.push((name, value));
    }
    Ok(parsed)
}

/// Loads the policies of the run: the configuration file (`--config`, else
/// `wasm-validate.yaml` in the working directory unless `--no-config`)
/// combined with the command line, as
/// [`wasm_validate_config::build_policy_set`] describes. Unknown names,
/// unreadable modules, invalid settings and configuration errors are setup
/// errors.
///
/// With `--bundle`, the configuration and every module come from the bundle,
/// checked first ([`bundle::open_bundle`]); a signed bundle opened without
/// `--bundle-key` is noted on stderr.
///
/// Gatekeeper constraints are enforced as at `gator.gatekeeper.sh` (the
/// shift-left point; see [`load_policies_at`]).
pub fn load_policies(engine: &Engine, args: &PolicyArgs) -> Result<PolicySet, SetupError> {
    load_policies_at(engine, args, EnforcementPoint::Gator)
}

/// [`load_policies`] for the command that is the Gatekeeper enforcement
/// point `point`: `serve` is `validation.gatekeeper.sh`, the audit of a
/// live cluster `audit.gatekeeper.sh`, every other command
/// `gator.gatekeeper.sh`. A constraint with `enforcementAction: scoped`
/// takes the action its `scopedEnforcementActions` give that point, and is
/// left out where they give none.
pub fn load_policies_at(
    engine: &Engine,
    args: &PolicyArgs,
    point: EnforcementPoint,
) -> Result<PolicySet, SetupError> {
    let config = if let Some(path) = &args.bundle {
        let opened = bundle::open_bundle(path, args.bundle_key.as_deref())?;
        if let Some(note) = bundle::signature_note(path, &opened) {
            eprintln!("{note}");
        }
        Some(bundle::bundle_config(path, &opened)?)
    } else if args.no_config {
        None
    } else {
        Config::discover(args.config.as_deref()).map_err(|e| SetupError(e.0))?
    };
    let command_line = CommandLine {
        policies: args.policies.clone(),
        profiles: args.profiles.iter().map(|&p| p.into()).collect(),
        settings: parse_settings(&args.settings)?,
        fuel: args.fuel,
        memory_limit: args.memory_limit,
        rego_namespaces: args.rego_namespaces.clone(),
        schema: args.schema.clone(),
        gatekeeper_cel: args.gatekeeper_engine == GatekeeperEngine::Cel,
        gatekeeper_point: point,
        conftest_combine: args.combine,
        conftest_data: args.data.clone(),
    };
    wasm_validate_config::build_policy_set(engine, config.as_ref(), &command_line)
        .map_err(|e| SetupError(e.0))
}

/// Lists the built-in policies: a table (name, level or category, severity,
/// validating or mutating, description) or, for JSON, an array of their
/// metadata. Reads the catalogue; no module is compiled.
pub fn list_policies(format: OutputFormat) -> String {
    let catalog = wasm_validate_builtin::catalog();
    match format {
        OutputFormat::Text => {
            let mut out = String::new();
            for m in catalog {
                let kind = if m.mutating { "mutating" } else { "validating" };
                let severity = serde_json::to_value(m.severity).expect("severity encodes");
                let group = match m.level {
                    Some(level) => serde_json::to_value(level)
                        .expect("level encodes")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    None => m.category.clone().unwrap_or_default(),
                };
                out.push_str(&format!(
                    "{:<40} {:<15} {:<8} {:<10} {}\n",
                    m.name,
                    group,
                    severity.as_str().unwrap_or_default(),
                    kind,
                    m.description
                ));
            }
            out
        }
        // The catalogue is metadata, not a report: every other format lists it as JSON.
        _ => {
            let mut out = serde_json::to_string_pretty(catalog).expect("metadata encodes");
            out.push('\n');
            out
        }
    }
}

/// `threads`, or one per core.
pub(crate) fn threads_or_cores(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}
