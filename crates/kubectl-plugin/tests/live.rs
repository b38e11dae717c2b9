//! `kubectl wasm-validate` against a live cluster: a loopback HTTP server
//! started by the test speaks enough of the Kubernetes API (discovery
//! documents, list endpoints with `limit`/`continue`, a bearer-token check, a
//! 403 on DaemonSets) and serves resources taken from `testdata/real`, plus
//! a namespace with 5,000 Pods. A kubeconfig written by the test points at
//! it; `--context`, `-n`, `-A`, `-l` and `--chunk-size` are exercised.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

const TOKEN: &str = "test-token";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A resource type the fake server serves.
struct Type {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    forbidden: bool,
}

const TYPES: [Type; 6] = [
    Type {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
        namespaced: true,
        forbidden: false,
    },
    Type {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
        namespaced: true,
        forbidden: false,
    },
    Type {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false,
        forbidden: false,
    },
    Type {
        group: "apps",
        version: "v1",
        plural: "deployments",
        kind: "Deployment",
        namespaced: true,
        forbidden: false,
    },
    Type {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        kind: "DaemonSet",
        namespaced: true,
        forbidden: true,
    },
    Type {
        group: "networking.k8s.io",
        version: "v1",
        plural: "ingresses",
        kind: "Ingress",
        namespaced: true,
        forbidden: false,
    },
];

/// What the server saw: every request's path and query.
#[derive(Default)]
struct Log {
    requests: Vec<String>,
}

struct Server {
    url: String,
    log: Arc<Mutex<Log>>,
}

/// The objects served, by plural: real manifests in namespace `demo`, the
/// node-exporter DaemonSet in `monitoring`, and 5,000 Pods in `load`.
fn objects() -> BTreeMap<&'static str, Vec<Value>> {
    let mut out: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    let text =
        std::fs::read_to_string(root().join("testdata/real/microservices-demo.yaml")).unwrap();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let mut object: Value = serde::Deserialize::deserialize(document).unwrap();
        if object.is_null() {
            continue;
        }
        object["metadata"]["namespace"] = json!("demo");
        let plural = match object["kind"].as_str().unwrap() {
            "Deployment" => "deployments",
            "Service" => "services",
            _ => continue,
        };
        // The server leaves apiVersion and kind out of list items, as the API server does.
        object.as_object_mut().unwrap().remove("apiVersion");
        object.as_object_mut().unwrap().remove("kind");
        out.entry(plural).or_default().push(object);
    }
    let daemonset: Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            root().join("testdata/real/kube-prometheus/nodeExporter-daemonset.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    out.entry("daemonsets").or_default().push(daemonset);
    for i in 0..5000 {
        let mut pod = json!({
            "metadata": {"name": format!("worker-{i:04}"), "namespace": "load", "labels": {"app": "worker"}},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/worker:1.0"}]}
        });
        if i % 1000 == 7 {
            pod["spec"]["hostNetwork"] = json!(true);
            pod["metadata"]["labels"]["app"] = json!("odd");
        }
        out.entry("pods").or_default().push(pod);
    }
    out.entry("namespaces")
        .or_default()
        .extend(["demo", "monitoring", "load"].map(|n| json!({"metadata": {"name": n}})));
    out
}

