//! The server end to end on 127.0.0.1: a client that speaks to it as the
//! API server does (HTTPS trusting the serving certificate's CA, `POST`
//! with `?timeout=10s`, an AdmissionReview body), health over plain HTTP,
//! the limits (shutdown: `shutdown.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wasm_validate_engine::{Engine, Limits};
use wasm_validate_pipeline::{ConfiguredPolicy, PolicySet};
use wasm_validate_server::{Options, Policies, PolicySource, ServingCertificate, TlsError, serve};

/// A running server: its addresses, the certificate to trust, the way to
/// stop it, and its task.
pub(crate) struct Running {
    pub(crate) secure: SocketAddr,
    pub(crate) health: SocketAddr,
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) dir: PathBuf,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: tokio::task::JoinHandle<std::io::Result<()>>,
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("server-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn builtin(engine: &Engine, names: &[&'static str]) -> PolicySet {
    PolicySet {
        policies: names
            .iter()
            .map(|name| {
                let bytes = wasm_validate_builtin::get(name).unwrap();
                ConfiguredPolicy::new(engine.load(bytes, Limits::default()).unwrap(), json!({}))
            })
            .collect(),
        ..PolicySet::default()
    }
}

/// A set of one policy that loops until its `fuel` is spent
/// (`testdata/wat/infinite-loop.wat`).
pub(crate) fn endless(engine: &Engine, fuel: u64) -> PolicySet {
    let wat = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/wat/infinite-loop.wat"
    ))
    .unwrap();
    let limits = Limits {
        fuel,
        ..Limits::default()
    };
    PolicySet {
        policies: vec![ConfiguredPolicy::new(
            engine.load(&wat, limits).unwrap(),
            json!({}),
        )],
        ..PolicySet::default()
    }
}

pub(crate) async fn start(name: &str, engine: Engine, set: PolicySet, options: Options) -> Running {
    start_with(name, engine, set, None, options).await
}

