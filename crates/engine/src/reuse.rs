//! Instance reuse: after an evaluation that ended normally, its store and
//! instance are put back into their starting state and kept for the next
//! evaluation of the same policy, instead of a new store and instance
//! being built each time. On the typical Pod this takes about a third off
//! an evaluation of a built-in policy (docs/performance.md), since wasmi
//! allocates every function, table and global of a module in a new store.
//!
//! Isolation holds for the same reason as with prepared modules
//! (`snapshot.rs`): an instance's whole mutable state is its linear memory,
//! its mutable globals and its tables, and a module is reused only when
//! [`crate::snapshot::scan_state`] proved at load that every mutable global
//! is exported (so the host can restore it) and that no instruction changes
//! a table or drops a segment. The starting state (memory bytes and global
//! values, after instantiation and a prepared policy's snapshot) is recorded
//! once per policy from its first fresh instance; returning an instance
//! writes the whole memory and every mutable global back to it. An instance
//! is dropped instead when its evaluation trapped or failed in any way, when
//! its memory grew (a grown memory could not be shrunk back), or when the
//! starting memory is larger than [`MAX_REUSED_MEMORY`] (comparing it
//! would cost more than a fresh instance, whose untouched pages are free). The
//! store's fuel, limits and logs are set afresh for every evaluation, so
//! fuel stays deterministic: the guest sees the same state either way.
//! Idle instances are kept up to [`MAX_IDLE`] per policy and
//! [`MAX_IDLE_BYTES`] of memory across the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use wasmi::{Global, Instance, Memory, Store, TypedFunc, Val};

use wasm_validate_abi as abi;

use crate::HostState;

/// Largest starting memory, in bytes, whose instances are reused (64
/// pages). Writing an instance back costs about 10 µs per MiB (comparing
/// it with the starting state), while a fresh instance of a small module
/// costs a few µs whatever its memory, since untouched pages are free. For
/// the Rego and CEL runtimes (about 1.7 MiB: a 512 KiB stack, 0.5 MB of data,
/// the prepared heap and the allocator's reserve) a fresh instance costs
/// about 90 µs (thousands of functions allocated in the store, the data
/// segments copied, memory grown to the snapshot's size) and writing one
/// back about 20 µs (docs/performance.md).
pub(crate) const MAX_REUSED_MEMORY: usize = 4 << 20;

/// The granularity, in bytes, at which a returned instance's memory is
/// compared with the starting state and written back (a divisor of the
/// 64 KiB page).
const RESTORE_CHUNK: usize = 1024;

/// Idle instances kept per policy: enough for one per worker thread on the
/// machines we run on; more concurrent evaluations build fresh ones.
const MAX_IDLE: usize = 16;

/// Bytes of linear memory that idle instances may hold in all, across the
/// process's pools: an idle instance of a runtime holds about 2.2 MiB, and
/// a machine with many threads evaluating many Rego or CEL policies would
/// otherwise keep one per thread and policy. Past it, an instance is
/// dropped instead of kept, and the next evaluation builds a fresh one.
const MAX_IDLE_BYTES: usize = 128 << 20;

/// Bytes of linear memory held by idle instances now, across all pools.
static IDLE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The starting state every reused instance is put back into.
#[derive(Debug)]
struct Base {
    memory: Box<[u8]>,
    /// For each [`RESTORE_CHUNK`] of `memory`: whether it is all zero.
    zero: Box<[bool]>,
    globals: Vec<Val>,
}

/// A chunk of zeros to compare with, small enough to stay in the CPU's
/// first-level cache, so that checking a chunk that starts zero (most of
/// a module's memory: the stack and the free heap) reads only the
/// instance's memory.
static ZEROS: [u8; RESTORE_CHUNK] = [0; RESTORE_CHUNK];

/// An instance ready for an evaluation, in its starting state, with the
/// exports every evaluation uses, looked up by name once per instance
/// rather than once per evaluation.
pub(crate) struct Idle {
    pub(crate) store: Store<HostState>,
    pub(crate) memory: Memory,
    /// `wv_alloc`.
    pub(crate) alloc: TypedFunc<i32, i32>,
    /// `wv_evaluate`.
    pub(crate) evaluate: TypedFunc<(i32, i32), i64>,
    /// The instance, for other exports (a library module's).
    pub(crate) instance: Instance,
    /// The module's mutable globals, in the order of the pool's export
    /// names; empty when the pool does not reuse instances.
    globals: Vec<Global>,
}

