//! A loopback HTTP server that speaks enough of the Kubernetes API for the
//! cluster audit of `kubectl wasm-validate` to be tested and measured with no
//! cluster: `/version`, discovery documents (`/api`, `/api/v1`, `/apis`,
//! `/apis/GROUP/v1`), list endpoints (cluster-wide and per namespace) with
//! `limit`/`continue` and equality `labelSelector`s, a bearer-token check
//! (401 otherwise), and a 403 on the resource types marked forbidden.
//!
//! Used by the plugin's tests and by `cargo xtask audit-memory`; never by a
//! shipped binary. HTTP is handled by `tiny_http`.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The bearer token the server accepts.
pub const TOKEN: &str = "test-token";

/// A resource type the server serves (all in version `v1`).
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Plural resource name, as in the URL (`deployments`).
    pub plural: &'static str,
    /// Kind (`Deployment`).
    pub kind: &'static str,
    /// Namespaced (`true`) or cluster-scoped.
    pub namespaced: bool,
    /// Every list of this type answers 403 Forbidden.
    pub forbidden: bool,
}

impl ResourceType {
    fn group_version(&self) -> String {
        if self.group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{}/v1", self.group)
        }
    }
}

/// What the server holds: its types and, by plural, the objects it lists
/// (without `apiVersion` and `kind`, as the API server leaves them out of
/// list items).
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// The types discovery announces.
    pub types: Vec<ResourceType>,
    /// Objects by plural resource name.
    pub objects: BTreeMap<&'static str, Vec<Value>>,
    /// The `gitVersion` `/version` answers (`v1.35.2`); `None`: 404.
    pub version: Option<String>,
}

/// The demo cluster the tests use: the types Pod, Service, Namespace,
/// Deployment, DaemonSet (forbidden: the auditor may not list it) and
/// Ingress; the Deployments and Services of `testdata/real/microservices-demo.yaml`
/// in namespace `demo`; kube-prometheus's node-exporter DaemonSet in
/// `monitoring`; and `load_pods` Pods named `worker-NNNNN` in namespace
/// `load` (label `app: worker`; every Pod whose index is 7 modulo 1,000
/// sets `hostNetwork: true` and has `app: odd`); the CRD of
/// `testdata/schema/split/crd/gizmos.yaml` with its Gizmo custom resource
/// of `testdata/schema/split/widget.yaml` in namespace `demo` (whose
/// `spec.size` the CRD's schema refuses). `/version` answers `v1.35.2`.
///
/// `root` is the workspace root. Panics if the test data cannot be read.
pub fn demo_cluster(root: &Path, load_pods: usize) -> Cluster {
    let types = vec![
        ResourceType {
            group: "",
            plural: "pods",
            kind: "Pod",
            namespaced: true,
            forbidden: false,
        },
        ResourceType {
            group: "",
            plural: "services",
            kind: "Service",
            namespaced: true,
            forbidden: false,
        },
        ResourceType {
            group: "",
            plural: "namespaces",
            kind: "Namespace",
            namespaced: false,
            forbidden: false,
        },
        ResourceType {
            group: "apps",
            plural: "deployments",
            kind: "Deployment",
            namespaced: true,
            forbidden: false,
        },
        ResourceType {
            group: "apps",
            plural: "daemonsets",
            kind: "DaemonSet",
            namespaced: true,
            forbidden: true,
        },
        ResourceType {
            group: "networking.k8s.io",
            plural: "ingresses",
            kind: "Ingress",
            namespaced: true,
            forbidden: false,
        },
        ResourceType {
            group: "apiextensions.k8s.io",
            plural: "customresourcedefinitions",
            kind: "CustomResourceDefinition",
            namespaced: false,
            forbidden: false,
        },
        ResourceType {
            group: "example.com",
            plural: "gizmos",
            kind: "Gizmo",
            namespaced: true,
            forbidden: false,
        },
    ];
    let mut objects: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    let text = std::fs::read_to_string(root.join("testdata/real/microservices-demo.yaml"))
        .expect("testdata/real/microservices-demo.yaml");
    for document in serde_yaml::Deserializer::from_str(&text) {
        let mut object: Value = serde::Deserialize::deserialize(document).expect("YAML");
        let plural = match object["kind"].as_str() {
            Some("Deployment") => "deployments",
            Some("Service") => "services",
            _ => continue,
        };
        object["metadata"]["namespace"] = json!("demo");
        strip_type(&mut object);
        objects.entry(plural).or_default().push(object);
    }
    let mut daemonset: Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            root.join("testdata/real/kube-prometheus/nodeExporter-daemonset.yaml"),
        )
        .expect("nodeExporter-daemonset.yaml"),
    )
    .expect("YAML");
    strip_type(&mut daemonset);
    objects.entry("daemonsets").or_default().push(daemonset);
    let pods = objects.entry("pods").or_default();
    for i in 0..load_pods {
        let mut pod = json!({
            "metadata": {"name": format!("worker-{i:05}"), "namespace": "load", "labels": {"app": "worker"}},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/worker:1.0"}]}
        });
        if i % 1000 == 7 {
            pod["spec"]["hostNetwork"] = json!(true);
            pod["metadata"]["labels"]["app"] = json!("odd");
        }
        pods.push(pod);
    }
    objects
        .entry("namespaces")
        .or_default()
        .extend(["demo", "monitoring", "load"].map(|n| json!({"metadata": {"name": n}})));
    for (path, plural) in [
        (
            "testdata/schema/split/crd/gizmos.yaml",
            "customresourcedefinitions",
        ),
        ("testdata/schema/split/widget.yaml", "gizmos"),
    ] {
        let mut object: Value =
            serde_yaml::from_str(&std::fs::read_to_string(root.join(path)).expect(path))
                .expect("YAML");
        if plural == "gizmos" {
            object["metadata"]["namespace"] = json!("demo");
        }
        strip_type(&mut object);
        objects.entry(plural).or_default().push(object);
    }
    Cluster {
        types,
        objects,
        version: Some("v1.35.2".to_owned()),
    }
}

