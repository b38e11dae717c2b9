//! The admission webhook server of `wasm-validate serve`: the validating
//! and the mutating endpoint over HTTPS (rustls with the ring provider, no
//! JIT and no system OpenSSL), and health endpoints over plain HTTP on a
//! second port, as Kubernetes probes expect. It holds I/O and protocol only:
//! a review is answered by [`wasm_validate_admission::review`], which runs
//! the pipeline.
//!
//! Endpoints (HTTPS): `POST /validate` (the ValidatingWebhookConfiguration's
//! path) and `POST /mutate` (the MutatingWebhookConfiguration's), each an
//! `admission.k8s.io/v1` AdmissionReview in and out. A body over
//! [`MAX_BODY_BYTES`] (the API server's own limit) is refused with 413, a
//! review that cannot be answered with 400 and the reason. Connections are
//! handed in turn to [`Options::connection_threads`] threads, each a
//! single-threaded runtime (`lanes.rs`). A review is
//! first evaluated on the thread that read it, within
//! [`Options::inline_fuel`] for all its policies together (most reviews
//! need far less, and a hand-off between threads costs more than they do);
//! one that needs more is stopped and answered from the start on a bounded
//! pool of blocking workers, so a slow policy holds a connection thread for
//! no longer than that fuel takes. When every request slot is taken (the
//! workers and the queue in front of them), a request is answered 429 at
//! once instead of waiting (the API server then applies the webhook's
//! `failurePolicy`). Endpoints (HTTP): `GET /healthz` (the process serves)
//! and `GET /readyz` (the policy set is loaded; it is, before either
//! listener accepts a connection), and `GET /metrics` (Prometheus, see
//! `metrics.rs`).
//!
//! Shutdown (SIGTERM in the binary): both listeners stop accepting, requests
//! in flight are answered, then [`serve`] returns.
#![forbid(unsafe_code)]

mod lanes;
pub mod log;
mod metrics;
mod sync;
mod tls;

pub use tls::{ServingCertificate, TlsError};

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use wasm_validate_abi::Rule;
use wasm_validate_admission::Endpoint;
use wasm_validate_engine::Engine;
use wasm_validate_manifest::Resource;
use wasm_validate_pipeline::PolicySet;

/// The largest AdmissionReview body accepted: 3 MiB, the API server's own
/// request limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How the server schedules evaluations.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Reviews that run at once on blocking threads (at least 1): those
    /// that needed more than [`Options::inline_fuel`].
    pub workers: usize,
    /// Requests that may wait for a worker; one more is answered 429.
    pub queue: usize,
    /// Fuel a review may use, all its policies together, on the connection
    /// thread that read it; a review that needs more is stopped and
    /// answered from the start by a blocking worker (0: every review is).
    /// [`wasm_validate_engine::DEADLINE_FUEL_SLICE`] by default, about a
    /// millisecond; a review of the typical Pod by the built-in library
    /// takes about a tenth of it (docs/performance.md).
    pub inline_fuel: u64,
    /// Largest request body in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// The longest a request may take, from its arrival to its answer; a
    /// policy still running then stops with a deadline error (handled by
    /// its `failurePolicy`). The API server's `?timeout=` on the URL
    /// shortens it (less [`TIMEOUT_MARGIN`]).
    pub request_timeout: Duration,
    /// How often the certificate files are read again.
    pub reload_interval: Duration,
    /// The longest a client may take over the TLS handshake after it
    /// connects; a connection that has not finished it then is closed, so
    /// that a client that connects and sends nothing cannot hold up a
    /// graceful shutdown (10 s, the webhook's default `timeoutSeconds`).
    pub handshake_timeout: Duration,
    /// Threads that serve connections, each a single-threaded runtime
    /// that owns the connections handed to it in turn (at least 1; one per
    /// CPU by default).
    pub connection_threads: usize,
    /// How the log on stderr is written.
    pub logging_format: log::LogFormat,
    /// How often the cluster's objects are read for the policies prepared
    /// with a run's objects (`sync.rs`); `None`: never (they see no other
    /// object).
    pub sync_interval: Option<Duration>,
}

/// What is kept of the API server's `?timeout=` for the network and for
/// writing the answer: the deadline is that much earlier.
pub const TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

