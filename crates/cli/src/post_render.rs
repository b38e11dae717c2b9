//! `post-render`: the Helm post-renderer contract, stdin to stdout.

use std::io::{IsTerminal, Write};
use std::path::Path;

use wasm_validate_manifest::{self as manifest};
use wasm_validate_report::EXIT_ERROR;

use crate::*;

/// When `post-render` also writes its report to the controlling terminal
/// (`--tty-report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TtyReport {
    /// When run as a Helm plugin (`HELM_PLUGIN_NAME` is set: Helm 4 hides a
    /// plugin's stderr) and the release is denied or cannot be checked.
    #[default]
    Auto,
    /// Whenever the release is denied or cannot be checked.
    Always,
    /// Never.
    Never,
}

/// The environment variable Helm sets when it runs a plugin (Helm 4 runs a
/// `postrenderer/v1` plugin with it, and discards the plugin's stderr).
pub const HELM_PLUGIN_ENV: &str = "HELM_PLUGIN_NAME";

/// What `post-render` writes to stdout when its output would be empty or
/// blank (a chart that renders nothing): a comment, because Helm 4 rejects a
/// post-renderer's empty output, and a comment is an empty release to both
/// Helm 3 and Helm 4.
pub const EMPTY_STREAM_OUTPUT: &str =
    "# wasm-validate post-render: the rendered stream holds no resources\n";

/// Writes `text` to the controlling terminal (`/dev/tty`, `CONOUT$` on
/// Windows); nothing when the process has none (CI, a daemon) or it cannot
/// be written.
pub(crate) fn write_to_terminal(text: &str) {
    let device = if cfg!(windows) { "CONOUT$" } else { "/dev/tty" };
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(device)
        .and_then(|mut tty| tty.write_all(text.as_bytes()).and_then(|()| tty.flush()));
}

/// `post-render`, Helm's post-renderer contract (Helm 3's executable and
/// Helm 4's `postrenderer/v1` plugin alike; see docs/helm.md): reads the
/// whole stream from stdin, applies the mutating policies, and writes the
/// stream to stdout (untouched documents byte-for-byte, Helm 4's
/// `postrenderer.helm.sh/postrender-filename` annotations and Helm 3's
/// `# Source:` comments kept; a stream that is empty or only
/// blank gives [`EMPTY_STREAM_OUTPUT`]). When anything is denied or cannot be processed
/// it writes nothing to stdout, explains every finding on stderr, and
/// returns 1 (denied) or 2 (error). `report_file`, when given, always
/// receives the report in `report_format`; on a denial or an error, the text
/// report also goes to the controlling terminal as `tty` says, since Helm 4
/// shows nothing of a plugin's stderr.
pub fn post_render_command(
    policy_args: &PolicyArgs,
    report_file: Option<&Path>,
    report_format: OutputFormat,
    tty: TtyReport,
) -> u8 {
    let (parsed, report) = match check_inputs(&["-"], false, policy_args) {
        Ok(done) => done,
        Err(error) => {
            let message = format!("wasm-validate post-render: error: {error}\n");
            eprint!("{message}");
            if wants_terminal(tty) {
                write_to_terminal(&message);
            }
            return EXIT_ERROR;
        }
    };
    let mut code = report.exit_code_for(policy_args.fail_on.into());
    let rendered = if code == EXIT_OK {
        match parsed.first().map(manifest::render).transpose() {
            Ok(text) => {
                let text = text.unwrap_or_default();
                Some(if text.trim().is_empty() {
                    EMPTY_STREAM_OUTPUT.to_owned()
                } else {
                    text
                })
            }
            Err(error) => {
                eprintln!(
                    "wasm-validate post-render: error: cannot write a mutated document: {error}"
                );
                code = EXIT_ERROR;
                None
            }
        }
    } else {
        None
    };
    if let Some(path) = report_file {
        let text = render(&report, report_format, false);
        if let Err(error) = std::fs::write(path, text) {
            eprintln!(
                "wasm-validate post-render: error: cannot write {}: {error}",
                path.display()
            );
            code = code.max(EXIT_ERROR);
        }
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match rendered {
        Some(text) if code == EXIT_OK => {
            let s = &report.summary;
            if s.warnings + s.warned + s.audited + s.exempted + s.notices + s.mutated > 0 {
                eprint!("{}", report.text(color));
            }
            print(&text);
        }
        _ => {
            let verdict = if code == EXIT_DENIED {
                "denied by policy"
            } else {
                "could not be checked"
            };
            let closing = format!(
                "wasm-validate post-render: the release was {verdict}; nothing was written to stdout\n"
            );
            eprint!("{}{closing}", report.text(color));
            if wants_terminal(tty) {
                let mut text = report.text(std::env::var_os("NO_COLOR").is_none());
                text.push_str(&closing);
                if let Some(path) = report_file {
                    text.push_str(&format!("(the report is also in {})\n", path.display()));
                }
                write_to_terminal(&text);
            }
        }
    }
    code
}

/// Whether a denial or an error is also written to the controlling terminal.
pub(crate) fn wants_terminal(tty: TtyReport) -> bool {
    match tty {
        TtyReport::Always => true,
        TtyReport::Never => false,
        TtyReport::Auto => std::env::var_os(HELM_PLUGIN_ENV).is_some(),
    }
}
