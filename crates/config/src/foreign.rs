//! Policies in foreign formats, chosen by path like a module:
//!
//! - a `.rego` file, or a directory holding `.rego` files: Conftest
//!   policies, one policy per chosen namespace (`wasm_validate_conftest`);
//! - a YAML file (`.yaml`, `.yml`) or a directory of them holding policy
//!   objects: Gatekeeper ConstraintTemplates and constraints, one policy
//!   per constraint (`wasm_validate_gatekeeper`); ValidatingAdmissionPolicies
//!   and their bindings, one policy per binding
//!   (`wasm_validate_validating_admission_policy`); Kyverno
//!   ValidatingPolicies, one policy each (`wasm_validate_kyverno`).
//!
//! The formats' own crates do the work; this file only recognises the path
//! and reads the files ([`Sources`]), from the file system or from a
//! bundle, which carries them packed as one JSON file ([`bundle_bytes`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wasm_validate_engine::{Engine, Limits, Policy};
use wasm_validate_gatekeeper::Library;
use wasm_validate_manifest as manifest;
use wasm_validate_pipeline::ConfiguredPolicy;
use wasm_validate_validating_admission_policy as vap;

/// A foreign policy format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// Policy objects in YAML: Gatekeeper ConstraintTemplates and
    /// constraints, ValidatingAdmissionPolicies and bindings (named
    /// `gatekeeper` in bundles, as when it held Gatekeeper's only).
    #[serde(rename = "gatekeeper")]
    PolicyObjects,
    /// Conftest Rego files.
    Conftest,
}

/// The files a foreign policy reference names: each with the name it is
/// reported under (its path) and its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sources {
    pub(crate) format: Format,
    pub(crate) files: Vec<SourceFile>,
}

/// One file of [`Sources`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SourceFile {
    pub(crate) path: String,
    pub(crate) text: String,
}

/// The key that marks a bundled module as packed [`Sources`].
const PACK_KEY: &str = "wasm-validate-sources";

/// The format the policy `reference` (read at `path`) names, if it is a
/// foreign one: Conftest for a `.rego` file or a directory given as a path
/// (with a `/`) holding `.rego` files; Gatekeeper for a `.yaml`/`.yml` file
/// or another directory given as a path. A bare word is a built-in
/// policy's name, never a directory.
pub(crate) fn format_of(reference: &str, path: &Path) -> Option<Format> {
    let directory = reference.contains('/') && path.is_dir();
    let extension = path.extension().and_then(|e| e.to_str());
    match extension {
        Some("rego") => Some(Format::Conftest),
        Some("yaml" | "yml") => Some(Format::PolicyObjects),
        _ if directory && wasm_validate_conftest::is_rego_path(path) => Some(Format::Conftest),
        _ if directory => Some(Format::PolicyObjects),
        _ => None,
    }
}

