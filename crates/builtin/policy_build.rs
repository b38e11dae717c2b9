//! Compiling `policies/` to `wasm32-unknown-unknown`: shared by
//! `crates/builtin/build.rs` (which embeds the modules) and `cargo xtask
//! build-policies` (which copies them out), through `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the policy library is compiled to.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The policy crates: folder names under `policies/` that hold a Cargo.toml, sorted.
pub fn policy_names(workspace: &Path) -> Vec<String> {
    crate_names(&workspace.join("policies"))
}

/// The runtime crates (interpreters for other policy languages): folder
/// names under `runtimes/` that hold a Cargo.toml, sorted.
fn runtime_names(workspace: &Path) -> Vec<String> {
    crate_names(&workspace.join("runtimes"))
}

fn crate_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Makes sure the Rust standard library for `target` is installed for the
/// toolchain that runs this build, adding it with rustup when it is not.
///
/// rustup installs the `targets` of `rust-toolchain.toml` only when it
/// installs the toolchain itself, not when the pinned toolchain was already
/// there (rustup's documented behaviour), so a fresh machine whose 1.95.0
/// came without the wasm targets would fail the first build. Returns a line
/// for the user when it added the target (the caller prints it: a build
/// script through `cargo:warning`, xtask on stderr). Errors when the target
/// is missing and rustup is not there or fails, with the command to run.
pub fn ensure_target(target: &str) -> Result<Option<String>, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", target])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !libdir.is_empty() && Path::new(&libdir).is_dir() {
        return Ok(None);
    }
    // The toolchain cargo was started with (set by rustup's proxies).
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add"]);
    if let Some(toolchain) = &toolchain {
        rustup.args(["--toolchain", toolchain]);
    }
    rustup.arg(target);
    let how = format!("rustup target add {target}");
    match rustup.output() {
        Ok(out) if out.status.success() => Ok(Some(format!(
            "the {target} target was not installed for toolchain {}: added it with `{how}`",
            toolchain.as_deref().unwrap_or("(default)")
        ))),
        Ok(out) => Err(format!(
            "the {target} target is not installed and `{how}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "the {target} target is not installed and rustup cannot be run ({e}); \
             install the target for this toolchain"
        )),
    }
}

/// The policies' and the library module's compiler flags, as cargo's
/// `CARGO_ENCODED_RUSTFLAGS` (separated by 0x1F): a 32 KiB stack whose
/// pointer the host can restore (instance reuse), and LLVM inlining more
/// than opt-level 3's default (225): wasmi pays more for a call than for
/// the instructions inlining adds, so the library is 7% faster for 5% more
/// fuel and 10% larger modules; more costs start-up (docs/performance.md,
/// "Where a review runs").
const POLICY_RUSTFLAGS: &str = "-Clink-arg=-zstack-size=32768\x1f-Clink-arg=--export=__stack_pointer\x1f-Cllvm-args=-inline-threshold=500";

/// Builds every policy with the `policy` profile into `target_dir` and returns
/// `(name, path of the .wasm)`. Guests are linked with a 32 KiB stack, which
/// makes instantiation several times cheaper than Rust's default 1 MiB:
/// with the module's data (about 11 KB) it leaves a typical request in the
/// first 64 KiB page, and an instance of one page was measured about 1 µs
/// cheaper than one of two. The stack is first in memory, so overflowing
/// it traps (an error result), never overwrites data. `__stack_pointer`, the
/// only mutable global Rust emits, is exported so that the engine can put an
/// instance back into its starting state and reuse it (the engine's
/// `reuse.rs`; it reuses no module whose mutable globals it cannot read).
/// Errors with a message that says how to install the target.
pub fn build(
    cargo: &std::ffi::OsStr,
    workspace: &Path,
    target_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    if let Some(added) = ensure_target(TARGET)? {
        eprintln!("{added}");
    }
    let names = policy_names(workspace);
    let mut command = guest_build(cargo, workspace, target_dir);
    for name in &names {
        command.args(["--package", &format!("policy-{name}")]);
    }
    command.env("CARGO_ENCODED_RUSTFLAGS", POLICY_RUSTFLAGS);
    run(
        command,
        "the policy library",
        &format!("; is the target installed? `rustup target add {TARGET}`"),
    )?;
    collect(names, target_dir, "policy")
}

