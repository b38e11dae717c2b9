//! `wasm-validate`: checks Kubernetes manifests with policies compiled to
//! WebAssembly. Argument parsing only; see the library for the work.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasm_validate_cli::{
    OutputFormat, OutputSpec, PolicyArgs, SchemaArgs, ServeArgs, TtyReport, bundle,
};

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
        schema: SchemaArgs,
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
        schema: SchemaArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Run policy test suites (wasm-validate-test.yaml files, gator Suites,
    /// kyverno-test.yaml files, searched recursively in directories) and
    /// Rego unit tests (*_test.rego, as `conftest verify` runs them). Exit 0
    /// all passed, 1 a result or a snapshot differs, 2 a suite could not
    /// run. See docs/policy-tests.md and docs/rego.md.
    Test {
        /// Suite files or directories.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        /// YAML or JSON files (or directories of them) merged into the Rego
        /// unit tests' `data` document (Conftest's `verify --data`);
        /// repeatable.
        #[arg(long, value_name = "PATH")]
        data: Vec<PathBuf>,
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
        /// The engine of gator suites' templates that have both: rego
        /// (default) or cel.
        #[arg(
            long = "gatekeeper-engine",
            value_enum,
            value_name = "ENGINE",
            default_value = "rego"
        )]
        gatekeeper_engine: wasm_validate_cli::GatekeeperEngine,
    },
    /// Policy bundles for air-gapped clusters: one file with the
    /// configuration, its modules and built-in policies, SHA-256 digests and
    /// an optional Ed25519 signature. See docs/air-gapped.md.
    /// Serves the policies as a validating (`/validate`) and mutating
    /// (`/mutate`) admission webhook over HTTPS, with `/healthz` and
    /// `/readyz` over HTTP, until SIGTERM (see docs/admission.md).
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// List the built-in policies.
    Policies {
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Pack the configuration, the modules it names and the built-in
    /// policies it chooses into one file (exit 0, or 2 when the
    /// configuration does not load).
    Create {
        /// Configuration file (default: wasm-validate.yaml in the working directory).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// The bundle to write (a .tar.gz).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// Sign with this Ed25519 private key (PKCS#8 PEM, as written by
        /// `bundle keygen` or `openssl genpkey -algorithm ed25519`).
        #[arg(long, value_name = "PEM")]
        key: Option<PathBuf>,
    },
    /// Check every file against the manifest, the signature (with
    /// --public-key) and that the policies load. Exit 0 or 2.
    Verify {
        /// The bundle.
        #[arg(value_name = "FILE")]
        bundle: PathBuf,
        /// Ed25519 public key (SPKI PEM) the bundle must be signed with.
        #[arg(long, value_name = "PEM")]
        public_key: Option<PathBuf>,
    },
    /// Show the manifest: files and their SHA-256, modules, built-in
    /// policies, signer. Exit 0, or 2 when a file does not match.
    Inspect {
        /// The bundle.
        #[arg(value_name = "FILE")]
        bundle: PathBuf,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: InspectFormat,
    },
    /// Write a new Ed25519 key pair (PEM); existing files are kept.
    Keygen {
        /// The private key to write (mode 0600).
        #[arg(long, value_name = "PEM")]
        private_key: PathBuf,
        /// The public key to write, for `--bundle-key` on the clusters.
        #[arg(long, value_name = "PEM")]
        public_key: PathBuf,
    },
}

/// `bundle inspect -o`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InspectFormat {
    /// A listing.
    Text,
    /// The manifest (bundle.json).
    Json,
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
        Command::Serve { serve, policy } => wasm_validate_cli::serve_command(&serve, &policy),
        Command::Bundle(BundleCommand::Create {
            config,
            output,
            key,
        }) => bundle::create_command(config.as_deref(), &output, key.as_deref()),
        Command::Bundle(BundleCommand::Verify { bundle, public_key }) => {
            bundle::verify_command(&bundle, public_key.as_deref())
        }
        Command::Bundle(BundleCommand::Inspect { bundle, output }) => {
            bundle::inspect_command(&bundle, matches!(output, InspectFormat::Json))
        }
        Command::Bundle(BundleCommand::Keygen {
            private_key,
            public_key,
        }) => bundle::keygen_command(&private_key, &public_key),
        Command::Test {
            paths,
            data,
            snapshot,
            update,
            threads,
            gatekeeper_engine,
        } => wasm_validate_cli::test_command(
            &paths,
            &data,
            snapshot || update,
            update,
            threads,
            gatekeeper_engine == wasm_validate_cli::GatekeeperEngine::Cel,
        ),
        Command::Check {
            paths,
            output,
            schema,
            mut policy,
            ..
        } => {
            policy.schema = Some(schema.options());
            wasm_validate_cli::check_command(&paths, true, &policy, &output)
        }
        Command::PostRender {
            report_file,
            report_format,
            tty_report,
            schema,
            mut policy,
        } => {
            policy.schema = Some(schema.options());
            wasm_validate_cli::post_render_command(
                &policy,
                report_file.as_deref(),
                report_format,
                tty_report,
            )
        }
    };
    ExitCode::from(code)
}
