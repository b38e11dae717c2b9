//! Every resource of testdata/real through the two endpoints as a cluster
//! calls them (the mutating webhook first, its patch applied, then the
//! validating webhook on the result), against the pipeline's offline
//! verdict on the same object (what `wasm-validate check` decides): the
//! same resources are denied, and the patched object is the one `check`
//! mutates.

use serde_json::{Value, json};
use wasm_validate_admission::{AdmissionResponse, Endpoint, policies_for, review};
use wasm_validate_builtin::Profile;
use wasm_validate_engine::Engine;
use wasm_validate_manifest::{Format, Resource, parse};
use wasm_validate_pipeline::{Action, Outcome, PolicySet};

fn real_resources() -> Vec<Resource> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/real");
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let format = if path.extension().is_some_and(|e| e == "json") {
                Format::Json
            } else {
                Format::Yaml
            };
            parse(
                &path.display().to_string(),
                std::fs::read(path).unwrap(),
                format,
            )
            .resources
        })
        .collect()
}

fn answer(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    object: &Value,
) -> AdmissionResponse {
    let body =
        crate::review_body(json!({"uid": "replay", "operation": "CREATE", "object": object}));
    review(engine, set, endpoint, &body, None)
        .unwrap()
        .response
        .unwrap()
}

#[test]
fn the_endpoints_decide_as_check_does_on_every_real_resource() {
    let engine = Engine::default();
    let set = crate::library(
        &engine,
        &[Profile::Fixes, Profile::Restricted, Profile::BestPractices],
    );
    let (validating, mutating) = (
        policies_for(&set, Endpoint::Validating),
        policies_for(&set, Endpoint::Mutating),
    );
    let mut resources = real_resources();
    assert!(resources.len() > 300, "{}", resources.len());
    let originals: Vec<Value> = resources.iter().map(|r| r.object.clone()).collect();
    // Offline: the whole set, mutations first, on every resource.
    let results = wasm_validate_pipeline::run(&engine, &set, &mut resources, 2);
    let (mut denied, mut patched) = (0, 0);
    for ((resource, results), original) in resources.iter().zip(&results).zip(&originals) {
        let offline_denies = results.iter().any(|r| match &r.outcome {
            Outcome::Fail(_) => set.policies[r.policy].action == Action::Deny,
            Outcome::Error(_) => true,
            Outcome::Pass => false,
        });
        // At admission: mutate, apply the patch, validate.
        let mutated = answer(&engine, &mutating, Endpoint::Mutating, original);
        assert!(mutated.allowed, "{}: {mutated:?}", resource.source);
        let mut object = original.clone();
        if let Some(patch) = &mutated.patch {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch)
                .unwrap();
            let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
            json_patch::patch(&mut object, &patch).unwrap();
            patched += 1;
        }
        assert_eq!(
            object, resource.object,
            "{}: the same mutation",
            resource.source
        );
        let validated = answer(&engine, &validating, Endpoint::Validating, &object);
        assert_eq!(
            !validated.allowed, offline_denies,
            "{}: {validated:?}",
            resource.source
        );
        denied += usize::from(offline_denies);
    }
    // The corpus exercises both outcomes and the patch path.
    assert!(
        denied >= 20 && denied < resources.len() && patched >= 20,
        "{denied} denied, {patched} patched of {}",
        resources.len()
    );
}
