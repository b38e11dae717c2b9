//! `kubectl wasm-validate` against a live cluster: a loopback server
//! (`wasm-validate-test-apiserver`) started by each test speaks enough of the
//! Kubernetes API (discovery documents, list endpoints with
//! `limit`/`continue`, a bearer-token check, a 403 on DaemonSets) and serves
//! resources taken from `testdata/real`, plus a namespace with 5,000 Pods. A
//! kubeconfig written by the test points at it; `--context`, `-n`, `-A`,
//! `-l` and `--chunk-size` are exercised, directly and through a real
//! kubectl.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::{kubectl_installed, path_with_plugin, root};

use serde_json::Value;
use wasm_validate_test_apiserver::{ApiServer, demo_cluster, write_kubeconfig};

fn start_server() -> ApiServer {
    ApiServer::start(demo_cluster(&root(), 5000))
}

pub(crate) fn plugin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-wasm_validate"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

/// A fresh directory under the system's temporary directory, removed when
/// the guard drops.
pub(crate) fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wv-live-{name}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn audits_a_namespace_and_reports_what_it_could_not_read() {
    let server = start_server();
    let scratch = temp_dir("namespace");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
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
}

#[test]
fn five_thousand_pods_are_read_page_by_page() {
    let server = start_server();
    let scratch = temp_dir("pods");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
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
        .requests()
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
}

#[test]
fn refused_credentials_and_unreachable_servers_are_clear_errors() {
    let server = start_server();
    let scratch = temp_dir("errors");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
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
    let nowhere = write_kubeconfig(dir, &url);
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
}

/// `-o policyreport` from a live cluster: one PolicyReport per namespace and
/// one ClusterPolicyReport, valid against the CRD's schema, every result
/// once, ready for `kubectl apply -f -`.
#[test]
fn policy_reports_from_a_live_cluster() {
    let server = start_server();
    let scratch = temp_dir("policyreport");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
    let config = config.to_str().unwrap();
    // required-labels applies to every kind, the cluster-scoped Namespaces too.
    let common = [
        "--kubeconfig",
        config,
        "--context",
        "good",
        "-A",
        "--policy",
        "host-namespaces",
        "--policy",
        "required-labels",
        "--settings",
        "required-labels={labels: [{key: app}]}",
    ];
    let yaml = plugin(&[&common[..], &["-o", "policyreport"]].concat());
    let json = plugin(&[&common[..], &["-o", "json"]].concat());
    assert_eq!(yaml.status.code(), json.status.code());
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let schema_text =
        std::fs::read_to_string(root().join("testdata/schemas/policyreport-v1alpha2.json"))
            .unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&schema_text).unwrap()).unwrap();
    let stream = String::from_utf8(yaml.stdout).unwrap();
    let mut reports = Vec::new();
    for document in stream.split("---\n").filter(|d| !d.trim().is_empty()) {
        let document: Value = serde_yaml::from_str(document).unwrap();
        let errors: Vec<String> = schema
            .iter_errors(&document)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        reports.push(document);
    }
    let scopes: Vec<(&str, Option<&str>)> = reports
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap(),
                r["metadata"]["namespace"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("ClusterPolicyReport", None),
            ("PolicyReport", Some("demo")),
            ("PolicyReport", Some("load")),
        ]
    );
    // The three Namespaces and the CRD (cluster-scoped) are in the
    // ClusterPolicyReport, each once, in the order the server listed them.
    let cluster_resources: Vec<&str> = reports[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resources"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cluster_resources,
        ["demo", "monitoring", "load", "gizmos.example.com"]
    );
    let total: u64 = reports
        .iter()
        .map(|r| r["results"].as_array().unwrap().len() as u64)
        .sum();
    assert_eq!(total, report["summary"]["evaluations"].as_u64().unwrap());
    let load = &reports[2];
    // Five Pods in `load` use the host network.
    let host_network = load["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "host-namespaces" && r["result"] == "fail")
        .count();
    assert_eq!(host_network, 5);
}

