//! Properties of the built-in library on generated pods, run as Wasm:
//! - a pod that passes the restricted level passes the baseline level;
//! - the restricted fixes never make a passing policy fail, and they apply;
//! - no verdict depends on the order of keys in the object.
//!
//! Pods are built from a byte string: each decision reads one byte; most
//! byte values (and zero, so that proptest shrinks towards it) take the
//! restricted-compliant choice, the rest one of the others, so generated
//! pods spread over all three levels. Windows pods get no Linux-only
//! fields, as the API server's validation requires.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use wasm_validate_builtin::{Profile, select};
use wasm_validate_engine::{Engine, Limits, Policy};

struct Choices<'a>(std::slice::Iter<'a, u8>);

impl Choices<'_> {
    /// `options[0]`, the restricted-compliant choice, for most bytes (and for
    /// a zero byte, so shrinking heads for compliance); else another option.
    fn pick(&mut self, options: &[Option<Value>]) -> Option<Value> {
        let b = usize::from(self.0.next().copied().unwrap_or(0));
        if b < 236 || options.len() == 1 {
            options[0].clone()
        } else {
            options[1 + (b - 236) % (options.len() - 1)].clone()
        }
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

const NONE: Option<Value> = None;

fn some(value: Value) -> Option<Value> {
    Some(value)
}

fn profile(c: &mut Choices<'_>) -> Option<Value> {
    c.pick(&[
        NONE,
        some(json!({"type": "RuntimeDefault"})),
        some(json!({"type": "Localhost", "localhostProfile": "p"})),
        some(json!({"type": "Unconfined"})),
    ])
}

fn container(c: &mut Choices<'_>, name: &str, linux: bool) -> Value {
    let mut container = Map::new();
    container.insert("name".into(), json!(name));
    container.insert("image".into(), json!("registry.example.com/app:1"));
    let probes = [
        NONE,
        some(json!({"httpGet": {"port": 80, "host": ""}})),
        some(json!({"httpGet": {"port": 80, "host": "10.0.0.1"}})),
    ];
    put(&mut container, "livenessProbe", c.pick(&probes));
    let ports = [
        NONE,
        some(json!([{"containerPort": 80, "hostPort": 0}])),
        some(json!([{"containerPort": 80, "hostPort": 8080}])),
    ];
    put(&mut container, "ports", c.pick(&ports));
    if c.pick(&[some(json!(true)), NONE]).is_none() {
        return Value::Object(container);
    }
    let mut sc = Map::new();
    let booleans = [NONE, some(json!(true)), some(json!(false))];
    put(&mut sc, "runAsNonRoot", c.pick(&booleans));
    let host_process = [
        NONE,
        some(json!({"hostProcess": false})),
        some(json!({"hostProcess": true})),
    ];
    put(&mut sc, "windowsOptions", c.pick(&host_process));
    if linux {
        put(
            &mut sc,
            "privileged",
            c.pick(&[NONE, some(json!(false)), some(json!(true))]),
        );
        put(
            &mut sc,
            "allowPrivilegeEscalation",
            c.pick(&[some(json!(false)), NONE, some(json!(true))]),
        );
        put(
            &mut sc,
            "runAsUser",
            c.pick(&[NONE, some(json!(1000)), some(json!(0))]),
        );
        put(
            &mut sc,
            "procMount",
            c.pick(&[NONE, some(json!("Default")), some(json!("Unmasked"))]),
        );
        put(&mut sc, "seccompProfile", profile(c));
        put(&mut sc, "appArmorProfile", profile(c));
        let selinux = [
            NONE,
            some(json!({"type": "container_t"})),
            some(json!({"type": "spc_t"})),
            some(json!({"user": "system_u"})),
        ];
        put(&mut sc, "seLinuxOptions", c.pick(&selinux));
        let drops = [some(json!(["ALL"])), NONE, some(json!(["NET_RAW"]))];
        let adds = [
            NONE,
            some(json!(["NET_BIND_SERVICE"])),
            some(json!(["CHOWN"])),
            some(json!(["SYS_ADMIN"])),
        ];
        let (drop, add) = (c.pick(&drops), c.pick(&adds));
        if drop.is_some() || add.is_some() {
            let mut caps = Map::new();
            put(&mut caps, "drop", drop);
            put(&mut caps, "add", add);
            sc.insert("capabilities".into(), Value::Object(caps));
        }
    }
    container.insert("securityContext".into(), Value::Object(sc));
    Value::Object(container)
}

fn pod(bytes: &[u8]) -> Value {
    let mut c = Choices(bytes.iter());
    let windows = c.pick(&[NONE, some(json!("windows"))]).is_some();
    let linux = !windows;
    let mut spec = Map::new();
    if windows {
        spec.insert("os".into(), json!({"name": "windows"}));
    }
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        put(
            &mut spec,
            field,
            c.pick(&[NONE, some(json!(false)), some(json!(true))]),
        );
    }
    if linux {
        put(
            &mut spec,
            "hostUsers",
            c.pick(&[NONE, some(json!(true)), some(json!(false))]),
        );
    }
    let volumes = [
        NONE,
        some(json!([{"name": "v", "emptyDir": {}}])),
        some(json!([{"name": "v", "hostPath": {"path": "/"}}])),
        some(json!([{"name": "v", "nfs": {"server": "s", "path": "/"}}])),
    ];
    put(&mut spec, "volumes", c.pick(&volumes));
    let mut sc = Map::new();
    put(
        &mut sc,
        "runAsNonRoot",
        c.pick(&[some(json!(true)), NONE, some(json!(false))]),
    );
    if linux {
        put(
            &mut sc,
            "runAsUser",
            c.pick(&[NONE, some(json!(1000)), some(json!(0))]),
        );
        let seccomp = [
            some(json!({"type": "RuntimeDefault"})),
            NONE,
            some(json!({"type": "Unconfined"})),
        ];
        put(&mut sc, "seccompProfile", c.pick(&seccomp));
        put(&mut sc, "appArmorProfile", profile(&mut c));
        let sysctls = [
            NONE,
            some(json!([{"name": "net.ipv4.tcp_syncookies", "value": "1"}])),
            some(json!([{"name": "kernel.msgmax", "value": "1"}])),
        ];
        put(&mut sc, "sysctls", c.pick(&sysctls));
    }
    if c.pick(&[some(json!(true)), NONE]).is_some() {
        spec.insert("securityContext".into(), Value::Object(sc));
    }
    let count = if c.pick(&[NONE, some(json!(2))]).is_some() {
        2
    } else {
        1
    };
    let containers: Vec<Value> = (0..count)
        .map(|i| container(&mut c, &format!("app{i}"), linux))
        .collect();
    spec.insert("containers".into(), json!(containers));
    if c.pick(&[NONE, some(json!(true))]).is_some() {
        spec.insert(
            "initContainers".into(),
            json!([container(&mut c, "init", linux)]),
        );
    }
    if c.pick(&[NONE, some(json!(true))]).is_some() {
        spec.insert(
            "ephemeralContainers".into(),
            json!([container(&mut c, "debug", linux)]),
        );
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "generated"}, "spec": spec})
}

