//! Library modules: several policies linked into one module and evaluated
//! by index (docs/abi.md, "Library modules"; the SDK's `export_library!`).
//! [`Engine::evaluate_library`] writes the requests of every policy that
//! reviews one object into one instance once, as one buffer
//! ([`abi::tape::requests`]: the object once), and calls `wv_evaluate_at`
//! for each in turn; the guest frees what the previous policy allocated
//! before each call. Against one instance per policy, this saves for every
//! policy but the first: an instance taken from the pool and written back
//! (comparing its whole memory with its starting state), the `wv_alloc`
//! call and the copy of the object (docs/performance.md, "The library
//! module").

use wasm_validate_abi::{self as abi, Operation};
use wasmi::TypedFunc;

use crate::{
    Context, Engine, EvalError, Evaluation, HostState, Limits, Policy, call_with_deadline,
    kubewarden, read_response, reuse,
};

/// A library member's fuel budget is its own module's for the same
/// request divided by this. The library's code is the policy's own Rust,
/// compiled with the other policies in one unit, so its fuel differs from
/// the policy's own module's by a few percent (inlining) and by the
/// `wv_alloc` call and copy the library does not make; with half the
/// budget, a member that ends within it would end within its own module's
/// too. One that runs out is an [`EvalError::OutOfFuel`] here, and the
/// caller evaluates it again in its own module, whose answer counts.
pub const LIBRARY_FUEL_SHARE: u64 = 2;

/// One policy of a library evaluation ([`Engine::evaluate_library`]).
#[derive(Debug, Clone, Copy)]
pub struct LibraryMember<'a> {
    /// Its index in the library module (for the built-in library,
    /// `wasm_validate_builtin::library_index`).
    pub index: u32,
    /// Its settings as a version 2 section ([`abi::tape::encode`]).
    pub settings: &'a [u8],
    /// The limits its own module evaluates under ([`Policy::limits`]): its
    /// memory, response and log limits hold here as they are, its fuel
    /// budget is divided by [`LIBRARY_FUEL_SHARE`].
    pub limits: Limits,
    /// Whether it is a mutating policy (a patch in its answer is allowed).
    pub mutating: bool,
}

/// A library instance with the requests written and marked.
struct Live {
    idle: reuse::Idle,
    /// Where the buffer starts in the instance's memory.
    at: i32,
    evaluate_at: TypedFunc<(i32, i32, i32), i64>,
}