/// kubectl itself finds the plugin on PATH and hands it every argument after
/// `wasm-validate`: the live audit through `kubectl wasm-validate`.
#[test]
fn a_real_kubectl_runs_the_live_audit() {
    if !kubectl_installed() {
        return;
    }
    let server = start_server();
    let scratch = temp_dir("kubectl");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
    let output = Command::new("kubectl")
        .args(["wasm-validate", "--kubeconfig"])
        .arg(&config)
        .args(["--context", "good", "-n", "demo", "-o", "json"])
        .env("PATH", path_with_plugin())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The DaemonSets' 403 makes it 2, as when run directly.
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(results.iter().all(|r| r["resource"]["namespace"] == "demo"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("/apis/apps/v1/namespaces/demo/deployments?"))
    );
}

/// The progress line appears on a terminal (a pseudo-terminal from
/// util-linux's `script`) and never when stderr is a pipe or a file. The
/// delay is set to 0 so that the test does not depend on speed.
#[test]
fn progress_shows_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "util-linux's script must be installed in CI"
        );
        return;
    }
    let server = start_server();
    let scratch = temp_dir("progress");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
    let command = format!(
        "{} --kubeconfig {} --context good -n load --chunk-size 1000 --policy host-namespaces -o json > {}",
        env!("CARGO_BIN_EXE_kubectl-wasm_validate"),
        config.display(),
        dir.join("report.json").display(),
    );
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("WASM_VALIDATE_PROGRESS_DELAY_MS", "0")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    // `script` copies the terminal's output (stderr here) to its stdout.
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{terminal}");
    assert!(
        terminal.contains("\r5000 resources checked (listing pods)"),
        "{terminal:?}"
    );
    assert!(terminal.contains("\r1000 resources checked (listing pods)"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["resources"], 5000);
    // Through a pipe: no progress line.
    let piped = Command::new(env!("CARGO_BIN_EXE_kubectl-wasm_validate"))
        .args([
            "--kubeconfig",
            config.to_str().unwrap(),
            "--context",
            "good",
        ])
        .args(["-n", "load", "--policy", "host-namespaces", "-o", "json"])
        .env("WASM_VALIDATE_PROGRESS_DELAY_MS", "0")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("resources checked"));
}

/// A signed bundle of `testdata/config/cert-manager.yaml` with the built-in
/// modules it chooses, as `wasm-validate bundle create` packs it.
fn cert_manager_bundle(dir: &std::path::Path) -> (Vec<u8>, PathBuf) {
    use wasm_validate_config::{ChosenModule, CommandLine, Config};
    let text = std::fs::read_to_string(root().join("testdata/config/cert-manager.yaml")).unwrap();
    let config = Config::from_text("cert-manager.yaml", text.clone(), PathBuf::new()).unwrap();
    let builtins = wasm_validate_config::chosen_modules(Some(&config), &CommandLine::default())
        .into_iter()
        .map(|chosen| match chosen {
            ChosenModule::Builtin(name) => {
                let bytes = wasm_validate_builtin::get(&name).unwrap().to_vec();
                (name, bytes)
            }
            ChosenModule::File { .. } => panic!("the configuration names no module file"),
        })
        .collect();
    let contents = wasm_validate_bundle::Contents {
        created_by: "live.rs".to_owned(),
        configuration: text.into_bytes(),
        modules: Vec::new(),
        builtins,
    };
    let key = wasm_validate_bundle::SigningKey::from_bytes(&[7; 32]);
    let public = dir.join("bundle.pub.pem");
    std::fs::write(
        &public,
        wasm_validate_bundle::verifying_key_pem(&key.verifying_key()),
    )
    .unwrap();
    (
        wasm_validate_bundle::create(&contents, Some(&key)).unwrap(),
        public,
    )
}

