//! `cargo xtask load [--seconds N] [--no-write] [--rates R,R,...]
//! [--server-cpus LIST] [--client-cpus LIST]`: the admission server under
//! load, on 127.0.0.1 only. Builds the release binary, starts
//! `wasm-validate serve` with the default library and a fresh self-signed
//! certificate, and sends the benchmark's typical Pod as a CREATE
//! AdmissionReview to `/validate` from 1, 16 and 64 HTTP/1.1 keep-alive
//! connections over TLS for `--seconds` each (default 5), on the same
//! machine as the server: first closed loop (each connection sends its
//! next request when the answer to the last is read, so the server runs
//! saturated), then at fixed offered rates over 64 connections (each
//! request is due at a set time, and its latency counts from that time,
//! as wrk2 and `oha --latency-correction` count, so a late answer also
//! delays what was due after it). Prints requests/s, latency percentiles
//! and the server's peak RSS, and writes them into `docs/performance.md`
//! between [`BEGIN`] and [`END`]. A benchmark, not a test: nothing asserts
//! on time. `--rates` replaces the fixed rates (default 3000,4000,5000
//! requests/s); `--server-cpus` and `--client-cpus` pin the server and the
//! load generator with `taskset` (what one replica does with one core, say)
//! and imply `--no-write`. It runs in a release build of xtask (`load_command` in `main.rs`), so
//! that the load generator takes as little of the shared cores as it can.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};

/// Start of the generated part of `docs/performance.md`.
pub const BEGIN: &str = "<!-- cargo xtask load: begin -->";
/// End of the generated part.
pub const END: &str = "<!-- cargo xtask load: end -->";

const CONNECTIONS: [usize; 3] = [1, 16, 64];
/// Connections of the fixed-rate rows.
const PACED_CONNECTIONS: usize = 64;
/// Offered requests/s of the fixed-rate rows unless `--rates` says: the
/// target rate, and more.
pub const PACED_RATES: [f64; 3] = [3000.0, 4000.0, 5000.0];
const TARGET_RPS: f64 = 3000.0;
const TARGET_P99_MS: f64 = 10.0;
const TARGET_RSS_MIB: f64 = 64.0;

/// What `cargo xtask load` was asked.
pub struct Options {
    /// Seconds of load per number of connections.
    pub seconds: u64,
    /// Whether to write into docs/performance.md.
    pub write: bool,
    /// CPUs the server may run on (`taskset`'s list, such as `0`), to
    /// measure what a replica does with fewer cores; all when `None`.
    pub server_cpus: Option<String>,
    /// CPUs the load generator may run on; all when `None`.
    pub client_cpus: Option<String>,
    /// Offered requests/s of the fixed-rate rows.
    pub rates: Vec<f64>,
}

/// One row: the load from `connections` connections.
struct Row {
    connections: usize,
    /// The offered requests/s of a fixed-rate row; `None` for closed loop.
    offered: Option<f64>,
    seconds: f64,
    latencies_ms: Vec<f64>,
    failures: usize,
}

impl Row {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_ms[at]
    }

    fn rate(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.seconds
    }
}

