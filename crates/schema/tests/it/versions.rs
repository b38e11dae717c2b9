//! The built-in versions.

use serde_json::json;
use wasm_validate_schema::{DEFAULT_VERSION, Schemas, minor_version, versions};

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
