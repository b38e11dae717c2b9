//! `cargo bench -p wasm-validate-pipeline`: prints, for each built-in policy,
//! the median and spread of microseconds per evaluation on a typical Pod, the
//! module load time, and the throughput of the whole library over
//! `testdata/real` with 1 and 2 threads. Figures, not assertions.

use std::time::{Duration, Instant};

use serde_json::json;
use wasm_validate_engine::{Engine, Limits};
use wasm_validate_manifest::{Format, collect_inputs, parse, read_input};
use wasm_validate_pipeline::{ConfiguredPolicy, PolicySet, run};

fn median_and_spread(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let n = samples.len();
    (
        us(samples[n / 2]),
        us(samples[n / 10]),
        us(samples[n * 9 / 10]),
    )
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let engine = Engine::default();
    let pod =
        std::fs::read_to_string(format!("{root}/testdata/fixtures/compliant-pod.yaml")).unwrap();
    let pod: serde_json::Value = serde_yaml::from_str(&pod).unwrap();
    let request =
        serde_json::to_vec(&json!({"operation": "CREATE", "settings": {}, "object": pod})).unwrap();
    println!(
        "per evaluation, typical Pod ({} bytes of request JSON):",
        request.len()
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "policy", "load us", "median us", "p10 us", "p90 us", "fuel"
    );
    let mut set = PolicySet::default();
    // The library as `--profile fixes --profile restricted --profile
    // best-practices` runs it: every policy that needs no settings.
    use wasm_validate_builtin::Profile;
    let chosen = wasm_validate_builtin::select(
        &[Profile::Fixes, Profile::Restricted, Profile::BestPractices],
        |_| false,
    );
    for name in chosen {
        let bytes = wasm_validate_builtin::get(name).unwrap();
        let started = Instant::now();
        let policy = engine.load(bytes, Limits::default()).unwrap();
        let load = started.elapsed();
        let fuel = engine.evaluate(&policy, &request).unwrap().fuel_used;
        for _ in 0..50 {
            engine.evaluate(&policy, &request).unwrap();
        }
        let samples: Vec<Duration> = (0..500)
            .map(|_| {
                let started = Instant::now();
                engine.evaluate(&policy, &request).unwrap();
                started.elapsed()
            })
            .collect();
        let (median, p10, p90) = median_and_spread(samples);
        println!(
            "{name:<34} {:>10.0} {median:>10.1} {p10:>10.1} {p90:>10.1} {fuel:>12}",
            load.as_secs_f64() * 1e6
        );
        set.policies.push(ConfiguredPolicy::new(policy, json!({})));
    }

    let inputs = collect_inputs(&[format!("{root}/testdata/real")], true).unwrap();
    let mut resources = Vec::new();
    let mut bytes = 0;
    for input in &inputs {
        let data = read_input(input).unwrap();
        bytes += data.len();
        resources.extend(parse(&input.name(), data, Format::for_name(&input.name())).resources);
    }
    println!(
        "\nthroughput over testdata/real ({} resources, {:.1} MB), whole library, 5 runs each:",
        resources.len(),
        bytes as f64 / 1e6
    );
    for threads in [1, 2] {
        let mut evaluations = 0;
        let samples: Vec<Duration> = (0..5)
            .map(|_| {
                let mut copy = resources.clone();
                let started = Instant::now();
                let results = run(&engine, &set, &mut copy, threads);
                let elapsed = started.elapsed();
                evaluations = results.iter().map(Vec::len).sum::<usize>();
                elapsed
            })
            .collect();
        let (median, p10, p90) = median_and_spread(samples);
        println!(
            "  {threads} thread(s): median {:.2} ms (p10 {:.2}, p90 {:.2}), {evaluations} evaluations, {:.0} evaluations/s",
            median / 1e3,
            p10 / 1e3,
            p90 / 1e3,
            evaluations as f64 / (median / 1e6)
        );
    }
}
