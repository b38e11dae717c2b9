//! Kubewarden policies: `testdata/kubewarden/policy`, written against the
//! `kubewarden-policy-sdk` crate as Kubewarden's own policies are, is built
//! for `wasm32-wasip1` here (never committed) and run through the engine,
//! the test runner (with a snapshot) and `check`, beside hand-written waPC
//! modules for what the SDK policy cannot show (a denied capability, a
//! forbidden WASI import).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use wasm_validate_engine::{Context, Engine, EvalError, Limits, LoadError, Protocol};

use crate::policy_build;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds the SDK policy once per test binary (cargo's own lock keeps
/// parallel test binaries apart) and returns the module's path.
fn policy_path() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = root();
        if let Some(added) = policy_build::ensure_target("wasm32-wasip1").unwrap() {
            eprintln!("{added}");
        }
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-wasip1",
            ])
            .arg("--manifest-path")
            .arg(root.join("testdata/kubewarden/policy/Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("target/kubewarden"))
            // Not the workspace's flags or profile overrides.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            // The tests check behaviour, not size: without the policy's LTO
            // and single codegen unit it builds in 110 s instead of 155 s.
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the Kubewarden test policy failed (rustup target add wasm32-wasip1?)"
        );
        root.join("target/kubewarden/wasm32-wasip1/release/kubewarden_test_policy.wasm")
    })
}

fn load(engine: &Engine) -> wasm_validate_engine::Policy {
    let bytes = std::fs::read(policy_path()).unwrap();
    engine.load(&bytes, Limits::default()).unwrap()
}

fn request(object: &Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"operation": "create", "settings": settings, "object": object}))
        .unwrap()
}

fn pod(name: &str, namespace: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace}, "spec": spec})
}

#[test]
fn the_sdk_policy_loads_with_its_kubewarden_metadata() {
    let engine = Engine::default();
    let policy = load(&engine);
    assert_eq!(policy.protocol(), Protocol::Kubewarden);
    assert_eq!(policy.name(), "kubewarden-test-policy");
    let metadata = policy.metadata();
    assert!(metadata.mutating);
    assert!(policy.is_context_aware());
    // Rules by plural resource name select the kinds.
    assert!(metadata.applies_to("v1", "Pod"));
    assert!(metadata.applies_to("apps/v1", "Deployment"));
    assert!(metadata.applies_to("batch/v1", "CronJob"));
    assert!(!metadata.applies_to("v1", "Service"));
    assert!(!metadata.applies_to("apps/v2", "Deployment"));
}

#[test]
fn accept_reject_warn_and_mutate() {
    let engine = Engine::default();
    let policy = load(&engine);
    let clean = pod(
        "a",
        "shop",
        json!({"containers": [{"name": "c", "image": "registry.example.com/c:1.0"}]}),
    );
    let accepted = engine
        .evaluate(&policy, &request(&clean, json!({})))
        .unwrap();
    assert!(accepted.response.allowed);
    assert!(accepted.response.violations.is_empty());
    assert!(accepted.response.patch.is_none());
    // The SDK's slog drain logs through the host.
    assert!(
        accepted.logs.iter().any(|l| l.message == "validating"),
        "{:?}",
        accepted.logs
    );

    let host = pod(
        "b",
        "shop",
        json!({"hostNetwork": true, "hostIPC": true, "containers": [{"name": "c", "image": "nginx"}]}),
    );
    let rejected = engine
        .evaluate(&policy, &request(&host, json!({})))
        .unwrap();
    assert!(!rejected.response.allowed);
    assert_eq!(
        rejected.response.violations[0].message,
        "hostNetwork must not be true; hostIPC must not be true (code 403)"
    );
    assert_eq!(rejected.response.violations[0].path, "");
    assert_eq!(
        rejected.response.warnings,
        ["container c uses the latest tag"]
    );

    let mutated = engine
        .evaluate(&policy, &request(&clean, json!({"addLabel": "checked"})))
        .unwrap();
    assert!(mutated.response.allowed);
    assert_eq!(
        serde_json::to_value(mutated.response.patch.unwrap()).unwrap(),
        json!([{"op": "add", "path": "/metadata/labels", "value": {"checked": "true"}}])
    );
}

