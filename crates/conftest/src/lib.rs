//! Conftest's policy format, turned into the pipeline's policies: the one
//! home of everything Conftest-specific.
//! Source: <https://www.conftest.dev/> (policy, namespaces, rules).
//!
//! A policy path is a `.rego` file or a directory searched recursively for
//! them (Conftest's `--policy`); `*_test.rego` files are left out, as
//! Conftest leaves them to `conftest verify`. Modules are grouped by their
//! package (Conftest's namespace, `main` by default); each chosen
//! namespace becomes one policy, reported as `data.<namespace>`, whose
//! input is each document as it is. Its rules named `deny`, `violation`
//! (or with a suffix: `deny_privileged`) deny with each result; `warn`
//! rules warn. A result is a string, or an object whose `msg` is the
//! message, as in Conftest. An `exception` rule's names turn rules off for
//! an input (`exception contains rules if { ...; rules := ["privileged"] }`
//! turns off `deny_privileged`), as Conftest's exceptions do; the findings
//! of a rule turned off are not reported. Rego v1 unless a module says otherwise is
//! Conftest's own default since OPA 1.0; modules that use v0 syntax are
//! read as v0 (`--rego-version`-like detection: a module that does not
//! parse as v1 is retried as v0).
//!
//! Combine mode (Conftest's `--combine`): `input` is every document of the
//! run, as `[{"path": FILE, "contents": DOCUMENT}]`, and each namespace is
//! evaluated once per run; its results are reported on the run's first
//! resource (Conftest reports them under the file name `Combined`).
#![forbid(unsafe_code)]

pub mod verify;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use serde_json::{Value, json};
use wasm_validate_engine::{Engine, Limits, Policy};
use wasm_validate_manifest::Resource;
use wasm_validate_pipeline::{ConfiguredPolicy, RunObjects, Selector};

/// Conftest's default namespace.
pub const DEFAULT_NAMESPACE: &str = "main";

/// A Rego module read from a policy path.
#[derive(Debug, Clone)]
pub struct Module {
    /// Its file.
    pub path: PathBuf,
    /// Its source.
    pub rego: String,
    /// Its package (`main`, `kubernetes.deployments`).
    pub package: String,
}

/// Whether `path` is Conftest Rego: a `.rego` file, or a directory that
/// holds one (at any depth).
pub fn is_rego_path(path: &Path) -> bool {
    if path.is_dir() {
        rego_files(path).is_ok_and(|files| !files.is_empty())
    } else {
        path.extension().is_some_and(|e| e == "rego")
    }
}

/// The `.rego` files under `path` (itself if a file), sorted, without
/// `*_test.rego`.
fn rego_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    rego_files_with(path, false)
}

/// The `.rego` files under `path` (itself if a file), sorted; `*_test.rego`
/// ones only `with_tests`.
fn rego_files_with(path: &Path, with_tests: bool) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            found.extend(rego_files_with(&entry, with_tests)?);
        }
    } else if path.extension().is_some_and(|e| e == "rego")
        && (with_tests || !path.to_string_lossy().ends_with("_test.rego"))
    {
        found.push(path.to_owned());
    }
    Ok(found)
}

/// The package a module declares (its first `package` line).
fn package_of(rego: &str) -> Option<String> {
    rego.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix("package")?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let name = rest.split('#').next()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    })
}

/// The `.rego` files under `path` (itself if a file) that a policy path
/// reads, sorted, `*_test.rego` left out, with their contents. Errors: an
/// unreadable file or directory, no `.rego` file at all.
pub fn read_files(path: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    read_files_with(path, false)
}

/// [`read_files`], with the `*_test.rego` files when `with_tests`.
fn read_files_with(path: &Path, with_tests: bool) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let files =
        rego_files_with(path, with_tests).map_err(|e| format!("{}: {e}", path.display()))?;
    if files.is_empty() {
        return Err(format!("{}: no .rego file", path.display()));
    }
    files
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            Ok((file, bytes))
        })
        .collect()
}

