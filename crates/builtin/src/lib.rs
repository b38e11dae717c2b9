//! The built-in policy library, compiled from `policies/` to
//! `wasm32-unknown-unknown` by this crate's build script and embedded in the
//! binaries, so the CLIs need no policy files. No `.wasm` file is committed.
//!
//! Besides the modules, the crate knows the library's catalogue (each
//! policy's metadata, read from `policies/<name>/metadata.json` at build time,
//! the same JSON the module embeds) and resolves names, aliases and
//! [`Profile`]s without compiling any module.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use wasm_validate_abi::{Level, Metadata};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The modules of the built-in policies: `(name, Wasm bytes)`, sorted by name.
/// The name is the policy's folder under `policies/`, which equals the name
/// in its metadata (a test checks it).
pub fn policies() -> Vec<(&'static str, &'static [u8])> {
    POLICIES
        .iter()
        .map(|(name, wasm, _)| (*name, *wasm))
        .collect()
}

/// The library module: every built-in policy linked into one module
/// (`crates/builtin/library`), each evaluated by the index
/// [`library_index`] gives (docs/abi.md, "Library modules"). A host that
/// evaluates several built-in policies on one object uses it to write the
/// object into one instance once rather than once per policy.
pub fn library() -> &'static [u8] {
    LIBRARY
}

/// The index of the built-in policy `name` (its canonical name) in the
/// library module: its place in [`policies`], which is sorted by name as
/// the library links them.
pub fn library_index(name: &str) -> Option<u32> {
    POLICIES
        .iter()
        .position(|(candidate, _, _)| *candidate == name)
        .and_then(|index| u32::try_from(index).ok())
}

/// The module of a built-in runtime, an interpreter for another policy
/// language built from `runtimes/<name>` (`"rego"`: regorus), if there is
/// one. A runtime exports `wv_prepare` and is prepared with the program it
/// runs (`wasm_validate_engine::Engine::prepare`).
pub fn runtime(name: &str) -> Option<&'static [u8]> {
    RUNTIMES
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, bytes)| *bytes)
}

/// The metadata of every built-in policy, sorted by name.
///
/// # Panics
/// If a `metadata.json` under `policies/` is not valid metadata (a test
/// checks that none is).
pub fn catalog() -> &'static [Metadata] {
    static CATALOG: OnceLock<Vec<Metadata>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        POLICIES
            .iter()
            .map(|(name, _, json)| {
                serde_json::from_str(json)
                    .unwrap_or_else(|e| panic!("policies/{name}/metadata.json: {e}"))
            })
            .collect()
    })
}

/// The canonical name of a built-in policy chosen by `name` or by one of its
/// aliases (for example `disallow-privileged-containers` is `privileged`).
pub fn resolve(name: &str) -> Option<&'static str> {
    catalog()
        .iter()
        .find(|m| m.name == name || m.aliases.iter().any(|a| a == name))
        .map(|m| m.name.as_str())
}

/// The module of the built-in policy `name` (or alias), if there is one.
pub fn get(name: &str) -> Option<&'static [u8]> {
    let name = resolve(name)?;
    POLICIES
        .iter()
        .find(|(candidate, _, _)| *candidate == name)
        .map(|(_, bytes, _)| *bytes)
}

/// Named selections of the library, as `--profile` offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Profile {
    /// The Baseline level of the Pod Security Standards.
    Baseline,
    /// The Restricted level: Baseline plus the restricted controls, each
    /// restricted control replacing the baseline control it tightens.
    Restricted,
    /// The validating best-practice policies that need no settings.
    BestPractices,
    /// The mutating fixes that need no settings (the restricted fixes and a
    /// default `imagePullPolicy`).
    Fixes,
}

impl Profile {
    /// Whether the profile takes the policy described by `metadata`.
    fn takes(self, metadata: &Metadata) -> bool {
        let category = metadata.category.as_deref();
        let pod_security = category == Some("pod-security");
        match self {
            Profile::Baseline => pod_security && metadata.level == Some(Level::Baseline),
            Profile::Restricted => pod_security && metadata.level.is_some(),
            Profile::BestPractices => category == Some("best-practices"),
            Profile::Fixes => category == Some("fixes"),
        }
    }
}

/// Whether a policy cannot run without settings (its schema requires a key).
pub fn requires_settings(metadata: &Metadata) -> bool {
    metadata
        .settings_schema
        .as_ref()
        .and_then(|schema| schema.get("required"))
        .and_then(|required| required.as_array())
        .is_some_and(|required| !required.is_empty())
}

/// The built-in policies the `profiles` select together, in catalogue order.
/// Policies that need settings are taken only when `has_settings(name)`
/// says settings were given for them; a policy that another selected policy
/// [`Metadata::overrides`] is left out (so `restricted` runs
/// `capabilities-restricted` instead of `capabilities-baseline`).
pub fn select(profiles: &[Profile], has_settings: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let chosen: Vec<&Metadata> = catalog()
        .iter()
        .filter(|m| profiles.iter().any(|p| p.takes(m)))
        .filter(|m| !requires_settings(m) || has_settings(&m.name))
        .collect();
    chosen
        .iter()
        .filter(|m| !chosen.iter().any(|other| other.overrides.contains(&m.name)))
        .map(|m| m.name.as_str())
        .collect()
}
