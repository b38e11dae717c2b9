//! `wasm-validate serve` as a process: it starts with the default library,
//! says where it serves, answers health probes over HTTP, and stops on
//! SIGTERM with exit 0 (the HTTPS endpoints are tested in `crates/server`);
//! it refuses to start, with exit 2 naming the cause, on a certificate it
//! cannot read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::common::scratch;

fn certificate(dir: &std::path::Path) -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

fn get(address: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(address).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).unwrap();
    text
}

/// `wasm-validate serve ARGS` in `dir`, its stderr piped.
fn spawn_serve<S: AsRef<std::ffi::OsStr>>(
    dir: &std::path::Path,
    args: impl IntoIterator<Item = S>,
) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The lines of `child`'s stderr as they come, so that a missing one
/// fails the test after a while instead of hanging it.
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    received
}

/// Both ports on 127.0.0.1, chosen by the system, and the certificate.
fn loopback(cert: &str, key: &str) -> Vec<std::ffi::OsString> {
    [
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        "0",
        "--health-port",
        "0",
        "--tls-cert-file",
        cert,
        "--tls-private-key-file",
        key,
    ]
    .iter()
    .map(Into::into)
    .collect()
}

/// SIGTERM, then the exit code.
fn terminate(mut child: std::process::Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap().code()
}

