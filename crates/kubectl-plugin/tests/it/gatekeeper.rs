//! Gatekeeper constraints in a live audit (`kubectl wasm-validate` without
//! `-f`, against the loopback API server): a referential template sees every
//! page of the audit, and the audit is Gatekeeper's `audit.gatekeeper.sh`
//! enforcement point.

use wasm_validate_test_apiserver::{ApiServer, demo_cluster};

use crate::common::root;
use crate::live::audit_all_namespaces;

#[test]
fn a_referential_gatekeeper_constraint_sees_every_page_of_the_audit() {
    // Two Ingresses with the same host, in different namespaces, listed one
    // per page: the constraint's data.inventory must hold both.
    let mut cluster = demo_cluster(&root(), 0);
    for (namespace, name) in [("shop", "a"), ("blog", "b")] {
        cluster
            .objects
            .entry("ingresses")
            .or_default()
            .push(serde_json::json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"rules": [{"host": "same.example.com"}]}
            }));
    }
    let server = ApiServer::start(cluster);
    let (report, _, stderr) = audit_all_namespaces(
        &server,
        "inventory",
        &[
            "--chunk-size",
            "1",
            "--policy",
            "testdata/gatekeeper/uniquehost/",
        ],
    );
    let mut failed: Vec<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .map(|r| {
            format!(
                "{}/{}",
                r["resource"]["namespace"].as_str().unwrap(),
                r["resource"]["name"].as_str().unwrap()
            )
        })
        .collect();
    failed.sort();
    assert_eq!(failed, ["blog/b", "shop/a"], "{stderr}");
}

/// A live audit is Gatekeeper's `audit.gatekeeper.sh`: each scoped
/// constraint of testdata/gatekeeper/scoped takes its action there (one
/// only records, one warns), where `check` runs only the first.
#[test]
fn a_live_audit_enforces_scoped_constraints_at_the_audit_point() {
    let mut cluster = demo_cluster(&root(), 0);
    cluster.objects.insert(
        "pods",
        vec![serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "bare", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
        })],
    );
    let server = ApiServer::start(cluster);
    let (report, code, stderr) = audit_all_namespaces(
        &server,
        "scoped",
        &[
            "--schema=off",
            "--policy",
            "testdata/gatekeeper/requiredlabels/template.yaml",
            "--policy",
            "testdata/gatekeeper/scoped/",
        ],
    );
    let mut actions: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["policy"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            ("WvRequiredLabels/cluster-only", "warn"),
            ("WvRequiredLabels/warn-in-ci", "audit")
        ],
        "{stderr}"
    );
    // Neither denies: the audit passes.
    assert_eq!(code, Some(0), "{stderr}");
}
