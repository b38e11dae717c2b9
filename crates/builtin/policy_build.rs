//! Compiling `policies/` to `wasm32-unknown-unknown`: shared by
//! `crates/builtin/build.rs` (which embeds the modules) and `cargo xtask
//! build-policies` (which copies them out), through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the policy library is compiled to.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The policy crates: folder names under `policies/` that hold a Cargo.toml, sorted.
pub fn policy_names(workspace: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace.join("policies"))
        .expect("policies/ exists")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Builds every policy with the `policy` profile into `target_dir` and returns
/// `(name, path of the .wasm)`. Guests are linked with a 64 KiB stack, which
/// makes instantiation several times cheaper than Rust's default 1 MiB.
/// Errors with a message that says how to install the target.
pub fn build(
    cargo: &std::ffi::OsStr,
    workspace: &Path,
    target_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let names = policy_names(workspace);
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--profile",
            "policy",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for name in &names {
        command.args(["--package", &format!("policy-{name}")]);
    }
    // Settings of an outer build that must not leak into the guest build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    command.env("CARGO_ENCODED_RUSTFLAGS", "-Clink-arg=-zstack-size=65536");
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the policy library for {TARGET} failed ({status}); \
             is the target installed? `rustup target add {TARGET}`"
        ));
    }
    names
        .into_iter()
        .map(|name| {
            let wasm = target_dir
                .join(TARGET)
                .join("policy")
                .join(format!("policy_{}.wasm", name.replace('-', "_")));
            if wasm.is_file() {
                Ok((name, wasm))
            } else {
                Err(format!("{} was not built", wasm.display()))
            }
        })
        .collect()
}