impl Engine {
    /// Evaluates `members`, policies of the library module `library`, on
    /// one `object` (a version 2 section, [`abi::tape::encode`]; with
    /// `old_object` for an `UPDATE` or `DELETE`) in one instance, in order,
    /// and returns one result per member. A member that ends normally
    /// answers what [`Engine::evaluate_in`] would for its own module on the
    /// same request, except that `fuel_used` counts its `wv_evaluate_at`
    /// call only; an error may be the library's own (half the fuel, a
    /// larger memory), which is why callers redo erring members alone.
    ///
    /// Each member runs under its own limits, with half its fuel budget
    /// ([`LIBRARY_FUEL_SHARE`]), and `context`'s deadline and yield
    /// allowance as in [`Engine::evaluate_in`]. A member whose call traps
    /// (fuel, memory, stack, a panic) gets the error, and the members after
    /// it run in a fresh instance; a caller that wants the policy's own
    /// answer evaluates such a member again in its own module. Once the
    /// deadline has passed or the allowance is spent, that error is every
    /// remaining member's. An instance whose members all ended normally is
    /// written back to its starting state and kept for the next call (as in
    /// `reuse.rs`).
    ///
    /// `library` must export `wv_mark` and `wv_evaluate_at`; a module that
    /// does not gives every member an [`EvalError::Instantiation`].
    pub fn evaluate_library(
        &self,
        library: &Policy,
        operation: Operation,
        object: &[u8],
        old_object: Option<&[u8]>,
        members: &[LibraryMember<'_>],
        context: &Context,
    ) -> Vec<Result<Evaluation, EvalError>> {
        let settings: Vec<&[u8]> = members.iter().map(|m| m.settings).collect();
        let (buffer, starts) = abi::tape::requests(operation, &settings, object, old_object);
        let shared = object.len() + old_object.map_or(0, <[u8]>::len);
        let mut results: Vec<Result<Evaluation, EvalError>> = Vec::with_capacity(members.len());
        let mut live: Option<Live> = None;
        let mut stopped: Option<EvalError> = None;
        for (member, &start) in members.iter().zip(&starts) {
            if let Some(stop) = &stopped {
                results.push(Err(match stop {
                    EvalError::Deadline(_) => EvalError::Deadline(0),
                    _ => EvalError::Yielded(0),
                }));
                continue;
            }
            // The member's limits for the request its own module would get.
            let alone = abi::tape::HEADER_LEN + member.settings.len() + shared;
            let own = member.limits.for_request(alone);
            let limits = Limits {
                fuel: own.fuel / LIBRARY_FUEL_SHARE,
                ..own
            };
            let state = match live.take() {
                Some(state) => Ok(state),
                None => self.library_instance(library, &buffer),
            };
            let mut state = match state {
                Ok(state) => state,
                Err(error) => {
                    results.push(Err(error));
                    continue;
                }
            };
            let store = &mut state.idle.store;
            *store.data_mut() = HostState::new(&limits, kubewarden::WapcState::default());
            if let Err(error) = store.set_fuel(limits.fuel) {
                results.push(Err(EvalError::Trap(error.to_string())));
                continue;
            }
            let params = (
                member.index as i32,
                state.at + start as i32,
                (buffer.len() - start) as i32,
            );
            let packed =
                match call_with_deadline(store, &state.evaluate_at, params, context, limits.fuel) {
                    Ok(Ok(packed)) => packed as u64,
                    Ok(Err(error)) => {
                        // The instance trapped: it is dropped, and the next
                        // member gets a fresh one.
                        results.push(Err(self.classify(error, &limits)));
                        continue;
                    }
                    Err(error) => {
                        stopped = Some(error.clone());
                        results.push(Err(error));
                        continue;
                    }
                };
            let response = read_response(
                state.idle.memory.data(&state.idle.store),
                packed,
                limits.response_bytes,
                member.mutating,
            );
            let fuel_left = state.idle.store.get_fuel().unwrap_or(0);
            let logs = std::mem::take(&mut state.idle.store.data_mut().logs);
            results.push(response.map(|response| Evaluation {
                response,
                fuel_used: limits.fuel - fuel_left,
                logs,
            }));
            live = Some(state);
        }
        if let Some(state) = live {
            library.pool.give_back(state.idle);
        }
        results
    }

    /// An instance of `library` in its starting state with `buffer`
    /// written into it and marked (`wv_mark`).
    fn library_instance(&self, library: &Policy, buffer: &[u8]) -> Result<Live, EvalError> {
        let limits = library.limits.for_request(buffer.len());
        let mut idle = self.instance_for(library, &limits)?;
        let not_a_library = |_| {
            EvalError::Instantiation(
                "not a library module: it exports no wv_mark and wv_evaluate_at (docs/abi.md)"
                    .to_owned(),
            )
        };
        let mark = idle
            .instance
            .get_typed_func::<(), ()>(&idle.store, abi::exports::MARK)
            .map_err(not_a_library)?;
        let evaluate_at = idle
            .instance
            .get_typed_func::<(i32, i32, i32), i64>(&idle.store, abi::exports::EVALUATE_AT)
            .map_err(not_a_library)?;
        let (at, _) =
            self.write_with(&mut idle.store, &idle.alloc, idle.memory, buffer, &limits)?;
        mark.call(&mut idle.store, ())
            .map_err(|e| self.classify(e, &limits))?;
        Ok(Live {
            idle,
            at,
            evaluate_at,
        })
    }
}