/// The modules of `files` (name and contents, as [`read_files`] gives
/// them, or as a bundle carries them). Errors: a file that is not UTF-8, a
/// module without a `package`.
pub fn modules_from(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<Module>, String> {
    files
        .into_iter()
        .map(|(path, bytes)| {
            let rego = String::from_utf8(bytes)
                .map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
            let package = package_of(&rego)
                .ok_or_else(|| format!("{}: no package declaration", path.display()))?;
            Ok(Module {
                path,
                rego,
                package,
            })
        })
        .collect()
}

/// Reads the modules under `path` ([`read_files`], [`modules_from`]).
pub fn read_modules(path: &Path) -> Result<Vec<Module>, String> {
    modules_from(read_files(path)?)
}

/// The Rego runtime's program for one namespace: its modules first, then
/// every other module (a namespace may import another's rules); with
/// `combined`, the combined input; with `data`, the `data` document.
fn program(
    modules: &[Module],
    namespace: &str,
    rego_version: u8,
    combined: Option<&Value>,
    data: Option<&Value>,
) -> Value {
    let ordered = modules
        .iter()
        .filter(|m| m.package == namespace)
        .chain(modules.iter().filter(|m| m.package != namespace));
    let mut program = json!({
        "modules": ordered
            .map(|m| json!({"path": m.path.display().to_string(), "rego": m.rego}))
            .collect::<Vec<_>>(),
        "regoVersion": rego_version,
        "deny": ["deny", "violation"],
        "warn": ["warn"],
        "rulePrefixes": true,
        "exceptions": true,
        "input": "document",
    });
    if let Some(combined) = combined {
        program["input"] = json!("combined");
        program["combined"] = combined.clone();
    }
    if let Some(data) = data {
        program["data"] = data.clone();
    }
    program
}

/// Conftest's `--data`: the documents of every YAML or JSON file under
/// `paths` (files, or directories searched recursively), merged into one
/// `data` document: objects are merged key by key, anything else is
/// replaced by what comes later. Errors name the file.
pub fn read_data(paths: &[PathBuf]) -> Result<Option<Value>, String> {
    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(into), Value::Object(from)) => {
                for (key, value) in from {
                    merge(into.entry(key).or_insert(Value::Null), value);
                }
            }
            (into, from) => *into = from,
        }
    }
    fn files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("--data {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let data_file = entry
                    .extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
                if entry.is_dir() || data_file {
                    files(&entry, out)?;
                }
            }
            Ok(())
        } else if path.is_file() {
            out.push(path.to_owned());
            Ok(())
        } else {
            Err(format!(
                "--data {}: no such file or directory",
                path.display()
            ))
        }
    }
    if paths.is_empty() {
        return Ok(None);
    }
    let mut found = Vec::new();
    for path in paths {
        files(path, &mut found)?;
    }
    let mut data = json!({});
    for file in found {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("--data {}: {e}", file.display()))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .map_err(|e| format!("--data {}: {e}", file.display()))?;
            if !value.is_null() {
                merge(&mut data, value);
            }
        }
    }
    Ok(Some(data))
}

/// Prepares the runtime for `namespace`, as Rego v1, else as v0.
fn prepare(
    engine: &Engine,
    runtime: &Policy,
    modules: &[Module],
    namespace: &str,
    combined: Option<&Value>,
    data: Option<&Value>,
) -> Result<Policy, String> {
    match engine.prepare(runtime, &program(modules, namespace, 1, combined, data)) {
        Ok(policy) => Ok(policy),
        Err(v1_error) => engine
            .prepare(runtime, &program(modules, namespace, 0, combined, data))
            .map_err(|_| v1_error.to_string()),
    }
}

/// A namespace in combine mode: prepared for each run with its documents,
/// and run on the run's first resource only.
#[derive(Debug)]
struct Combined {
    runtime: Policy,
    modules: Vec<Module>,
    namespace: String,
    data: Option<Value>,
    metadata: wasm_validate_abi::Metadata,
}

impl RunObjects for Combined {
    fn prepare(
        &self,
        engine: &Engine,
        resources: &[&Resource],
    ) -> Result<(Policy, Option<Arc<dyn Selector>>), String> {
        let combined: Vec<Value> = resources
            .iter()
            .map(|r| json!({"path": &*r.source.file, "contents": r.object}))
            .collect();
        let mut policy = prepare(
            engine,
            &self.runtime,
            &self.modules,
            &self.namespace,
            Some(&Value::Array(combined)),
            self.data.as_ref(),
        )?;
        policy.set_metadata(self.metadata.clone());
        let first = resources
            .first()
            .map(|r| (r.source.file.clone(), r.source.document, r.source.item));
        Ok((policy, Some(Arc::new(FirstOfRun(first)))))
    }
}

