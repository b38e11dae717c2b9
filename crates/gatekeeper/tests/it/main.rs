//! Integration tests of the Gatekeeper formats.

mod conformance;