#[test]
#[cfg(unix)]
fn serve_starts_answers_probes_and_stops_on_sigterm() {
    let dir = scratch("serve", "probes");
    let (cert, key) = certificate(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["serve", "--no-config", "--bind-address", "127.0.0.1"])
        .args(["--secure-port", "0", "--health-port", "0"])
        .args(["--tls-cert-file", &cert, "--tls-private-key-file", &key])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("23 policies"), "{line}");
    let health = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no health address in {line:?}"))
        .to_owned();
    let answer = get(&health, "/healthz");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    assert!(get(&health, "/readyz").starts_with("HTTP/1.1 200"));
    assert!(get(&health, "/nothing").starts_with("HTTP/1.1 404"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn serve_refuses_to_start_without_a_usable_certificate() {
    let dir = scratch("serve", "no-cert");
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args([
            "serve",
            "--no-config",
            "--secure-port",
            "0",
            "--health-port",
            "0",
        ])
        .args([
            "--tls-cert-file",
            "missing.crt",
            "--tls-private-key-file",
            "missing.key",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.crt"), "{stderr}");
}

/// `serve` in `dir` with the certificate, reading its files again every
/// 100 ms, and the next line of its stderr (within a minute, else the test
/// fails).
fn spawn_reloading(
    dir: &std::path::Path,
    cert: &str,
    key: &str,
) -> (std::process::Child, impl Fn() -> String) {
    let mut child = spawn_serve(
        dir,
        loopback(cert, key)
            .into_iter()
            .chain(["--reload-interval".into(), "100ms".into()]),
    );
    let received = stderr_lines(&mut child);
    let next = move || {
        received
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a line on stderr within a minute")
    };
    (child, next)
}

/// Replaces `dir/name` with `text` at once, as a ConfigMap volume does (a
/// rename), so that no half-written file is read.
fn replace_file(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join("next.yaml"), text).unwrap();
    std::fs::rename(dir.join("next.yaml"), dir.join(name)).unwrap();
}

#[test]
#[cfg(unix)]
fn serve_reloads_a_changed_configuration_and_refuses_a_broken_one() {
    let dir = scratch("serve", "reload");
    let (cert, key) = certificate(&dir);
    let config = "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nprofiles: [baseline]\n";
    std::fs::write(dir.join("wasm-validate.yaml"), config).unwrap();
    let (child, next) = spawn_reloading(&dir, &cert, &key);
    let line = next();
    let baseline =
        wasm_validate_builtin::select(&[wasm_validate_builtin::Profile::Baseline], |_| false).len();
    assert!(line.contains(&format!("{baseline} policies")), "{line}");

    let restricted = config.replace("[baseline]", "[restricted]");
    let replace = |text: &str| replace_file(&dir, "wasm-validate.yaml", text);
    replace(&restricted);
    let line = next();
    let count =
        wasm_validate_builtin::select(&[wasm_validate_builtin::Profile::Restricted], |_| false)
            .len();
    assert!(
        line.contains(&format!("policy set reloaded ({count} policies)")),
        "{line}"
    );

    replace("profiles: [nonsense]\n");
    let line = next();
    assert!(
        line.contains("the new policy set is refused, the old one keeps serving"),
        "{line}"
    );
    assert!(line.contains("wasm-validate.yaml"), "{line}");

    assert_eq!(terminate(child), Some(0));
}

#[test]
#[cfg(unix)]
fn serve_self_signed_prints_the_ca_bundle_of_its_certificate() {
    use base64::Engine as _;
    let dir = scratch("serve", "self-signed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["serve", "--no-config", "--bind-address", "127.0.0.1"])
        .args(["--secure-port", "0", "--health-port", "0"])
        .args(["--self-signed", "localhost"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut bundle = String::new();
    stdout.read_line(&mut bundle).unwrap();
    let ca = base64::engine::general_purpose::STANDARD
        .decode(bundle.trim().strip_prefix("caBundle: ").unwrap())
        .unwrap();
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let files = line
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap()
        .to_owned();
    let files = std::path::Path::new(&files);
    assert_eq!(std::fs::read(files.join("ca.crt")).unwrap(), ca);
    // The serving certificate is signed by that CA (when openssl is here).
    if let Ok(verified) = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(files.join("ca.crt"))
        .arg(files.join("tls.crt"))
        .output()
    {
        assert!(verified.status.success(), "{verified:?}");
    }
    line.clear();
    stderr.read_line(&mut line).unwrap();
    let health = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    assert!(get(&health, "/healthz").starts_with("HTTP/1.1 200"));
    assert_eq!(terminate(child), Some(0));
}

#[test]
#[cfg(unix)]
fn serve_takes_its_options_from_the_configuration_under_the_flags() {
    let dir = scratch("serve", "configured");
    let (cert, key) = certificate(&dir);
    assert!(cert.ends_with("tls.crt") && key.ends_with("tls.key"));
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nprofiles: [baseline]\n\
         serve: {tlsCertFile: tls.crt, tlsPrivateKeyFile: tls.key, bindAddress: 127.0.0.1,\n\
         \x20 securePort: 0, healthPort: 0, loggingFormat: json, requestTimeout: 2s, inlineFuel: 0}\n",
    )
    .unwrap();
    // Only the log format is given as a flag, and it wins.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["serve", "--logging-format", "text"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("wasm-validate serve: "), "{line}");
    assert!(line.contains("https://127.0.0.1:"), "{line}");
    assert_eq!(terminate(child), Some(0));

    // A wrong key in `serve:` is refused naming it.
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nserve: {securePorts: 1}\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["serve", "--self-signed", "localhost"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("securePorts"), "{stderr}");
}

/// `--sync-interval`: a Gatekeeper constraint whose template reads
/// `data.inventory` gets the cluster's objects, read through the
/// kubeconfig as kubectl reads them (here a loopback API server holding
/// one Ingress); the server says how many it read and how many policies it
/// prepared with them (the verdicts are tested in `crates/server`).
#[test]
#[cfg(unix)]
fn serve_reads_the_clusters_objects_for_referential_constraints() {
    use wasm_validate_test_apiserver::{ApiServer, demo_cluster};
    let dir = scratch("serve", "sync");
    let (cert, key) = certificate(&dir);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cluster = demo_cluster(&root, 0);
    cluster.objects.insert(
        "ingresses",
        vec![serde_json::json!({
            "metadata": {"name": "taken", "namespace": "shop"},
            "spec": {"rules": [{"host": "shop.example.com"}]},
        })],
    );
    let server = ApiServer::start(cluster);
    let kubeconfig = server.kubeconfig(&dir);
    let library = root.join("testdata/gatekeeper/uniquehost");
    let mut args = loopback(&cert, &key);
    for arg in ["--no-config", "--sync-interval", "1m", "--context", "good"] {
        args.push(arg.into());
    }
    for file in ["template.yaml", "constraint.yaml"] {
        args.extend(["--policy".into(), library.join(file).into()]);
    }
    args.extend(["--kubeconfig".into(), kubeconfig.into()]);
    let mut child = spawn_serve(&dir, &args);
    let received = stderr_lines(&mut child);
    // Without --sync-interval, the server says the constraint sees no
    // other object.
    let mut unsynced = spawn_serve(
        &dir,
        args.iter()
            .filter(|a| !matches!(a.to_str(), Some("--sync-interval" | "1m"))),
    );
    let warned = stderr_lines(&mut unsynced);
    let first = warned
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(first.contains("1 policies"), "{first}");
    let warning = warned
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(
        warning.contains("WvUniqueHost/unique-ingress-host read other objects")
            && warning.contains("without --sync-interval they see none"),
        "{warning}"
    );
    assert_eq!(terminate(unsynced), Some(0));
    // An interval under a second is refused (it would read the cluster
    // without pause).
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["serve", "--no-config", "--self-signed", "localhost"])
        .args(["--sync-interval", "500ms"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--sync-interval"), "{stderr}");
    let mut synced = None;
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(60)) {
        if line.contains("read from the cluster") || line.contains("cannot read") {
            synced = Some(line);
            break;
        }
    }
    assert_eq!(terminate(child), Some(0));
    let line = synced.expect("a line about the cluster's objects within a minute");
    assert!(
        line.contains("1 objects read from the cluster; 1 policies prepared with them"),
        "{line}"
    );
    assert!(
        server.requests().iter().any(|r| r.contains("ingresses")),
        "{:?}",
        server.requests()
    );
}

/// `serve` is Gatekeeper's `validation.gatekeeper.sh`: both scoped
/// constraints of testdata/gatekeeper/scoped deny there, though `check`
/// (`gator.gatekeeper.sh`) runs only one of them.
#[test]
fn serve_enforces_scoped_constraints_at_the_validation_point() {
    let dir = scratch("serve", "scoped");
    let (cert, key) = certificate(&dir);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = loopback(&cert, &key);
    args.push("--no-config".into());
    for policy in [
        "testdata/gatekeeper/requiredlabels/template.yaml",
        "testdata/gatekeeper/scoped/",
    ] {
        args.extend(["--policy".into(), root.join(policy).into()]);
    }
    let mut child = spawn_serve(&dir, &args);
    let received = stderr_lines(&mut child);
    let first = received
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(terminate(child), Some(0));
    assert!(first.contains(": 2 policies"), "{first}");
}

/// The configuration's `schema.crdPaths` reach the server: its custom
/// resources are checked at `/validate` (the verdicts are tested in
/// `crates/admission`), and the line that says it serves counts the CRDs.
#[test]
fn serve_reads_the_configurations_crds() {
    let dir = scratch("serve", "crds");
    let (cert, key) = certificate(&dir);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(
        root.join("testdata/schema/cel/rules.yaml"),
        dir.join("crds.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nprofiles: [baseline]\n\
         schema: {crdPaths: [crds.yaml]}\n",
    )
    .unwrap();
    let (child, next) = spawn_reloading(&dir, &cert, &key);
    let first = next();
    assert!(
        first.contains(
            "policies, and 1 CustomResourceDefinitions whose custom resources /validate checks"
        ),
        "{first}"
    );
    // Only the CRD file changes (the configuration does not), as in a
    // ConfigMap update: the set is loaded again, and a broken CRD file is
    // refused.
    let replace = |text: &str| replace_file(&dir, "crds.yaml", text);
    let crds = std::fs::read_to_string(dir.join("crds.yaml")).unwrap();
    replace(&crds.replace("minReplicas must not exceed", "minReplicas may not exceed"));
    let line = next();
    assert!(line.contains("policy set reloaded"), "{line}");
    replace("kind: [");
    let line = next();
    assert!(
        line.contains("the new policy set is refused, the old one keeps serving"),
        "{line}"
    );
    assert_eq!(terminate(child), Some(0));
}

/// A denied review's log line reaches stderr although the connection
/// thread that answered it keeps its lines to write them together: it
/// writes them when it has nothing else to do.
#[test]
fn a_denied_reviews_log_line_is_written_once_the_server_is_idle() {
    let dir = scratch("serve", "log");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("tls.crt"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), certified.key_pair.serialize_pem()).unwrap();
    let mut args = loopback("tls.crt", "tls.key");
    args.push("--no-config".into());
    let mut child = spawn_serve(&dir, &args);
    let received = stderr_lines(&mut child);
    let minute = std::time::Duration::from_secs(60);
    let first = received.recv_timeout(minute).unwrap();
    let address = first
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tls =
        rustls::ClientConnection::new(std::sync::Arc::new(config), "localhost".try_into().unwrap())
            .unwrap();
    let mut tcp = TcpStream::connect(&address).unwrap();
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "6f1c0de5-0000-4000-8000-00000000log1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "root", "namespace": "default", "operation": "CREATE",
            "userInfo": {"username": "test"},
            "object": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "root", "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": "app:1.0",
                    "securityContext": {"privileged": true}}]}}
        }
    })
    .to_string();
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    write!(
        stream,
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.contains("\"allowed\":false"), "{answer}");

    let line = received.recv_timeout(minute).unwrap();
    assert_eq!(terminate(child), Some(0));
    assert!(line.contains("admission"), "{line}");
    assert!(
        line.contains("6f1c0de5-0000-4000-8000-00000000log1"),
        "{line}"
    );
    assert!(line.contains("allowed=false"), "{line}");
}