fn strip_type(object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
    }
}

/// A running server; it stops when dropped.
pub struct ApiServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Starts serving `cluster` on a free loopback port with four worker
    /// threads. Panics if no port can be bound.
    pub fn start(cluster: Cluster) -> ApiServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let url = format!(
            "http://{}",
            server.server_addr().to_ip().expect("an IP address")
        );
        let log = Arc::new(Mutex::new(Vec::new()));
        let cluster = Arc::new(cluster);
        let workers = (0..4)
            .map(|_| {
                let (server, cluster, log) = (server.clone(), cluster.clone(), log.clone());
                std::thread::spawn(move || {
                    // `recv` fails once `unblock` is called on drop.
                    while let Ok(request) = server.recv() {
                        serve(request, &cluster, &log);
                    }
                })
            })
            .collect();
        ApiServer {
            url,
            log,
            server,
            workers,
        }
    }

    /// Every request target (path and query) received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// Writes a kubeconfig into `dir` with two contexts on this server:
    /// `good` (user `auditor` with [`TOKEN`], namespace `demo`) and
    /// `expired` (a token the server refuses, no namespace), the current
    /// one. Returns its path; panics if it cannot be written.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        write_kubeconfig(dir, &self.url)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// [`ApiServer::kubeconfig`] for any server URL (for example one nothing
/// listens on).
pub fn write_kubeconfig(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: loopback
  cluster: {{server: \"{url}\"}}
users:
- name: auditor
  user: {{token: {TOKEN}}}
- name: stale
  user: {{token: expired}}
contexts:
- name: good
  context: {{cluster: loopback, user: auditor, namespace: demo}}
- name: expired
  context: {{cluster: loopback, user: stale}}
current-context: expired
"
        ),
    )
    .expect("write the kubeconfig");
    path
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn resource_list(cluster: &Cluster, group_version: &str) -> Value {
    let resources: Vec<Value> = cluster
        .types
        .iter()
        .filter(|t| t.group_version() == group_version)
        .map(|t| {
            json!({"name": t.plural, "singularName": "", "namespaced": t.namespaced,
                   "kind": t.kind, "verbs": ["get", "list", "watch"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn serve(request: tiny_http::Request, cluster: &Cluster, log: &Mutex<Vec<String>>) {
    let target = request.url().to_owned();
    log.lock().expect("log").push(target.clone());
    let authorized = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("Authorization") && h.value.as_str() == format!("Bearer {TOKEN}"));
    let (code, body) = if authorized {
        answer(cluster, &target)
    } else {
        status(401, "Unauthorized", "Unauthorized")
    };
    let response = tiny_http::Response::from_string(body.to_string())
        .with_status_code(code)
        .with_header(
            tiny_http::Header::from_bytes("Content-Type", "application/json")
                .expect("a valid header"),
        );
    let _ = request.respond(response);
}

fn answer(cluster: &Cluster, target: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let groups: Vec<&str> = {
        let mut groups: Vec<&str> = cluster
            .types
            .iter()
            .map(|t| t.group)
            .filter(|g| !g.is_empty())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    };
    match segments[..] {
        ["version"] => match &cluster.version {
            Some(version) => {
                let minor = version.split('.').nth(1).unwrap_or_default();
                (
                    200,
                    json!({"major": "1", "minor": minor, "gitVersion": version,
                           "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z",
                           "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}),
                )
            }
            None => status(404, "NotFound", "no such path"),
        },
        ["api"] => (
            200,
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        ["apis"] => {
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
                                "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}}))
                .collect();
            (
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["api", "v1"] => (200, resource_list(cluster, "v1")),
        ["apis", group, "v1"] => (200, resource_list(cluster, &format!("{group}/v1"))),
        ["api", "v1", ref rest @ ..] => list(cluster, "", rest, &query),
        ["apis", group, "v1", ref rest @ ..] => list(cluster, group, rest, &query),
        _ => status(404, "NotFound", "no such path"),
    }
}

/// `rest` is `[PLURAL]` or `["namespaces", NS, PLURAL]`.
fn list(
    cluster: &Cluster,
    group: &str,
    rest: &[&str],
    query: &BTreeMap<String, String>,
) -> (u16, Value) {
    let (namespace, plural) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural),
        [plural] => (None, *plural),
        _ => return status(404, "NotFound", "no such path"),
    };
    let Some(kind) = cluster
        .types
        .iter()
        .find(|t| t.plural == plural && t.group == group)
    else {
        return status(404, "NotFound", "no such resource");
    };
    if kind.forbidden {
        let message = format!(
            "{plural}.{group} is forbidden: User \"auditor\" cannot list resource \"{plural}\" in API group \"{group}\""
        );
        return status(403, "Forbidden", &message);
    }
    let selector: Vec<(&str, &str)> = query
        .get("labelSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|term| term.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    let items: Vec<&Value> = cluster
        .objects
        .get(plural)
        .into_iter()
        .flatten()
        .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
        .filter(|o| {
            selector
                .iter()
                .all(|(k, v)| o["metadata"]["labels"][*k] == *v)
        })
        .collect();
    let start: usize = query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(items.len());
    let mut metadata = json!({"resourceVersion": "1"});
    if end < items.len() {
        metadata["continue"] = json!(end.to_string());
    }
    (
        200,
        json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.group_version(),
               "metadata": metadata, "items": &items[start.min(end)..end]}),
    )
}