impl Default for Options {
    /// One connection thread and one worker per CPU, a queue of 64
    /// requests per worker, reviews tried inline for
    /// [`wasm_validate_engine::DEADLINE_FUEL_SLICE`] fuel, 3 MiB bodies, 8 s
    /// per request (below the webhook's default `timeoutSeconds`, 10), 10 s
    /// for a TLS handshake, the certificate read again every 10 s.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Options {
            workers,
            queue: 64 * workers,
            inline_fuel: wasm_validate_engine::DEADLINE_FUEL_SLICE,
            connection_threads: workers,
            handshake_timeout: Duration::from_secs(10),
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(8),
            reload_interval: Duration::from_secs(10),
            logging_format: log::LogFormat::Text,
            sync_interval: None,
        }
    }
}

/// Where the policy set comes from, for reloads without a restart.
pub trait PolicySource: Send + Sync + 'static {
    /// Bytes whose change means the set must be loaded again (the
    /// configuration file, a bundle); read every reload interval.
    fn fingerprint(&self) -> Vec<u8>;
    /// Loads and checks the whole set (every module must load). An error
    /// leaves the running set in place.
    fn load(&self) -> Result<Policies, String>;
    /// The cluster's objects that `rules` select, in every namespace, for
    /// the policies prepared with a run's objects (`sync.rs`); `None` when
    /// the source reads no cluster. Called every
    /// [`Options::sync_interval`], on a thread of its own.
    fn objects(&self, rules: &[Rule]) -> Option<Result<Vec<Resource>, String>> {
        let _ = rules;
        None
    }
}

/// The engine and each endpoint's policies, taken from one policy set.
pub struct Policies {
    engine: Arc<Engine>,
    validating: PolicySet,
    mutating: PolicySet,
}

impl Policies {
    /// Splits `set` into the validating and the mutating endpoint's
    /// policies ([`wasm_validate_admission::policies_for`]).
    pub fn new(engine: Engine, set: &PolicySet) -> Self {
        Policies {
            validating: wasm_validate_admission::policies_for(set, Endpoint::Validating),
            mutating: wasm_validate_admission::policies_for(set, Endpoint::Mutating),
            engine: Arc::new(engine),
        }
    }

    /// The endpoint's policies.
    fn set(&self, endpoint: Endpoint) -> &PolicySet {
        match endpoint {
            Endpoint::Validating => &self.validating,
            Endpoint::Mutating => &self.mutating,
        }
    }
}

struct AppState {
    metrics: Arc<metrics::Metrics>,
    logging: log::LogFormat,
    /// The set requests are answered with; a reload replaces it, and a
    /// request keeps the set it started with.
    policies: std::sync::RwLock<Arc<Policies>>,
    request_timeout: Duration,
    /// [`Options::inline_fuel`].
    inline_fuel: u64,
    /// Requests admitted (running or waiting): `workers + queue` permits.
    admitted: Arc<Semaphore>,
    /// Evaluations running: `workers` permits.
    running: Arc<Semaphore>,
    /// The set as loaded and the cluster's objects last read (`sync.rs`).
    synced: sync::Synced,
}