fn respond(stream: &mut TcpStream, code: u16, body: &Value) {
    let body = body.to_string();
    let reason = match code {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn resource_list(group_version: &str) -> Value {
    let resources: Vec<Value> = TYPES
        .iter()
        .filter(|t| {
            let gv = if t.group.is_empty() {
                t.version.to_owned()
            } else {
                format!("{}/{}", t.group, t.version)
            };
            gv == group_version
        })
        .map(|t| {
            json!({"name": t.plural, "singularName": "", "namespaced": t.namespaced,
                         "kind": t.kind, "verbs": ["get", "list", "watch"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn handle(mut stream: TcpStream, objects: &BTreeMap<&'static str, Vec<Value>>, log: &Mutex<Log>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorized = false;
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("authorization:")
            && line.trim_end().ends_with(&format!("Bearer {TOKEN}"))
        {
            authorized = true;
        }
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    log.lock().unwrap().requests.push(target.clone());
    if !authorized {
        return respond(
            &mut stream,
            401,
            &status(401, "Unauthorized", "Unauthorized"),
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query: BTreeMap<&str, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k,
                v.replace("%3D", "=")
                    .replace("%2C", ",")
                    .replace("%21", "!"),
            )
        })
        .collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments[..] {
        ["api"] => respond(
            &mut stream,
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        ["apis"] => {
            let groups: Vec<Value> = ["apps", "networking.k8s.io"]
                .iter()
                .map(|g| json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
                                "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}}))
                .collect();
            respond(
                &mut stream,
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["api", "v1"] => respond(&mut stream, 200, &resource_list("v1")),
        ["apis", group, "v1"] => respond(&mut stream, 200, &resource_list(&format!("{group}/v1"))),
        _ => {
            // /api/v1[/namespaces/NS]/PLURAL or /apis/G/v1[/namespaces/NS]/PLURAL
            let rest: &[&str] = if segments[0] == "api" {
                &segments[2..]
            } else {
                &segments[3..]
            };
            let (namespace, plural) = match rest {
                ["namespaces", ns, plural] => (Some(*ns), *plural),
                [plural] => (None, *plural),
                _ => return respond(&mut stream, 404, &status(404, "NotFound", "no such path")),
            };
            let Some(kind) = TYPES.iter().find(|t| t.plural == plural) else {
                return respond(
                    &mut stream,
                    404,
                    &status(404, "NotFound", "no such resource"),
                );
            };
            if kind.forbidden {
                let message = format!(
                    "{plural}.{} is forbidden: User \"auditor\" cannot list resource \"{plural}\"",
                    kind.group
                );
                return respond(&mut stream, 403, &status(403, "Forbidden", &message));
            }
            let selector = query.get("labelSelector").cloned();
            let items: Vec<&Value> = objects
                .get(plural)
                .map(|v| v.iter().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|o| namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns))
                .filter(|o| match &selector {
                    Some(s) => s.split(',').all(|term| match term.split_once('=') {
                        Some((k, v)) => o["metadata"]["labels"][k] == v,
                        None => true,
                    }),
                    None => true,
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
            let list = json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.version,
                              "metadata": metadata, "items": &items[start.min(end)..end]});
            respond(&mut stream, 200, &list)
        }
    }
}

fn start_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Log::default()));
    let objects = Arc::new(objects());
    let server_log = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let objects = objects.clone();
            let log = server_log.clone();
            std::thread::spawn(move || handle(stream, &objects, &log));
        }
    });
    Server { url, log }
}

/// A kubeconfig with two contexts: `good` (the right token, namespace
/// `demo`) and `expired` (a token the server refuses).
fn kubeconfig(dir: &Path, url: &str) -> PathBuf {
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
    .unwrap();
    path
}

fn plugin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-wasm_validate"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wv-live-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn audits_a_namespace_and_reports_what_it_could_not_read() {
    let server = start_server();
    let dir = temp_dir("namespace");
    let config = kubeconfig(&dir, &server.url);
    let config = config.to_str().unwrap();
    let output = plugin(&["--kubeconfig", config, "--context", "good", "-o", "json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    // The 403 on DaemonSets is an input error (exit 2); everything else was audited.
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("daemonsets.apps: forbidden (403)")
    );
    // Only namespace demo: the microservices-demo Deployments, found failing
    // as from the files.
    let results = report["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r["resource"]["namespace"] == "demo"));
    let deployments = results
        .iter()
        .filter(|r| r["resource"]["kind"] == "Deployment" && r["policy"] == "run-as-non-root");
    let in_file = std::fs::read_to_string(root().join("testdata/real/microservices-demo.yaml"))
        .unwrap()
        .matches("\nkind: Deployment\n")
        .count();
    assert_eq!(deployments.count(), in_file);
    assert!(report["summary"]["failed"].as_u64().unwrap() > 0);
    // The kinds the policies name that the server does not serve are noted.
    assert!(
        stderr.contains("note: CronJob (batch): not served"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn five_thousand_pods_are_read_page_by_page() {
    let server = start_server();
    let dir = temp_dir("pods");
    let config = kubeconfig(&dir, &server.url);
    let output = plugin(&[
        "--kubeconfig",
        config.to_str().unwrap(),
        "--context",
        "good",
        "-n",
        "load",
        "--chunk-size",
        "250",
        "--policy",
        "host-namespaces",
        "-o",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    // host-namespaces also covers DaemonSets, which this user may not list: exit 2.
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
    assert_eq!(report["summary"]["resources"], 5000);
    assert_eq!(report["summary"]["failed"], 5);
    let pod_lists: Vec<String> = server
        .log
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/namespaces/load/pods"))
        .cloned()
        .collect();
    assert_eq!(pod_lists.len(), 20, "{pod_lists:?}");
    assert!(pod_lists.iter().all(|r| r.contains("limit=250")));
    assert!(pod_lists[1].contains("continue=250"));
    // A label selector goes to the server.
    let selected = plugin(&[
        "--kubeconfig",
        config.to_str().unwrap(),
        "--context",
        "good",
        "-A",
        "-l",
        "app=odd",
        "--policy",
        "host-namespaces",
        "-o",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&selected.stdout).unwrap();
    assert_eq!(report["summary"]["resources"], 5);
    assert_eq!(report["summary"]["failed"], 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn refused_credentials_and_unreachable_servers_are_clear_errors() {
    let server = start_server();
    let dir = temp_dir("errors");
    let config = kubeconfig(&dir, &server.url);
    let output = plugin(&["--kubeconfig", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("401 Unauthorized") && stderr.contains("expired"),
        "{stderr}"
    );
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let nowhere = kubeconfig(&dir, &url);
    let output = plugin(&[
        "--kubeconfig",
        nowhere.to_str().unwrap(),
        "--context",
        "good",
        "--request-timeout",
        "5s",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("cannot reach the API server at"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
