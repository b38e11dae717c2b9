//! The built-in library's integration tests, one test binary (each extra
//! binary re-links the whole dependency graph): a module per topic.

mod cel;
mod cel_hostile;
mod fuel;
mod no_jit;
mod policies;
mod properties;
mod rego;
mod rego_hostile;
mod types;