pub(crate) async fn start_with(
    name: &str,
    engine: Engine,
    set: PolicySet,
    source: Option<(Arc<dyn PolicySource>, Vec<u8>)>,
    options: Options,
) -> Running {
    let dir = scratch(name);
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), certified.key_pair.serialize_pem()).unwrap();
    let tls = ServingCertificate::load(&dir.join("tls.crt"), &dir.join("tls.key")).unwrap();
    let secure = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (secure_addr, health_addr) = (secure.local_addr().unwrap(), health.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let policies = Arc::new(Policies::new(engine, &set));
    let task = tokio::spawn(serve(
        policies,
        source,
        tls,
        secure,
        health,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        secure: secure_addr,
        health: health_addr,
        ca: certified.cert.der().clone(),
        dir,
        stop: Some(stop),
        task,
    }
}

/// `POST path?timeout=10s` over HTTPS, trusting only `ca`, as the API
/// server calls a webhook.
pub(crate) async fn post(server: &Running, path: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    post_trusting(server, std::slice::from_ref(&server.ca), path, body)
        .await
        .unwrap()
}

/// [`post`] trusting the certificates in `trusted`; an error when the
/// connection or the handshake fails.
pub(crate) async fn post_trusting(
    server: &Running,
    trusted: &[CertificateDer<'static>],
    path: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in trusted {
        roots.add(ca.clone()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.secure).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::post(format!("{path}?timeout=10s"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}

/// `GET path` over plain HTTP: the whole response.
async fn get_text(server: &Running, path: &str) -> String {
    let mut tcp = TcpStream::connect(server.health).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    text
}

/// `GET path` over plain HTTP: the status line.
async fn probe(server: &Running, path: &str) -> String {
    let mut tcp = TcpStream::connect(server.health).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    text.lines().next().unwrap_or_default().to_owned()
}

pub(crate) fn review(object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "c0ffee00-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "userInfo": {"username": "test"},
            "object": object,
        }
    }))
    .unwrap()
}

pub(crate) fn privileged_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                    "securityContext": {"privileged": true}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_endpoints_answer_reviews_over_https() {
    let engine = Engine::default();
    let set = builtin(
        &engine,
        &["privileged", "set-allow-privilege-escalation-false"],
    );
    let mut server = start("endpoints", engine, set, Options::default()).await;

    let (status, body) = post(&server, "/validate", review(privileged_pod())).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    let response = &answer["response"];
    assert_eq!(response["uid"], "c0ffee00-0000-4000-8000-000000000001");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    assert!(response.get("patch").is_none());

    let mut pod = privileged_pod();
    pod["spec"]["containers"][0]["securityContext"] = json!({});
    let (status, body) = post(&server, "/mutate", review(pod)).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], true);
    assert_eq!(answer["response"]["patchType"], "JSONPatch");

    assert_eq!(probe(&server, "/healthz").await, "HTTP/1.1 200 OK");
    assert_eq!(probe(&server, "/readyz").await, "HTTP/1.1 200 OK");

    let metrics = get_text(&server, "/metrics").await;
    for line in [
        r#"wasm_validate_admission_requests_total{endpoint="validate",operation="CREATE",kind="Pod",result="denied"} 1"#,
        r#"wasm_validate_admission_requests_total{endpoint="mutate",operation="CREATE",kind="Pod",result="allowed"} 1"#,
        r#"wasm_validate_policy_evaluations_total{policy="privileged",outcome="fail"} 1"#,
        r#"wasm_validate_admission_request_duration_seconds_count{endpoint="validate"} 1"#,
        "wasm_validate_admission_requests_in_flight 0",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }

    server.stop.take().unwrap().send(()).unwrap();
    server.task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_oversized_bodies_are_refused() {
    let engine = Engine::default();
    let set = builtin(&engine, &["privileged"]);
    let server = start("limits", engine, set, Options::default()).await;
    let (status, body) = post(&server, "/validate", b"{not json".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("not an AdmissionReview"));
    let (status, _) = post(
        &server,
        "/validate",
        vec![b' '; wasm_validate_server::MAX_BODY_BYTES + 1],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_at_once() {
    // One worker, no queue; a policy that runs until its fuel is gone keeps
    // the worker busy while a second request arrives.
    let engine = Engine::default();
    let set = endless(&engine, 1_500_000_000);
    let options = Options {
        workers: 1,
        queue: 0,
        ..Options::default()
    };
    let server = Arc::new(start("queue", engine, set, options).await);
    let busy = {
        let server = server.clone();
        tokio::spawn(async move { post(&server, "/validate", review(privileged_pod())).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = post(&server, "/validate", review(privileged_pod())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The busy request still gets its answer: the policy ran out of fuel.
    let (status, body) = busy.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["response"]["status"]["code"], 500);
}

#[test]
fn unusable_certificates_name_the_file() {
    let dir = scratch("bad-tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), certified.key_pair.serialize_pem()).unwrap();
    std::fs::write(dir.join("empty.crt"), "").unwrap();
    let load = |cert: &str, key: &str| {
        ServingCertificate::load(&dir.join(cert), &dir.join(key)).unwrap_err()
    };
    let error = load("empty.crt", "tls.key");
    assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    assert!(error.to_string().contains("empty.crt"), "{error}");
    let error = load("tls.crt", "missing.key");
    assert!(error.to_string().contains("missing.key"), "{error}");
    // A key that is not the certificate's.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("other.key"), other.key_pair.serialize_pem()).unwrap();
    let error = load("tls.crt", "other.key");
    assert!(matches!(error, TlsError::Config(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_policy_is_stopped_by_the_request_deadline() {
    // A budget of fuel no request could spend: only the deadline stops it,
    // and its failurePolicy (Fail) then denies naming the cause.
    let engine = Engine::default();
    let set = endless(&engine, 1 << 50);
    let options = Options {
        request_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let server = start("deadline", engine, set, options).await;
    let (status, body) = post(&server, "/validate", review(privileged_pod())).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("deadline"), "{message}");
}

#[test]
fn go_durations_as_the_api_server_writes_them() {
    use wasm_validate_server::parse_duration;
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("10"), None);
    assert_eq!(parse_duration("s"), None);
    assert_eq!(parse_duration("3d"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_rotates_with_requests_in_flight() {
    let engine = Engine::default();
    let set = builtin(&engine, &["privileged"]);
    let options = Options {
        reload_interval: Duration::from_millis(100),
        ..Options::default()
    };
    let server = Arc::new(start("rotate", engine, set, options).await);
    let next = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let both = vec![server.ca.clone(), next.cert.der().clone()];
    // Requests keep coming, trusting either certificate, while the Secret
    // changes: none fails.
    let traffic = {
        let (server, both) = (server.clone(), both.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            for _ in 0..40 {
                let (status, _) =
                    post_trusting(&server, &both, "/validate", review(privileged_pod()))
                        .await
                        .expect("no request fails during the rotation");
                assert_eq!(status, StatusCode::OK);
                answered += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answered
        })
    };
    // The key first, then the certificate, as a Secret volume may show
    // them: the half-written pair is refused and the old one serves.
    std::fs::write(server.dir.join("tls.key"), next.key_pair.serialize_pem()).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    std::fs::write(server.dir.join("tls.crt"), next.cert.pem()).unwrap();
    assert_eq!(traffic.await.unwrap(), 40);
    // Now only the new certificate is presented.
    let mut rotated = false;
    for _ in 0..50 {
        if post_trusting(
            &server,
            &[next.cert.der().clone()],
            "/validate",
            review(privileged_pod()),
        )
        .await
        .is_ok()
        {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the new certificate is served");
    assert!(
        post_trusting(
            &server,
            std::slice::from_ref(&server.ca),
            "/validate",
            review(privileged_pod())
        )
        .await
        .is_err(),
        "the old certificate is no longer presented"
    );
}

/// A policy source a test switches: version 0 is the set the server
/// starts with, 1 loads `host-namespaces` alone, 2 fails to load.
struct Switch(std::sync::Mutex<u8>);

impl PolicySource for Switch {
    fn fingerprint(&self) -> Vec<u8> {
        vec![*self.0.lock().unwrap()]
    }

    fn load(&self) -> Result<Policies, String> {
        match *self.0.lock().unwrap() {
            1 => {
                let engine = Engine::default();
                let set = builtin(&engine, &["host-namespaces"]);
                Ok(Policies::new(engine, &set))
            }
            version => Err(format!("version {version} does not load")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_policy_set_replaces_the_running_one_and_a_broken_one_is_refused() {
    let engine = Engine::default();
    let set = builtin(&engine, &["privileged"]);
    let switch = Arc::new(Switch(std::sync::Mutex::new(0)));
    let options = Options {
        reload_interval: Duration::from_millis(100),
        ..Options::default()
    };
    let server = start_with(
        "reload",
        engine,
        set,
        Some((switch.clone() as Arc<dyn PolicySource>, vec![0])),
        options,
    )
    .await;
    let allowed = |body: Vec<u8>| {
        let answer: Value = serde_json::from_slice(&body).unwrap();
        answer["response"]["allowed"].as_bool().unwrap()
    };
    let (_, body) = post(&server, "/validate", review(privileged_pod())).await;
    assert!(!allowed(body), "privileged denies at first");

    *switch.0.lock().unwrap() = 1;
    let mut reloaded = false;
    for _ in 0..100 {
        let (_, body) = post(&server, "/validate", review(privileged_pod())).await;
        if allowed(body) {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "the new set (host-namespaces only) answers");

    *switch.0.lock().unwrap() = 2;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = post(&server, "/validate", review(privileged_pod())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        allowed(body),
        "the broken set is refused; the last good one serves"
    );
}

#[test]
fn log_lines_as_text_and_as_json() {
    use wasm_validate_server::log::{LogFormat, line};
    let fields = [
        ("uid", json!("a1")),
        ("allowed", json!(false)),
        ("code", json!(403)),
    ];
    assert_eq!(
        line(LogFormat::Text, "info", "admission", &fields),
        "wasm-validate serve: admission (uid=a1, allowed=false, code=403)"
    );
    let json: Value =
        serde_json::from_str(&line(LogFormat::Json, "info", "admission", &fields)).unwrap();
    assert_eq!(json["level"], "info");
    assert_eq!(json["msg"], "admission");
    assert_eq!(json["uid"], "a1");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["code"], 403);
    assert!(json["ts"].as_f64().unwrap() > 1.7e9);
}

/// The checks the API server makes on every webhook response
/// (k8s.io/apiserver's webhook admission code): the review's apiVersion
/// and kind, the request's uid echoed, no patch from a validating webhook,
/// a patch only with `patchType: JSONPatch`, and a status when denied.
fn api_server_accepts(endpoint: &str, body: &[u8], uid: &str) -> Value {
    let answer: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    let response = &answer["response"];
    assert_eq!(response["uid"], uid);
    let allowed = response["allowed"].as_bool().unwrap();
    assert_eq!(
        response.get("patch").is_some(),
        response.get("patchType").is_some()
    );
    if endpoint == "/validate" {
        assert!(response.get("patch").is_none());
    }
    if !allowed {
        assert!(
            response["status"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_workload_through_both_endpoints_over_https() {
    let engine = Engine::default();
    let names = wasm_validate_builtin::select(
        &[
            wasm_validate_builtin::Profile::Fixes,
            wasm_validate_builtin::Profile::Restricted,
        ],
        |_| false,
    );
    let set = builtin(&engine, &names);
    let server = start("replay", engine, set, Options::default()).await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/real");
    let mut objects = Vec::new();
    for file in ["microservices-demo.yaml", "argo-cd-install.yaml"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        for document in text.split("\n---") {
            if let Ok(object) = serde_yaml::from_str::<Value>(document)
                && object["spec"].is_object()
                && [
                    "Pod",
                    "Deployment",
                    "StatefulSet",
                    "DaemonSet",
                    "Job",
                    "CronJob",
                ]
                .contains(&object["kind"].as_str().unwrap_or(""))
            {
                objects.push(object);
            }
        }
    }
    assert!(objects.len() >= 15, "{}", objects.len());
    let (mut denied, mut patched) = (0, 0);
    for (i, object) in objects.iter().enumerate() {
        let uid = format!("replay-{i}");
        let body = |object: &Value| {
            serde_json::to_vec(&json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": uid, "operation": "CREATE", "object": object},
            }))
            .unwrap()
        };
        let (status, answer) = post(&server, "/mutate", body(object)).await;
        assert_eq!(status, StatusCode::OK);
        let answer = api_server_accepts("/mutate", &answer, &uid);
        patched += usize::from(answer["response"].get("patch").is_some());
        let (status, answer) = post(&server, "/validate", body(object)).await;
        assert_eq!(status, StatusCode::OK);
        let answer = api_server_accepts("/validate", &answer, &uid);
        denied += usize::from(answer["response"]["allowed"] == false);
    }
    assert!(
        denied > 0 && patched > 0,
        "{denied} denied, {patched} patched"
    );
}

/// A review of `object` as the API server sends it for a `kind`.
pub(crate) fn review_of(kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "c0ffee00-0000-4000-8000-000000000002",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "operation": "CREATE",
            "userInfo": {"username": "test"},
            "object": object,
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_policy_beside_the_library_holds_up_only_its_own_requests() {
    // The library's Pod policies, and two hostile policies that select
    // only ConfigMaps: an endless loop (stopped by the request's deadline)
    // and a memory bomb (stopped by the memory limit).
    let engine = Engine::default();
    let mut set = builtin(
        &engine,
        &["privileged", "host-namespaces", "run-as-non-root"],
    );
    for (name, fuel) in [("infinite-loop", 1u64 << 50), ("memory-bomb", 100_000_000)] {
        let wat = std::fs::read(format!(
            "{}/../../testdata/wat/{name}.wat",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let limits = Limits {
            fuel,
            ..Limits::default()
        };
        let mut hostile = ConfiguredPolicy::new(engine.load(&wat, limits).unwrap(), json!({}));
        hostile.include = Some(wasm_validate_pipeline::ResourceFilter {
            kinds: vec![wasm_validate_pipeline::Glob::new("ConfigMap").unwrap()],
            ..Default::default()
        });
        set.policies.push(hostile);
    }
    let deadline = Duration::from_millis(300);
    let options = Options {
        request_timeout: deadline,
        ..Options::default()
    };
    let server = Arc::new(start("hostile-beside", engine, set, options).await);
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let mut tasks = Vec::new();
    for i in 0..24 {
        let server = server.clone();
        let hostile = i % 6 == 0;
        let body = if hostile {
            review_of("ConfigMap", config_map.clone())
        } else {
            review(privileged_pod())
        };
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let (status, body) = post(&server, "/validate", body).await;
            (hostile, status, body, started.elapsed())
        }));
    }
    // Bounds, not speed: a hostile request ends at its deadline (plus the
    // server's margin); another waits at most for the workers the hostile
    // ones hold, about one deadline.
    let bound = deadline * 2 + wasm_validate_server::TIMEOUT_MARGIN + Duration::from_secs(1);
    for task in tasks {
        let (hostile, status, body, took) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["response"]["allowed"], false);
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        if hostile {
            assert!(message.contains("deadline"), "{message}");
            assert!(message.contains("memory limit"), "{message}");
        } else {
            assert!(message.contains("privileged"), "{message}");
            assert!(!message.contains("deadline"), "{message}");
        }
        assert!(took < bound, "a request took {took:?} (bound {bound:?})");
    }
    // Only the hostile requests needed more than the inline fuel: the
    // blocking workers answered them, the threads that read the others did.
    let metrics = get_text(&server, "/metrics").await;
    let line = r#"wasm_validate_admission_requests_deferred_total{endpoint="validate"} 4"#;
    assert!(metrics.contains(line), "{line} not in\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_answered_by_the_workers_is_the_review_answered_inline() {
    // `inline_fuel: 0` sends every review to the blocking workers; the
    // answers (denial, patch) are the same as on the threads that read them.
    let names = ["privileged", "set-allow-privilege-escalation-false"];
    let mut answers = Vec::new();
    for (name, inline_fuel) in [("inline", Options::default().inline_fuel), ("workers", 0)] {
        let engine = Engine::default();
        let set = builtin(&engine, &names);
        let options = Options {
            inline_fuel,
            ..Options::default()
        };
        let server = start(&format!("answered-{name}"), engine, set, options).await;
        let mut got = Vec::new();
        let mut unprivileged = privileged_pod();
        unprivileged["spec"]["containers"][0]["securityContext"] = json!({});
        for (path, pod) in [("/validate", privileged_pod()), ("/mutate", unprivileged)] {
            let (status, body) = post(&server, path, review(pod)).await;
            assert_eq!(status, StatusCode::OK);
            got.push(serde_json::from_slice::<Value>(&body).unwrap());
        }
        let metrics = get_text(&server, "/metrics").await;
        let deferred = metrics.contains("wasm_validate_admission_requests_deferred_total");
        assert_eq!(deferred, inline_fuel == 0, "{name}:\n{metrics}");
        answers.push(got);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][0]["response"]["allowed"], false);
    assert_eq!(answers[0][1]["response"]["patchType"], "JSONPatch");
}
