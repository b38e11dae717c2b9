//! `kubectl-wasm_validate`'s integration tests, one test binary (each extra
//! binary re-links the whole dependency graph): a module per topic.

mod common;
mod gatekeeper;
mod kubectl;
mod live;
mod rbac;
