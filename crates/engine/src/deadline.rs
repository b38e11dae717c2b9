//! A request's wall-clock deadline, enforced inside the engine: the fuel
//! budget is handed out in slices and the clock read between them
//! ([`call_with_deadline`]), so that one slow policy cannot hold a worker
//! past the request's time (docs/admission.md).

use wasmi::{Store, TrapCode, TypedFunc, TypedResumableCall, WasmParams, WasmResults};

use crate::{EvalError, HostState};

/// Fuel given at a time to a policy whose request has a deadline
/// ([`Context::with_deadline`]); the clock is read between slices. About a
/// millisecond of guest code on the machines measured (docs/performance.md).
pub const DEADLINE_FUEL_SLICE: u64 = 5_000_000;

/// Calls `func` with `params`. Without a deadline, one call with the store's
/// fuel. With one, the store's fuel is handed out in slices of
/// [`DEADLINE_FUEL_SLICE`] and the call resumed after each until it ends,
/// the fuel is gone (a trap with `OutOfFuel`, as without slices) or the
/// deadline passes ([`EvalError::Deadline`]). Whichever way it ends, the
/// store's fuel is left as one call would have left it, so the fuel used is
/// the same.
pub(crate) fn call_with_deadline<P: WasmParams, R: WasmResults>(
    store: &mut Store<HostState>,
    func: &TypedFunc<P, R>,
    params: P,
    deadline: Option<std::time::Instant>,
    budget: u64,
) -> Result<Result<R, wasmi::Error>, EvalError> {
    let Some(deadline) = deadline else {
        return Ok(func.call(&mut *store, params));
    };
    let mut left = store.get_fuel().unwrap_or(0);
    let mut give = left.min(DEADLINE_FUEL_SLICE);
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
                if std::time::Instant::now() >= deadline {
                    set(store, left)?;
                    return Err(EvalError::Deadline(budget.saturating_sub(left)));
                }
                give = left.min(DEADLINE_FUEL_SLICE.max(out.required_fuel()));
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
