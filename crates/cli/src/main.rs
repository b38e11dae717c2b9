//! `wasm-validate`: checks Kubernetes manifests with policies compiled to
//! WebAssembly. Argument parsing only; see the library for the work.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasm_validate_cli::{OutputFormat, OutputSpec, PolicyArgs, TtyReport};

/// Check and fix Kubernetes manifests with sandboxed WebAssembly policies.
///
/// Exit codes: 0 nothing denied, 1 a policy denied something, 2 an input or a
/// policy could not be processed.
#[derive(Debug, Parser)]
#[command(name = "wasm-validate", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests (files, directories, or - for stdin) and report.
    Check {
        /// Files, directories (searched recursively for .yaml, .yml, .json) or - for stdin.
        #[arg(value_name = "PATH", required_unless_present = "list_policies")]
        paths: Vec<PathBuf>,
        /// Report output as FORMAT or FORMAT=PATH (text, json, sarif, junit,
        /// github, policyreport); repeatable,
        /// for example `-o text -o sarif=results.sarif`. Default: text on stdout.
        #[arg(long, short = 'o', value_name = "FORMAT[=PATH]")]
        output: Vec<OutputSpec>,
        /// List the built-in policies and exit.
        #[arg(long)]
        list_policies: bool,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Helm post-renderer: manifests on stdin, mutated manifests on stdout;
    /// on a denial, nothing on stdout, the findings on stderr, exit 1.
    PostRender {
        /// Also write the report to this file (Helm 4 hides a plugin's stderr).
        #[arg(long, value_name = "PATH")]
        report_file: Option<PathBuf>,
        /// Format of the report file.
        #[arg(long, value_enum, default_value = "text")]
        report_format: OutputFormat,
        /// On a denial or an error, also write the report to the controlling
        /// terminal: auto (when run as a Helm plugin, whose stderr Helm 4
        /// hides), always or never.
        #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
        tty_report: TtyReport,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Run policy test suites (wasm-validate-test.yaml files, searched
    /// recursively in directories). Exit 0 all passed, 1 a result or a
    /// snapshot differs, 2 a suite could not run. See docs/policy-tests.md.
    Test {
        /// Suite files or directories.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// Also compare every result with the suite's snapshot
        /// (snapshots/<suite>.snap.yaml beside it).
        #[arg(long)]
        snapshot: bool,
        /// Record snapshots that are missing or differ instead of failing
        /// (implies --snapshot).
        #[arg(long)]
        update: bool,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
    },
    /// List the built-in policies.
    Policies {
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: OutputFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check {
            list_policies: true,
            output,
            ..
        } => {
            wasm_validate_cli::list_command(output.first().map_or(OutputFormat::Text, |o| o.format))
        }
        Command::Policies { output } => wasm_validate_cli::list_command(output),
        Command::Test {
            paths,
            snapshot,
            update,
            threads,
        } => wasm_validate_cli::test_command(&paths, snapshot || update, update, threads),
        Command::Check {
            paths,
            output,
            policy,
            ..
        } => wasm_validate_cli::check_command(&paths, true, &policy, &output),
        Command::PostRender {
            report_file,
            report_format,
            tty_report,
            policy,
        } => wasm_validate_cli::post_render_command(
            &policy,
            report_file.as_deref(),
            report_format,
            tty_report,
        ),
    };
    ExitCode::from(code)
}
