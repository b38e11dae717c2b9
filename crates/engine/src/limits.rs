//! The limits of one evaluation and of the engine (`docs/security.md`).

/// Resource limits for one evaluation (one request in one fresh instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel: wasmi's deterministic instruction budget; roughly one unit per
    /// executed Wasm instruction. The budget of one evaluation is
    /// [`Limits::fuel_for`] the request's size: this base plus
    /// [`Limits::fuel_per_request_byte`] for each byte. Default 100,000,000
    /// (a typical evaluation uses well under 1,000,000).
    pub fuel: u64,
    /// Fuel added to the budget for each byte of the request (its JSON for
    /// ABI version 1 and Kubewarden policies, its tape for version 2), so
    /// that a policy that decodes what it is given is not stopped on a
    /// large legitimate object (a 1 MB CRD) while an endless loop still is.
    /// Default 1,000 (decoding JSON in the interpreter costs about 100 to
    /// 300 fuel per byte, docs/abi.md); 0 when the fuel is given
    /// explicitly (`--fuel`, `fuel:` in the configuration), which is then
    /// an exact cap.
    pub fuel_per_request_byte: u64,
    /// Maximum size of the linear memory in bytes. Default 64 MiB.
    pub memory_bytes: usize,
    /// Maximum number of elements of any table. Default 10,000.
    pub table_elements: usize,
    /// Maximum size of a response in bytes. Default 16 MiB.
    pub response_bytes: usize,
    /// Maximum bytes of log messages kept per evaluation; the rest is
    /// dropped with a note. Default 64 KiB.
    pub log_bytes: usize,
}

impl Limits {
    /// The fuel budget of one evaluation whose request is `request_bytes`
    /// long: `fuel + fuel_per_request_byte × request_bytes`, saturating.
    /// With the defaults, a 1 MB object gets about 1.1 billion units
    /// (about 1.4 s of interpretation here); the reading limits bound the
    /// request (32 MiB documents).
    pub fn fuel_for(&self, request_bytes: usize) -> u64 {
        self.fuel.saturating_add(
            self.fuel_per_request_byte
                .saturating_mul(request_bytes as u64),
        )
    }

    /// These limits for one request: the fuel set to its budget.
    pub(crate) fn for_request(&self, request_bytes: usize) -> Limits {
        Limits {
            fuel: self.fuel_for(request_bytes),
            fuel_per_request_byte: 0,
            ..*self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 100_000_000,
            fuel_per_request_byte: 1_000,
            memory_bytes: 64 << 20,
            table_elements: 10_000,
            response_bytes: 16 << 20,
            log_bytes: 64 << 10,
        }
    }
}

/// Settings of the process-wide [`Engine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Maximum depth of nested Wasm calls before a stack-overflow trap.
    /// Default 1,024.
    pub max_recursion_depth: usize,
    /// Largest module accepted by [`Engine::load`], in bytes of Wasm binary
    /// or WAT text; a larger one is refused before it is parsed. With
    /// wasmparser's own cap on one function's size (7,654,321 bytes) and
    /// wasmi's strict limits (at most 10,000 functions, a minimum average
    /// function size), this bounds the time and memory that parsing,
    /// validation and translation can take. Default 64 MiB (real policies
    /// are 0.1 to 15 MiB).
    pub max_module_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_recursion_depth: 1024,
            max_module_bytes: 64 << 20,
        }
    }
}
