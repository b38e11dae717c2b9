//! Fuzz target: see `wasm_validate_fuzzing::admission_review`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_validate_fuzzing::admission_review(data));
