//! The built-in library module against the policies' own modules.

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::{Context, Engine, EvalError, LibraryMember, Limits};
use wasm_validate_manifest::{Format, Resource, parse};

use crate::{
    Admission, ConfiguredPolicy, InLibrary, LibraryModule, Outcome, PolicyResult, PolicySet,
};

/// Settings for the built-in policies that need some (as their test suites give).
fn settings(name: &str) -> Value {
    match name {
        "add-default-labels" => json!({"labels": {"team": "shop"}}),
        "allowed-image-registries" => json!({"registries": ["registry.example.com/"]}),
        "required-labels" => json!({"labels": [{"key": "app"}]}),
        _ => json!({}),
    }
}

/// Every built-in policy in its own module, in the binary's order, each
/// with `limits`; with `library`, each also in the library module.
fn every_policy(
    engine: &Engine,
    library: Option<&std::sync::Arc<LibraryModule>>,
    limits: Limits,
) -> PolicySet {
    let policies = wasm_validate_builtin::policies()
        .into_iter()
        .map(|(name, bytes)| {
            let mut configured =
                ConfiguredPolicy::configure(engine.load(bytes, limits).unwrap(), settings(name))
                    .unwrap();
            configured.library = library.map(|module| InLibrary {
                module: module.clone(),
                index: wasm_validate_builtin::library_index(name).unwrap(),
            });
            configured
        })
        .collect();
    PolicySet {
        policies,
        ..PolicySet::default()
    }
}

fn library_module() -> std::sync::Arc<LibraryModule> {
    LibraryModule::new(wasm_validate_builtin::library())
}

/// The policies' test resources, the fixtures and the real manifests.
fn resources() -> Vec<Resource> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["testdata/fixtures", "testdata/real"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    for entry in std::fs::read_dir(format!("{root}/policies")).unwrap() {
        files.push(entry.unwrap().path().join("tests/resources.yaml"));
    }
    let mut resources = Vec::new();
    for file in files
        .into_iter()
        .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "yaml"))
    {
        let parsed = parse(
            &file.display().to_string(),
            std::fs::read(&file).unwrap(),
            Format::Yaml,
        );
        resources.extend(parsed.resources);
    }
    resources
}

/// A result as compared: the policy's name and everything but the fuel
/// (which the library counts without the request's copy) and the index.
fn comparable(set: &PolicySet, result: &PolicyResult) -> String {
    let name = set.policies[result.policy].name();
    let mut result = result.clone();
    result.fuel_used = 0;
    result.policy = 0;
    format!("{name} {result:?}")
}

/// The benchmarks' typical Pod, which seccomp-profile-restricted denies.
fn typical_pod() -> Resource {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/bench/typical-pod.yaml"
    );
    parse(
        "typical-pod.yaml",
        std::fs::read(path).unwrap(),
        Format::Yaml,
    )
    .resources
    .remove(0)
}

fn review(
    engine: &Engine,
    set: &PolicySet,
    resource: &Resource,
    admission: &Admission,
) -> Vec<PolicyResult> {
    let mut resource = resource.clone();
    crate::evaluate_admission(engine, set, &mut resource, admission, &Context::default())
}

/// Every built-in policy gives the same result, at CREATE and at UPDATE,
/// on the policies' test resources, the fixtures and the real manifests,
/// whether it runs in its own module or in the library module with the
/// others, and whatever order the library runs them in; their fuel differs
/// by far less than the library's share of the budget allows for.
#[test]
fn library_and_own_modules_give_the_same_results() {
    let engine = Engine::default();
    let library = library_module();
    let own = every_policy(&engine, None, Limits::default());
    let together = every_policy(&engine, Some(&library), Limits::default());
    // The validating policies in the other order (the mutating ones keep
    // theirs: each sees the patches of those before it).
    let mut reversed = every_policy(&engine, Some(&library), Limits::default());
    let (mut order, mut validating): (Vec<_>, Vec<_>) = reversed
        .policies
        .drain(..)
        .partition(|p| p.policy.metadata().mutating);
    validating.reverse();
    order.extend(validating);
    reversed.policies = order;
    let resources = resources();
    assert!(resources.len() > 200, "{} resources", resources.len());
    let (mut compared, mut fuel_own, mut fuel_library) = (0, 0u64, 0u64);
    let (mut widest, mut more) = (1.0f64, 0u64);
    for resource in &resources {
        let update = Admission {
            operation: Operation::Update,
            old_object: Some(resource.object.clone()),
        };
        for admission in [Admission::default(), update] {
            let expected = review(&engine, &own, resource, &admission);
            let found = review(&engine, &together, resource, &admission);
            let mut found_reversed: Vec<String> = review(&engine, &reversed, resource, &admission)
                .iter()
                .map(|r| comparable(&reversed, r))
                .collect();
            let expected_text: Vec<String> = expected.iter().map(|r| comparable(&own, r)).collect();
            let found_text: Vec<String> = found.iter().map(|r| comparable(&together, r)).collect();
            assert_eq!(found_text, expected_text, "{}", resource.source);
            let mut sorted = expected_text.clone();
            sorted.sort();
            found_reversed.sort();
            assert_eq!(found_reversed, sorted, "{}", resource.source);
            for (own_result, library_result) in expected.iter().zip(&found) {
                if !own.policies[own_result.policy].policy.metadata().mutating
                    && !matches!(own_result.outcome, Outcome::Error(_))
                {
                    fuel_own += own_result.fuel_used;
                    fuel_library += library_result.fuel_used;
                    // The own module's fuel against the library's: at most
                    // this much more, and the same within a few percent
                    // when the evaluation is not tiny.
                    let (own_fuel, library_fuel) = (own_result.fuel_used, library_result.fuel_used);
                    more = more.max(own_fuel.saturating_sub(library_fuel));
                    if own_fuel > 100_000 {
                        let ratio = library_fuel as f64 / own_fuel as f64;
                        widest = widest.max(ratio).max(1.0 / ratio);
                    }
                }
            }
            compared += expected.len();
        }
    }
    assert!(compared > 2000, "{compared} results compared");
    // The library ran them: its code is the same Rust compiled in one unit,
    // and its fuel differs from the own modules', within the factor that
    // `LIBRARY_FUEL_SHARE` allows for.
    assert_ne!(fuel_library, fuel_own);
    eprintln!(
        "fuel: library {fuel_library}, own modules {fuel_own}; widest ratio {widest:.3} \
         (over 100,000 fuel), own module at most {more} more"
    );
    assert!(widest < 1.25 && more < 100_000, "{widest} {more}");
}