/// Serves until `shutdown` completes, then stops accepting, answers the
/// requests in flight and returns: the webhook endpoints over TLS with
/// `certificate` on `secure`, health on `health` (see the crate docs). The
/// listeners are bound by the caller (so that a test can bind port 0).
/// The certificate files are read again every `options.reload_interval`;
/// a changed, usable pair serves every new connection from then on (see
/// [`ServingCertificate::reload`]). When a `source` is given, with the
/// fingerprint it had when `policies` were loaded from it (read before
/// loading, so that no change is missed), its fingerprint is read as
/// often: a changed one loads the set again, which
/// replaces the running set atomically if it loads completely and is
/// refused (with a message on stderr, the old set serving on) if not.
pub async fn serve(
    policies: Arc<Policies>,
    source: Option<(Arc<dyn PolicySource>, Vec<u8>)>,
    certificate: Arc<ServingCertificate>,
    secure: TcpListener,
    health: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let workers = options.workers.max(1);
    let metrics = Arc::new(metrics::Metrics::new());
    let state = Arc::new(AppState {
        metrics: metrics.clone(),
        logging: options.logging_format,
        policies: std::sync::RwLock::new(policies),
        request_timeout: options.request_timeout,
        inline_fuel: options.inline_fuel,
        admitted: Arc::new(Semaphore::new(workers + options.queue)),
        running: Arc::new(Semaphore::new(workers)),
        synced: sync::Synced::default(),
    });
    *state.synced.base.write().unwrap_or_else(|e| e.into_inner()) = Some(
        state
            .policies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    );
    let stop_sync = Arc::new(std::sync::atomic::AtomicBool::new(false));
    match (options.sync_interval, &source) {
        (Some(interval), Some((source, _))) => {
            sync::spawn(state.clone(), source.clone(), interval, stop_sync.clone());
        }
        _ => sync::warn_unsynced(&state),
    }
    let webhook = Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .with_state(state.clone());
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        );

    let (stop, stopped) = watch::channel(false);
    let mut health_stopped = stopped.clone();
    let health_server = tokio::spawn(async move {
        axum::serve(health, probes)
            .with_graceful_shutdown(async move {
                let _ = health_stopped.wait_for(|stop| *stop).await;
            })
            .await
    });

    let acceptor = tokio_rustls::TlsAcceptor::from(certificate.server_config());
    let reloading = {
        let certificate = certificate.clone();
        let interval = options.reload_interval;
        let state = state.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.tick().await;
            let (source, mut seen) = match source {
                Some((source, fingerprint)) => (Some(source), Some(fingerprint)),
                None => (None, None),
            };
            loop {
                ticks.tick().await;
                let certificate = certificate.clone();
                match tokio::task::spawn_blocking(move || certificate.reload()).await {
                    Ok(Ok(true)) => {
                        state.metrics.reload("certificate", true);
                        log::event(state.logging, "info", "serving certificate reloaded", &[]);
                    }
                    Ok(Err(error)) => {
                        state.metrics.reload("certificate", false);
                        log::event(
                            state.logging,
                            "error",
                            &format!(
                                "the new certificate is refused, the old one keeps serving: {error}"
                            ),
                            &[],
                        );
                    }
                    _ => {}
                }
                let Some(source) = source.clone() else {
                    continue;
                };
                let (fingerprint, loaded) = match tokio::task::spawn_blocking(move || {
                    let fingerprint = source.fingerprint();
                    (fingerprint, source)
                })
                .await
                {
                    Ok((fingerprint, source)) if Some(&fingerprint) != seen.as_ref() => {
                        let loaded = tokio::task::spawn_blocking(move || source.load()).await;
                        (fingerprint, loaded)
                    }
                    _ => continue,
                };
                seen = Some(fingerprint);
                match loaded {
                    Ok(Ok(policies)) => {
                        state.metrics.reload("policies", true);
                        let count =
                            policies.validating.policies.len() + policies.mutating.policies.len();
                        sync::replace(&state, Arc::new(policies));
                        log::write_line(&format!(
                            "wasm-validate serve: policy set reloaded ({count} policies)"
                        ));
                    }
                    Ok(Err(error)) => {
                        state.metrics.reload("policies", false);
                        log::event(
                            state.logging,
                            "error",
                            &format!(
                                "the new policy set is refused, the old one keeps serving: {error}"
                            ),
                            &[],
                        );
                    }
                    Err(_) => {}
                }
            }
        })
    };
    let graceful = GracefulShutdown::new();
    let lanes = lanes::Lanes::start(options.connection_threads.max(1))?;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = secure.accept() => {
                let (tcp, _) = match accepted {
                    Ok(accepted) => accepted,
                    // A connection that failed before it was accepted
                    // (reset, too many open files) does not stop the server.
                    Err(_) => continue,
                };
                // An answer goes out as soon as it is written: with Nagle's
                // algorithm, a response written in two segments waited for
                // the client's delayed ACK (about 40 ms on Linux).
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(webhook.clone());
                let watcher = graceful.watcher();
                let handshake_timeout = options.handshake_timeout;
                lanes.serve(tcp, move |tcp| async move {
                    // A client that fails the handshake, or takes too long
                    // over it, gets nothing more.
                    let handshake = acceptor.accept(tcp);
                    let Ok(Ok(stream)) = tokio::time::timeout(handshake_timeout, handshake).await
                    else {
                        return;
                    };
                    let connection = Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = watcher.watch(connection).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(secure);
    reloading.abort();
    stop_sync.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = stop.send(true);
    graceful.shutdown().await;
    lanes.stop().await;
    match health_server.await {
        Ok(result) => result,
        Err(error) => Err(io::Error::other(error)),
    }
}

async fn validate(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    admit(state, Endpoint::Validating, query, body).await
}

async fn mutate(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    admit(state, Endpoint::Mutating, query, body).await
}

/// A duration as Go writes the simple ones the API server sends
/// (`10s`, `500ms`, `2m`, `1.5s`); `None` for anything else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|at| text.split_at(at))?;
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// The deadline of a request that arrived at `now`: the server's timeout,
/// or the API server's `?timeout=` less [`TIMEOUT_MARGIN`] when shorter.
fn deadline(now: Instant, timeout: Duration, query: Option<&str>) -> Instant {
    let asked = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(parse_duration)
        .map(|t| t.saturating_sub(TIMEOUT_MARGIN));
    now + asked.map_or(timeout, |asked| asked.min(timeout))
}

/// Answers one review: inline within [`Options::inline_fuel`], else on a
/// blocking worker; 429 when every request slot is taken.
async fn admit(
    state: Arc<AppState>,
    endpoint: Endpoint,
    query: Option<String>,
    body: Bytes,
) -> Response {
    let deadline = deadline(Instant::now(), state.request_timeout, query.as_deref());
    let Ok(admitted) = state.admitted.clone().try_acquire_owned() else {
        state.metrics.request(endpoint, "", "", "busy", None);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "every worker is busy and the queue is full; retry",
        )
            .into_response();
    };
    let started = Instant::now();
    let in_flight = state.metrics.in_flight().clone();
    in_flight.inc();
    let _in_flight = Done(in_flight);
    let policies = state
        .policies
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if state.inline_fuel > 0
        && let Some(answered) = wasm_validate_admission::try_review_detailed(
            &policies.engine,
            policies.set(endpoint),
            endpoint,
            &body,
            Some(deadline),
            state.inline_fuel,
        )
    {
        drop(admitted);
        return respond(&state, endpoint, started, answered);
    }
    state.metrics.deferred(endpoint);
    let Ok(running) = state.running.clone().acquire_owned().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the server is stopping").into_response();
    };
    let answered = tokio::task::spawn_blocking(move || {
        let _held = (admitted, running);
        wasm_validate_admission::review_detailed(
            &policies.engine,
            policies.set(endpoint),
            endpoint,
            &body,
            Some(deadline),
        )
    })
    .await;
    match answered {
        Ok(answered) => respond(&state, endpoint, started, answered),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the evaluation stopped unexpectedly",
        )
            .into_response(),
    }
}

