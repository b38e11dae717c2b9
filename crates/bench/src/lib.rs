//! Per-policy figures for `cargo xtask bench`: microseconds per evaluation
//! of each built-in policy on one request, as Wasm in wasmi (through
//! [`Engine::evaluate`]: an instance in the module's starting state, reused
//! after the first evaluation as in a real run, the request written into
//! the guest, the answer decoded) and as the same policy
//! code compiled natively and called directly (each policy crate is also an
//! rlib whose `evaluate_tape` is the function its Wasm export wraps). The
//! native figure is the physical limit for that logic on this machine; the
//! ratio is what the sandbox costs.
#![forbid(unsafe_code)]

pub mod cel;
pub mod rego;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, Response, tape};
use wasm_validate_engine::{Engine, Limits, Policy};

/// A policy's entry point compiled natively: request in, response out.
pub type Native = fn(&[u8]) -> Response;

/// Every built-in policy, by name, with its native entry points: the
/// version 1 path (a JSON request decoded with serde_json, as a policy
/// compiled into the host would read it) and the version 2 path (the tape,
/// what the Wasm module runs).
pub const NATIVE: &[(&str, Native, Native)] = &[
    (
        "add-default-labels",
        policy_add_default_labels::evaluate_json as Native,
        policy_add_default_labels::evaluate_tape as Native,
    ),
    (
        "allow-privilege-escalation",
        policy_allow_privilege_escalation::evaluate_json as Native,
        policy_allow_privilege_escalation::evaluate_tape as Native,
    ),
    (
        "allowed-image-registries",
        policy_allowed_image_registries::evaluate_json as Native,
        policy_allowed_image_registries::evaluate_tape as Native,
    ),
    (
        "apparmor-profile",
        policy_apparmor_profile::evaluate_json as Native,
        policy_apparmor_profile::evaluate_tape as Native,
    ),
    (
        "capabilities-baseline",
        policy_capabilities_baseline::evaluate_json as Native,
        policy_capabilities_baseline::evaluate_tape as Native,
    ),
    (
        "capabilities-restricted",
        policy_capabilities_restricted::evaluate_json as Native,
        policy_capabilities_restricted::evaluate_tape as Native,
    ),
    (
        "disallow-default-service-account-token",
        policy_disallow_default_service_account_token::evaluate_json as Native,
        policy_disallow_default_service_account_token::evaluate_tape as Native,
    ),
    (
        "disallow-latest-tag",
        policy_disallow_latest_tag::evaluate_json as Native,
        policy_disallow_latest_tag::evaluate_tape as Native,
    ),
    (
        "disallow-service-types",
        policy_disallow_service_types::evaluate_json as Native,
        policy_disallow_service_types::evaluate_tape as Native,
    ),
    (
        "drop-all-capabilities",
        policy_drop_all_capabilities::evaluate_json as Native,
        policy_drop_all_capabilities::evaluate_tape as Native,
    ),
    (
        "host-namespaces",
        policy_host_namespaces::evaluate_json as Native,
        policy_host_namespaces::evaluate_tape as Native,
    ),
    (
        "host-path-volumes",
        policy_host_path_volumes::evaluate_json as Native,
        policy_host_path_volumes::evaluate_tape as Native,
    ),
    (
        "host-ports",
        policy_host_ports::evaluate_json as Native,
        policy_host_ports::evaluate_tape as Native,
    ),
    (
        "host-probes-and-host-lifecycle",
        policy_host_probes_and_host_lifecycle::evaluate_json as Native,
        policy_host_probes_and_host_lifecycle::evaluate_tape as Native,
    ),
    (
        "privileged",
        policy_privileged::evaluate_json as Native,
        policy_privileged::evaluate_tape as Native,
    ),
    (
        "proc-mount",
        policy_proc_mount::evaluate_json as Native,
        policy_proc_mount::evaluate_tape as Native,
    ),
    (
        "proc-mount-restricted",
        policy_proc_mount_restricted::evaluate_json as Native,
        policy_proc_mount_restricted::evaluate_tape as Native,
    ),
    (
        "require-ingress-tls",
        policy_require_ingress_tls::evaluate_json as Native,
        policy_require_ingress_tls::evaluate_tape as Native,
    ),
    (
        "require-minimum-replicas",
        policy_require_minimum_replicas::evaluate_json as Native,
        policy_require_minimum_replicas::evaluate_tape as Native,
    ),
    (
        "require-probes",
        policy_require_probes::evaluate_json as Native,
        policy_require_probes::evaluate_tape as Native,
    ),
    (
        "require-read-only-root-filesystem",
        policy_require_read_only_root_filesystem::evaluate_json as Native,
        policy_require_read_only_root_filesystem::evaluate_tape as Native,
    ),
    (
        "require-requests-and-limits",
        policy_require_requests_and_limits::evaluate_json as Native,
        policy_require_requests_and_limits::evaluate_tape as Native,
    ),
    (
        "required-labels",
        policy_required_labels::evaluate_json as Native,
        policy_required_labels::evaluate_tape as Native,
    ),
    (
        "restricted-volumes",
        policy_restricted_volumes::evaluate_json as Native,
        policy_restricted_volumes::evaluate_tape as Native,
    ),
    (
        "run-as-non-root",
        policy_run_as_non_root::evaluate_json as Native,
        policy_run_as_non_root::evaluate_tape as Native,
    ),
    (
        "run-as-user",
        policy_run_as_user::evaluate_json as Native,
        policy_run_as_user::evaluate_tape as Native,
    ),
    (
        "seccomp-profile-baseline",
        policy_seccomp_profile_baseline::evaluate_json as Native,
        policy_seccomp_profile_baseline::evaluate_tape as Native,
    ),
    (
        "seccomp-profile-restricted",
        policy_seccomp_profile_restricted::evaluate_json as Native,
        policy_seccomp_profile_restricted::evaluate_tape as Native,
    ),
    (
        "selinux-options",
        policy_selinux_options::evaluate_json as Native,
        policy_selinux_options::evaluate_tape as Native,
    ),
    (
        "set-allow-privilege-escalation-false",
        policy_set_allow_privilege_escalation_false::evaluate_json as Native,
        policy_set_allow_privilege_escalation_false::evaluate_tape as Native,
    ),
    (
        "set-image-pull-policy",
        policy_set_image_pull_policy::evaluate_json as Native,
        policy_set_image_pull_policy::evaluate_tape as Native,
    ),
    (
        "set-run-as-non-root",
        policy_set_run_as_non_root::evaluate_json as Native,
        policy_set_run_as_non_root::evaluate_tape as Native,
    ),
    (
        "set-seccomp-runtime-default",
        policy_set_seccomp_runtime_default::evaluate_json as Native,
        policy_set_seccomp_runtime_default::evaluate_tape as Native,
    ),
    (
        "sysctls",
        policy_sysctls::evaluate_json as Native,
        policy_sysctls::evaluate_tape as Native,
    ),
    (
        "windows-host-process",
        policy_windows_host_process::evaluate_json as Native,
        policy_windows_host_process::evaluate_tape as Native,
    ),
];

