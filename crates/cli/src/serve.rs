//! `serve`: the policy set as a validating and mutating admission webhook
//! (`crates/server`), until SIGTERM or Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use wasm_validate_config::EnforcementPoint;
use wasm_validate_engine::Engine;
use wasm_validate_report::EXIT_ERROR;
use wasm_validate_server::log::{self, LogFormat};
use wasm_validate_server::{Options, Policies, PolicySource};

use crate::*;

/// The options of `serve`, with kube-apiserver's names where it has one
/// (`--tls-cert-file`, `--tls-private-key-file`, `--bind-address`,
/// `--secure-port`). Each may also be set in the configuration file's
/// `serve:` section (`tlsCertFile`, `securePort`, ...); a flag wins.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// PEM certificate chain for HTTPS, the serving certificate first (it
    /// must cover `<service>.<namespace>.svc`).
    #[arg(long, value_name = "PEM")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the serving certificate.
    #[arg(long, value_name = "PEM")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Development: make a CA and a serving certificate for this DNS name
    /// (for example `wasm-validate.wasm-validate.svc`), write them to a
    /// temporary directory and print the CA as the webhook's `caBundle` on
    /// stdout. Not for production: the CA's key is thrown away.
    #[arg(long, value_name = "DNS_NAME", conflicts_with_all = ["tls_cert_file", "tls_private_key_file"])]
    pub self_signed: Option<String>,
    /// Address both ports listen on [default: 0.0.0.0].
    #[arg(long, value_name = "IP")]
    pub bind_address: Option<IpAddr>,
    /// Port of the webhook endpoints, `/validate` and `/mutate` (HTTPS); 0
    /// picks a free one [default: 8443].
    #[arg(long, value_name = "PORT")]
    pub secure_port: Option<u16>,
    /// Port of `/healthz`, `/readyz` and `/metrics` (plain HTTP); 0 picks a
    /// free one [default: 8080].
    #[arg(long, value_name = "PORT")]
    pub health_port: Option<u16>,
    /// Reviews that run at once on worker threads, those that need more
    /// than --inline-fuel (default: one per CPU).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker before one more is answered 429
    /// (default: 64 per worker).
    #[arg(long, value_name = "N")]
    pub queue: Option<usize>,
    /// Fuel a review may use, all its policies together, on the thread
    /// that read it; a review that needs more is stopped and answered from
    /// the start by a worker, so a slow policy holds that thread no longer.
    /// 0 sends every review to the workers [default: 5000000, about a
    /// millisecond].
    #[arg(long, value_name = "FUEL")]
    pub inline_fuel: Option<u64>,
    /// The longest a request may take (`500ms`, `8s`, `1m`); a policy still
    /// running then stops with an error its failurePolicy handles. The API
    /// server's `?timeout=` shortens it. Keep it below the webhook's
    /// `timeoutSeconds` [default: 8s].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub request_timeout: Option<std::time::Duration>,
    /// How often the certificate files and the policy set's files (the
    /// configuration or bundle, `--policy` modules) are read again; a
    /// change is loaded without a restart [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub reload_interval: Option<std::time::Duration>,
    /// Log format on stderr: one line per event and per request that is
    /// denied or that a policy did not pass, as text or as JSON objects
    /// with `ts`, `level`, `msg` and the request's `uid`
    /// [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub logging_format: Option<LoggingFormat>,
    /// Read the cluster's objects this often (`60s`, `5m`) for the
    /// policies that read other objects than the one under review
    /// (Gatekeeper's `data.inventory` and `namespaceSelector`, a
    /// ValidatingAdmissionPolicy's params), as Gatekeeper syncs its cache;
    /// needs `list` on the kinds they select and read, and on Namespaces;
    /// at least 1s [default: off: they see no other object].
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub sync_interval: Option<std::time::Duration>,
    /// The kubeconfig for `--sync-interval`'s reads [default: as kubectl
    /// finds it: `KUBECONFIG`, `~/.kube/config`, else the Pod's service
    /// account].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context for `--sync-interval`'s reads.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `--logging-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoggingFormat {
    /// `wasm-validate serve: message (key=value, ...)`.
    Text,
    /// One JSON object per line.
    Json,
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    wasm_validate_server::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration such as 500ms, 8s or 1m"))
}

