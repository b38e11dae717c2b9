//! The admission crate's integration tests, one test binary: a module per
//! topic.

mod replay;
mod reviews;