#[test]
fn a_live_audit_runs_a_signed_bundle_and_refuses_a_tampered_one() {
    let server = start_server();
    let scratch = temp_dir("bundle");
    let dir = scratch.path();
    let kubeconfig = server.kubeconfig(dir);
    let kubeconfig = kubeconfig.to_str().unwrap();
    let (bundle, public) = cert_manager_bundle(dir);
    let path = dir.join("policies.tgz");
    std::fs::write(&path, &bundle).unwrap();
    let common = [
        "--kubeconfig",
        kubeconfig,
        "--context",
        "good",
        "-n",
        "demo",
        "-o",
        "json",
    ];
    let direct = plugin(
        &[
            &common[..],
            &["--config", "testdata/config/cert-manager.yaml"],
        ]
        .concat(),
    );
    let with_bundle = || {
        plugin(
            &[
                &common[..],
                &[
                    "--bundle",
                    path.to_str().unwrap(),
                    "--bundle-key",
                    public.to_str().unwrap(),
                ],
            ]
            .concat(),
        )
    };
    let bundled = with_bundle();
    assert_eq!(
        bundled.status.code(),
        direct.status.code(),
        "{}",
        String::from_utf8_lossy(&bundled.stderr)
    );
    let (direct, bundled): (Value, Value) = (
        serde_json::from_slice(&direct.stdout).unwrap(),
        serde_json::from_slice(&bundled.stdout).unwrap(),
    );
    assert!(bundled["summary"]["resources"].as_u64().unwrap() > 0);
    assert_eq!(direct["summary"], bundled["summary"]);
    assert_eq!(direct["policies"], bundled["policies"]);

    // One byte of one built-in module changed: exit 2 before the API server
    // is asked anything.
    let mut entries = wasm_validate_bundle::unpack(&bundle).unwrap();
    let module = entries
        .iter_mut()
        .find(|(p, _)| p.starts_with("builtin/"))
        .unwrap();
    let name = module.0.clone();
    let last = module.1.len() - 1;
    module.1[last] ^= 1;
    std::fs::write(&path, wasm_validate_bundle::pack(&entries).unwrap()).unwrap();
    let before = server.requests().len();
    let refused = with_bundle();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(refused.stdout.is_empty());
    assert!(
        stderr.contains(&format!("{name}: changed since the bundle was made")),
        "{stderr}"
    );
    assert_eq!(server.requests().len(), before, "no request was made");
}

/// Runs the plugin on every namespace of `server` with a policy whose
/// rules select every kind (so that the custom resources are listed);
/// returns the JSON report, the exit code and stderr.
fn audit_everything(
    server: &ApiServer,
    name: &str,
    extra: &[&str],
) -> (Value, Option<i32>, String) {
    let mut args = vec!["--policy", "testdata/wat/allow-all.wat"];
    args.extend(extra);
    audit_all_namespaces(server, name, &args)
}

/// Runs the plugin on every namespace of `server` (context `good`, a
/// kubeconfig in a fresh directory named after `name`) with `args` and a
/// JSON report; returns the report, the exit code and stderr.
pub(crate) fn audit_all_namespaces(
    server: &ApiServer,
    name: &str,
    args: &[&str],
) -> (Value, Option<i32>, String) {
    let scratch = temp_dir(name);
    let config = server.kubeconfig(scratch.path());
    let mut all = vec![
        "--kubeconfig",
        config.to_str().unwrap(),
        "--context",
        "good",
        "-A",
        "-o",
        "json",
    ];
    all.extend(args);
    let output = plugin(&all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (report, output.status.code(), stderr)
}

fn schema_messages(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["policy"] == "schema")
        .flat_map(|r| r["violations"].as_array().unwrap())
        .map(|v| v["message"].as_str().unwrap().to_owned())
        .collect()
}

