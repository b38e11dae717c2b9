//! The RBAC and krew files in `docs/` stay true to the plugin: the
//! ClusterRole grants `list` on every Kubernetes type a built-in policy's
//! rules name and on the CRDs the schema stage reads (and on nothing else),
//! and the krew manifest installs the
//! binary kubectl looks for.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{plugin_binary, root};
use serde_json::Value;

/// The built-in Kubernetes types a policy rule can name: (group, kind,
/// plural resource).
const KUBERNETES_TYPES: [(&str, &str, &str); 13] = [
    ("", "Pod", "pods"),
    ("", "PodTemplate", "podtemplates"),
    ("", "ReplicationController", "replicationcontrollers"),
    ("", "Service", "services"),
    ("", "Namespace", "namespaces"),
    ("apps", "Deployment", "deployments"),
    ("apps", "DaemonSet", "daemonsets"),
    ("apps", "ReplicaSet", "replicasets"),
    ("apps", "StatefulSet", "statefulsets"),
    ("batch", "Job", "jobs"),
    ("batch", "CronJob", "cronjobs"),
    ("networking.k8s.io", "Ingress", "ingresses"),
    ("extensions", "Ingress", "ingresses"),
];

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

/// (group, plural) pairs the built-in policies' rules name that are real
/// Kubernetes types (rules are a cross product of groups and kinds, so
/// `batch/Pod` is named but does not exist).
fn audited_types() -> BTreeSet<(String, String)> {
    let output = Command::new(plugin_binary())
        .args(["--list-policies", "-o", "json"])
        .output()
        .unwrap();
    let policies: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut out = BTreeSet::new();
    for policy in policies.as_array().unwrap() {
        for rule in policy["rules"].as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for kind in rule["kinds"].as_array().unwrap() {
                    for (g, k, plural) in KUBERNETES_TYPES {
                        if group == g && kind == k {
                            out.insert((g.to_owned(), plural.to_owned()));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_cluster_role_lists_what_the_policies_audit() {
    let documents = yaml_documents("docs/rbac/kubectl-wasm-validate.yaml");
    let role = documents
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["verbs"], serde_json::json!(["list"]), "{rule}");
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                granted.insert((
                    group.as_str().unwrap().to_owned(),
                    resource.as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    let mut needed = audited_types();
    assert!(needed.len() >= 10, "{needed:?}");
    // The schema stage (on by default) reads the cluster's CRDs.
    needed.insert((
        "apiextensions.k8s.io".to_owned(),
        "customresourcedefinitions".to_owned(),
    ));
    assert_eq!(granted, needed, "the ClusterRole and the policies differ");
    // The binding refers to the role.
    let binding = documents
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
}

#[test]
fn the_krew_manifest_installs_the_binary_kubectl_runs() {
    let manifest = &yaml_documents("docs/krew/wasm-validate.yaml")[0];
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    // `kubectl wasm-validate` runs `kubectl-wasm_validate`.
    assert_eq!(manifest["metadata"]["name"], "wasm-validate");
    assert_eq!(
        manifest["spec"]["version"],
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    let platforms = manifest["spec"]["platforms"].as_array().unwrap();
    let mut selectors = BTreeSet::new();
    for platform in platforms {
        let labels = &platform["selector"]["matchLabels"];
        let os = labels["os"].as_str().unwrap();
        selectors.insert((os.to_owned(), labels["arch"].as_str().unwrap().to_owned()));
        let bin = if os == "windows" {
            "kubectl-wasm_validate.exe"
        } else {
            "kubectl-wasm_validate"
        };
        assert_eq!(platform["bin"], bin);
        assert!(
            platform["uri"]
                .as_str()
                .unwrap()
                .contains(&format!("v{}", env!("CARGO_PKG_VERSION")))
        );
    }
    assert!(selectors.contains(&("linux".to_owned(), "amd64".to_owned())));
    assert!(selectors.contains(&("linux".to_owned(), "arm64".to_owned())));
    assert_eq!(selectors.len(), platforms.len(), "one entry per platform");
}