/// `serve`: loads the policies (every chosen module must load: a webhook
/// does not serve part of its policy set), binds both ports, prints where
/// it serves on stderr, and serves until SIGTERM or Ctrl-C, answering the
/// requests in flight before it exits. Returns 0 after a shutdown, 2 when
/// it cannot start (policies, certificate, ports).
pub fn serve_command(args: &ServeArgs, policy_args: &PolicyArgs) -> u8 {
    let fail = |message: String| {
        eprintln!("wasm-validate serve: {message}");
        EXIT_ERROR
    };
    // The configuration's `schema:` section applies (its CRDs check custom
    // resources at the validating endpoint; crates/admission).
    let mut policy_args = policy_args.clone();
    policy_args.schema.get_or_insert_with(Default::default);
    let policy_args = &policy_args;
    let mut source = ArgsSource {
        args: policy_args.clone(),
        cluster: None,
    };
    // Read before loading, so that a change made meanwhile is reloaded.
    let fingerprint = source.fingerprint();
    let engine = Engine::default();
    let set = match load_policies_at(&engine, policy_args, EnforcementPoint::Validation)
        .map(|set| set.all_loaded())
    {
        Ok(Ok(set)) => set,
        Ok(Err(message)) => return fail(message),
        Err(error) => return fail(error.to_string()),
    };
    // The configuration's `serve:` section, under the flags.
    let spec = if policy_args.no_config || policy_args.bundle.is_some() {
        None
    } else {
        match wasm_validate_config::Config::discover(policy_args.config.as_deref()) {
            Ok(config) => config.and_then(|c| c.serve.map(|s| (s, c.base))),
            Err(error) => return fail(error.0),
        }
    };
    let (spec, base) = spec.unwrap_or_default();
    let from_config = |path: &Option<PathBuf>| path.as_ref().map(|p| base.join(p));
    let config_duration =
        |value: &Option<String>, key: &str| -> Result<Option<std::time::Duration>, String> {
            value
                .as_deref()
                .map(|text| {
                    duration(text).map_err(|e| format!("serve.{key} in the configuration: {e}"))
                })
                .transpose()
        };
    let request_timeout = match config_duration(&spec.request_timeout, "requestTimeout") {
        Ok(value) => args
            .request_timeout
            .or(value)
            .unwrap_or(std::time::Duration::from_secs(8)),
        Err(message) => return fail(message),
    };
    let reload_interval = match config_duration(&spec.reload_interval, "reloadInterval") {
        Ok(value) => args
            .reload_interval
            .or(value)
            .unwrap_or(std::time::Duration::from_secs(10)),
        Err(message) => return fail(message),
    };
    let sync_interval = match config_duration(&spec.sync_interval, "syncInterval") {
        Ok(value) => args.sync_interval.or(value),
        Err(message) => return fail(message),
    };
    if sync_interval.is_some_and(|interval| interval < std::time::Duration::from_secs(1)) {
        return fail("--sync-interval (serve.syncInterval) must be at least 1s".to_owned());
    }
    if sync_interval.is_some() {
        source.cluster = Some(wasm_validate_cluster::ClusterOptions {
            kubeconfig: args
                .kubeconfig
                .clone()
                .or_else(|| from_config(&spec.kubeconfig)),
            context: args.context.clone().or_else(|| spec.context.clone()),
            all_namespaces: true,
            ..wasm_validate_cluster::ClusterOptions::default()
        });
    }
    let logging_format = match args.logging_format {
        Some(LoggingFormat::Json) => LogFormat::Json,
        Some(LoggingFormat::Text) => LogFormat::Text,
        None => match spec.logging_format {
            Some(wasm_validate_config::LoggingFormat::Json) => LogFormat::Json,
            _ => LogFormat::Text,
        },
    };
    let bind_address = args
        .bind_address
        .or(spec.bind_address)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let secure_port = args.secure_port.or(spec.secure_port).unwrap_or(8443);
    let health_port = args.health_port.or(spec.health_port).unwrap_or(8080);
    let workers = args.workers.or(spec.workers);
    let queue = args.queue.or(spec.queue);
    let inline_fuel = args.inline_fuel.or(spec.inline_fuel);
    let cert = args
        .tls_cert_file
        .clone()
        .or_else(|| from_config(&spec.tls_cert_file));
    let key = args
        .tls_private_key_file
        .clone()
        .or_else(|| from_config(&spec.tls_private_key_file));
    let (cert_file, key_file) = match (cert, key, &args.self_signed) {
        (_, _, Some(name)) => match self_signed(name) {
            Ok(files) => files,
            Err(error) => return fail(format!("--self-signed {name}: {error}")),
        },
        (Some(cert), Some(key), None) => (cert, key),
        _ => {
            return fail(
                "give --tls-cert-file and --tls-private-key-file (or serve.tlsCertFile and serve.tlsPrivateKeyFile in the configuration), or --self-signed"
                    .to_owned(),
            );
        }
    };
    let tls = match wasm_validate_server::ServingCertificate::load(&cert_file, &key_file) {
        Ok(tls) => tls,
        Err(error) => return fail(error.to_string()),
    };
    let mut options = Options::default();
    if let Some(workers) = workers {
        options.workers = workers.max(1);
        options.queue = 64 * options.workers;
    }
    if let Some(queue) = queue {
        options.queue = queue;
    }
    if let Some(fuel) = inline_fuel {
        options.inline_fuel = fuel;
    }
    options.request_timeout = request_timeout;
    options.reload_interval = reload_interval;
    options.logging_format = logging_format;
    options.sync_interval = sync_interval;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the runtime: {error}")),
    };
    let policies = Arc::new(Policies::new(engine, &set));
    let source: Arc<dyn PolicySource> = Arc::new(source);
    let served = runtime.block_on(async {
        let bind = |port| async move {
            let address = SocketAddr::new(bind_address, port);
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address}: {e}"))
        };
        let secure = bind(secure_port).await?;
        let health = bind(health_port).await?;
        let (secure_at, health_at) = (
            secure.local_addr().map_err(|e| e.to_string())?,
            health.local_addr().map_err(|e| e.to_string())?,
        );
        // Before the line that says it serves: a SIGTERM from then on is
        // a graceful shutdown.
        let shutdown = shutdown_signal();
        log::event(
            options.logging_format,
            "info",
            &format!(
                "{} policies{}; webhooks on https://{secure_at}/validate and /mutate; health on http://{health_at}/healthz",
                set.policies.len(),
                match set.schema.as_ref().map(|s| s.schemas.crd_count()) {
                    Some(crds @ 1..) => format!(
                        ", and {crds} CustomResourceDefinitions whose custom resources /validate checks"
                    ),
                    _ => String::new(),
                }
            ),
            &[],
        );
        wasm_validate_server::serve(
            policies,
            Some((source, fingerprint)),
            tls,
            secure,
            health,
            options,
            shutdown,
        )
            .await
            .map_err(|e| e.to_string())
    });
    match served {
        Ok(()) => {
            log::event(options.logging_format, "info", "stopped", &[]);
            EXIT_OK
        }
        Err(message) => fail(message),
    }
}