fn notices(report: &Value) -> Vec<String> {
    report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_live_audit_checks_schemas_with_the_clusters_crds_and_version() {
    let server = start_server();
    let (report, code, stderr) = audit_everything(&server, "schema", &[]);
    // The DaemonSets' 403 makes it exit 2; the Gizmo's schema is checked
    // with the CRD the cluster serves, the built-in kinds with the
    // server's version (1.35).
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        schema_messages(&report),
        [r#"spec.size: Unsupported value: "huge": supported values: "small", "large""#],
        "{stderr}"
    );
    let schema = &report["policies"][0];
    assert_eq!(schema["name"], "schema");
    assert!(
        schema["description"]
            .as_str()
            .unwrap()
            .starts_with("Kubernetes 1.35 schemas"),
        "{schema}"
    );
    assert!(server.requests().iter().any(|r| r == "/version"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("/apis/apiextensions.k8s.io/v1/customresourcedefinitions?"))
    );
    // A chosen version wins over the server's.
    let (report, _, _) =
        audit_everything(&server, "schema-version", &["--kubernetes-version", "1.37"]);
    let description = report["policies"][0]["description"].as_str().unwrap();
    assert!(
        description.starts_with("Kubernetes 1.37 schemas"),
        "{description}"
    );
    // --schema=off: no stage, no definitions read.
    let before = server.requests().len();
    let (report, _, stderr) = audit_everything(&server, "schema-off", &["--schema=off"]);
    assert!(schema_messages(&report).is_empty(), "{stderr}");
    assert_ne!(report["policies"][0]["name"], "schema");
    assert!(!server.requests()[before..].iter().any(|r| r == "/version"));
}

#[test]
fn a_live_audit_without_crd_access_or_with_an_unshipped_version_says_so() {
    let mut cluster = demo_cluster(&root(), 0);
    cluster.version = Some("v1.31.4".to_owned());
    for t in &mut cluster.types {
        if t.plural == "customresourcedefinitions" {
            t.forbidden = true;
        }
    }
    let server = ApiServer::start(cluster);
    let (report, code, stderr) = audit_everything(&server, "schema-forbidden", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let notices = notices(&report);
    let has = |text: &str| notices.iter().any(|n| n.contains(text));
    assert!(
        has("customresourcedefinitions.apiextensions.k8s.io: 403 Forbidden"),
        "{notices:#?}"
    );
    assert!(
        has("the server runs Kubernetes v1.31.4: the schemas of 1.33, the nearest built in"),
        "{notices:#?}"
    );
    assert!(has("no schema for example.com/v1 Gizmo"), "{notices:#?}");
    assert!(schema_messages(&report).is_empty(), "{stderr}");
    // In strict mode the Gizmo with no schema is an error.
    let (report, _, _) = audit_everything(&server, "schema-strict", &["--schema=strict"]);
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("no schema for example.com/v1 Gizmo"),
        "{errors}"
    );
}

/// A ValidatingAdmissionPolicy whose binding's parameter resource is not
/// among the policy files: the audit lists its `paramKind` too, and the
/// policy runs with the resource it finds in the cluster.
#[test]
fn a_live_audit_takes_a_policys_parameters_from_the_cluster() {
    let mut cluster = demo_cluster(&root(), 0);
    cluster
        .types
        .push(wasm_validate_test_apiserver::ResourceType {
            group: "rules.example.com",
            plural: "replicalimits",
            kind: "ReplicaLimit",
            namespaced: true,
            forbidden: false,
        });
    cluster.objects.entry("replicalimits").or_default().push(
        serde_json::json!({"metadata": {"name": "limit", "namespace": "demo"}, "maxReplicas": 0}),
    );
    let server = ApiServer::start(cluster);
    let scratch = temp_dir("params");
    let dir = scratch.path();
    let config = server.kubeconfig(dir);
    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-limit}
spec:
  paramKind: {apiVersion: rules.example.com/v1, kind: ReplicaLimit}
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.?replicas.orValue(1) <= params.maxReplicas"
      messageExpression: "'at most ' + string(params.maxReplicas) + ' replicas'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replica-limit}
spec:
  policyName: replica-limit
  validationActions: [Deny]
  paramRef: {name: limit, namespace: demo}
"#,
    )
    .unwrap();
    let output = plugin(&[
        "--kubeconfig",
        config.to_str().unwrap(),
        "--context",
        "good",
        "--policy",
        policy.to_str().unwrap(),
        "--schema=off",
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let deployments: Vec<(&str, Vec<&str>)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["resource"]["kind"] == "Deployment")
        .map(|r| {
            (
                r["result"].as_str().unwrap(),
                r["violations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v["message"].as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert!(deployments.len() > 5, "{report:#}");
    assert!(
        deployments
            .iter()
            .all(|(result, messages)| *result == "fail" && messages == &["at most 0 replicas"]),
        "{deployments:?}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("/apis/rules.example.com/v1/namespaces/demo/replicalimits")),
        "{:?}",
        server.requests()
    );
}
