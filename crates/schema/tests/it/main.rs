//! The schema stage's integration tests: the fixtures under
//! `testdata/schema/` and the built-in versions.

mod fixtures;
mod peer;
mod versions;
