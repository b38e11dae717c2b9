//! Pre-initialised modules: a module that exports `wv_prepare` is run once
//! with its settings ([`crate::Engine::prepare`]), and the state it leaves
//! (linear memory and mutable globals) becomes the starting state of every
//! later evaluation, each still in a fresh store and instance. This is how
//! the Rego runtime parses and compiles a template once instead of on every
//! evaluation (the technique of Wizer's pre-initialisation).
//!
//! Isolation holds because an instance's whole mutable state is its linear
//! memory, its mutable globals and its tables. At load, a module that
//! exports `wv_prepare` must export every mutable global it defines (so the
//! host can read and restore them) and must contain no instruction that
//! changes a table (`table.set`, `table.grow`, `table.fill`, `table.copy`,
//! `table.init`, `elem.drop`), so its tables are always those its element
//! segments build at instantiation; [`scan_state`] proves both. The
//! snapshot then records the memory pages that differ from a freshly
//! instantiated module's and the globals' values; restoring writes exactly
//! those into the new instance. Nothing one evaluation writes can reach the
//! next: each starts from the snapshot, in a new store.

use std::sync::Arc;

use wasm_validate_abi::{self as abi, tape};
use wasmi::{Instance, Memory, Store, Val};

use crate::{
    Engine, EvalError, LoadError, Policy, kubewarden::WapcState, read_response, reuse::Pool,
};

/// The granularity at which memory is compared and restored, in bytes.
const CHUNK: usize = 4096;

/// The state left by `wv_prepare`, applied to every new instance.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Memory size in 64 KiB pages after preparation.
    pages: u64,
    /// Byte ranges that differ from a fresh instance's memory: start offset
    /// and contents, in ascending order, non-overlapping.
    runs: Vec<(usize, Box<[u8]>)>,
    /// Exported mutable globals and their values after preparation.
    globals: Vec<(String, Val)>,
}

impl Snapshot {
    /// Records the state of `instance` after preparation, against the
    /// memory `fresh` of a just-instantiated instance of the same module.
    pub(crate) fn take<T>(
        store: &Store<T>,
        instance: &Instance,
        memory: Memory,
        fresh: &[u8],
        mutable_globals: &[String],
    ) -> Snapshot {
        let data = memory.data(store);
        let mut runs: Vec<(usize, Vec<u8>)> = Vec::new();
        for (index, chunk) in data.chunks(CHUNK).enumerate() {
            let start = index * CHUNK;
            let before = fresh.get(start..(start + chunk.len()).min(fresh.len()));
            let same = match before {
                Some(before) if before.len() == chunk.len() => before == chunk,
                // Beyond the fresh memory: zero unless written.
                _ => chunk.iter().all(|b| *b == 0),
            };
            if same {
                continue;
            }
            match runs.last_mut() {
                Some((at, bytes)) if *at + bytes.len() == start => bytes.extend_from_slice(chunk),
                _ => runs.push((start, chunk.to_vec())),
            }
        }
        let globals = mutable_globals
            .iter()
            .filter_map(|name| {
                let global = instance.get_global(store, name)?;
                Some((name.clone(), global.get(store)))
            })
            .collect();
        Snapshot {
            pages: memory.size(store),
            runs: runs
                .into_iter()
                .map(|(at, bytes)| (at, bytes.into_boxed_slice()))
                .collect(),
            globals,
        }
    }

    /// Bytes of memory the snapshot writes into each new instance.
    pub(crate) fn restored_bytes(&self) -> usize {
        self.runs.iter().map(|(_, bytes)| bytes.len()).sum()
    }

