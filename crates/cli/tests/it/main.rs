//! The `wasm-validate` binary's integration tests, one test binary (each
//! extra binary re-links the whole dependency graph): a module per topic.

mod bundle;
mod chart;
mod check;
mod common;

mod config;
mod conftest;
mod gatekeeper;
mod helm;
mod kubewarden;
mod outputs;
mod policy_tests;
mod post_render;
mod profiles;
mod schema;
mod serve;
mod vap;

/// `crates/builtin`'s policy build, for the target it adds when missing.
#[path = "../../../builtin/policy_build.rs"]
#[allow(dead_code)]
mod policy_build;

/// Hostile manifest generators shared with the manifest crate's tests.
#[path = "../../../manifest/tests/support/hostile.rs"]
mod hostile;