/// A policy the library cannot answer within its share of the fuel is
/// evaluated again in its own module, whose answer counts: here one that
/// denies in its own module with a little fuel to spare, and one whose own
/// module runs out too (the same error as without the library). Validating
/// policies only, so that no patch changes what they see.
#[test]
fn a_policy_the_library_cannot_answer_gets_its_own_modules_answer() {
    let engine = Engine::default();
    let library = library_module();
    let resource = typical_pod();
    let validating = |mut set: PolicySet| {
        set.policies.retain(|p| !p.policy.metadata().mutating);
        set
    };
    let own = validating(every_policy(&engine, None, Limits::default()));
    let index = own
        .policies
        .iter()
        .position(|p| p.policy.name() == "seccomp-profile-restricted")
        .unwrap();
    let needed = review(&engine, &own, &resource, &Admission::default())
        .into_iter()
        .find(|r| r.policy == index)
        .unwrap()
        .fuel_used;
    for fuel in [needed + 100, needed / 2] {
        let limits = Limits {
            fuel,
            fuel_per_request_byte: 0,
            ..Limits::default()
        };
        let alone = validating(every_policy(&engine, None, limits));
        let together = validating(every_policy(&engine, Some(&library), limits));
        let expected = review(&engine, &alone, &resource, &Admission::default());
        let found = review(&engine, &together, &resource, &Admission::default());
        let pick = |results: &[PolicyResult], set: &PolicySet| {
            comparable(set, results.iter().find(|r| r.policy == index).unwrap())
        };
        assert_eq!(pick(&found, &together), pick(&expected, &alone));
        let outcome = &found.iter().find(|r| r.policy == index).unwrap().outcome;
        if fuel > needed {
            assert!(matches!(outcome, Outcome::Fail(_)), "{outcome:?}");
        } else {
            assert!(
                matches!(outcome, Outcome::Error(e) if e.contains("fuel")),
                "{outcome:?}"
            );
        }
    }
}

/// In the engine: a member that traps gets its error and the members after
/// it still run (in a fresh instance); a module that is not a library
/// gives every member an error.
#[test]
fn a_member_that_traps_does_not_stop_the_members_after_it() {
    let engine = Engine::default();
    let library = library_module();
    let object = tape::encode(&typical_pod().object);
    let settings = tape::encode(&json!({}));
    let index = |name| wasm_validate_builtin::library_index(name).unwrap();
    let starved = Limits {
        fuel: 10,
        fuel_per_request_byte: 0,
        ..Limits::default()
    };
    let member = |name, limits| LibraryMember {
        index: index(name),
        settings: &settings,
        limits,
        mutating: false,
    };
    let members = [
        member("privileged", Limits::default()),
        member("host-namespaces", starved),
        member("seccomp-profile-restricted", Limits::default()),
    ];
    let library = library.get(&engine).unwrap();
    let results = engine.evaluate_library(
        library,
        Operation::Create,
        &object,
        None,
        &members,
        &Context::default(),
    );
    assert!(results[0].as_ref().is_ok_and(|e| e.response.allowed));
    assert!(
        matches!(results[1], Err(EvalError::OutOfFuel(_))),
        "{:?}",
        results[1]
    );
    assert!(results[2].as_ref().is_ok_and(|e| !e.response.allowed));

    let not_a_library = engine
        .load(
            wasm_validate_builtin::get("privileged").unwrap(),
            Limits::default(),
        )
        .unwrap();
    let results = engine.evaluate_library(
        &not_a_library,
        Operation::Create,
        &object,
        None,
        &members[..1],
        &Context::default(),
    );
    assert!(
        matches!(&results[0], Err(EvalError::Instantiation(m)) if m.contains("wv_evaluate_at")),
        "{:?}",
        results[0]
    );
}
