//! The CEL runtime's figures: for a ValidatingAdmissionPolicy, microseconds
//! per evaluation of an object as Wasm in wasmi (an instance in the
//! prepared state, reused as every real evaluation's is) and natively
//! (the same runtime crate compiled for the host, on the same request),
//! beside the built-in Rust policy for the same control in wasmi; the fuel,
//! the snapshot's size and the time to prepare.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::Engine;
use wasm_validate_validating_admission_policy as vap;

use crate::{Stats, time};

/// One policy's figures.
#[derive(Debug, Clone)]
pub struct CelFigures {
    /// The policy's name.
    pub name: String,
    /// Violations the evaluation found (the same both ways, checked).
    pub violations: usize,
    /// In wasmi.
    pub wasm: Stats,
    /// Natively.
    pub native: Stats,
    /// The built-in policy for the same control, in wasmi.
    pub builtin: Stats,
    /// Fuel of one Wasm evaluation.
    pub fuel: u64,
    /// Bytes each Wasm evaluation restores from the snapshot.
    pub snapshot_bytes: usize,
    /// Milliseconds to prepare (compile the expressions) in wasmi.
    pub prepare_ms: f64,
}

/// Measures the first ValidatingAdmissionPolicy of `policy_file` on
/// `object`, against the built-in policy `builtin`.
pub fn measure(
    policy_file: &Path,
    builtin: &str,
    object: &Value,
    rounds: usize,
    round: Duration,
) -> Result<CelFigures, String> {
    let text = std::fs::read(policy_file).map_err(|e| format!("{}: {e}", policy_file.display()))?;
    let parsed = wasm_validate_manifest::parse(
        &policy_file.display().to_string(),
        text,
        wasm_validate_manifest::Format::Yaml,
    );
    let mut library = vap::Library::default();
    library.add_parsed(&parsed).map_err(|e| e.to_string())?;
    let policy = library
        .policies
        .first()
        .ok_or("no ValidatingAdmissionPolicy")?;
    let engine = Engine::default();
    let runtime = vap::load_runtime(&engine);
    let started = Instant::now();
    let configured = library
        .policies(&engine, &runtime)
        .map_err(|e| e.to_string())?
        .remove(0);
    let prepare_ms = started.elapsed().as_secs_f64() * 1e3;
    let request = tape::request(
        Operation::Create,
        &tape::encode(&json!({})),
        &tape::encode(object),
        None,
    );
    let evaluation = engine
        .evaluate(&configured.policy, &request)
        .map_err(|e| e.to_string())?;
    let wasm = time(rounds, round, || {
        engine
            .evaluate(&configured.policy, &request)
            .expect("evaluates");
    });
    let program = vap::program(policy, None, &Value::Null);
    runtime_cel::prepare(&tape::Tape::parse(&tape::encode(&program)).expect("a tape"))?;
    let native_answer = runtime_cel::evaluate(&request);
    if native_answer.violations != evaluation.response.violations {
        return Err(format!(
            "native and Wasm disagree: {:?} against {:?}",
            native_answer.violations, evaluation.response.violations
        ));
    }
    let native = time(rounds, round, || {
        runtime_cel::evaluate(&request);
    });
    let module =
        wasm_validate_builtin::get(builtin).ok_or_else(|| format!("no built-in {builtin}"))?;
    let builtin_policy = engine
        .load_prevalidated(module, Default::default(), builtin)
        .map_err(|e| e.to_string())?;
    let builtin_answer = engine
        .evaluate(&builtin_policy, &request)
        .map_err(|e| e.to_string())?;
    if builtin_answer.response.allowed != evaluation.response.allowed {
        return Err(format!(
            "the built-in {builtin} and the policy disagree: {:?} against {:?}",
            builtin_answer.response, evaluation.response
        ));
    }
    let builtin_stats = time(rounds, round, || {
        engine
            .evaluate(&builtin_policy, &request)
            .expect("evaluates");
    });
    Ok(CelFigures {
        name: policy.name.clone(),
        violations: evaluation.response.violations.len(),
        wasm,
        native,
        builtin: builtin_stats,
        fuel: evaluation.fuel_used,
        snapshot_bytes: configured.policy.prepared_bytes(),
        prepare_ms,
    })
}
