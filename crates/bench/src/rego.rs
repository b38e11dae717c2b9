//! The Rego runtime's figures: for a Gatekeeper template and constraint,
//! microseconds per evaluation of an object as Wasm in wasmi (an instance
//! in the prepared state, reused as every real evaluation's is) and
//! natively (the same runtime crate, regorus compiled for the
//! host, on the same request), the fuel, the snapshot's size and the time
//! to prepare.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasm_validate_abi::{Operation, tape};
use wasm_validate_engine::Engine;
use wasm_validate_gatekeeper::Library;

use crate::{Stats, time};

/// One constraint's figures.
#[derive(Debug, Clone)]
pub struct RegoFigures {
    /// `Kind/name` of the constraint.
    pub name: String,
    /// Violations the evaluation found (the same both ways, checked).
    pub violations: usize,
    /// In wasmi.
    pub wasm: Stats,
    /// Natively.
    pub native: Stats,
    /// Fuel of one Wasm evaluation.
    pub fuel: u64,
    /// Bytes each Wasm evaluation restores from the snapshot.
    pub snapshot_bytes: usize,
    /// Milliseconds to prepare (parse and compile the template) in wasmi.
    pub prepare_ms: f64,
}

/// Measures the constraint in `constraint` (with its template in
/// `template`) on `object`.
pub fn measure(
    template: &Path,
    constraint: &Path,
    object: &Value,
    rounds: usize,
    round: Duration,
) -> Result<RegoFigures, String> {
    let mut library = Library::default();
    for path in [template, constraint] {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let parsed = wasm_validate_manifest::parse(
            &path.display().to_string(),
            text,
            wasm_validate_manifest::Format::Yaml,
        );
        library
            .add_parsed(Arc::new(parsed))
            .map_err(|e| e.to_string())?;
    }
    library.check().map_err(|e| format!("{e:?}"))?;
    let (template, constraint) = (&library.templates[0], &library.constraints[0]);
    let engine = Engine::default();
    let runtime = wasm_validate_gatekeeper::load_runtime(&engine);
    let started = Instant::now();
    let prepared = wasm_validate_gatekeeper::prepare(&engine, &runtime, template, constraint, None)
        .map_err(|e| e.to_string())?;
    let prepare_ms = started.elapsed().as_secs_f64() * 1e3;
    let request = tape::request(
        Operation::Create,
        &tape::encode(&json!({})),
        &tape::encode(object),
        None,
    );
    let evaluation = engine
        .evaluate(&prepared, &request)
        .map_err(|e| e.to_string())?;
    if let Some(error) = evaluation.response.error {
        return Err(error);
    }
    let wasm = time(rounds, round, || {
        engine.evaluate(&prepared, &request).expect("evaluates");
    });
    let program = template.program(&constraint.parameters, None);
    runtime_rego::prepare(&tape::Tape::parse(&tape::encode(&program)).expect("a tape"))?;
    let native_answer = runtime_rego::evaluate(&request);
    if native_answer.violations.len() != evaluation.response.violations.len() {
        return Err(format!(
            "native and Wasm disagree: {:?} against {:?}",
            native_answer.violations, evaluation.response.violations
        ));
    }
    let native = time(rounds, round, || {
        runtime_rego::evaluate(&request);
    });
    Ok(RegoFigures {
        name: format!("{}/{}", constraint.kind, constraint.name),
        violations: evaluation.response.violations.len(),
        wasm,
        native,
        fuel: evaluation.fuel_used,
        snapshot_bytes: prepared.prepared_bytes(),
        prepare_ms,
    })
}
