//! Shared by the plugin's test files.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The plugin binary built by cargo for the tests.
pub fn plugin_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kubectl-wasm_validate"))
}

/// Whether kubectl is installed. Outside CI its absence is a note (the
/// caller skips); in CI it fails the test, since `.ci/run` installs it.
pub fn kubectl_installed() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl must be installed in CI (.ci/run)"
        );
        eprintln!("kubectl is not installed: skipping (apt-get install kubernetes-client)");
    }
    found
}

/// PATH with the plugin's folder first, so that kubectl finds it.
pub fn path_with_plugin() -> std::ffi::OsString {
    std::env::join_paths(
        std::iter::once(plugin_binary().parent().unwrap().to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .unwrap()
}
