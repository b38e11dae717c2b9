//! The Kyverno crate's integration tests, one test binary: a module per
//! topic.

mod conformance;
mod policies;