/// `--self-signed NAME`: a CA and a serving certificate for `NAME` signed by
/// it, written to a new temporary directory; prints the CA, base64-encoded,
/// as the `caBundle` to give the webhook configurations. Returns the
/// certificate and key files.
fn self_signed(name: &str) -> Result<(PathBuf, PathBuf), String> {
    use base64::Engine as _;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let fail = |e: rcgen::Error| e.to_string();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wasm-validate development CA");
    let ca_key = KeyPair::generate().map_err(fail)?;
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    let params = CertificateParams::new(vec![name.to_owned()]).map_err(fail)?;
    let key = KeyPair::generate().map_err(fail)?;
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
    let dir = std::env::temp_dir().join(format!("wasm-validate-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&cert_file, cert.pem())?;
    write(&key_file, key.serialize_pem())?;
    write(&dir.join("ca.crt"), ca.pem())?;
    println!(
        "caBundle: {}",
        base64::engine::general_purpose::STANDARD.encode(ca.pem())
    );
    eprintln!(
        "wasm-validate serve: a development certificate for {name} in {} (ca.crt, tls.crt, tls.key)",
        dir.display()
    );
    Ok((cert_file, key_file))
}

/// The policy set of `serve`'s arguments, for reloads: its fingerprint is
/// the content of the files the set is read from (the bundle, or the
/// configuration file, given or found in the working directory, and what
/// it and `--policy` reference: module files, directories of Gatekeeper or
/// Conftest sources read whole, the CRDs of `schema.crdPaths`), so that a
/// changed ConfigMap or bundle is loaded again, even when only a file the
/// configuration names changed.
/// With `--sync-interval`, it also reads the cluster's objects for the
/// policies prepared with a run's objects.
struct ArgsSource {
    args: PolicyArgs,
    /// Where to read the cluster's objects (`--sync-interval`).
    cluster: Option<wasm_validate_cluster::ClusterOptions>,
}

impl PolicySource for ArgsSource {
    fn fingerprint(&self) -> Vec<u8> {
        let args = &self.args;
        let mut files: Vec<PathBuf> = Vec::new();
        if let Some(bundle) = &args.bundle {
            files.push(bundle.clone());
        } else if !args.no_config {
            files.push(
                args.config
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("wasm-validate.yaml")),
            );
        }
        let mut fingerprint = Vec::new();
        let mut add = |name: &[u8], read: Result<Vec<u8>, String>| {
            fingerprint.extend_from_slice(name);
            match read {
                Ok(bytes) => fingerprint.extend_from_slice(&bytes),
                Err(error) => fingerprint.extend_from_slice(error.as_bytes()),
            }
        };
        for file in files {
            let read = std::fs::read(&file).map_err(|e| e.to_string());
            add(file.as_os_str().as_encoded_bytes(), read);
        }
        if args.bundle.is_none() {
            // A configuration that cannot be read is in the fingerprint
            // already (its bytes, or the error).
            let config = if args.no_config {
                None
            } else {
                wasm_validate_config::Config::discover(args.config.as_deref())
                    .ok()
                    .flatten()
            };
            let command_line = wasm_validate_config::CommandLine {
                policies: args.policies.clone(),
                ..Default::default()
            };
            for chosen in wasm_validate_config::chosen_modules(config.as_ref(), &command_line) {
                if let wasm_validate_config::ChosenModule::File { reference, path } = chosen {
                    add(
                        reference.as_bytes(),
                        wasm_validate_config::bundle_bytes(&reference, &path),
                    );
                }
            }
            if let Some(config) = &config {
                for path in config.schema.iter().flat_map(|s| s.crd_paths.iter()) {
                    let crds = wasm_validate_config::crd_bundle_bytes(&config.base.join(path));
                    add(path.as_os_str().as_encoded_bytes(), crds.map_err(|e| e.0));
                }
            }
        }
        fingerprint
    }

    fn load(&self) -> Result<Policies, String> {
        // A new engine: wasmi keeps compiled code in its engine for good.
        let engine = Engine::default();
        let set = load_policies_at(&engine, &self.args, EnforcementPoint::Validation)
            .map_err(|e| e.to_string())?
            .all_loaded()?;
        Ok(Policies::new(engine, &set))
    }

    fn objects(
        &self,
        rules: &[wasm_validate_abi::Rule],
    ) -> Option<Result<Vec<wasm_validate_manifest::Resource>, String>> {
        let cluster = self.cluster.as_ref()?;
        let mut objects = Vec::new();
        let outcome = wasm_validate_cluster::audit(cluster, rules, &mut |read| {
            if let wasm_validate_cluster::Read::Page(page) = read {
                objects.extend(page.resources);
            }
        });
        Some(match outcome {
            Ok(outcome) if outcome.unreadable.is_empty() => Ok(objects),
            Ok(outcome) => Err(format!("cannot read {}", outcome.unreadable.join(", "))),
            Err(error) => Err(error.to_string()),
        })
    }
}

/// Completes on SIGTERM (what the kubelet sends) or Ctrl-C. The SIGTERM
/// handler is installed when this is called, not when the future is first
/// polled: a SIGTERM that comes right after the "listening" line (a
/// kubelet, a test) is then a graceful shutdown, never the default action
/// that kills the process. Call it inside the runtime.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut terminate) = terminate {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
