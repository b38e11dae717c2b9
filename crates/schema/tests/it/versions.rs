//! The built-in versions.

use serde_json::json;
use wasm_validate_schema::{DEFAULT_VERSION, Schemas, minor_version, version_for_server, versions};

#[test]
fn at_least_the_three_newest_minor_versions_are_built_in_and_load() {
    let shipped = versions();
    assert!(shipped.len() >= 3, "{shipped:?}");
    assert_eq!(shipped.last().copied(), Some(DEFAULT_VERSION));
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    });
    for version in shipped {
        let schemas = Schemas::new(version).unwrap();
        assert_eq!(schemas.kubernetes_version(), version);
        assert_eq!(
            schemas.validate(&pod).findings,
            vec![],
            "Kubernetes {version}"
        );
    }
}

#[test]
fn versions_are_read_as_kubectl_and_kubeconform_write_them() {
    assert_eq!(minor_version("v1.36.2").as_deref(), Some("1.36"));
    assert_eq!(minor_version("1.35").as_deref(), Some("1.35"));
    assert_eq!(minor_version("latest"), None);
    let error = Schemas::new("1.20").unwrap_err();
    assert!(
        error.contains("no built-in schemas") && error.contains(DEFAULT_VERSION),
        "{error}"
    );
}

#[test]
fn a_servers_version_picks_the_same_or_the_nearest_built_in() {
    let shipped = versions();
    let (oldest, newest) = (shipped[0], *shipped.last().unwrap());
    assert_eq!(version_for_server("v1.35.2"), Some(("1.35", true)));
    assert_eq!(
        version_for_server("v1.35.2-gke.1004000"),
        Some(("1.35", true))
    );
    assert_eq!(version_for_server("v1.20.0"), Some((oldest, false)));
    assert_eq!(version_for_server("v1.99.1"), Some((newest, false)));
    assert_eq!(version_for_server("v2.0.0"), Some((newest, false)));
    assert_eq!(version_for_server("not-a-version"), None);
}

#[test]
fn another_version_keeps_the_crds() {
    let crd: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/schema/split/crd/gizmos.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut schemas = Schemas::new("1.37").unwrap();
    assert!(schemas.add_crd(&crd, "gizmos.yaml"));
    let older = schemas.for_version("1.34").unwrap();
    assert_eq!(older.kubernetes_version(), "1.34");
    let gizmo = json!({"apiVersion": "example.com/v1", "kind": "Gizmo",
                       "metadata": {"name": "g"}, "spec": {"size": "huge"}});
    let findings = older.validate(&gizmo).findings;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].pointer, "/spec/size");
}