/// The HTTP answer to a review answered (or refused as unreadable), with
/// its metrics and, when it is denied or a policy did not pass, its log
/// line.
fn respond(
    state: &AppState,
    endpoint: Endpoint,
    started: Instant,
    answered: Result<wasm_validate_admission::Reviewed, wasm_validate_admission::ReviewError>,
) -> Response {
    let metrics = &state.metrics;
    match answered {
        Ok(reviewed) => {
            let allowed = reviewed.review.response.as_ref().is_some_and(|r| r.allowed);
            let operation = reviewed.operation.as_str();
            metrics.request(
                endpoint,
                operation,
                &reviewed.kind,
                if allowed { "allowed" } else { "denied" },
                Some(started.elapsed().as_secs_f64()),
            );
            for evaluated in &reviewed.evaluations {
                metrics.evaluation(&evaluated.policy, evaluated.outcome, evaluated.fuel);
            }
            let response = reviewed.review.response.as_ref();
            let failed: Vec<&str> = reviewed
                .evaluations
                .iter()
                .filter(|e| e.outcome != "pass")
                .map(|e| e.policy.as_str())
                .collect();
            // Requests every policy passed are only counted (metrics): a
            // line for each would cost the hot path and flood the log.
            if !allowed || !failed.is_empty() {
                log::event(
                    state.logging,
                    "info",
                    "admission",
                    &[
                        ("uid", reviewed.uid.clone().into()),
                        ("endpoint", metrics::endpoint_name(endpoint).into()),
                        ("operation", operation.into()),
                        ("kind", reviewed.kind.clone().into()),
                        ("namespace", reviewed.namespace.clone().into()),
                        ("name", reviewed.name.clone().into()),
                        ("allowed", allowed.into()),
                        (
                            "code",
                            response
                                .and_then(|r| r.status.as_ref())
                                .map(|s| s.code)
                                .into(),
                        ),
                        ("policies", failed.into()),
                        ("ms", (started.elapsed().as_secs_f64() * 1000.0).into()),
                    ],
                );
            }
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_vec(&reviewed.review).expect("a review encodes"),
            )
                .into_response()
        }
        Err(error) => {
            metrics.request(endpoint, "", "", "invalid", None);
            (StatusCode::BAD_REQUEST, error.to_string()).into_response()
        }
    }
}

/// Decrements the in-flight gauge when a request is done, however it ends.
struct Done(prometheus_client::metrics::gauge::Gauge);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.dec();
    }
}
