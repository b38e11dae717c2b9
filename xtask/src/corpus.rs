//! `cargo xtask corpus`: a large, deterministic manifest corpus made by
//! multiplying the real resources of `testdata/real`, for throughput and
//! memory benchmarks. Generated on demand, never committed.
//!
//! Which resources are multiplied: every resource of `testdata/real` (Lists
//! expanded into their items) except the Helm 4 copy of the cert-manager
//! stream (the Helm 3 copy has the same resources), CustomResourceDefinitions,
//! and the other documents of more than [`MAX_DOCUMENT_BYTES`] (Grafana
//! dashboards and Prometheus rule sets; no workload is that large). Those are 85% of the
//! bytes of `testdata/real`, no built-in policy reads them, and multiplied
//! they would turn a policy benchmark into a YAML-parsing one (1.5 GB for
//! 50,000 resources). What is kept averages about 1.7 KB a resource, close to
//! the 2.2 KB of the corpus kubeconform was measured on (`notes-field.md`).
//!
//! Copy `c` (from 0) of the base set is written to `corpus-NNNNN.yaml` with
//! unique identities: namespaced resources move from namespace `NS` (or
//! `default` when they name none) to `NS-NNNNN`; cluster-scoped ones (and
//! Namespaces) get the suffix `-NNNNN` on their name.
//! The last copy is cut short so that the corpus holds exactly the number of
//! resources asked for.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Documents larger than this (in bytes of their JSON encoding) are left
/// out, as are CustomResourceDefinitions (see the module's documentation).
/// The largest workload of `testdata/real` (argocd-server) has 13 KB.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

/// Kinds that are never namespaced, among those in `testdata/real`.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
];

/// What a generated corpus holds.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The folder holding `corpus-NNNNN.yaml`.
    pub dir: PathBuf,
    /// Number of resources.
    pub resources: usize,
    /// Number of files.
    pub files: usize,
    /// Total size of the files, in bytes.
    pub bytes: u64,
}

/// The base set: the resources of `testdata/real` that are multiplied, in
/// the order `read_all` gives them.
pub fn base_resources(root: &Path) -> Result<Vec<Value>, String> {
    let real = root.join("testdata/real");
    let (parsed, errors) = wasm_validate_manifest::read_all(&[&real], true, &Default::default());
    if let Some(error) = errors.first() {
        return Err(format!("{}: {}", error.file, error.message));
    }
    let mut base = Vec::new();
    for input in parsed {
        if input.file.ends_with("helm4-post-render-stdin.yaml") {
            continue;
        }
        for resource in input.resources {
            let bytes = serde_json::to_vec(&resource.object).map_or(0, |b| b.len());
            if resource.kind() != "CustomResourceDefinition" && bytes <= MAX_DOCUMENT_BYTES {
                base.push(resource.object);
            }
        }
    }
    Ok(base)
}

/// Copy `copy` of `object`, with its unique identity.
fn identity(object: &Value, copy: usize) -> Value {
    let mut object = object.clone();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let metadata = &mut object["metadata"];
    if CLUSTER_SCOPED.contains(&kind.as_str()) {
        let name = metadata["name"].as_str().unwrap_or("unnamed");
        metadata["name"] = Value::String(format!("{name}-{copy:05}"));
    } else {
        let namespace = metadata["namespace"].as_str().unwrap_or("default");
        metadata["namespace"] = Value::String(format!("{namespace}-{copy:05}"));
    }
    object
}

/// Writes a corpus of exactly `resources` resources into `dir` (emptied of
/// earlier `corpus-*.yaml` files first). The same arguments always give the
/// same bytes.
pub fn generate(root: &Path, resources: usize, dir: &Path) -> Result<Corpus, String> {
    let base = base_resources(root)?;
    if base.is_empty() {
        return Err("testdata/real holds no resources".to_owned());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("corpus-") && name.ends_with(".yaml") {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let mut bytes = 0;
    let copies = resources.div_ceil(base.len());
    for copy in 0..copies {
        let count = base.len().min(resources - copy * base.len());
        let mut text = String::new();
        for object in &base[..count] {
            text.push_str("---\n");
            text.push_str(
                &serde_yaml::to_string(&identity(object, copy)).map_err(|e| e.to_string())?,
            );
        }
        let path = dir.join(format!("corpus-{copy:05}.yaml"));
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        bytes += text.len() as u64;
    }
    Ok(Corpus {
        dir: dir.to_path_buf(),
        resources,
        files: copies,
        bytes,
    })
}

/// The default folder of a corpus of `resources` resources.
pub fn default_dir(root: &Path, resources: usize) -> PathBuf {
    root.join(format!("target/bench/corpus-{resources}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::workspace()
    }

    #[test]
    fn identities_are_unique_and_counts_exact() {
        let dir = std::env::temp_dir().join(format!("wv-corpus-test-{}", std::process::id()));
        let base = base_resources(&root()).unwrap();
        let wanted = base.len() * 2 + 7;
        let corpus = generate(&root(), wanted, &dir).unwrap();
        assert_eq!(corpus.files, 3);
        let (parsed, errors) =
            wasm_validate_manifest::read_all(&[&dir], false, &Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        let resources: Vec<_> = parsed.iter().flat_map(|p| &p.resources).collect();
        assert_eq!(resources.len(), wanted);
        let mut identities: Vec<(String, String, Option<&str>, String)> = resources
            .iter()
            .map(|r| {
                (
                    r.api_version().to_owned(),
                    r.kind().to_owned(),
                    r.namespace(),
                    r.name(),
                )
            })
            .collect();
        identities.sort();
        identities.dedup();
        assert_eq!(identities.len(), wanted, "every resource is unique");
        // Only identities changed: the third copy's first resource is the
        // first base resource, renamed or moved, after a round trip through YAML.
        assert_eq!(identity(&base[0], 2), parsed[2].resources[0].object);
        // Deterministic: the same bytes again.
        let before = std::fs::read(dir.join("corpus-00001.yaml")).unwrap();
        generate(&root(), wanted, &dir).unwrap();
        assert_eq!(
            before,
            std::fs::read(dir.join("corpus-00001.yaml")).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn base_keeps_every_workload_and_leaves_out_crds() {
        let base = base_resources(&root()).unwrap();
        assert!(base.iter().all(|o| o["kind"] != "CustomResourceDefinition"
            && serde_json::to_vec(o).unwrap().len() <= MAX_DOCUMENT_BYTES));
        let workloads = |objects: &mut dyn Iterator<Item = &Value>| {
            objects
                .filter(|o| {
                    wasm_validate_sdk::POD_SPEC_KINDS.contains(&o["kind"].as_str().unwrap_or(""))
                })
                .count()
        };
        let (parsed, _) = wasm_validate_manifest::read_all(
            &[root().join("testdata/real")],
            true,
            &Default::default(),
        );
        let real: Vec<&Value> = parsed
            .iter()
            .filter(|p| !p.file.ends_with("helm4-post-render-stdin.yaml"))
            .flat_map(|p| p.resources.iter().map(|r| &r.object))
            .collect();
        assert_eq!(
            workloads(&mut base.iter()),
            workloads(&mut real.into_iter())
        );
        assert!(workloads(&mut base.iter()) >= 25);
    }
}
