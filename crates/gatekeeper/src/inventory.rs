//! `data.inventory`: the objects a referential template may look up, in
//! Gatekeeper's layout (what its sync or gator's `inventory` provides):
//! `cluster[apiVersion][kind][name]` for cluster-scoped objects and
//! `namespace[namespace][apiVersion][kind][name]` for namespaced ones.
//! Source: <https://open-policy-agent.github.io/gatekeeper/website/docs/sync>.
//!
//! Offline, an object is namespaced when it has `metadata.namespace`;
//! a synced cluster knows each kind's scope instead, so an object of a
//! namespaced kind written without a namespace is listed under `cluster`
//! here (documented in docs/rego.md).

use serde_json::{Map, Value};

/// The inventory of `objects` (objects without `apiVersion`, `kind` or
/// `metadata.name` are left out; a later object with the same key
/// replaces an earlier one, as a later sync would).
pub fn inventory<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut cluster = Map::new();
    let mut namespaced = Map::new();
    for object in objects {
        let (Some(api_version), Some(kind), Some(name)) = (
            object["apiVersion"].as_str(),
            object["kind"].as_str(),
            object["metadata"]["name"].as_str(),
        ) else {
            continue;
        };
        let root = match object["metadata"]["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
        {
            Some(namespace) => entry(&mut namespaced, namespace),
            None => &mut cluster,
        };
        let by_kind = entry(entry(root, api_version), kind);
        by_kind.insert(name.to_owned(), object.clone());
    }
    let mut out = Map::new();
    out.insert("cluster".into(), Value::Object(cluster));
    out.insert("namespace".into(), Value::Object(namespaced));
    Value::Object(out)
}

fn entry<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let value = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("an object was just put there")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cluster_and_namespaced_objects_go_where_gatekeeper_puts_them() {
        let class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}});
        let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": "prod"}});
        let nameless = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}});
        let inventory = inventory([&class, &ingress, &nameless]);
        assert_eq!(
            inventory["cluster"]["storage.k8s.io/v1"]["StorageClass"]["fast"],
            class
        );
        assert_eq!(
            inventory["namespace"]["prod"]["networking.k8s.io/v1"]["Ingress"]["web"],
            ingress
        );
        assert_eq!(inventory["namespace"].as_object().unwrap().len(), 1);
    }
}