/// Runs the load (see the module docs).
pub fn load(options: &Options) -> Result<(), String> {
    let root = crate::workspace();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "wasm-validate-cli"])
        .current_dir(&root)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cargo build --release failed".to_owned());
    }
    let dir = root.join("target").join("load");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(|e| e.to_string())?;
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, certified.cert.pem()).map_err(|e| e.to_string())?;
    std::fs::write(&key, certified.key_pair.serialize_pem()).map_err(|e| e.to_string())?;

    // Pinned by `taskset`, the server counts only its CPUs (one worker per
    // CPU, as in a container with a CPU limit).
    let binary = root.join("target/release/wasm-validate");
    let mut server = match &options.server_cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(&binary);
            command
        }
        None => Command::new(&binary),
    };
    if let Some(cpus) = &options.client_cpus {
        // Before the runtime's threads start, so that they inherit it.
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("taskset: {e}"))?;
        if !status.success() {
            return Err(format!(
                "taskset could not pin the load generator to {cpus}"
            ));
        }
    }
    let mut server = server
        .args(["serve", "--no-config", "--bind-address", "127.0.0.1"])
        .args(["--secure-port", "0", "--health-port", "0"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-private-key-file")
        .arg(&key)
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let mut log = BufReader::new(server.stderr.take().expect("piped"));
    log.read_line(&mut line).map_err(|e| e.to_string())?;
    // The server logs every denied review (the typical Pod is denied): keep
    // reading its log so that the pipe never fills.
    std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
    let address = line
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| format!("the server did not say where it serves: {line:?}"))?
        .to_owned();
    let policies = line
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or("?")
        .to_owned();

    let body = review(&root)?;
    // One thread for every connection, as `wrk -t1`: the generator takes
    // as little of the shared cores as it can (a two-thread runtime measured
    // within noise of it, 5,012-5,244 against 5,379 requests/s at 64).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let ca = certified.cert.der().clone();
    let mut rows = Vec::new();
    // One unmeasured second first: connections, caches, lazy translation.
    let seconds = Duration::from_secs(options.seconds);
    runtime.block_on(run(&address, &ca, &body, 4, None, Duration::from_secs(1)))?;
    for connections in CONNECTIONS {
        println!("{connections} connection(s) ...");
        rows.push(runtime.block_on(run(&address, &ca, &body, connections, None, seconds))?);
    }
    for &rate in &options.rates {
        println!("{PACED_CONNECTIONS} connections at {rate} requests/s ...");
        let row = runtime.block_on(run(
            &address,
            &ca,
            &body,
            PACED_CONNECTIONS,
            Some(rate),
            seconds,
        ))?;
        rows.push(row);
    }
    let rss = peak_rss_mib(server.id());
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let report = report(&rows, rss, &policies, options.seconds);
    println!("{report}");
    if options.write {
        let path = root.join("docs/performance.md");
        let current = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        std::fs::write(
            &path,
            crate::bench::splice_between(&current, BEGIN, END, &report),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("written to {}", path.display());
    }
    Ok(())
}

/// The typical Pod as a CREATE AdmissionReview.
fn review(root: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(root.join("testdata/bench/typical-pod.yaml"))
        .map_err(|e| e.to_string())?;
    let pod: serde_json::Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000000000",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "load"},
            "object": pod,
        }
    }))
    .map_err(|e| e.to_string())
}

/// `connections` connections sending `body` for `duration`: closed loop
/// when `offered` is `None`, else `offered` requests/s in all, each
/// connection's requests due at even intervals (the connections staggered),
/// a request's latency counted from when it was due.
async fn run(
    address: &str,
    ca: &CertificateDer<'static>,
    body: &[u8],
    connections: usize,
    offered: Option<f64>,
    duration: Duration,
) -> Result<Row, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let body = Bytes::copy_from_slice(body);
    let started = Instant::now();
    let until = started + duration;
    // Each connection's interval between requests, when paced.
    let interval = offered.map(|rate| Duration::from_secs_f64(connections as f64 / rate));
    let mut tasks = Vec::new();
    for index in 0..connections {
        let (connector, body, address) = (connector.clone(), body.clone(), address.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            let tcp = tokio::net::TcpStream::connect(&address)
                .await
                .map_err(|e| e.to_string())?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let name = ServerName::try_from("localhost").expect("a DNS name");
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            // When the next request is due (paced rows); connections are
            // staggered over one interval so the offered load is even.
            let mut due = interval
                .map(|every| Instant::now() + every.mul_f64(index as f64 / connections as f64));
            loop {
                if let Some(at) = due {
                    if at >= until {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                } else if Instant::now() >= until {
                    break;
                }
                let request = hyper::Request::post("/validate?timeout=10s")
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .map_err(|e| e.to_string())?;
                // A paced request counts from when it was due, even if the
                // answer to the one before came after that.
                let sent = due.unwrap_or_else(Instant::now);
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| e.to_string())?;
                let ok = response.status() == hyper::StatusCode::OK;
                let _ = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?;
                if ok {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failures += 1;
                }
                if let (Some(at), Some(every)) = (due.as_mut(), interval) {
                    *at += every;
                }
            }
            Ok::<_, String>((latencies, failures))
        }));
    }
    let mut latencies_ms = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (latencies, failed) = task.await.map_err(|e| e.to_string())??;
        latencies_ms.extend(latencies);
        failures += failed;
    }
    latencies_ms.sort_by(f64::total_cmp);
    Ok(Row {
        connections,
        offered,
        seconds: started.elapsed().as_secs_f64(),
        latencies_ms,
        failures,
    })
}

