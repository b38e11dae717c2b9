//! What both front ends (`wasm-validate` and `kubectl wasm-validate`) share:
//! the policy arguments (resolved with the configuration file by
//! `wasm-validate-config`), running a check over files or a cluster audit
//! (read by `wasm-validate-cluster`), `post-render`, `test`, and writing
//! reports. No policy logic lives here: policies are Wasm modules run
//! by `wasm-validate-engine` through `wasm-validate-pipeline`.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};

mod audit;
pub mod bundle;
mod check;
mod output;
mod policy_args;
mod post_render;
mod serve;

pub use audit::*;
pub use check::*;
pub use output::*;
pub use policy_args::*;
pub use post_render::*;
pub use serve::*;

use policy_args::threads_or_cores;

pub use wasm_validate_engine::Engine;

pub use wasm_validate_report::{EXIT_DENIED, EXIT_OK};

/// `test`: runs the policy test suites under `paths`, printing to stdout;
/// returns the exit code (0, 1 or 2, see [`wasm_validate_policy_test::run_all`]).
pub fn test_command(
    paths: &[std::path::PathBuf],
    rego_data: &[std::path::PathBuf],
    snapshot: bool,
    update: bool,
    threads: Option<usize>,
    gatekeeper_cel: bool,
) -> u8 {
    let options = wasm_validate_policy_test::Options {
        snapshot,
        update,
        threads: threads_or_cores(threads),
        gatekeeper_cel,
    };
    let mut out = Vec::new();
    let code = wasm_validate_policy_test::run_all_with_data(paths, options, rego_data, &mut out);
    print(&String::from_utf8_lossy(&out));
    code
}

/// `--list-policies`: prints the built-in policies to stdout; returns the exit code.
pub fn list_command(format: OutputFormat) -> u8 {
    print(&list_policies(format));
    EXIT_OK
}

/// Whether to colour text written to stdout: only on a terminal, and never
/// when `NO_COLOR` is set.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Writes `text` to stdout; a closed pipe is not an error worth a panic.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