#[test]
fn settings_are_validated_by_the_policy() {
    let engine = Engine::default();
    let policy = load(&engine);
    assert_eq!(
        engine.validate_settings(&policy, &json!({"requiredConfigMap": "x"})),
        Ok(())
    );
    assert_eq!(
        engine.validate_settings(&policy, &json!({"requiredConfigMap": ""})),
        Err("requiredConfigMap must not be empty".to_owned())
    );
    let unknown = engine
        .validate_settings(&policy, &json!({"bogus": 1}))
        .unwrap_err();
    assert!(unknown.contains("bogus"), "{unknown}");
    // Through the command line: exit 2 naming the policy and its message.
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["check", "--no-config", "--policy"])
        .arg(policy_path())
        .args(["--settings", "kubewarden-test-policy={addLabel: \"\"}"])
        .arg(root().join("testdata/kubewarden/tests/resources.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("kubewarden-test-policy rejects its settings: addLabel must not be empty"),
        "{stderr}"
    );
}

#[test]
fn context_aware_lookups_see_the_resources_of_the_run() {
    let engine = Engine::default();
    let policy = load(&engine);
    let settings = json!({"requiredConfigMap": "app-config"});
    let config_map = |namespace: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "app-config", "namespace": namespace}})
    };
    let subject = pod(
        "a",
        "shop",
        json!({"containers": [{"name": "c", "image": "r.example.com/c:1"}]}),
    );
    let verdict = |context: Context| {
        engine
            .evaluate_in(&policy, &request(&subject, settings.clone()), &context)
            .unwrap()
            .response
    };
    assert!(verdict(Context::new(vec![config_map("shop"), subject.clone()])).allowed);
    let elsewhere = verdict(Context::new(vec![config_map("other")]));
    assert!(!elsewhere.allowed);
    assert_eq!(
        elsewhere.violations[0].message,
        "ConfigMap app-config not found in namespace \"shop\" (code 403)"
    );
    assert!(!verdict(Context::default()).allowed);
}

