//! Why a module could not be loaded, and why an evaluation failed.

/// Why a module could not be loaded as a policy.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not valid Wasm (or WAT), or rejected by the engine's compile limits.
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    /// The module is larger than [`EngineConfig::max_module_bytes`].
    #[error("the module is {len} bytes, larger than the limit of {max} bytes")]
    TooLarge {
        /// The module's size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The module imports something the host does not offer.
    #[error(
        "imports \"{module}\".\"{name}\", which the host does not offer (a policy may import only \"wasm_validate\".\"log\")"
    )]
    ForbiddenImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// The module imports the host's `log` function with another type than
    /// the ABI's `(i32, i32, i32) -> ()`.
    #[error(
        "imports \"{module}\".\"{name}\" as {found}, but the host offers it as (i32, i32, i32) -> ()"
    )]
    ImportType {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
        /// The type the module declares, or the kind of import.
        found: String,
    },
    /// A Kubewarden module imports something the host does not offer.
    #[error(
        "imports \"{module}\".\"{name}\", which the host does not offer to Kubewarden policies (the waPC functions and the WASI functions fd_write, environ_get, environ_sizes_get, args_get, args_sizes_get, random_get and proc_exit)"
    )]
    ForbiddenKubewardenImport {
        /// Import module name.
        module: String,
        /// Import field name.
        name: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("export \"{name}\" {problem}")]
    Export {
        /// Export name.
        name: &'static str,
        /// What is wrong, for example `is missing` or `must be (i32) -> i32`.
        problem: String,
    },
    /// The metadata section is missing or invalid.
    #[error("metadata: {0}")]
    Metadata(String),
}

/// Why one evaluation failed. The run goes on with the other evaluations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The fuel budget ran out (an endless or too-long computation).
    #[error("out of fuel: the policy used its whole budget of {0} fuel units")]
    OutOfFuel(u64),
    /// The policy declared or tried to grow its memory past the limit.
    #[error("memory limit: the policy tried to grow past {0} bytes of linear memory")]
    MemoryLimit(usize),
    /// The policy declared or grew a table past the limit of elements.
    #[error("table limit: the policy tried to grow a table past {0} elements")]
    TableLimit(usize),
    /// Call nesting deeper than the engine's recursion limit.
    #[error("stack overflow: call depth beyond the limit of {0}")]
    StackOverflow(usize),
    /// The policy executed `unreachable` (a Rust panic or abort).
    #[error("the policy trapped: unreachable code reached (a panic or abort in the policy)")]
    Unreachable,
    /// A memory access outside the linear memory.
    #[error("the policy trapped: out-of-bounds memory access")]
    OutOfBounds,
    /// Any other trap or host error during the evaluation.
    #[error("the policy trapped: {0}")]
    Trap(String),
    /// The instance could not be created.
    #[error("cannot instantiate the policy: {0}")]
    Instantiation(String),
    /// `wv_alloc` returned 0 or an out-of-bounds buffer.
    #[error("the policy could not allocate {0} bytes for the request")]
    Alloc(usize),
    /// The response was too large.
    #[error("response of {len} bytes is larger than the limit of {max} bytes")]
    ResponseTooLarge {
        /// Size the policy claimed.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The response could not be read or decoded, or breaks the ABI's rules.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// The policy itself reported that it could not evaluate the request.
    #[error("the policy reported an error: {0}")]
    Policy(String),
    /// The request's wall-clock deadline passed while the policy ran.
    #[error("deadline: the request's time ran out while the policy ran (after {0} fuel units)")]
    Deadline(u64),
    /// The context's yield allowance ([`crate::Context::with_yield_after`])
    /// was spent while the policy ran (after this many fuel units of its
    /// own): the evaluation stopped so that the caller can run it again
    /// where it may take longer. Not a verdict on the policy.
    #[error("yielded: the evaluation used up the fuel allowed here (after {0} fuel units)")]
    Yielded(u64),
}
