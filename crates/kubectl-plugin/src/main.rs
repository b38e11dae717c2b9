//! `kubectl-wasm_validate`, run by kubectl as `kubectl wasm-validate`.
//! kubectl's flag style (`-f/--filename`, `-R/--recursive`, `-o/--output`);
//! the work is `wasm-validate check`'s. Argument parsing only.
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
    #[command(flatten)]
    policy: PolicyArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_policies {
        return ExitCode::from(wasm_validate_cli::list_command(cli.output));
    }
    if cli.filenames.is_empty() {
        eprintln!(
            "error: give manifests with -f FILE|DIR|- (auditing a live cluster is not available in this version)"
        );
        return ExitCode::from(2);
    }
    ExitCode::from(wasm_validate_cli::check_command(
        &cli.filenames,
        cli.recursive,
        &cli.policy,
        &[wasm_validate_cli::OutputSpec {
            format: cli.output,
            path: None,
        }],
    ))
}
