//! Helpers shared by the CLI's integration tests: run the real binary from the
//! workspace root, as a user would.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with(&root(), args, stdin, false)
}

/// Runs the binary in `dir`; with `clear_env`, with nothing in its
/// environment but `NO_COLOR` (no HOME, no proxy, no cache directory).
pub fn run_with(dir: &Path, args: &[&str], stdin: Option<&[u8]>, clear_env: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasm-validate"));
    if clear_env {
        command.env_clear();
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A command that refuses its input may exit before reading it.
        if let Err(error) = pipe.write_all(bytes) {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        }
    }
    child.wait_with_output().unwrap()
}

/// A fresh, empty directory under the target directory,
/// `<prefix>-<name>` (emptied first, so runs do not pile up).
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The names of the policies that ran, from a JSON report.
/// The schema stage, reported as the policy `schema`, is not a chosen
/// policy and is left out (crates/cli/tests/it/schema.rs tests it).
pub fn policy_names(report: &serde_json::Value) -> Vec<&str> {
    report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .filter(|name| *name != "schema")
        .collect()
}