/// The peak resident set of process `pid` in MiB (`VmHWM`), if readable.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// One table line per row, `first` naming it (connections or offered rate).
fn table_line(row: &Row, first: String) -> String {
    format!(
        "| {first} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
        row.latencies_ms.len(),
        row.rate(),
        row.percentile(0.5),
        row.percentile(0.9),
        row.percentile(0.99),
        row.latencies_ms.last().copied().unwrap_or(f64::NAN),
        row.failures
    )
}

fn report(rows: &[Row], rss: Option<f64>, policies: &str, seconds: u64) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let header = "| answered | requests/s | p50 ms | p90 ms | p99 ms | max ms | not 200 |\n";
    let rule = "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    let mut out = format!(
        "### Admission load (`cargo xtask load`)\n\n`wasm-validate serve` (release build, {policies}, the default library) on 127.0.0.1 of this {cores}-core machine; the load generator (one thread of tokio, hyper and rustls, HTTP/1.1 keep-alive over TLS, a release build like the server) runs on the same cores and sends the typical Pod as a CREATE AdmissionReview to `/validate?timeout=10s` for {seconds} s per row, after one unmeasured second.\n\n**Closed loop** (each connection sends its next request as soon as it has read the answer to the last: the server is saturated, and latency is the queue that many connections make). Latency is from sending a request to reading its whole answer.\n\n| connections {header}{rule}"
    );
    let (closed, paced): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.offered.is_none());
    for row in &closed {
        out.push_str(&table_line(row, row.connections.to_string()));
    }
    out.push_str(&format!(
        "\n**Fixed rate** ({PACED_CONNECTIONS} connections, the offered requests/s split evenly among them; each request is due at a set time and its latency counts from then to reading its whole answer, so an answer that comes late also delays the requests due after it on its connection, as wrk2 and `oha --latency-correction` count; tokio's timer wakes up to 1 ms late, which counts too).\n\n| offered requests/s {header}{rule}"
    ));
    for row in &paced {
        out.push_str(&table_line(
            row,
            format!("{:.0}", row.offered.unwrap_or(0.0)),
        ));
    }
    let best = rows.iter().map(Row::rate).fold(0.0, f64::max);
    let p99_closed = closed
        .iter()
        .find(|r| r.connections == PACED_CONNECTIONS)
        .map_or(f64::NAN, |r| r.percentile(0.99));
    let p99_at_target = paced
        .iter()
        .find(|r| r.offered == Some(TARGET_RPS))
        .map_or(f64::NAN, |r| r.percentile(0.99));
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    out.push_str(&format!(
        "\nServer peak RSS: {}.\n\n| target (issue 19) | measured | verdict |\n|---|---:|---|\n| at least {TARGET_RPS} validating requests/s | {best:.0} | {} |\n| p99 at most {TARGET_P99_MS} ms at 64 connections, at {TARGET_RPS} requests/s offered | {p99_at_target:.2} ms | {} |\n| p99 at most {TARGET_P99_MS} ms at 64 connections, closed loop (saturated) | {p99_closed:.2} ms | {} |\n| server RSS at most {TARGET_RSS_MIB} MiB | {} | {} |\n",
        rss.map_or("not measured".to_owned(), |m| format!("{m:.1} MiB")),
        verdict(best >= TARGET_RPS),
        verdict(p99_at_target <= TARGET_P99_MS),
        verdict(p99_closed <= TARGET_P99_MS),
        rss.map_or("—".to_owned(), |m| format!("{m:.1} MiB")),
        verdict(rss.is_some_and(|m| m <= TARGET_RSS_MIB)),
    ));
    out
}
