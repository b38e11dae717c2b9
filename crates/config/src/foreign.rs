//! Policies in foreign formats, chosen by path like a module:
//!
//! - a `.rego` file, or a directory holding `.rego` files: Conftest
//!   policies, one policy per chosen namespace (`wasm_validate_conftest`);
//! - a YAML file (`.yaml`, `.yml`) or a directory of them holding
//!   Gatekeeper ConstraintTemplates and constraints: one policy per
//!   constraint (`wasm_validate_gatekeeper`).
//!
//! The formats' own crates do the work; this file only recognises the path
//! and reads the files.

use std::path::{Path, PathBuf};

use wasm_validate_engine::{Engine, Limits, Policy};
use wasm_validate_gatekeeper::Library;
use wasm_validate_manifest as manifest;
use wasm_validate_pipeline::ConfiguredPolicy;

/// Whether the policy `reference` (read at `path`) names Conftest Rego: a
/// `.rego` file, or a directory given as a path (with a `/`) that holds
/// `.rego` files.
pub(crate) fn is_conftest_reference(reference: &str, path: &Path) -> bool {
    let rego_file = path.extension().is_some_and(|e| e == "rego");
    rego_file
        || (reference.contains('/') && path.is_dir() && wasm_validate_conftest::is_rego_path(path))
}

/// The Conftest policies of `path` for the chosen `namespaces` (`main`
/// when none), each evaluation under `limits`.
pub(crate) fn conftest_policies(
    engine: &Engine,
    path: &Path,
    namespaces: &[String],
    limits: Limits,
) -> Result<Vec<ConfiguredPolicy>, String> {
    let modules = wasm_validate_conftest::read_modules(path)?;
    wasm_validate_conftest::policies(engine, &modules, namespaces, limits)
}

/// Whether the policy `reference` (read at `path`) names Gatekeeper YAML
/// rather than a module or a built-in policy: a file ending in `.yaml` or
/// `.yml`, or a directory given as a path (with a `/`, as `./gatekeeper`;
/// a bare word is a built-in policy's name).
pub(crate) fn is_gatekeeper_reference(reference: &str, path: &Path) -> bool {
    let yaml = |p: &Path| p.extension().is_some_and(|e| e == "yaml" || e == "yml");
    yaml(path)
        || (reference.contains('/') && path.is_dir() && !is_conftest_reference(reference, path))
}

/// The Gatekeeper templates and constraints of every path a run chooses,
/// read together: a constraint's template may come from another path
/// (`--policy templates/ --policy constraints/`, as gator takes `-f` twice).
pub(crate) struct Gatekeeper {
    library: Library,
    runtime: Policy,
}

impl Gatekeeper {
    /// Reads `paths` (files, or directories read recursively) and checks
    /// the whole: every constraint has its template and valid parameters.
    /// Errors (as `file:line: document N: message` lines): an unreadable
    /// file, a path with no template or constraint at all, an object that
    /// is not valid Gatekeeper, a constraint without its template or with
    /// parameters its schema refuses.
    pub(crate) fn read(engine: &Engine, paths: &[PathBuf]) -> Result<Gatekeeper, String> {
        let mut library = Library::default();
        for path in paths {
            let (parsed, errors) =
                manifest::read_all(&[path], true, &manifest::ReadLimits::default());
            if let Some(error) = errors.first() {
                return Err(error.to_string());
            }
            let mut taken = 0;
            for one in parsed {
                if let Some(error) = one.errors.first() {
                    return Err(error.to_string());
                }
                taken += library
                    .add_parsed(std::sync::Arc::new(one))
                    .map_err(|e| e.to_string())?;
            }
            if taken == 0 {
                return Err(format!(
                    "{} holds no Gatekeeper ConstraintTemplate or constraint",
                    path.display()
                ));
            }
        }
        library.check().map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        Ok(Gatekeeper {
            runtime: wasm_validate_gatekeeper::load_runtime(engine),
            library,
        })
    }

    /// One policy per constraint read from `path`, each evaluation under
    /// `limits`. Errors: Rego that does not compile.
    pub(crate) fn policies_from(
        &self,
        engine: &Engine,
        path: &Path,
        limits: Limits,
    ) -> Result<Vec<ConfiguredPolicy>, String> {
        let name = path.display().to_string();
        let from_path = Library {
            templates: self.library.templates.clone(),
            constraints: self
                .library
                .constraints
                .iter()
                .filter(|c| {
                    let file = Path::new(&*c.location.file);
                    file == path || file.starts_with(&name)
                })
                .cloned()
                .collect(),
        };
        let mut policies = from_path
            .policies(engine, &self.runtime)
            .map_err(|e| e.to_string())?;
        for configured in &mut policies {
            configured.policy.set_limits(limits);
        }
        Ok(policies)
    }
}