/// The settings a policy is benchmarked with: `{}`, except for the three
/// policies that require settings (examples from their test suites).
pub fn settings_for(name: &str) -> Value {
    match name {
        "add-default-labels" => json!({"labels": {"team": "shop"}}),
        "allowed-image-registries" => json!({"registries": ["us-central1-docker.pkg.dev/"]}),
        "required-labels" => json!({"labels": [{"key": "app"}]}),
        _ => json!({}),
    }
}

/// The ABI request the pipeline sends for `object` with `settings`.
pub fn request(object: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"operation": "CREATE", "settings": settings, "object": object}))
        .expect("JSON encodes")
}

/// Median and range of the per-call time over several rounds, in
/// microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median over the rounds.
    pub median_us: f64,
    /// Fastest round.
    pub min_us: f64,
    /// Slowest round.
    pub max_us: f64,
}

/// Times `call`: a warm-up, then `rounds` rounds of enough calls to last
/// about `round` each; each round gives the mean time per call.
pub fn time(rounds: usize, round: Duration, mut call: impl FnMut()) -> Stats {
    let started = Instant::now();
    let mut warm = 0u32;
    while warm < 20 || started.elapsed() < round / 2 {
        call();
        warm += 1;
    }
    let per_call = started.elapsed() / warm;
    let calls = (round.as_nanos() / per_call.as_nanos().max(1)).clamp(1, 1_000_000) as u32;
    let mut samples: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            for _ in 0..calls {
                call();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    Stats {
        median_us: samples[samples.len() / 2],
        min_us: samples[0],
        max_us: samples[samples.len() - 1],
    }
}

/// One policy's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The policy.
    pub name: &'static str,
    /// Whether the policy's rules select the object (a policy that does not
    /// is never called on it in a real run; it is measured all the same).
    pub applies: bool,
    /// As Wasm in wasmi, on the version 2 request (the tape), as a real run
    /// calls it.
    pub wasm: Stats,
    /// Native, called directly on the same version 2 request: the same code
    /// and the same input, without the sandbox.
    pub native: Stats,
    /// Native on the version 1 request (JSON decoded with serde_json): what a
    /// policy compiled into the host would cost.
    pub native_json: Stats,
    /// Fuel one Wasm evaluation uses.
    pub fuel: u64,
}

impl Figures {
    /// Wasm time over native time on the same tape (medians): what
    /// interpreting costs.
    pub fn ratio(&self) -> f64 {
        self.wasm.median_us / self.native.median_us
    }

    /// Wasm time over the native JSON path (medians): what the sandbox
    /// costs a user against a policy compiled into the host.
    pub fn ratio_to_json(&self) -> f64 {
        self.wasm.median_us / self.native_json.median_us
    }
}

/// Loads the built-in policy `name` with default limits.
pub fn load(engine: &Engine, name: &str) -> Policy {
    let bytes = wasm_validate_builtin::get(name).expect("a built-in policy");
    engine
        .load(bytes, Limits::default())
        .expect("the built-in policy loads")
}

/// The version 2 request for `object` with `settings` (CREATE).
pub fn tape_request(object: &Value, settings: &Value) -> Vec<u8> {
    tape::request(
        Operation::Create,
        &tape::encode(settings),
        &tape::encode(object),
        None,
    )
}

/// Measures every built-in policy on `object`.
pub fn measure_all(object: &Value, rounds: usize, round: Duration) -> Vec<Figures> {
    let engine = Engine::default();
    let (api_version, kind) = (
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
    );
    NATIVE
        .iter()
        .map(|&(name, native_json, native)| {
            let policy = load(&engine, name);
            let settings = settings_for(name);
            let json = request(object, &settings);
            let tape = tape_request(object, &settings);
            let fuel = engine.evaluate(&policy, &tape).map_or(0, |e| e.fuel_used);
            let wasm = time(rounds, round, || {
                std::hint::black_box(engine.evaluate(&policy, &tape).ok());
            });
            let native = time(rounds, round, || {
                std::hint::black_box(native(std::hint::black_box(&tape)));
            });
            let native_json = time(rounds, round, || {
                std::hint::black_box(native_json(std::hint::black_box(&json)));
            });
            Figures {
                name,
                applies: policy.metadata().applies_to(api_version, kind),
                wasm,
                native,
                native_json,
                fuel,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
