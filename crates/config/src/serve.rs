//! `serve:` in `wasm-validate.yaml`: the options of `wasm-validate serve`,
//! each as its command-line flag names it (in camelCase); a flag given on
//! the command line wins (docs/admission.md).

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The `serve` section of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServeSpec {
    /// `--tls-cert-file` (relative to the configuration file's directory).
    pub tls_cert_file: Option<PathBuf>,
    /// `--tls-private-key-file` (relative to the configuration file's directory).
    pub tls_private_key_file: Option<PathBuf>,
    /// `--bind-address`.
    pub bind_address: Option<IpAddr>,
    /// `--secure-port`.
    pub secure_port: Option<u16>,
    /// `--health-port`.
    pub health_port: Option<u16>,
    /// `--workers`.
    pub workers: Option<usize>,
    /// `--queue`.
    pub queue: Option<usize>,
    /// `--inline-fuel`.
    pub inline_fuel: Option<u64>,
    /// `--request-timeout`, a duration such as `8s`.
    pub request_timeout: Option<String>,
    /// `--reload-interval`, a duration such as `10s`.
    pub reload_interval: Option<String>,
    /// `--logging-format`: `text` or `json`.
    pub logging_format: Option<LoggingFormat>,
    /// `--sync-interval`, a duration such as `60s`.
    pub sync_interval: Option<String>,
    /// `--kubeconfig` (relative to the configuration file's directory).
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

/// `serve.loggingFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingFormat {
    /// Text lines.
    Text,
    /// JSON objects.
    Json,
}
