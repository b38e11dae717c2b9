//! The variables a request binds, as the API server binds them:
//! `request` (kind, resource, name, namespace, operation, userInfo,
//! dryRun), `namespaceObject` offline, the objects as CEL values read from
//! the tape, and `variables`.

use super::*;

pub(super) fn string_value(text: &str) -> Value {
    Value::String(Arc::new(text.to_owned()))
}

pub(super) fn map_of<K: Into<String>>(members: Vec<(K, Value)>) -> Value {
    Value::Map(Map {
        map: Arc::new(
            members
                .into_iter()
                .map(|(k, v)| (Key::String(Arc::new(k.into())), v))
                .collect(),
        ),
    })
}

pub(super) fn field<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut at = value;
    for key in path {
        let Value::Map(map) = at else { return None };
        at = map.map.get(&Key::String(Arc::new((*key).to_owned())))?;
    }
    Some(at)
}

/// `request`, as the API server binds it: kind, resource, name,
/// namespace, operation, userInfo, dryRun; the host's `review` settings
/// (an admission request's real values) override.
pub(super) fn request_of(
    identity: &value::Identity,
    operation: Operation,
    review: Option<&Value>,
) -> Value {
    let (group, version) = identity
        .api_version
        .split_once('/')
        .unwrap_or(("", &identity.api_version));
    let mut members: Vec<(String, Value)> = [
        (
            "kind",
            map_of(vec![
                ("group", string_value(group)),
                ("version", string_value(version)),
                ("kind", string_value(&identity.kind)),
            ]),
        ),
        (
            "resource",
            map_of(vec![
                ("group", string_value(group)),
                ("version", string_value(version)),
                (
                    "resource",
                    string_value(&wasm_validate_abi::plural_of(&identity.kind)),
                ),
            ]),
        ),
        ("name", string_value(&identity.name)),
        ("namespace", string_value(&identity.namespace)),
        (
            "operation",
            string_value(match operation {
                Operation::Create => "CREATE",
                Operation::Update => "UPDATE",
                Operation::Delete => "DELETE",
                Operation::Connect => "CONNECT",
            }),
        ),
        ("userInfo", map_of(Vec::<(String, Value)>::new())),
        ("dryRun", Value::Bool(false)),
    ]
    .into_iter()
    .map(|(k, v): (&str, Value)| (k.to_owned(), v))
    .collect();
    if let Some(Value::Map(extra)) = review {
        for (key, value) in extra.map.iter() {
            let key = value::key_text(key);
            members.retain(|(k, _)| *k != key);
            members.push((key, value.clone()));
        }
    }
    map_of(members)
}

/// An object of the request as CEL's values (`null` when absent).
pub(super) fn bind<'a>(tape: Option<Tape<'a>>) -> Result<Box<dyn Val + 'a>, TapeError> {
    match tape {
        Some(tape) => value::val_from_tape(&tape),
        None => Ok(Box::new(CelNull)),
    }
}

/// `variables` as a CEL map of copies of `variables`.
pub(super) fn variables_map<'v>(variables: &[(String, Box<dyn Val + 'v>)]) -> Box<dyn Val + 'v> {
    let map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = variables
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.clone()), v.clone_as_boxed()))
        .collect();
    Box::new(CelMap::from(map))
}

/// Kinds without a namespace (`namespaceObject` is `null` for them).
pub(super) const CLUSTER_SCOPED: [&str; 24] = [
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterPolicy",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// `namespaceObject` offline: the known Namespace of the object's
/// namespace (`default` when it names none), else a Namespace with only
/// that name; `null` for a cluster-scoped kind.
pub(super) fn namespace_object(prepared: &Prepared, identity: &value::Identity) -> Value {
    if CLUSTER_SCOPED.contains(&identity.kind.as_str()) {
        return Value::Null;
    }
    let name = if identity.namespace.is_empty() {
        "default".to_owned()
    } else {
        identity.namespace.clone()
    };
    match prepared.namespaces.get(&name) {
        Some(known) => known.clone(),
        None => map_of(vec![
            ("apiVersion", string_value("v1")),
            ("kind", string_value("Namespace")),
            ("metadata", map_of(vec![("name", string_value(&name))])),
        ]),
    }
}
