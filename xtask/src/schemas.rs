//! `cargo xtask schemas [--from DIR] [--versions 1.35,1.36,1.37]`: generates
//! the built-in Kubernetes schemas of `crates/schema` (one
//! `crates/schema/data/kubernetes-vX.Y.json.gz` per minor version) from
//! PyPI's `kubernetes-validate` (Apache-2.0), which carries Kubernetes' own
//! OpenAPI definitions converted to JSON Schema
//! (`kubernetes-json-schema/vX.Y.0-local-strict/_definitions.json`).
//!
//! `DIR` is the installed `kubernetes_validate` package directory; by
//! default it is found by asking `$WASM_VALIDATE_PYTHON` (or `python3`) to
//! import the package (`pip install kubernetes-validate==1.37.0` in a
//! virtualenv first).
//!
//! What is kept of each definition is what validation reads: `type`,
//! `properties`, `additionalProperties`, `items`, `required`, `$ref`
//! (shortened to the definition's name), `format`, `enum`, `oneOf`/`anyOf`/
//! `allOf`/`not`, the numeric and length bounds, and the `x-kubernetes-*`
//! extensions that change validation (`group-version-kind`, `list-type`,
//! `list-map-keys`, `int-or-string`, `preserve-unknown-fields`,
//! `embedded-resource`). Descriptions, patch strategies and unions are
//! dropped. The output is deterministic (sorted keys, gzip without a
//! timestamp), so `git diff` shows only real changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

/// The minor versions shipped by default: the five newest the PyPI package
/// carries.
const VERSIONS: [&str; 5] = ["1.33", "1.34", "1.35", "1.36", "1.37"];

/// Keys of a JSON Schema node that validation reads.
const KEPT: [&str; 27] = [
    "type",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "$ref",
    "format",
    "enum",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-group-version-kind",
    "x-kubernetes-list-type",
];

/// The other extensions kept.
const KEPT_EXTENSIONS: [&str; 4] = [
    "x-kubernetes-list-map-keys",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
];

/// `cargo xtask schemas`: see the module's documentation.
pub fn schemas(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut from: Option<PathBuf> = None;
    let mut versions: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        match (arg, args.next()) {
            ("--from", Some(dir)) => from = Some(PathBuf::from(dir)),
            ("--versions", Some(list)) => {
                versions = list.split(',').map(str::to_owned).collect();
            }
            _ => return Err(format!("schemas: unknown argument {arg}")),
        }
    }
    let package = match from {
        Some(dir) => dir,
        None => find_package()?,
    };
    let package_version = std::fs::read_to_string(package.join("version.py"))
        .ok()
        .and_then(|text| {
            text.split('"')
                .nth(1)
                .or_else(|| text.split('\'').nth(1))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let out_dir = root.join("crates/schema/data");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    for version in &versions {
        let dir = package.join(format!("kubernetes-json-schema/v{version}.0-local-strict"));
        let path = dir.join("_definitions.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(Value::Object(definitions)) = document.get("$defs") else {
            return Err(format!("{}: no $defs object", path.display()));
        };
        let definitions: Map<String, Value> = definitions
            .iter()
            .map(|(name, schema)| (name.clone(), compact(schema)))
            .collect();
        let kinds = definitions
            .values()
            .filter(|d| d.get("x-kubernetes-group-version-kind").is_some())
            .count();
        // `apiVersion/kind` to the kind's definition, so that a check
        // compiles only the kinds it meets (crates/schema loads lazily).
        let mut kind_index = Map::new();
        for (name, definition) in &definitions {
            let Some(Value::Array(gvks)) = definition.get("x-kubernetes-group-version-kind") else {
                continue;
            };
            // Meta types (DeleteOptions, WatchEvent) list every group: they
            // are not objects anyone writes in a manifest.
            if gvks.len() > 1 {
                continue;
            }
            for gvk in gvks {
                let field = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default();
                let (group, version, kind) = (field("group"), field("version"), field("kind"));
                let api_version = if group.is_empty() {
                    version.to_owned()
                } else {
                    format!("{group}/{version}")
                };
                kind_index.insert(format!("{api_version}/{kind}"), Value::String(name.clone()));
            }
        }
        let generated = serde_json::json!({
            "kubernetesVersion": version,
            "kinds": kind_index,
            "source": format!(
                "kubernetes-validate {package_version} (PyPI, Apache-2.0), kubernetes-json-schema/v{version}.0-local-strict/_definitions.json"
            ),
            "definitions": definitions,
        });
        let json = serde_json::to_vec(&generated).map_err(|e| e.to_string())?;
        let mut encoder = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::best());
        encoder.write_all(&json).map_err(|e| e.to_string())?;
        let gz = encoder.finish().map_err(|e| e.to_string())?;
        let out = out_dir.join(format!("kubernetes-v{version}.json.gz"));
        std::fs::write(&out, &gz).map_err(|e| format!("{}: {e}", out.display()))?;
        println!(
            "{}: {} definitions ({kinds} with a group-version-kind), {} KB of JSON, {} KB compressed",
            out.display(),
            definitions.len(),
            json.len() / 1000,
            gz.len() / 1000
        );
    }
    Ok(())
}

/// The installed `kubernetes_validate` package's directory, as Python finds it.
fn find_package() -> Result<PathBuf, String> {
    let python = std::env::var("WASM_VALIDATE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .args([
            "-c",
            "import os, kubernetes_validate; print(os.path.dirname(kubernetes_validate.__file__))",
        ])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{python} cannot import kubernetes_validate (pip install kubernetes-validate==1.37.0 in a virtualenv, then set WASM_VALIDATE_PYTHON or pass --from DIR): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    ))
}

/// A schema node with only what validation reads; `$ref`s shortened from
/// `#/$defs/NAME` (or `/api/_definitions.json#/$defs/NAME`) to `NAME`.
fn compact(schema: &Value) -> Value {
    match schema {
        Value::Object(node) => {
            let mut out = Map::new();
            for (key, value) in node {
                let kept = KEPT.contains(&key.as_str()) || KEPT_EXTENSIONS.contains(&key.as_str());
                if !kept {
                    continue;
                }
                let value = match key.as_str() {
                    "$ref" => Value::String(
                        value
                            .as_str()
                            .and_then(|r| r.rsplit('/').next())
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    "properties" => match value {
                        Value::Object(properties) => Value::Object(
                            properties
                                .iter()
                                .map(|(name, schema)| (name.clone(), compact(schema)))
                                .collect(),
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" | "not" => compact(value),
                    "oneOf" | "anyOf" | "allOf" => match value {
                        Value::Array(schemas) => {
                            Value::Array(schemas.iter().map(compact).collect())
                        }
                        other => other.clone(),
                    },
                    _ => value.clone(),
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}