struct Library {
    engine: Engine,
    baseline: Vec<Policy>,
    restricted: Vec<Policy>,
    validating: Vec<Policy>,
    fixes: Vec<Policy>,
}

fn library() -> &'static Library {
    static LIBRARY: std::sync::OnceLock<Library> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(|| {
        let engine = Engine::default();
        let load = |profiles: &[Profile]| -> Vec<Policy> {
            select(profiles, |_| false)
                .into_iter()
                .map(|name| {
                    let bytes = wasm_validate_builtin::get(name).unwrap();
                    engine.load(bytes, Limits::default()).unwrap()
                })
                .collect()
        };
        Library {
            baseline: load(&[Profile::Baseline]),
            restricted: load(&[Profile::Restricted]),
            validating: load(&[
                Profile::Baseline,
                Profile::Restricted,
                Profile::BestPractices,
            ]),
            fixes: load(&[Profile::Fixes]),
            engine,
        }
    })
}

fn respond(policy: &Policy, object: &Value) -> Value {
    let request = json!({"operation": "CREATE", "settings": {}, "object": object});
    let evaluation = library()
        .engine
        .evaluate(policy, &serde_json::to_vec(&request).unwrap())
        .unwrap();
    serde_json::to_value(&evaluation.response).unwrap()
}

fn allowed(policy: &Policy, object: &Value) -> bool {
    let response = respond(policy, object);
    assert!(
        response.get("error").is_none(),
        "{}: {response}",
        policy.name()
    );
    response["allowed"].as_bool().unwrap()
}

fn passes(policies: &[Policy], object: &Value) -> bool {
    policies.iter().all(|p| allowed(p, object))
}

/// The same value with the keys of every object in reverse order.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn restricted_implies_baseline(bytes in proptest::collection::vec(any::<u8>(), 96)) {
        let pod = pod(&bytes);
        let lib = library();
        if passes(&lib.restricted, &pod) {
            prop_assert!(passes(&lib.baseline, &pod), "{pod}");
        }
    }

    #[test]
    fn fixes_never_make_a_passing_policy_fail(bytes in proptest::collection::vec(any::<u8>(), 96)) {
        let pod = pod(&bytes);
        let lib = library();
        let mut fixed = pod.clone();
        for fix in &lib.fixes {
            let response = respond(fix, &fixed);
            prop_assert!(response.get("error").is_none(), "{}: {response}", fix.name());
            if let Some(patch) = response.get("patch") {
                let patch = serde_json::from_value(patch.clone()).unwrap();
                fixed = wasm_validate_pipeline::apply_patch(&fixed, &patch)
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", fix.name())))?;
            }
        }
        for policy in &lib.validating {
            if allowed(policy, &pod) {
                prop_assert!(allowed(policy, &fixed), "{} fails after the fixes: {fixed}", policy.name());
            }
        }
    }

    #[test]
    fn verdicts_do_not_depend_on_key_order(bytes in proptest::collection::vec(any::<u8>(), 96)) {
        let pod = pod(&bytes);
        let shuffled = reversed(&pod);
        for policy in &library().validating {
            prop_assert_eq!(respond(policy, &pod), respond(policy, &shuffled), "{}", policy.name());
        }
    }
}

/// The generator is not vacuous: among pods from simple byte patterns, some
/// pass restricted, some pass only baseline, and some fail baseline.
#[test]
fn generated_pods_cover_every_level() {
    let lib = library();
    let (mut restricted, mut baseline_only, mut privileged) = (0, 0, 0);
    for seed in 0u32..300 {
        let mut state = seed.wrapping_mul(2_654_435_761) | 1;
        let bytes: Vec<u8> = (0..96)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let pod = pod(&bytes);
        if passes(&lib.restricted, &pod) {
            restricted += 1;
        } else if passes(&lib.baseline, &pod) {
            baseline_only += 1;
        } else {
            privileged += 1;
        }
    }
    eprintln!("restricted {restricted}, baseline only {baseline_only}, privileged {privileged}");
    assert!(
        restricted >= 15 && baseline_only >= 15 && privileged >= 15,
        "restricted {restricted}, baseline only {baseline_only}, privileged {privileged}"
    );
}
