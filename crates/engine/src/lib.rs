//! The policy engine: the only crate that depends on wasmi.
//!
//! One [`Engine`] per process holds the wasmi engine and the linker that
//! offers the ABI's imports. [`Engine::load`] validates a module, checks its
//! imports, exports and metadata, and returns a [`Policy`] that every thread
//! can share; each function is translated to wasmi's bytecode when it is
//! first called (lazily: start-up pays only for the code that runs), and
//! translation costs no fuel, so fuel use is deterministic.
//! [`Engine::evaluate`] runs one request in an instance in the module's starting
//! state (fresh, or reused and written back: `reuse.rs`) under
//! the policy's [`Limits`]; every trap and malformed answer comes back as an
//! [`EvalError`] for that evaluation only.
//!
//! The ABI is described in `docs/abi.md`; its types live in `wasm-validate-abi`.
//!
//! Kubewarden policies (waPC protocol, a small deny-by-default WASI subset)
//! are recognised at load and run through the same [`Engine::evaluate_in`]:
//! see [`kubewarden`] and `docs/kubewarden.md`.
#![forbid(unsafe_code)]

use std::fmt;

mod error;
pub mod kubewarden;
mod library;
mod limits;
mod module;
mod policy;
mod response;
mod reuse;
mod snapshot;

pub use error::{EvalError, LoadError};
mod context;
mod deadline;

pub use context::Context;
pub use deadline::DEADLINE_FUEL_SLICE;
use deadline::call_with_deadline;
pub use kubewarden::KUBEWARDEN_METADATA_SECTION;
pub use library::{LIBRARY_FUEL_SHARE, LibraryMember};
pub use limits::{EngineConfig, Limits};
pub use policy::Policy;
pub use response::read_response;

use module::{check_exports, read_metadata};

use wasm_validate_abi::{self as abi, LogLevel, Response};
use wasmi::TrapCode;
use wasmi::{
    Caller, CompilationMode, Config, CustomFuelCosts, EnforcedLimits, ExternType, Linker, Module,
    Store, StoreLimits, StoreLimitsBuilder, ValType,
};

/// One log message written by a policy through the `log` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The level the policy gave.
    pub level: LogLevel,
    /// The message (invalid UTF-8 replaced).
    pub message: String,
}

/// A successful evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The policy's answer.
    pub response: Response,
    /// Fuel units consumed, deterministic for a given module and request.
    pub fuel_used: u64,
    /// Log messages the policy wrote.
    pub logs: Vec<LogRecord>,
}

/// The protocol a policy module speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// wasm-validate's own ABI, version 1 or 2 (`docs/abi.md`).
    Native,
    /// Kubewarden's waPC protocol (`docs/kubewarden.md`).
    Kubewarden,
}

struct HostState {
    limits: StoreLimits,
    logs: Vec<LogRecord>,
    log_budget: usize,
    wapc: kubewarden::WapcState,
}

/// The process-wide engine: compiles modules and runs evaluations.
/// `Send + Sync`; share one by reference across threads.
pub struct Engine {
    engine: wasmi::Engine,
    linker: Linker<HostState>,
    config: EngineConfig,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

fn log_import(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) {
    let Some(memory) = caller
        .get_export(abi::exports::MEMORY)
        .and_then(|e| e.into_memory())
    else {
        return;
    };
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let take = len.min(caller.data().log_budget);
    let kept = memory
        .data(&caller)
        .get(start..start.saturating_add(take))
        .map(<[u8]>::to_vec);
    let state = caller.data_mut();
    match kept {
        Some(kept) => state.push_log(LogLevel::from_i32(level), &kept, len),
        None => state.logs.push(LogRecord {
            level: LogLevel::Warn,
            message: format!("log call pointed outside memory ({start}+{len})"),
        }),
    }
}

impl HostState {
    /// The host state of one evaluation under `limits`: its memory and
    /// table limits, an empty log with the evaluation's budget.
    fn new(limits: &Limits, wapc: kubewarden::WapcState) -> HostState {
        HostState {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .table_elements(limits.table_elements)
                .instances(1)
                .memories(1)
                .tables(1)
                .trap_on_grow_failure(true)
                .build(),
            logs: Vec::new(),
            log_budget: limits.log_bytes,
            wapc,
        }
    }