/// Selects the run's first resource (by where it was read), nothing else.
#[derive(Debug)]
struct FirstOfRun(Option<(Arc<str>, usize, Option<usize>)>);

impl Selector for FirstOfRun {
    fn selects(&self, resource: &Resource) -> bool {
        self.0.as_ref().is_some_and(|(file, document, item)| {
            (file, *document, *item)
                == (
                    &resource.source.file,
                    resource.source.document,
                    resource.source.item,
                )
        })
    }
}

/// One policy per chosen namespace (`*` chooses every package the modules
/// declare), each the Rego runtime (loaded with `limits`) prepared with
/// the modules, reported as `data.<namespace>`. The modules are read as
/// Rego v1, or as v0 when they do not compile as v1 (Conftest's
/// `--rego-version` choice, made for the user).
///
/// With `combine`, each namespace is prepared for each run with its
/// documents as one input (see the module's documentation); `data` is the
/// `data` document (Conftest's `--data`, [`read_data`]).
///
/// Errors: a chosen namespace no module declares; Rego that compiles
/// neither way (regorus's message for v1, with file and line).
pub fn policies(
    engine: &Engine,
    modules: &[Module],
    namespaces: &[String],
    limits: Limits,
    combine: bool,
    data: Option<&Value>,
) -> Result<Vec<ConfiguredPolicy>, String> {
    let mut chosen: Vec<String> = if namespaces.iter().any(|n| n == "*") {
        modules.iter().map(|m| m.package.clone()).collect()
    } else if namespaces.is_empty() {
        vec![DEFAULT_NAMESPACE.to_owned()]
    } else {
        namespaces.to_vec()
    };
    chosen.dedup();
    let mut seen = Vec::new();
    chosen.retain(|n| {
        let new = !seen.contains(n);
        seen.push(n.clone());
        new
    });
    let runtime = load_runtime(engine, limits);
    chosen
        .iter()
        .map(|namespace| {
            if !modules.iter().any(|m| &m.package == namespace) {
                let declared: Vec<&str> = modules.iter().map(|m| m.package.as_str()).collect();
                return Err(format!(
                    "no Rego module declares the namespace (package) {namespace}; the modules declare {}",
                    declared.join(", ")
                ));
            }
            // Compiled now in either mode, so that errors are load-time
            // errors; in combine mode the run prepares it again with its
            // documents.
            let combined = combine.then(|| Value::Array(Vec::new()));
            let policy = prepare(engine, &runtime, modules, namespace, combined.as_ref(), data)?;
            let mut configured = ConfiguredPolicy::new(policy, json!({}));
            configured.id = format!("data.{namespace}");
            let mut metadata = configured.policy.metadata().clone();
            metadata.name = configured.id.clone();
            metadata.description = if combine {
                format!("Conftest rules of package {namespace}, over every document combined")
            } else {
                format!("Conftest rules of package {namespace}")
            };
            metadata.category = Some("conftest".into());
            configured.policy.set_metadata(metadata.clone());
            if combine {
                configured.selector = Some(Arc::new(FirstOfRun(None)));
                configured.run_objects = Some(Arc::new(Combined {
                    runtime: runtime.clone(),
                    modules: modules.to_vec(),
                    namespace: namespace.clone(),
                    data: data.cloned(),
                    metadata,
                }));
            }
            Ok(configured)
        })
        .collect()
}

fn load_runtime(engine: &Engine, limits: Limits) -> Policy {
    let wasm = wasm_validate_builtin::runtime("rego").expect("the Rego runtime is built in");
    engine
        .load_prevalidated(wasm, limits, "rego")
        .expect("the built-in Rego runtime loads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_read_from_the_package_line() {
        assert_eq!(package_of("# c\npackage main\n"), Some("main".into()));
        assert_eq!(
            package_of("package kubernetes.deployments # x\n"),
            Some("kubernetes.deployments".into())
        );
        assert_eq!(package_of("packages := 1\n"), None);
    }
}
