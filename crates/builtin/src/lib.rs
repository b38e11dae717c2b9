//! The built-in policy library, compiled from `policies/` to
//! `wasm32-unknown-unknown` by this crate's build script and embedded in the
//! binaries, so the CLIs need no policy files. No `.wasm` file is committed.
#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The modules of the built-in policies: `(name, Wasm bytes)`, sorted by name.
/// The name is the policy's folder under `policies/`, which equals the name
/// in its metadata (a test checks it).
pub fn policies() -> &'static [(&'static str, &'static [u8])] {
    POLICIES
}

/// The module of the built-in policy `name`, if there is one.
pub fn get(name: &str) -> Option<&'static [u8]> {
    POLICIES
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, bytes)| *bytes)
}
