//! The engine never makes machine code at run time: after every built-in
//! policy has been loaded (validated in full), compiled and run on a real
//! Pod, and a hand-written module has been run too, this process has no
//! memory mapping that is both writable and executable, and every executable
//! mapping is backed by a file (the test binary and the shared libraries it
//! was linked with) or is the kernel's vDSO. A JIT would need an anonymous
//! executable mapping, and usually a writable one first. wasmi is an
//! interpreter: it translates Wasm into its own bytecode, which is data.
//! Linux only (it reads `/proc/self/maps`). See docs/architecture.md.

#![cfg(target_os = "linux")]

use serde_json::json;
use wasm_validate_engine::{Engine, Limits};

/// The mappings of this process as (permissions, path) pairs.
fn mappings() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps is readable")
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (
                fields[1].to_owned(),
                fields.get(5..).map(|p| p.join(" ")).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn running_policies_maps_no_writable_or_anonymous_executable_memory() {
    let before = mappings();
    let engine = Engine::default();
    let pod: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/bench/typical-pod.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut evaluated = 0;
    for (name, bytes) in wasm_validate_builtin::policies() {
        let policy = engine.load(bytes, Limits::default()).unwrap();
        let settings = if name == "allowed-image-registries" {
            json!({"registries": ["docker.io/"]})
        } else {
            json!({})
        };
        let request = json!({"operation": "CREATE", "settings": settings, "object": pod});
        // Settings some policies require are missing here: an error result
        // is a run of the module all the same.
        let _ = engine.evaluate(&policy, &serde_json::to_vec(&request).unwrap());
        evaluated += 1;
    }
    assert!(evaluated >= 30);
    let wat = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/wat/label-deployments.wat"
    ))
    .unwrap();
    let module = engine.load(&wat, Limits::default()).unwrap();
    let request = json!({"operation": "CREATE", "settings": {}, "object": pod});
    engine
        .evaluate(&module, &serde_json::to_vec(&request).unwrap())
        .unwrap();

    let after = mappings();
    assert!(after.len() >= before.len() / 2, "{after:?}");
    for (permissions, path) in &after {
        assert!(
            !(permissions.contains('w') && permissions.contains('x')),
            "writable and executable: {permissions} {path}"
        );
        if permissions.contains('x') {
            assert!(
                path.starts_with('/') || path == "[vdso]" || path == "[vsyscall]",
                "anonymous executable mapping: {permissions} {path:?}"
            );
        }
    }
    // The check itself can see an executable mapping.
    assert!(
        after
            .iter()
            .any(|(p, path)| p.contains('x') && path.starts_with('/'))
    );
}