impl Sources {
    /// Reads the files of a `format` reference at `path`: its `.rego` files
    /// (Conftest), or its `.yaml`, `.yml` and `.json` files, recursively
    /// (Gatekeeper). Errors name the file.
    pub(crate) fn read(format: Format, path: &Path) -> Result<Sources, String> {
        let files: Vec<(PathBuf, Vec<u8>)> = match format {
            Format::Conftest => wasm_validate_conftest::read_files(path)?,
            Format::PolicyObjects => manifest::collect_inputs(&[path], true)
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter_map(|input| match input {
                    manifest::Input::File(file) => Some(file),
                    manifest::Input::Stdin => None,
                })
                .map(|file| {
                    let bytes =
                        std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                    Ok((file, bytes))
                })
                .collect::<Result<_, String>>()?,
        };
        let files = files
            .into_iter()
            .map(|(file, bytes)| {
                Ok(SourceFile {
                    text: String::from_utf8(bytes)
                        .map_err(|_| format!("{}: not UTF-8 text", file.display()))?,
                    path: file.display().to_string(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Sources { format, files })
    }

    /// Sources packed by [`pack_sources`], if `bytes` are such a pack.
    pub(crate) fn unpack(bytes: &[u8]) -> Option<Result<Sources, String>> {
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let packed = value.get(PACK_KEY)?.clone();
        Some(serde_json::from_value(packed).map_err(|e| format!("a packed policy source: {e}")))
    }
}

/// What a bundle carries for the policy `reference` read at `path`: the
/// module's bytes, or, for a foreign reference, its files packed as one
/// JSON document (`{"wasm-validate-sources": {"format", "files": [{"path",
/// "text"}]}}`) that a bundled run reads instead of the file system.
pub fn bundle_bytes(reference: &str, path: &Path) -> Result<Vec<u8>, String> {
    match format_of(reference, path) {
        Some(format) => {
            let sources = Sources::read(format, path)?;
            Ok(
                serde_json::to_vec(&serde_json::json!({ PACK_KEY: sources }))
                    .expect("sources encode"),
            )
        }
        None => std::fs::read(path)
            .map_err(|e| format!("{}: cannot read the module: {e}", path.display())),
    }
}

/// The Conftest policies of `sources` for the chosen `namespaces` (`main`
/// when none), each evaluation under `limits`.
pub(crate) fn conftest_policies(
    engine: &Engine,
    sources: &Sources,
    namespaces: &[String],
    limits: Limits,
    combine: bool,
    data: Option<&serde_json::Value>,
) -> Result<Vec<ConfiguredPolicy>, String> {
    let modules = wasm_validate_conftest::modules_from(
        sources
            .files
            .iter()
            .map(|f| (PathBuf::from(&f.path), f.text.clone().into_bytes()))
            .collect(),
    )?;
    wasm_validate_conftest::policies(engine, &modules, namespaces, limits, combine, data)
}

/// The policy objects of every reference a run chooses, read together: a
/// constraint's template, or a policy's binding and parameters, may come
/// from another path (`--policy templates/ --policy constraints/`, as gator
/// takes `-f` twice).
pub(crate) struct PolicyObjects {
    library: Library,
    /// The Gatekeeper runtimes, loaded when there is a constraint.
    runtime: Option<wasm_validate_gatekeeper::Runtimes>,
    admission: vap::Library,
    kyverno: wasm_validate_kyverno::Library,
    /// The CEL runtime, loaded when a ValidatingAdmissionPolicy or a Kyverno
    /// ValidatingPolicy needs it.
    cel_runtime: Option<Policy>,
}

impl PolicyObjects {
    /// Reads every reference's sources and checks the whole: every
    /// constraint has its template and valid parameters, every binding its
    /// policy. Errors (as `file:line: document N: message` lines): a
    /// reference with no policy object at all, an object that is not valid,
    /// a constraint without its template or with parameters its schema
    /// refuses, a binding without its policy.
    pub(crate) fn read(
        engine: &Engine,
        references: &[(String, Sources)],
        gatekeeper_cel: bool,
        point: wasm_validate_gatekeeper::EnforcementPoint,
    ) -> Result<PolicyObjects, String> {
        let mut library = Library {
            point,
            ..Library::default()
        };
        let mut admission = vap::Library::default();
        let mut kyverno = wasm_validate_kyverno::Library::default();
        for (reference, sources) in references {
            let mut taken = 0;
            for file in &sources.files {
                let parsed = manifest::parse(
                    &file.path,
                    file.text.clone().into_bytes(),
                    manifest::Format::for_name(&file.path),
                );
                if let Some(error) = parsed.errors.first() {
                    return Err(error.to_string());
                }
                taken += admission.add_parsed(&parsed).map_err(|e| e.to_string())?;
                taken += kyverno.add_parsed(&parsed).map_err(|e| e.to_string())?;
                taken += library
                    .add_parsed(std::sync::Arc::new(parsed))
                    .map_err(|e| e.to_string())?;
            }
            if taken == 0 {
                return Err(format!(
                    "{reference} holds no policy object (Gatekeeper ConstraintTemplate or constraint, ValidatingAdmissionPolicy or binding, Kyverno ValidatingPolicy)"
                ));
            }
        }
        let lines = |errors: Vec<String>| errors.join("\n");
        library
            .check()
            .map_err(|errors| lines(errors.iter().map(ToString::to_string).collect()))?;
        admission
            .check()
            .map_err(|errors| lines(errors.iter().map(ToString::to_string).collect()))?;
        Ok(PolicyObjects {
            runtime: (!library.constraints.is_empty()).then(|| {
                wasm_validate_gatekeeper::load_runtime(engine).preferring_cel(gatekeeper_cel)
            }),
            cel_runtime: (!admission.policies.is_empty() || !kyverno.policies.is_empty())
                .then(|| vap::load_runtime(engine)),
            library,
            admission,
            kyverno,
        })
    }

    /// One policy per constraint, and per binding of a
    /// ValidatingAdmissionPolicy, read from `sources`, each evaluation
    /// under `limits`. Errors: Rego or CEL that does not compile, a function
    /// a runtime lacks.
    pub(crate) fn policies_from(
        &self,
        engine: &Engine,
        sources: &Sources,
        limits: Limits,
    ) -> Result<Vec<ConfiguredPolicy>, String> {
        let from_these = Library {
            templates: self.library.templates.clone(),
            constraints: self
                .library
                .constraints
                .iter()
                .filter(|c| sources.files.iter().any(|f| *f.path == *c.location.file))
                .cloned()
                .collect(),
            point: self.library.point,
        };
        let mut policies = match &self.runtime {
            Some(runtime) => from_these
                .policies(engine, runtime)
                .map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let in_these = |file: &str| sources.files.iter().any(|f| f.path == file);
        let admission_here = vap::Library {
            policies: self
                .admission
                .policies
                .iter()
                .filter(|p| in_these(&p.location.file))
                .cloned()
                .collect(),
            ..self.admission.clone()
        };
        let kyverno_here = wasm_validate_kyverno::Library {
            policies: self
                .kyverno
                .policies
                .iter()
                .filter(|p| in_these(&p.location.file))
                .cloned()
                .collect(),
        };
        if let Some(runtime) = &self.cel_runtime {
            policies.extend(
                admission_here
                    .policies(engine, runtime)
                    .map_err(|e| e.to_string())?,
            );
            policies.extend(
                kyverno_here
                    .policies(engine, runtime)
                    .map_err(|e| e.to_string())?,
            );
        }
        for configured in &mut policies {
            configured.policy.set_limits(limits);
        }
        Ok(policies)
    }
}
