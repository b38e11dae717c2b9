//! Every seed and every regression input of each fuzz target, through the
//! target's property: what the fuzzers check, checked on every `cargo test`.

use wasm_validate_fuzzing::{TARGETS, regressions, run, seeds};

#[test]
fn seeds_hold_their_properties() {
    for target in TARGETS {
        let seeds = seeds(target);
        assert!(seeds.len() >= 20, "{target}: {} seeds", seeds.len());
        for seed in &seeds {
            run(target, seed);
        }
    }
}

#[test]
fn regressions_hold_their_properties() {
    for target in TARGETS {
        for (path, bytes) in regressions(target) {
            let outcome = std::panic::catch_unwind(|| run(target, &bytes));
            assert!(outcome.is_ok(), "{} fails again", path.display());
        }
    }
}