#[test]
fn capabilities_other_than_kubernetes_and_logging_are_denied() {
    let engine = Engine::default();
    let wat = std::fs::read(root().join("testdata/wat/kubewarden-asks-oci.wat")).unwrap();
    let policy = engine
        .load_named(&wat, Limits::default(), "asks-oci")
        .unwrap();
    assert_eq!(policy.protocol(), Protocol::Kubewarden);
    // No metadata section: named after the file, applies to everything.
    assert_eq!(policy.name(), "asks-oci");
    assert!(policy.metadata().applies_to("v1", "Secret"));
    let error = engine
        .evaluate(&policy, &request(&json!({"kind": "Pod"}), json!({})))
        .unwrap_err();
    match error {
        EvalError::Policy(message) => assert!(
            message.contains("host capability kubewarden/oci/verify is not available"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wasi_beyond_the_offered_subset_is_rejected_at_load_by_name() {
    let engine = Engine::default();
    let wat = std::fs::read(root().join("testdata/wat/kubewarden-opens-files.wat")).unwrap();
    let error = engine.load(&wat, Limits::default()).unwrap_err();
    assert!(
        matches!(&error, LoadError::ForbiddenKubewardenImport { module, name }
            if module == "wasi_snapshot_preview1" && name == "path_open"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("\"wasi_snapshot_preview1\".\"path_open\"")
    );
}

#[test]
fn the_same_input_gives_the_same_output() {
    let engine = Engine::default();
    let policy = load(&engine);
    let host = pod(
        "b",
        "shop",
        json!({"hostPID": true, "containers": [{"name": "c", "image": "nginx:latest"}]}),
    );
    let first = engine
        .evaluate(&policy, &request(&host, json!({"addLabel": "x"})))
        .unwrap();
    let second = engine
        .evaluate(&policy, &request(&host, json!({"addLabel": "x"})))
        .unwrap();
    assert_eq!(first, second);
}

/// The suite in `testdata/kubewarden/tests` through `wasm-validate test
/// --snapshot`: its expectations and the snapshot of every result.
#[test]
fn the_suite_and_its_snapshot_pass() {
    policy_path();
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["test", "--snapshot"])
        .arg(root().join("testdata/kubewarden/tests"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Kubewarden policy and the built-in host-namespaces give the same
/// verdict on every pod-bearing resource of the real manifests.
#[test]
fn the_same_verdicts_as_the_native_policy() {
    let verdicts = |policy: &str| -> Vec<(String, String)> {
        let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
            .args(["check", "--no-config", "-o", "json", "--policy", policy])
            .arg(root().join("testdata/real"))
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let res = &r["resource"];
                (
                    format!(
                        "{} {} {}/{} {}",
                        res["file"], res["document"], res["kind"], res["namespace"], res["name"]
                    ),
                    r["result"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let native = verdicts("host-namespaces");
    // The policy's log calls reach the JSON report.
    let output = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["check", "--no-config", "-o", "json", "--policy"])
        .arg(policy_path())
        .arg(root().join("testdata/kubewarden/tests/resources.yaml"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["results"][0]["logs"],
        json!([{"level": "info", "message": "validating"}])
    );
    let kubewarden = verdicts(policy_path().to_str().unwrap());
    assert!(native.len() >= 30, "{}", native.len());
    assert!(native.iter().any(|(_, r)| r == "fail"));
    assert_eq!(native, kubewarden);
}

/// The largest object in testdata/real, argo-cd's applicationsets CRD (1 MB
/// of YAML, 346 KB of JSON), through a waPC module whose cost grows with
/// the request as a policy that decodes it does
/// (testdata/wat/kubewarden-reads-every-byte.wat, about 300 fuel per byte):
/// the default budget grows with the request (100,000,000 fuel plus 1,000
/// per byte) and it passes; the old fixed default of 100,000,000 (now only
/// as an explicit cap) stops it.
#[test]
fn the_default_fuel_budget_fits_a_large_crd() {
    let text = std::fs::read_to_string(root().join("testdata/real/argo-cd-install.yaml")).unwrap();
    let crd: Value = text
        .split("\n---")
        .map(|document| serde_yaml::from_str::<Value>(document).unwrap_or(Value::Null))
        .find(|o| o["metadata"]["name"] == "applicationsets.argoproj.io")
        .unwrap();
    let request = request(&crd, json!({}));
    assert!(request.len() > 300_000, "{}", request.len());
    let module =
        std::fs::read(root().join("testdata/wat/kubewarden-reads-every-byte.wat")).unwrap();
    let engine = Engine::default();
    let policy = engine.load(&module, Limits::default()).unwrap();
    let evaluation = engine.evaluate(&policy, &request).unwrap();
    assert!(evaluation.response.allowed);
    assert!(
        evaluation.fuel_used > 100_000_000,
        "the old default would have been enough: {}",
        evaluation.fuel_used
    );
    assert!(evaluation.fuel_used < Limits::default().fuel_for(request.len()));
    let capped = engine
        .load(
            &module,
            Limits {
                fuel: 100_000_000,
                fuel_per_request_byte: 0,
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(
        engine.evaluate(&capped, &request).unwrap_err(),
        EvalError::OutOfFuel(100_000_000)
    );
}

/// At admission a Kubewarden policy receives the AdmissionRequest the API
/// server sent (here its namespace, which the policy's context-aware lookup
/// uses), not the CREATE made up from the object offline.
#[test]
fn at_admission_the_policy_receives_the_real_request() {
    let engine = Engine::default();
    let policy = load(&engine);
    let object = pod("web", "from-the-object", json!({"containers": []}));
    let body = request(&object, json!({"requiredConfigMap": "settings"}));
    let message = |evaluation: wasm_validate_engine::Evaluation| {
        evaluation.response.violations[0].message.clone()
    };
    let offline = message(engine.evaluate(&policy, &body).unwrap());
    assert!(
        offline.contains("namespace \"from-the-object\""),
        "{offline}"
    );
    let context = wasm_validate_engine::Context::default().with_admission_request(json!({
        "uid": "9f3a", "operation": "UPDATE", "name": "web", "namespace": "from-the-api-server",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "userInfo": {"username": "alice", "groups": ["devs"]},
        "object": object, "oldObject": object, "dryRun": true,
    }));
    let admitted = message(engine.evaluate_in(&policy, &body, &context).unwrap());
    assert!(
        admitted.contains("namespace \"from-the-api-server\""),
        "{admitted}"
    );
}
