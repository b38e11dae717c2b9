//! The release targets: Rust's target triple, Go's OS and architecture
//! names (what Helm's `platformCommand` and krew's selectors match), and,
//! for the Linux cross targets, Debian's cross linker and the qemu-user
//! emulator with its sysroot.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One release target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Rust's target triple.
    pub triple: &'static str,
    /// Go's `GOOS`.
    pub os: &'static str,
    /// Go's `GOARCH`.
    pub arch: &'static str,
    /// The C cross compiler, also the linker (Debian's `gcc-<prefix>`
    /// package), for a Linux cross target.
    pub cross_gcc: Option<&'static str>,
    /// qemu-user's emulator and the sysroot given to its `-L`, for a Linux
    /// cross target (Debian's `qemu-user` and `libc6-dev-*-cross`).
    pub qemu: Option<(&'static str, &'static str)>,
}

impl Target {
    /// `.exe` on Windows.
    pub fn exe_suffix(&self) -> &'static str {
        if self.os == "windows" { ".exe" } else { "" }
    }
}

/// Every target a release is made for.
pub const TARGETS: [Target; 6] = [
    Target {
        triple: "x86_64-unknown-linux-gnu",
        os: "linux",
        arch: "amd64",
        cross_gcc: Some("x86_64-linux-gnu-gcc"),
        qemu: Some(("qemu-x86_64", "/usr/x86_64-linux-gnu")),
    },
    Target {
        triple: "aarch64-unknown-linux-gnu",
        os: "linux",
        arch: "arm64",
        cross_gcc: Some("aarch64-linux-gnu-gcc"),
        qemu: Some(("qemu-aarch64", "/usr/aarch64-linux-gnu")),
    },
    Target {
        triple: "armv7-unknown-linux-gnueabihf",
        os: "linux",
        arch: "arm",
        cross_gcc: Some("arm-linux-gnueabihf-gcc"),
        qemu: Some(("qemu-arm", "/usr/arm-linux-gnueabihf")),
    },
    Target {
        triple: "riscv64gc-unknown-linux-gnu",
        os: "linux",
        arch: "riscv64",
        cross_gcc: Some("riscv64-linux-gnu-gcc"),
        qemu: Some(("qemu-riscv64", "/usr/riscv64-linux-gnu")),
    },
    Target {
        triple: "aarch64-apple-darwin",
        os: "darwin",
        arch: "arm64",
        cross_gcc: None,
        qemu: None,
    },
    Target {
        triple: "x86_64-pc-windows-msvc",
        os: "windows",
        arch: "amd64",
        cross_gcc: None,
        qemu: None,
    },
];

/// The Linux targets the cross check runs under qemu-user.
pub const CROSS: [&str; 3] = [
    "aarch64-unknown-linux-gnu",
    "armv7-unknown-linux-gnueabihf",
    "riscv64gc-unknown-linux-gnu",
];

/// The target named `triple`.
pub fn find(triple: &str) -> Result<Target, String> {
    TARGETS
        .iter()
        .copied()
        .find(|t| t.triple == triple)
        .ok_or_else(|| {
            format!(
                "unknown target {triple} (known: {})",
                TARGETS.map(|t| t.triple).join(", ")
            )
        })
}

/// The triple of the toolchain running us (`rustc -vV`'s `host:`).
pub fn host() -> Result<String, String> {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV printed no host".to_owned())
}

/// The binaries of a release.
pub const BINARIES: [&str; 2] = ["wasm-validate", "kubectl-wasm_validate"];

/// Builds both binaries with the cargo `profile` (`release`, what ships,
/// `cross-check` or `dev`, see the workspace's Cargo.toml) for `target` (the
/// host's without `--target`, so they are shared with the other xtask
/// commands), with the cross compiler as linker and C compiler on a Linux
/// cross target. Returns the directory holding the binaries.
pub fn build(root: &Path, target: &Target, profile: &str) -> Result<PathBuf, String> {
    let host = host()?;
    let mut command = Command::new(crate::cargo());
    command.current_dir(root);
    if target.triple == host && profile == "dev" {
        // The binaries the tests run, with the features `cargo test`
        // unifies: after `cargo test --workspace` (CI), nothing is rebuilt.
        command.args(["test", "--workspace", "--no-run"]);
    } else {
        command.args([
            "build",
            "--profile",
            profile,
            "-p",
            "wasm-validate-cli",
            "-p",
            "kubectl-wasm-validate",
        ]);
    }
    // Cargo writes the `dev` profile's output to `debug`.
    let dir_name = if profile == "dev" { "debug" } else { profile };
    let dir = if target.triple == host {
        root.join("target").join(dir_name)
    } else {
        command.args(["--target", target.triple]);
        // A cross build with `dev` is only run, never debugged: no debug
        // info, which saves a third of its build time.
        if profile == "dev" {
            command.env("CARGO_PROFILE_DEV_DEBUG", "false");
        }
        if let Some(gcc) = target.cross_gcc {
            let upper = target.triple.to_uppercase().replace('-', "_");
            command.env(format!("CARGO_TARGET_{upper}_LINKER"), gcc);
            command.env(format!("CC_{}", target.triple.replace('-', "_")), gcc);
        }
        root.join("target").join(target.triple).join(dir_name)
    };
    let status = command
        .status()
        .map_err(|e| format!("cargo build --target {}: {e}", target.triple))?;
    if !status.success() {
        let hint = target.cross_gcc.map_or(String::new(), |gcc| {
            format!(
                " (needs `rustup target add {}` and Debian's gcc for {gcc}; .ci/run installs them)",
                target.triple
            )
        });
        return Err(format!("cargo build for {} failed{hint}", target.triple));
    }
    Ok(dir)
}
