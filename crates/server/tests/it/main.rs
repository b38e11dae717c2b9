//! The server's integration tests, one test binary: a module per topic.

mod serve;
mod shutdown;
mod sync;
