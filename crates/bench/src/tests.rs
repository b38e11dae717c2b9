use super::*;

fn object(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../../testdata/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn every_built_in_policy_has_its_native_entry_point() {
    let native: Vec<&str> = NATIVE.iter().map(|(name, _, _)| *name).collect();
    let built_in: Vec<&str> = wasm_validate_builtin::catalog()
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let mut sorted = built_in.clone();
    sorted.sort_unstable();
    assert_eq!(native, sorted);
}

#[test]
fn settings_satisfy_every_policy_that_requires_some() {
    for metadata in wasm_validate_builtin::catalog() {
        if wasm_validate_builtin::requires_settings(metadata) {
            assert_ne!(settings_for(&metadata.name), json!({}), "{}", metadata.name);
        }
    }
}

/// The benchmark compares like with like: for every policy, the Wasm module
/// and the native code (on the tape and on JSON) give the same answer on
/// the benchmark's Pod, on a Pod every default policy accepts, and on a
/// Service.
#[test]
fn wasm_and_native_answer_alike() {
    let engine = Engine::default();
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"}, "spec": {"type": "NodePort"}});
    let objects = [
        object("bench/typical-pod.yaml"),
        object("fixtures/compliant-pod.yaml"),
        service,
    ];
    let mut denials = 0;
    for &(name, native_json, native) in NATIVE {
        let policy = load(&engine, name);
        for object in &objects {
            let json = request(object, &settings_for(name));
            let tape = tape_request(object, &settings_for(name));
            let wasm = engine.evaluate(&policy, &tape).unwrap().response;
            assert_eq!(wasm, native(&tape), "{name} on {}", object["kind"]);
            assert_eq!(wasm, native_json(&json), "{name} on {}", object["kind"]);
            assert_eq!(
                engine.evaluate(&policy, &json).unwrap().response,
                wasm,
                "{name}: the engine converts JSON for a version 2 module"
            );
            assert!(wasm.error.is_none(), "{name}: {:?}", wasm.error);
            denials += usize::from(!wasm.allowed);
        }
    }
    assert!(denials > 0, "some policy denies something");
}

#[test]
fn time_reports_the_rounds_it_ran() {
    let mut calls = 0u64;
    let stats = time(5, Duration::from_millis(2), || {
        calls += 1;
        std::thread::sleep(Duration::from_micros(50));
    });
    assert!(calls >= 5 + 20);
    assert!(stats.min_us <= stats.median_us && stats.median_us <= stats.max_us);
    assert!(stats.min_us >= 50.0, "{stats:?}");
}
