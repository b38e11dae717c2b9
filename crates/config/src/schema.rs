//! `schema:` in `wasm-validate.yaml` and the schema stage of a run: the
//! mode (`off`, `on`, `strict`), the Kubernetes version whose built-in
//! schemas apply, and CRD files (docs/schema.md). A flag given on the
//! command line wins over the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wasm_validate_manifest as manifest;
use wasm_validate_pipeline::SchemaStage;
use wasm_validate_schema::{DEFAULT_VERSION, Mode, Schemas};

use crate::ConfigError;

/// The `schema` section of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaSpec {
    /// `--schema`: `off`, `on` or `strict`.
    pub mode: Option<String>,
    /// `--kubernetes-version` (`1.37`).
    pub kubernetes_version: Option<String>,
    /// `--crd-path`: CRD files or directories, relative to the
    /// configuration file's directory.
    #[serde(default)]
    pub crd_paths: Vec<PathBuf>,
}

/// The schema options of a command that runs the stage (`check`,
/// `post-render`, `kubectl wasm-validate` with files or live).
#[derive(Debug, Clone, Default)]
pub struct SchemaOptions {
    /// `--schema`, when given.
    pub mode: Option<Mode>,
    /// `--kubernetes-version`, when given.
    pub kubernetes_version: Option<String>,
    /// `--crd-path`, relative to the working directory.
    pub crd_paths: Vec<PathBuf>,
}

/// The run's schema stage: `None` when the mode is `off`. The flags win
/// over the file's `schema` section; the default is `on` with the newest
/// built-in Kubernetes version. CRDs of both the file's `crdPaths` and
/// `--crd-path` are read (a path with no CustomResourceDefinition, or one
/// that cannot be read or parsed, is an error naming it).
///
/// From a bundle (`bundled`), the file's `crdPaths` are read from the CRDs
/// the bundle carries (see [`crd_bundle_bytes`]), never from the file system.
pub fn schema_stage(
    spec: Option<&SchemaSpec>,
    base: &Path,
    bundled: Option<&crate::BundledModules>,
    options: &SchemaOptions,
) -> Result<Option<SchemaStage>, ConfigError> {
    let file_mode = match spec.and_then(|s| s.mode.as_deref()) {
        Some(mode) => Some(
            mode.parse::<Mode>()
                .map_err(|e| ConfigError(format!("schema.mode: {e}")))?,
        ),
        None => None,
    };
    let mode = options.mode.or(file_mode).unwrap_or_default();
    if mode == Mode::Off {
        return Ok(None);
    }
    let given = options
        .kubernetes_version
        .as_deref()
        .or(spec.and_then(|s| s.kubernetes_version.as_deref()));
    let version = given.unwrap_or(DEFAULT_VERSION);
    let mut schemas =
        Schemas::new(version).map_err(|e| ConfigError(format!("--kubernetes-version: {e}")))?;
    for path in spec.map(|s| s.crd_paths.as_slice()).unwrap_or_default() {
        match bundled {
            Some(bundled) => {
                let reference = crd_reference(path);
                let bytes = bundled.by_reference.get(&reference).ok_or_else(|| {
                    ConfigError(format!(
                        "schema.crdPaths: {}: not in the bundle",
                        path.display()
                    ))
                })?;
                let parsed = manifest::parse(&reference, bytes.clone(), manifest::Format::Yaml);
                add_parsed(&mut schemas, &[parsed], path)?;
            }
            None => add_crds(&mut schemas, &base.join(path))?,
        }
    }
    for path in &options.crd_paths {
        add_crds(&mut schemas, path)?;
    }
    Ok(Some(SchemaStage {
        mode,
        schemas: Arc::new(schemas),
        version_given: given.is_some(),
        rule_cache: Default::default(),
    }))
}

/// The name a bundle stores the CRDs of a `schema.crdPaths` entry under.
pub fn crd_reference(path: &Path) -> String {
    format!("crd-path:{}", path.display())
}

/// The CRDs under `path` (a file, or a directory searched recursively) as
/// one YAML stream, what `bundle create` packs for a `schema.crdPaths`
/// entry (under [`crd_reference`]). Errors as for `--crd-path`.
pub fn crd_bundle_bytes(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let parsed = read_path(path)?;
    let mut out = String::new();
    for input in &parsed {
        for resource in &input.resources {
            if Schemas::is_crd(&resource.object) {
                out.push_str("---\n");
                out.push_str(
                    &serde_yaml::to_string(&resource.object)
                        .map_err(|e| ConfigError(format!("--crd-path {}: {e}", path.display())))?,
                );
            }
        }
    }
    if out.is_empty() {
        return Err(ConfigError(format!(
            "--crd-path {}: no CustomResourceDefinition found",
            path.display()
        )));
    }
    Ok(out.into_bytes())
}

fn read_path(path: &Path) -> Result<Vec<manifest::Parsed>, ConfigError> {
    let inputs = manifest::collect_inputs(&[path], true)
        .map_err(|e| ConfigError(format!("--crd-path {}: {}", path.display(), e.message)))?;
    let (parsed, errors) = manifest::read_inputs(&inputs, &manifest::ReadLimits::default());
    if let Some(e) = errors.first() {
        return Err(ConfigError(format!("--crd-path {}: {}", e.file, e.message)));
    }
    Ok(parsed)
}

/// Reads every CustomResourceDefinition under `path` (a file, or a
/// directory walked recursively for `.yaml`, `.yml` and `.json` files).
fn add_crds(schemas: &mut Schemas, path: &Path) -> Result<(), ConfigError> {
    let parsed = read_path(path)?;
    add_parsed(schemas, &parsed, path)
}

fn add_parsed(
    schemas: &mut Schemas,
    parsed: &[manifest::Parsed],
    path: &Path,
) -> Result<(), ConfigError> {
    if let Some(e) = parsed.iter().find_map(|input| input.errors.first()) {
        let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        return Err(ConfigError(format!(
            "--crd-path {}{at}: {}",
            e.file, e.message
        )));
    }
    if wasm_validate_pipeline::add_crds(schemas, parsed) == 0 {
        return Err(ConfigError(format!(
            "--crd-path {}: no CustomResourceDefinition found",
            path.display()
        )));
    }
    Ok(())
}