    /// Puts a freshly instantiated instance into the snapshot's state.
    /// Errors (a string for the caller's error) when memory cannot grow to
    /// the snapshot's size under the store's limits.
    pub(crate) fn restore<T>(
        &self,
        store: &mut Store<T>,
        instance: &Instance,
        memory: Memory,
    ) -> Result<(), wasmi::Error> {
        let now = memory.size(&*store);
        if self.pages > now {
            memory.grow(&mut *store, self.pages - now)?;
        }
        let data = memory.data_mut(&mut *store);
        for (at, bytes) in &self.runs {
            data[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        for (name, value) in &self.globals {
            if let Some(global) = instance.get_global(&*store, name) {
                global.set(&mut *store, value.clone())?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Prepares a policy whose module exports `wv_prepare` with its
    /// `settings`: runs `wv_prepare` once in a fresh instance under the
    /// policy's limits (the fuel budget grows with the settings' size, as
    /// an evaluation's does with its request) and returns the policy whose
    /// every evaluation starts from the state it left. A policy without
    /// `wv_prepare` comes back unchanged.
    ///
    /// Errors: any [`EvalError`] of the call (fuel, memory, trap), and
    /// [`EvalError::Policy`] with the module's message when it refuses the
    /// settings (for the Rego runtime: a parse or compile error).
    pub fn prepare(
        &self,
        policy: &Policy,
        settings: &serde_json::Value,
    ) -> Result<Policy, EvalError> {
        let Some(globals) = policy.preparable.clone() else {
            return Ok(policy.clone());
        };
        let section = tape::encode(settings);
        let limits = policy.limits.for_request(section.len());
        let mut store = self.store(&limits, WapcState::default())?;
        let classify = |error: wasmi::Error| self.classify(error, &limits);
        let (instance, memory) = self.instantiate_native(&mut store, policy, &limits)?;
        let fresh = memory.data(&store).to_vec();
        let prepare = instance
            .get_typed_func::<(i32, i32), i64>(&store, abi::exports::PREPARE)
            .map_err(classify)?;
        let (ptr, len) = self.write_input(&mut store, &instance, memory, &section, &limits)?;
        let packed = prepare.call(&mut store, (ptr, len)).map_err(classify)? as u64;
        if packed != 0 {
            let response =
                read_response(memory.data(&store), packed, limits.response_bytes, false)?;
            if let Some(error) = response.error {
                return Err(EvalError::Policy(error));
            }
        }
        let snapshot = Snapshot::take(&store, &instance, memory, &fresh, &globals);
        Ok(Policy {
            snapshot: Some(Arc::new(snapshot)),
            pool: Pool::new(Some(globals)),
            ..policy.clone()
        })
    }
}

/// What a module's binary says about the state its instances keep beyond
/// linear memory ([`scan_state`]).
#[derive(Debug)]
pub(crate) struct StateScan {
    /// The export names of the module's mutable globals, or why they cannot
    /// all be read and restored (one is imported, or one is not exported).
    globals: Result<Vec<String>, String>,
    /// The first instruction found that changes a table or drops a
    /// segment, when the code was scanned.
    state_change: Option<String>,
}

impl StateScan {
    /// The export names of the mutable globals when an instance's whole
    /// state (memory, those globals; tables and segments never change) can
    /// be read and restored; else the reason it cannot, worded to follow
    /// "is exported by a module ...".
    pub(crate) fn restorable(&self) -> Result<&[String], String> {
        if let Some(operator) = &self.state_change {
            return Err(format!(
                "is exported by a module whose code changes a table or drops a segment \
                 ({operator}); its tables could not be restored"
            ));
        }
        self.globals.as_deref().map_err(Clone::clone)
    }
}

/// Reads, from the module's sections, whether every mutable global it
/// defines is exported (and none is imported), and (with `scan_code`)
/// whether any function changes a table (`table.set`, `table.grow`,
/// `table.fill`, `table.copy`, `table.init`, `elem.drop`) or drops a data
/// segment (`data.drop`). Scanning the code is what full validation at load
/// does; a prevalidated built-in module (a runtime has about 2 MB of code,
/// some 10 ms to scan) is scanned by `crates/builtin`'s tests, which load
/// it with validation. Errors only on a binary wasmparser cannot read.
pub(crate) fn scan_state(binary: &[u8], scan_code: bool) -> Result<StateScan, LoadError> {
    use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};
    let invalid = |e: wasmparser::BinaryReaderError| LoadError::Invalid(e.to_string());
    let mut imported_globals = 0u32;
    let mut imports_mutable = false;
    let mut mutable: Vec<u32> = Vec::new();
    let mut exported: Vec<(u32, String)> = Vec::new();
    let mut state_change = None;
    for payload in Parser::new(0).parse_all(binary) {
        match payload.map_err(invalid)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Global(ty) = import.map_err(invalid)?.ty {
                        imports_mutable |= ty.mutable;
                        imported_globals += 1;
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for (index, global) in reader.into_iter().enumerate() {
                    if global.map_err(invalid)?.ty.mutable {
                        mutable.push(imported_globals + index as u32);
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if export.kind == ExternalKind::Global {
                        exported.push((export.index, export.name.to_owned()));
                    }
                }
            }
            Payload::CodeSectionEntry(body) if scan_code && state_change.is_none() => {
                let mut operators = body.get_operators_reader().map_err(invalid)?;
                while !operators.eof() {
                    let operator = operators.read().map_err(invalid)?;
                    if matches!(
                        operator,
                        Operator::TableSet { .. }
                            | Operator::TableGrow { .. }
                            | Operator::TableFill { .. }
                            | Operator::TableCopy { .. }
                            | Operator::TableInit { .. }
                            | Operator::ElemDrop { .. }
                            | Operator::DataDrop { .. }
                    ) {
                        state_change = Some(format!("{operator:?}"));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let globals = if imports_mutable {
        Err("is exported by a module that imports a mutable global".to_owned())
    } else {
        mutable
            .into_iter()
            .map(|index| {
                exported
                    .iter()
                    .find(|(at, _)| *at == index)
                    .map(|(_, name)| name.clone())
                    .ok_or_else(|| {
                        format!(
                            "is exported by a module whose mutable global {index} is not \
                             exported; its value could not be restored"
                        )
                    })
            })
            .collect()
    };
    Ok(StateScan {
        globals,
        state_change,
    })
}