/// Builds the library module (`crates/builtin/library`: every policy
/// linked into one module, `wasm_validate_sdk::export_library!`) with the
/// policies' profile and flags into `target_dir` and returns the path of
/// its .wasm. A cargo run of its own: the library turns on the SDK's
/// `library` feature, which takes the policies' own exports out, and
/// cargo unifies features across the packages of one run.
pub fn build_library(
    cargo: &std::ffi::OsStr,
    workspace: &Path,
    target_dir: &Path,
) -> Result<PathBuf, String> {
    let mut command = guest_build(cargo, workspace, target_dir);
    command.args(["--package", "wasm-validate-library"]);
    command.env("CARGO_ENCODED_RUSTFLAGS", POLICY_RUSTFLAGS);
    run(command, "the library module", "")?;
    let wasm = target_dir
        .join(TARGET)
        .join("policy")
        .join("wasm_validate_library.wasm");
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(format!("{} was not built", wasm.display()))
    }
}

/// Builds every runtime under `runtimes/` like the policies (the `policy`
/// profile, the same target directory) and returns `(name, path of the
/// .wasm)`. Two differences: a 512 KiB stack (regorus's and cel-rust's
/// parsers and interpreters recurse: enough that the engine's call-depth
/// limit, 1,024 frames, stops a deep program first, as with Rust's default
/// 1 MiB; half of it, since an evaluation in a reused instance compares
/// the whole memory with its starting state, about 12 µs per MiB; tested
/// by `deep_programs_meet_the_call_depth_limit_before_the_end_of_the_stack`
/// and `deep_rule_and_function_chains_evaluate`), and `__stack_pointer`
/// exported, since a
/// runtime is prepared once and snapshotted (`wv_prepare`), and the engine
/// refuses to snapshot a module whose mutable globals it cannot read.
pub fn build_runtimes(
    cargo: &std::ffi::OsStr,
    workspace: &Path,
    target_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let names = runtime_names(workspace);
    let mut command = guest_build(cargo, workspace, target_dir);
    for name in &names {
        command.args(["--package", &format!("runtime-{name}")]);
    }
    command.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "-Clink-arg=-zstack-size=524288\x1f-Clink-arg=--export=__stack_pointer",
    );
    // The CEL runtime's timestamps know UTC and fixed offsets only: the
    // IANA time zone database would add about 1 MB to the module.
    command.env("CHRONO_TZ_TIMEZONE_FILTER", "^UTC$");
    run(command, "the runtimes", "")?;
    collect(names, target_dir, "runtime")
}

/// Runs a guest build of `what`; the error says it failed with cargo's
/// exit status, then `hint`.
fn run(mut command: Command, what: &str, hint: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        return Ok(());
    }
    Err(format!(
        "building {what} for {TARGET} failed ({status}){hint}"
    ))
}

/// A `cargo build` of guest crates for [`TARGET`] with the `policy`
/// profile into `target_dir`, with the outer build's settings removed.
fn guest_build(cargo: &std::ffi::OsStr, workspace: &Path, target_dir: &Path) -> Command {
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
    command
}

/// The built modules of crates `{prefix}-{name}`.
fn collect(
    names: Vec<String>,
    target_dir: &Path,
    prefix: &str,
) -> Result<Vec<(String, PathBuf)>, String> {
    names
        .into_iter()
        .map(|name| {
            let wasm = target_dir
                .join(TARGET)
                .join("policy")
                .join(format!("{prefix}_{}.wasm", name.replace('-', "_")));
            if wasm.is_file() {
                Ok((name, wasm))
            } else {
                Err(format!("{} was not built", wasm.display()))
            }
        })
        .collect()
}
