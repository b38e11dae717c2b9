//! A request's wall-clock deadline, enforced inside the engine: the fuel
//! budget is handed out in slices and the clock read between them
//! ([`call_with_deadline`]), so that one slow policy cannot hold a worker
//! past the request's time (docs/admission.md). The same slices stop an
//! evaluation whose context's yield allowance is spent
//! ([`Context::with_yield_after`]).

use std::sync::atomic::Ordering;

use wasmi::{Store, TrapCode, TypedFunc, TypedResumableCall, WasmParams, WasmResults};

use crate::{Context, EvalError, HostState};

/// Fuel given at a time to a policy whose request has a deadline
/// ([`Context::with_deadline`]); the clock is read between slices. About a
/// millisecond of guest code on the machines measured (docs/performance.md).
pub const DEADLINE_FUEL_SLICE: u64 = 5_000_000;

/// Calls `func` with `params` under `context`'s deadline and yield
/// allowance. Without either, one call with the store's fuel. With one, the
/// store's fuel is handed out in slices of at most [`DEADLINE_FUEL_SLICE`]
/// (and no more than the allowance left) and the call resumed after each
/// until it ends, the fuel is gone (a trap with `OutOfFuel`, as without
/// slices), the deadline passes ([`EvalError::Deadline`]) or the allowance
/// is spent ([`EvalError::Yielded`]). Whichever way it ends, the store's
/// fuel is left as one call would have left it, so the fuel used is the
/// same; the fuel used is taken from the allowance.
pub(crate) fn call_with_deadline<P: WasmParams, R: WasmResults>(
    store: &mut Store<HostState>,
    func: &TypedFunc<P, R>,
    params: P,
    context: &Context,
    budget: u64,
) -> Result<Result<R, wasmi::Error>, EvalError> {
    let allowance = context.yield_allowance();
    if context.deadline().is_none() && allowance.is_none() {
        return Ok(func.call(&mut *store, params));
    }
    let deadline = context.deadline();
    let mut left = store.get_fuel().unwrap_or(0);
    // What the allowance has left (no limit without one), and taking the
    // fuel used from it.
    let allowed = || allowance.map_or(u64::MAX, |a| a.load(Ordering::Relaxed));
    let spend = |used: u64| {
        if let Some(a) = allowance {
            let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| {
                Some(x.saturating_sub(used))
            });
        }
    };
    // What the evaluation used before this call (writing its input) counts
    // too, so that the allowance measures the fuel an evaluation reports.
    spend(budget.saturating_sub(left));
    let mut give = left.min(DEADLINE_FUEL_SLICE).min(allowed());
    let set = |store: &mut Store<HostState>, fuel: u64| {
        store
            .set_fuel(fuel)
            .map_err(|e| EvalError::Trap(e.to_string()))
    };
    set(store, give)?;
    let mut call = func.call_resumable(&mut *store, params);
    loop {
        let used = give - store.get_fuel().unwrap_or(0);
        left -= used;
        spend(used);
        match call {
            Ok(TypedResumableCall::Finished(results)) => {
                set(store, left)?;
                return Ok(Ok(results));
            }
            Ok(TypedResumableCall::HostTrap(trap)) => {
                // A host function's error (a WASI `proc_exit`, a refused
                // call), as one call would have returned it.
                set(store, left)?;
                let error = trap.host_error();
                return Ok(Err(match error.i32_exit_status() {
                    Some(status) => wasmi::Error::i32_exit(status),
                    None => wasmi::Error::new(error.to_string()),
                }));
            }
            Ok(TypedResumableCall::OutOfFuel(out)) => {
                if left < out.required_fuel() {
                    // The budget is spent: what one call would have met.
                    set(store, 0)?;
                    return Ok(Err(wasmi::Error::from(TrapCode::OutOfFuel)));
                }
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    set(store, left)?;
                    return Err(EvalError::Deadline(budget.saturating_sub(left)));
                }
                let allowed = allowed();
                if allowed < out.required_fuel().max(1) {
                    set(store, left)?;
                    if let Some(a) = allowance {
                        a.store(0, Ordering::Relaxed);
                    }
                    return Err(EvalError::Yielded(budget.saturating_sub(left)));
                }
                give = left
                    .min(DEADLINE_FUEL_SLICE.max(out.required_fuel()))
                    .min(allowed);
                set(store, give)?;
                call = out.resume(&mut *store);
            }
            Err(error) => {
                set(store, left)?;
                return Ok(Err(error));
            }
        }
    }
}