impl Idle {
    /// The exports of `instance` an evaluation uses; the error is wasmi's
    /// when a function is missing or has another type.
    pub(crate) fn new(
        store: Store<HostState>,
        instance: &Instance,
        memory: Memory,
        pool: &Pool,
    ) -> Result<Idle, wasmi::Error> {
        let alloc = instance.get_typed_func::<i32, i32>(&store, abi::exports::ALLOC)?;
        let evaluate =
            instance.get_typed_func::<(i32, i32), i64>(&store, abi::exports::EVALUATE)?;
        let globals = pool
            .globals
            .iter()
            .flat_map(|names| names.iter())
            .map_while(|name| instance.get_global(&store, name))
            .collect();
        Ok(Idle {
            store,
            memory,
            alloc,
            evaluate,
            instance: *instance,
            globals,
        })
    }
}

/// A policy's idle instances. Shared by the clones of a [`crate::Policy`];
/// [`crate::Engine::prepare`] gives the prepared policy a pool of its own.
#[derive(Default)]
pub(crate) struct Pool {
    /// Export names of the module's mutable globals; `None` when the
    /// module's state cannot be restored, so that it is never reused.
    globals: Option<Arc<[String]>>,
    base: OnceLock<Option<Base>>,
    idle: Mutex<Vec<Idle>>,
}

impl Pool {
    /// A pool for a module whose mutable globals are `globals` (`None`: not
    /// reusable).
    pub(crate) fn new(globals: Option<Arc<[String]>>) -> Arc<Pool> {
        Arc::new(Pool {
            globals,
            base: OnceLock::new(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Whether instances of the module may be reused at all.
    pub(crate) fn is_reusable(&self) -> bool {
        self.globals.is_some() && self.base.get().is_none_or(Option::is_some)
    }

    /// An idle instance in its starting state, if one is kept.
    pub(crate) fn take(&self) -> Option<Idle> {
        let idle = self.idle.lock().ok()?.pop()?;
        IDLE_BYTES.fetch_sub(self.instance_bytes(), Ordering::Relaxed);
        Some(idle)
    }

    /// Records the starting state from a fresh instance, ready for its
    /// evaluation, once per pool.
    pub(crate) fn record_base(
        &self,
        store: &Store<HostState>,
        instance: &Instance,
        memory: Memory,
    ) {
        let Some(names) = &self.globals else { return };
        self.base.get_or_init(|| {
            let data = memory.data(store);
            if data.len() > MAX_REUSED_MEMORY {
                return None;
            }
            let globals = names
                .iter()
                .map(|name| Some(instance.get_global(store, name)?.get(store)))
                .collect::<Option<Vec<Val>>>()?;
            Some(Base {
                memory: data.into(),
                zero: data
                    .chunks(RESTORE_CHUNK)
                    .map(|chunk| chunk.iter().all(|b| *b == 0))
                    .collect(),
                globals,
            })
        });
    }

    /// Puts an instance whose evaluation ended normally back into the
    /// starting state and keeps it, or drops it (see the module docs).
    pub(crate) fn give_back(&self, mut idle: Idle) {
        let (Some(names), Some(Some(base))) = (&self.globals, self.base.get()) else {
            return;
        };
        if idle.globals.len() != names.len() {
            return;
        }
        let data = idle.memory.data_mut(&mut idle.store);
        if data.len() != base.memory.len() {
            return;
        }
        // Chunk by chunk, writing only the chunks that differ: an
        // evaluation dirties a few (the top of the stack, the allocator's
        // state, the request and what it allocates), and comparing a clean
        // chunk is cheaper than writing it.
        for ((now, then), zero) in data
            .chunks_mut(RESTORE_CHUNK)
            .zip(base.memory.chunks(RESTORE_CHUNK))
            .zip(&base.zero)
        {
            let then = if *zero { &ZEROS[..then.len()] } else { then };
            if now != then {
                now.copy_from_slice(then);
            }
        }
        for (global, value) in idle.globals.iter().zip(&base.globals) {
            if global.set(&mut idle.store, value.clone()).is_err() {
                return;
            }
        }
        let bytes = base.memory.len();
        if let Ok(mut kept) = self.idle.lock()
            && kept.len() < MAX_IDLE
            && IDLE_BYTES
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                    (held + bytes <= MAX_IDLE_BYTES).then_some(held + bytes)
                })
                .is_ok()
        {
            kept.push(idle);
        }
    }

    /// Bytes of linear memory each idle instance holds (its starting
    /// memory; an instance whose memory grew is never kept).
    fn instance_bytes(&self) -> usize {
        match self.base.get() {
            Some(Some(base)) => base.memory.len(),
            _ => 0,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let kept = self.idle.get_mut().map_or(0, |idle| idle.len());
        IDLE_BYTES.fetch_sub(kept * self.instance_bytes(), Ordering::Relaxed);
    }
}
