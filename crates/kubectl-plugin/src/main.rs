//! `kubectl-wasm_validate`, run by kubectl as `kubectl wasm-validate`.
//! kubectl's flag style: with `-f/--filename` (and `-R/--recursive`) it
//! checks files as `wasm-validate check` does; without `-f` it audits the
//! cluster of the kubeconfig (`--kubeconfig`, `--context`, `-n`, `-A`, `-l`,
//! `--request-timeout`). `-o/--output` picks the format. Argument parsing
//! only.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use wasm_validate_cli::{OutputFormat, PolicyArgs};

/// Check Kubernetes manifests with sandboxed WebAssembly policies.
///
/// Exit codes: 0 nothing denied, 1 a policy denied something, 2 an input or a
/// policy could not be processed.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl wasm-validate",
    bin_name = "kubectl wasm-validate",
    version,
    about,
    long_about
)]
struct Cli {
    /// Files or directories to check, or - for stdin (as kubectl's -f).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    filenames: Vec<PathBuf>,
    /// Process the directory used in -f recursively.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// List the built-in policies and exit.
    #[arg(long)]
    list_policies: bool,
    /// Without -f: the kubeconfig file (default: KUBECONFIG, then
    /// ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Without -f: the kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Without -f: the namespace to audit (default: the context's).
    #[arg(short = 'n', long, value_name = "NAME")]
    namespace: Option<String>,
    /// Without -f: audit every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Without -f: a label selector, as kubectl's (-l app=web,tier!=db).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<String>,
    /// Without -f: how long to wait for each request to the server (0: no
    /// limit; a number of seconds, or with a unit: 30s, 2m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_timeout)]
    request_timeout: std::time::Duration,
    /// Without -f: items per list request.
    #[arg(long, value_name = "N", default_value_t = 500)]
    chunk_size: u32,
    /// The schema stage (--schema, --kubernetes-version, --crd-path); without
    /// -f the cluster's CRDs are read too, and its version is the default.
    #[command(flatten)]
    schema: wasm_validate_cli::SchemaArgs,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// kubectl's `--request-timeout`: `0` (none), seconds, or a number with
/// `s`, `m` or `h`.
fn parse_timeout(value: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match value.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => value.split_at(at),
        None => (value, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?}: expected a duration such as 0, 30, 30s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => return Err(format!("{value:?}: the unit must be s, m or h")),
    };
    Ok(std::time::Duration::from_secs(seconds))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_policies {
        return ExitCode::from(wasm_validate_cli::list_command(cli.output));
    }
    let mut policy = cli.policy;
    policy.schema = Some(cli.schema.options());
    if cli.filenames.is_empty() {
        let options = wasm_validate_cluster::ClusterOptions {
            kubeconfig: cli.kubeconfig,
            context: cli.context,
            namespace: cli.namespace,
            all_namespaces: cli.all_namespaces,
            selector: cli.selector,
            request_timeout: (!cli.request_timeout.is_zero()).then_some(cli.request_timeout),
            page_size: cli.chunk_size,
            definitions: false,
        };
        return ExitCode::from(wasm_validate_cli::audit_command(
            &options, &policy, cli.output,
        ));
    }
    ExitCode::from(wasm_validate_cli::check_command(
        &cli.filenames,
        cli.recursive,
        &policy,
        &[wasm_validate_cli::OutputSpec {
            format: cli.output,
            path: None,
        }],
    ))
}