    /// Records a log message of `len` bytes whose first bytes are `prefix`
    /// (at least as many as the remaining budget; invalid UTF-8 replaced),
    /// keeping at most the evaluation's remaining log budget. A cut message
    /// says so; once the budget is spent, messages are dropped.
    fn push_log(&mut self, level: LogLevel, prefix: &[u8], len: usize) {
        let take = len.min(self.log_budget).min(prefix.len());
        if take == 0 && len > 0 {
            return;
        }
        self.log_budget -= take;
        let mut message = String::from_utf8_lossy(&prefix[..take]).into_owned();
        if take < len {
            message.push_str(" [log truncated: per-evaluation log limit reached]");
        }
        self.logs.push(LogRecord { level, message });
    }
}

impl Engine {
    /// Creates the engine: fuel metering on; lazy compilation (a function
    /// is validated, when not done at load, and translated on its first
    /// call) with translation and validation charged no fuel, so that the
    /// fuel an evaluation uses does not depend on which evaluation happened
    /// to call a function first; wasmi's strict compile limits against
    /// modules built to be slow to compile; and the linker with the ABI's
    /// only import, `log`.
    pub fn new(config: EngineConfig) -> Self {
        let mut wasmi_config = Config::default();
        wasmi_config
            .consume_fuel(true)
            .compilation_mode(CompilationMode::Lazy)
            .fuel_cost(CustomFuelCosts {
                // wasmi's default for bulk memory operations.
                bytes_copied_per_fuel: 64,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            .enforced_limits(EnforcedLimits::strict())
            .set_max_recursion_depth(config.max_recursion_depth);
        let engine = wasmi::Engine::new(&wasmi_config);
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(abi::HOST_MODULE, abi::imports::LOG, log_import)
            .expect("the log import is defined once");
        kubewarden::define(&mut linker);
        Engine {
            engine,
            linker,
            config,
        }
    }

    /// Compiles and checks a policy module, given as Wasm binary or WAT text.
    ///
    /// Checks, in order: the module is valid; every import is one the ABI
    /// offers; `memory`, `wv_abi_version`, `wv_alloc` and `wv_evaluate`
    /// are exported with the ABI's types; the `wasm-validate.metadata` custom
    /// section holds valid [`Metadata`] of ABI version 1 or 2.
    ///
    /// A Kubewarden module (it exports `__guest_call` and imports from
    /// `wapc`) is checked instead for the waPC and WASI imports the host
    /// offers, its `io.kubewarden.metadata` section, and a `protocol_version`
    /// call answering `v1`; its name is the slug of its
    /// `io.kubewarden.policy.title` annotation, else `kubewarden-policy`
    /// (see [`Engine::load_named`]).
    pub fn load(&self, wasm: &[u8], limits: Limits) -> Result<Policy, LoadError> {
        self.load_named(wasm, limits, "kubewarden-policy")
    }

    /// [`Engine::load`], naming a Kubewarden policy without a title
    /// annotation `fallback_name` (for example its file's stem).
    pub fn load_named(
        &self,
        wasm: &[u8],
        limits: Limits,
        fallback_name: &str,
    ) -> Result<Policy, LoadError> {
        self.load_module(wasm, limits, fallback_name, true)
    }

    /// [`Engine::load_named`] without validating every function body at
    /// load: each is validated on its first call instead, and one that does
    /// not validate gives an error result for the evaluations that call it
    /// rather than a load error. Running such a module is as safe (wasmi
    /// never runs code it has not validated); only the moment an invalid
    /// module is noticed changes. For modules checked when they were built:
    /// the built-in library, whose modules `crates/builtin`'s tests load with
    /// full validation. Saves about 1.5 ms of start-up per built-in module
    /// (the whole library: 90 ms to 55 ms on one Pod).
    pub fn load_prevalidated(
        &self,
        wasm: &[u8],
        limits: Limits,
        fallback_name: &str,
    ) -> Result<Policy, LoadError> {
        self.load_module(wasm, limits, fallback_name, false)
    }

    fn load_module(
        &self,
        wasm: &[u8],
        limits: Limits,
        fallback_name: &str,
        validate: bool,
    ) -> Result<Policy, LoadError> {
        let invalid = |e: &dyn fmt::Display| LoadError::Invalid(e.to_string());
        if wasm.len() > self.config.max_module_bytes {
            return Err(LoadError::TooLarge {
                len: wasm.len(),
                max: self.config.max_module_bytes,
            });
        }
        let binary = wat::parse_bytes(wasm).map_err(|e| invalid(&e))?;
        if validate {
            Module::validate(&self.engine, &binary).map_err(|e| invalid(&e))?;
        }
        let module = Module::new(&self.engine, &binary).map_err(|e| invalid(&e))?;
        if kubewarden::is_kubewarden(&module) {
            kubewarden::check_imports(&module)?;
            let (metadata, info) = kubewarden::read_metadata(&module, fallback_name)?;
            let policy = Policy {
                module,
                metadata,
                limits,
                kubewarden: Some(info),
                preparable: None,
                snapshot: None,
                pool: reuse::Pool::new(None),
            };
            let answer = self
                .wapc_call(&policy, "protocol_version", b"", &Context::default())
                .map_err(|e| LoadError::Metadata(format!("protocol_version: {e}")))?;
            let version: Result<String, _> = serde_json::from_slice(&answer.0);
            if version.ok().as_deref() != Some("v1") {
                return Err(LoadError::Metadata(format!(
                    "protocol_version answered {}, this host speaks \"v1\"",
                    String::from_utf8_lossy(&answer.0)
                )));
            }
            return Ok(policy);
        }
        for import in module.imports() {
            let (module_name, name) = (import.module().to_owned(), import.name().to_owned());
            if import.module() != abi::HOST_MODULE || import.name() != abi::imports::LOG {
                return Err(LoadError::ForbiddenImport {
                    module: module_name,
                    name,
                });
            }
            match import.ty() {
                ExternType::Func(ty)
                    if ty.params() == [ValType::I32; 3] && ty.results().is_empty() => {}
                ExternType::Func(ty) => {
                    return Err(LoadError::ImportType {
                        module: module_name,
                        name,
                        found: format!("{:?} -> {:?}", ty.params(), ty.results()),
                    });
                }
                _ => {
                    return Err(LoadError::ImportType {
                        module: module_name,
                        name,
                        found: "something other than a function".to_owned(),
                    });
                }
            }
        }
        check_exports(&module)?;
        let metadata = read_metadata(&module)?;
        let state = snapshot::scan_state(&binary, validate)?;
        let restorable: Option<std::sync::Arc<[String]>> = state.restorable().ok().map(Into::into);
        let preparable = match module.get_export(abi::exports::PREPARE) {
            None => None,
            Some(ExternType::Func(ty))
                if ty.params() == [ValType::I32; 2] && ty.results() == [ValType::I64] =>
            {
                let globals = state.restorable().map_err(|problem| LoadError::Export {
                    name: abi::exports::PREPARE,
                    problem,
                })?;
                Some(globals.into())
            }
            Some(_) => {
                return Err(LoadError::Export {
                    name: abi::exports::PREPARE,
                    problem: "must be a function of type [I32, I32] -> [I64]".to_owned(),
                });
            }
        };
        Ok(Policy {
            module,
            metadata,
            limits,
            kubewarden: None,
            preparable,
            snapshot: None,
            pool: reuse::Pool::new(restorable),
        })
    }

    /// Asks a Kubewarden policy whether `settings` are valid (its
    /// `validate_settings` operation): `Ok` when they are, else the policy's
    /// message. Native policies' settings are checked against their schema
    /// by the pipeline; for them this returns `Ok`.
    pub fn validate_settings(
        &self,
        policy: &Policy,
        settings: &serde_json::Value,
    ) -> Result<(), String> {
        if policy.kubewarden.is_none() {
            return Ok(());
        }
        let payload = serde_json::to_vec(settings).expect("JSON encodes");
        let (answer, _) = self
            .wapc_call(policy, "validate_settings", &payload, &Context::default())
            .map_err(|e| e.to_string())?;
        kubewarden::decode_settings(&answer)
    }

    /// A fresh store for one evaluation under `limits`.
    fn store(
        &self,
        limits: &Limits,
        wapc: kubewarden::WapcState,
    ) -> Result<Store<HostState>, EvalError> {
        let mut store = Store::new(&self.engine, HostState::new(limits, wapc));
        store.limiter(|state| &mut state.limits);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| EvalError::Trap(e.to_string()))?;
        Ok(store)
    }

    /// A store and instance in the policy's starting state for one
    /// evaluation under `limits`: an idle one from the policy's pool with
    /// its host state and fuel set afresh, else a new store and instance
    /// (with a prepared policy's snapshot restored).
    fn instance_for(&self, policy: &Policy, limits: &Limits) -> Result<reuse::Idle, EvalError> {
        if let Some(mut idle) = policy.pool.take() {
            *idle.store.data_mut() = HostState::new(limits, kubewarden::WapcState::default());
            idle.store
                .set_fuel(limits.fuel)
                .map_err(|e| EvalError::Trap(e.to_string()))?;
            return Ok(idle);
        }
        let mut store = self.store(limits, kubewarden::WapcState::default())?;
        let (instance, memory) = self.instantiate_native(&mut store, policy, limits)?;
        match (&policy.snapshot, &policy.preparable) {
            (Some(snapshot), _) => snapshot
                .restore(&mut store, &instance, memory)
                .map_err(|e| self.classify(e, limits))?,
            (None, Some(_)) => {
                return Err(EvalError::Instantiation(
                    "the module exports wv_prepare and must be prepared with its settings \
                     before it is evaluated (a host mistake)"
                        .to_owned(),
                ));
            }
            (None, None) => {}
        }
        policy.pool.record_base(&store, &instance, memory);
        reuse::Idle::new(store, &instance, memory, &policy.pool)
            .map_err(|e| self.classify(e, limits))
    }

    /// One waPC call in a fresh instance: runs `_start` (a `proc_exit(0)`
    /// is a normal end) and `wapc_init` when exported, then `__guest_call`
    /// with `operation` and `payload`. Returns the guest's response bytes
    /// and the evaluation's bookkeeping (fuel used, logs).
    fn wapc_call(
        &self,
        policy: &Policy,
        operation: &str,
        payload: &[u8],
        context: &Context,
    ) -> Result<(Vec<u8>, Evaluation), EvalError> {
        let limits = policy.limits.for_request(payload.len());
        let info = policy.kubewarden.as_ref().expect("a Kubewarden policy");
        let mut store = self.store(
            &limits,
            kubewarden::WapcState::new(context.clone(), info, limits.response_bytes),
        )?;
        let classify = |error: wasmi::Error, store: &mut Store<HostState>| {
            store
                .data_mut()
                .wapc
                .failure
                .take()
                .unwrap_or_else(|| self.classify(error, &limits))
        };
        let instance = match self
            .linker
            .instantiate_and_start(&mut store, &policy.module)
        {
            Ok(instance) => instance,
            Err(error) => {
                return Err(match classify(error, &mut store) {
                    EvalError::Trap(message) => EvalError::Instantiation(message),
                    other => other,
                });
            }
        };
        for start in ["_start", "wapc_init"] {
            if let Ok(function) = instance.get_typed_func::<(), ()>(&store, start)
                && let Err(error) = function.call(&mut store, ())
            {
                if error.i32_exit_status() == Some(0) {
                    continue;
                }
                return Err(match classify(error, &mut store) {
                    EvalError::Trap(message) => {
                        EvalError::Instantiation(format!("{start}: {message}"))
                    }
                    other => other,
                });
            }
        }
        let guest_call = instance
            .get_typed_func::<(i32, i32), i32>(&store, "__guest_call")
            .map_err(|e| EvalError::Instantiation(e.to_string()))?;
        let (op_len, payload_len) = (
            i32::try_from(operation.len()).map_err(|_| EvalError::Alloc(operation.len()))?,
            i32::try_from(payload.len()).map_err(|_| EvalError::Alloc(payload.len()))?,
        );
        store.data_mut().wapc.set_call(operation, payload);
        let status = match call_with_deadline(
            &mut store,
            &guest_call,
            (op_len, payload_len),
            context,
            limits.fuel,
        )? {
            Ok(status) => status,
            Err(error) => {
                return Err(match error.i32_exit_status() {
                    Some(code) => EvalError::Policy(format!("the policy exited with code {code}")),
                    None => classify(error, &mut store),
                });
            }
        };
        let fuel_left = store.get_fuel().unwrap_or(0);
        let state = store.into_data();
        let evaluation = Evaluation {
            response: Response::allow(),
            fuel_used: limits.fuel - fuel_left,
            logs: state.logs,
        };
        let (response, error) = state.wapc.into_answer();
        match (status, response, error) {
            (1, Some(bytes), _) => Ok((bytes, evaluation)),
            (_, _, Some(error)) => Err(EvalError::Policy(
                String::from_utf8_lossy(&error).into_owned(),
            )),
            (status, _, None) => Err(EvalError::MalformedResponse(format!(
                "__guest_call returned {status} without a response or an error"
            ))),
        }
    }

    /// Runs one request through a policy in an instance in the module's
    /// starting state (a fresh store and instance, or a reused one written
    /// back to that state: [`Policy::reuses_instances`]), under the
    /// policy's limits, with no other resources to look up
    /// ([`Engine::evaluate_in`]). `request` is the JSON of an ABI `Request`
    /// (`{"operation", "settings", "object"}`), or a version 2 request
    /// ([`abi::tape::request`]) for a version 2 module.
    pub fn evaluate(&self, policy: &Policy, request: &[u8]) -> Result<Evaluation, EvalError> {
        self.evaluate_in(policy, request, &Context::default())
    }

    /// [`Engine::evaluate`], with the run's resources in `context` for the
    /// lookups of context-aware Kubewarden policies. A Kubewarden policy
    /// receives the request's object and settings as a CREATE admission
    /// request, and its answer is translated into a [`Response`].
    ///
    /// The request's form follows [`Policy::abi_version`]: a version 2
    /// module is given a version 2 request as it is and JSON after
    /// converting it ([`abi::tape::request_from_json`]; callers on a hot
    /// path encode the object once and pass version 2 requests); version 1
    /// and Kubewarden modules take JSON only, and a version 2 request for
    /// them is an error ([`EvalError::Trap`], a host mistake).
    pub fn evaluate_in(
        &self,
        policy: &Policy,
        request: &[u8],
        context: &Context,
    ) -> Result<Evaluation, EvalError> {
        let converted;
        let request = match (policy.abi_version(), abi::tape::is_request(request)) {
            (2, false) => {
                let json: serde_json::Value = serde_json::from_slice(request).map_err(|e| {
                    EvalError::Trap(format!("the host sent an invalid request: {e}"))
                })?;
                converted = abi::tape::request_from_json(&json).map_err(|e| {
                    EvalError::Trap(format!("the host sent an invalid request: {e}"))
                })?;
                &converted[..]
            }
            (2, true) => request,
            (version, true) => {
                return Err(EvalError::Trap(format!(
                    "the host sent an ABI version 2 request to a module that speaks version {version}"
                )));
            }
            (_, false) => request,
        };
        if policy.kubewarden.is_some() {
            let request: serde_json::Value = serde_json::from_slice(request)
                .map_err(|e| EvalError::Trap(format!("the host sent an invalid request: {e}")))?;
            let payload = kubewarden::validate_payload(
                &request["object"],
                &request["settings"],
                context.admission_request(),
            );
            let payload = serde_json::to_vec(&payload).expect("JSON encodes");
            let (answer, mut evaluation) = self.wapc_call(policy, "validate", &payload, context)?;
            evaluation.response =
                kubewarden::decode_validate(&answer, &request["object"], policy.metadata.mutating)?;
            return Ok(evaluation);
        }
        let limits = policy.limits.for_request(request.len());
        let classify = |error: wasmi::Error| self.classify(error, &limits);
        let mut idle = self.instance_for(policy, &limits)?;
        let (ptr, len) =
            self.write_with(&mut idle.store, &idle.alloc, idle.memory, request, &limits)?;
        let packed = call_with_deadline(
            &mut idle.store,
            &idle.evaluate,
            (ptr, len),
            context,
            limits.fuel,
        )?
        .map_err(classify)? as u64;

        let response = read_response(
            idle.memory.data(&idle.store),
            packed,
            limits.response_bytes,
            policy.metadata.mutating,
        )?;
        let fuel_left = idle.store.get_fuel().unwrap_or(0);
        let logs = std::mem::take(&mut idle.store.data_mut().logs);
        policy.pool.give_back(idle);
        Ok(Evaluation {
            response,
            fuel_used: limits.fuel - fuel_left,
            logs,
        })
    }

    /// Instantiates a native module in `store` and finds its memory.
    fn instantiate_native(
        &self,
        store: &mut Store<HostState>,
        policy: &Policy,
        limits: &Limits,
    ) -> Result<(wasmi::Instance, wasmi::Memory), EvalError> {
        let instance = self
            .linker
            .instantiate_and_start(&mut *store, &policy.module)
            .map_err(|e| match self.classify(e, limits) {
                EvalError::Trap(message) => EvalError::Instantiation(message),
                other => other,
            })?;
        let memory = instance
            .get_memory(&*store, abi::exports::MEMORY)
            .ok_or_else(|| EvalError::Instantiation("no memory export".to_owned()))?;
        Ok((instance, memory))
    }

    /// Copies `input` into a buffer the guest reserves with `wv_alloc`;
    /// returns its offset and length, as `wv_evaluate` and `wv_prepare`
    /// take them.
    fn write_input(
        &self,
        store: &mut Store<HostState>,
        instance: &wasmi::Instance,
        memory: wasmi::Memory,
        input: &[u8],
        limits: &Limits,
    ) -> Result<(i32, i32), EvalError> {
        let alloc = instance
            .get_typed_func::<i32, i32>(&*store, abi::exports::ALLOC)
            .map_err(|e| self.classify(e, limits))?;
        self.write_with(store, &alloc, memory, input, limits)
    }

    /// [`Engine::write_input`] with `wv_alloc` already looked up.
    fn write_with(
        &self,
        store: &mut Store<HostState>,
        alloc: &wasmi::TypedFunc<i32, i32>,
        memory: wasmi::Memory,
        input: &[u8],
        limits: &Limits,
    ) -> Result<(i32, i32), EvalError> {
        let len = i32::try_from(input.len()).map_err(|_| EvalError::Alloc(input.len()))?;
        let ptr = alloc
            .call(&mut *store, len)
            .map_err(|e| self.classify(e, limits))?;
        if ptr == 0 {
            return Err(EvalError::Alloc(input.len()));
        }
        memory
            .write(&mut *store, ptr as u32 as usize, input)
            .map_err(|_| EvalError::Alloc(input.len()))?;
        Ok((ptr, len))
    }

    fn classify(&self, error: wasmi::Error, limits: &Limits) -> EvalError {
        match error.as_trap_code() {
            Some(TrapCode::OutOfFuel) => EvalError::OutOfFuel(limits.fuel),
            Some(TrapCode::GrowthOperationLimited) => EvalError::MemoryLimit(limits.memory_bytes),
            Some(TrapCode::StackOverflow) => {
                EvalError::StackOverflow(self.config.max_recursion_depth)
            }
            Some(TrapCode::UnreachableCodeReached) => EvalError::Unreachable,
            Some(TrapCode::MemoryOutOfBounds) => EvalError::OutOfBounds,
            _ => {
                use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
                let memory = |e: &MemoryError| {
                    matches!(
                        e,
                        MemoryError::ResourceLimiterDeniedAllocation
                            | MemoryError::OutOfSystemMemory
                            | MemoryError::OutOfBoundsGrowth
                    )
                };
                let table = |e: &TableError| {
                    matches!(
                        e,
                        TableError::ResourceLimiterDeniedAllocation
                            | TableError::OutOfSystemMemory
                            | TableError::GrowOutOfBounds
                    )
                };
                match error.kind() {
                    ErrorKind::Memory(_) => EvalError::MemoryLimit(limits.memory_bytes),
                    ErrorKind::Instantiation(InstantiationError::FailedToInstantiateMemory(e))
                        if memory(e) =>
                    {
                        EvalError::MemoryLimit(limits.memory_bytes)
                    }
                    ErrorKind::Table(e)
                    | ErrorKind::Instantiation(InstantiationError::FailedToInstantiateTable(e))
                        if table(e) =>
                    {
                        EvalError::TableLimit(limits.table_elements)
                    }
                    _ => EvalError::Trap(error.to_string()),
                }
            }
        }
    }
}
