//! The SDK for wasm-validate policies written in Rust.
//!
//! A policy is a `cdylib` crate compiled to `wasm32-unknown-unknown` that calls
//! [`export_policy!`] once with its metadata JSON and its evaluate function:
//!
//! ```text
//! use wasm_validate_sdk::{export_policy, Object, Request, Response, NoSettings};
//!
//! fn evaluate(request: &Request<NoSettings, Object>) -> Response { Response::allow() }
//!
//! export_policy!(metadata = include_str!("../metadata.json"), evaluate = evaluate);
//! ```
//!
//! On wasm32 the macro exports `wv_abi_version` (2), `wv_alloc` and
//! `wv_evaluate` and embeds the metadata in the `wasm-validate.metadata`
//! custom section (see `docs/abi.md`). On other targets it only defines
//! `METADATA_JSON`, `evaluate_json` and `evaluate_tape`, so the same logic
//! can be tested and benchmarked natively.
//!
//! The request arrives as the host's tape (ABI version 2), read in place
//! and lazily: [`Object`] and the views under it ([`PodSpec`],
//! [`Container`], [`SecurityContext`], ...) read a field when the policy
//! calls its accessor, borrow strings from the tape, and skip every other
//! subtree in one step (see [`view`]). Settings are small and decoded with
//! serde into the policy's own type.

pub mod patch;
pub mod pods;
pub mod pss;
#[cfg(feature = "regexes")]
pub mod regexes;
pub mod response;
pub mod view;
pub mod workload;

pub use patch::patch_response;
pub use pods::{ContainerKind, ContainerRef, POD_SPEC_KINDS, PodSpecRef};
pub use response::encode_response;
pub use view::{Document, StringMap, Strings, ValueRef};
pub use wasm_validate_abi as abi;
pub use wasm_validate_abi::{
    LogLevel, Operation, Patch, PatchOperation, Request, Response, Severity, Violation,
    escape_pointer_token,
};
pub use workload::{
    AppArmorProfile, Capabilities, Container, ContainerPort, Handler, HostAction, JobTemplateSpec,
    Lifecycle, Object, ObjectMeta, PodOs, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeLinuxOptions, SeccompProfile, SecurityContext, SecurityProfile, Sysctl,
    Volume, WindowsOptions,
};

/// `n` in decimal, written at the end of `buffer` (20 bytes hold any
/// `u64`). Pointers and messages are built with it and `concat` rather
/// than `format!`: core's formatting machinery (a call through a trait
/// object per piece, padding checks, the string grown as it goes) made a
/// violating evaluation about three times as costly in wasmi as a passing
/// one (docs/performance.md).
pub fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &str {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    core::str::from_utf8(&buffer[at..]).expect("ASCII digits")
}

/// A violation with its message and the JSON Pointer (RFC 6901) of the
/// offending field.
pub fn violation(message: impl Into<String>, path: impl Into<String>) -> Violation {
    Violation {
        message: message.into(),
        path: path.into(),
    }
}

/// Settings type for policies that take no settings: accepts any object.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NoSettings {}

/// Writes a message to the host's log at `level` (a no-op outside wasm32).
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    guest::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}

/// Evaluates a version 1 (JSON) request: converts it to the version 2 tape,
/// as the host does, and runs [`evaluate_tape`]. Undecodable input becomes
/// an error response naming the problem. Native tests and benchmarks call
/// it; a wasm32 module only reads version 2.
pub fn evaluate_json<S, F>(request: &[u8], evaluate: F) -> Response
where
    S: serde::de::DeserializeOwned,
    F: for<'d> Fn(&Request<S, Object<'d>>) -> Response,
{
    let tape = serde_json::from_slice::<serde_json::Value>(request)
        .map_err(|e| e.to_string())
        .and_then(|json| abi::tape::request_from_json(&json).map_err(|e| e.to_string()));
    match tape {
        Ok(tape) => evaluate_tape(&tape, evaluate),
        Err(error) => Response::error(format!("cannot decode the request: {error}")),
    }
}

/// Evaluates an ABI version 2 request (the host's tape, `docs/abi.md`):
/// decodes the settings into `S` with serde, hands the policy a lazy
/// [`Object`] view of the object, and returns its response; this is what
/// `wv_evaluate` runs on wasm32.
///
/// Errors become error responses, `cannot decode the request: ...`: a
/// malformed request, settings that do not fit `S`, an object that is not a
/// JSON object, or a field the policy read that has the wrong type (the
/// message names its JSON Pointer; the policy's own answer is discarded,
/// since it was made from a value read as absent).
pub fn evaluate_tape<'r, S, F>(request: &'r [u8], evaluate: F) -> Response
where
    S: serde::Deserialize<'r>,
    F: for<'d> Fn(&Request<S, Object<'d>>) -> Response,
{
    let decoded = abi::tape::RequestView::parse(request).and_then(|view| {
        let settings = view
            .settings
            .deserialize::<S>()
            .map_err(|e| abi::tape::TapeError(format!("settings: {e}")))?;
        Ok((view, settings))
    });
    let (view, settings) = match decoded {
        Ok(decoded) => decoded,
        Err(error) => return Response::error(format!("cannot decode the request: {error}")),
    };
    let document = Document::new(view.object);
    let root = document.root();
    if !root.is_object() {
        let _ = root.as_object();
        let problem = document.problem().unwrap_or_default();
        return Response::error(format!("cannot decode the request: object {problem}"));
    }
    let response = evaluate(&Request {
        operation: view.operation,
        settings,
        object: Object::new(root),
    });
    match document.problem() {
        Some(problem) => Response::error(format!("cannot decode the request: object {problem}")),
        None => response,
    }
}

/// Internals used by [`export_policy!`]; not a stable API.
#[doc(hidden)]
pub mod __private {
    /// Copies a string's bytes into an array at compile time (for the metadata section).
    pub const fn bytes<const N: usize>(text: &str) -> [u8; N] {
        let source = text.as_bytes();
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = source[i];
            i += 1;
        }
        out
    }

    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{alloc, answer, evaluate, take};

    #[cfg(all(target_arch = "wasm32", feature = "library"))]
    pub use crate::library::{evaluate_at, mark};
}

/// A region of linear memory handed out by bumping a pointer, grown a page
/// at a time with `memory.grow`: the allocation both guest allocators
/// share (the policies' `bump`, the runtimes' `arena` after preparation).
#[cfg(all(
    target_arch = "wasm32",
    any(feature = "bump-allocator", feature = "prepared-arena")
))]
mod region {
    use core::alloc::Layout;
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    pub(crate) const PAGE: usize = 65536;

    /// `GlobalAlloc::realloc`'s default: a new block of `new_size` bytes
    /// from `allocator`, the first bytes of the old one copied into it, the
    /// old one given back.
    ///
    /// # Safety
    ///
    /// The caller's guarantees of `GlobalAlloc::realloc`.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn grow_by_copy<A: core::alloc::GlobalAlloc>(
        allocator: &A,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: `realloc`'s caller guarantees that `new_size`, rounded
        // up to `layout.align()`, does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size, as `realloc` requires.
        let new = unsafe { allocator.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not
            // overlap (the new one is fresh); the old one was allocated by
            // `allocator` with `layout`.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                allocator.dealloc(ptr, layout);
            }
        }
        new
    }

    /// `[next, end)` is free; `end` is the end of linear memory.
    pub(crate) struct Region {
        pub(crate) next: AtomicUsize,
        pub(crate) end: AtomicUsize,
    }

    impl Region {
        pub(crate) const fn new() -> Region {
            Region {
                next: AtomicUsize::new(0),
                end: AtomicUsize::new(0),
            }
        }

        /// Starts the region at `at`, up to the current end of memory.
        pub(crate) fn start_at(&self, at: usize) {
            self.next.store(at, Relaxed);
            self.end
                .store(core::arch::wasm32::memory_size(0) * PAGE, Relaxed);
        }

        /// The address of a block of `layout.size()` bytes aligned to
        /// `layout.align()` that no earlier block overlaps (the pointer only
        /// moves forward, memory only grows), or null when memory cannot
        /// grow to hold it.
        pub(crate) fn take(&self, layout: Layout) -> *mut u8 {
            let start = self.next.load(Relaxed).next_multiple_of(layout.align());
            let Some(stop) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if !self.reach(stop) {
                return core::ptr::null_mut();
            }
            self.next.store(stop, Relaxed);
            start as *mut u8
        }

        /// Resizes the block of `old` bytes at `at` to `new` bytes where it
        /// is, when it is the last block taken (a `String` or `Vec` being
        /// built, the usual case) and memory can grow to hold it; `false`
        /// otherwise, and nothing changes. Growing in place saves the copy a
        /// new block would need: in wasmi, the copies of a growing response
        /// and message were about a tenth of a violating evaluation.
        pub(crate) fn resize_last(&self, at: usize, old: usize, new: usize) -> bool {
            if at.checked_add(old) != Some(self.next.load(Relaxed)) {
                return false;
            }
            let Some(stop) = at.checked_add(new) else {
                return false;
            };
            if !self.reach(stop) {
                return false;
            }
            self.next.store(stop, Relaxed);
            true
        }

        /// Grows memory, if needed, so that it ends at or after `stop`;
        /// `false` when it cannot.
        fn reach(&self, stop: usize) -> bool {
            let end = self.end.load(Relaxed);
            if stop > end {
                let pages = (stop - end).div_ceil(PAGE);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return false;
                }
                self.end.store(end + pages * PAGE, Relaxed);
            }
            true
        }
    }
}

/// The guest's global allocator: a bump allocator that never frees.
///
/// The host runs every evaluation in an instance in its starting state and
/// throws away or writes back the whole memory afterwards, so freeing is
/// wasted work: measured in wasmi, ten small
/// allocations cost about 25,000 fuel with Rust's default dlmalloc on a fresh
/// heap and about 3,800 with this allocator. Growth stays bounded by the host's
/// memory limit; a policy that allocates without bound ends with a
/// memory-limit error, as it would anyway.
///
/// The `bump-allocator` feature (on by default) installs it; a module that
/// is prepared once and snapshotted (`wv_prepare`, the runtimes) frees what
/// preparation used and turns the feature off to keep Rust's allocator.
#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
#[allow(unsafe_code)]
mod bump {
    use core::alloc::{GlobalAlloc, Layout};
    use core::sync::atomic::Ordering::Relaxed;

    use crate::region::{Region, grow_by_copy};

    // SAFETY: wasm-ld defines `__heap_base`; only its address is taken,
    // never its value.
    unsafe extern "C" {
        /// First byte after the module's data and stack, set by wasm-ld.
        static __heap_base: u8;
    }

    struct Bump(Region);

    #[global_allocator]
    static ALLOCATOR: Bump = Bump(Region::new());

    /// The next free byte (where the next block would start).
    #[cfg(feature = "library")]
    pub(crate) fn mark() -> usize {
        if ALLOCATOR.0.next.load(Relaxed) == 0 {
            ALLOCATOR
                .0
                .start_at(core::ptr::addr_of!(__heap_base) as usize);
        }
        ALLOCATOR.0.next.load(Relaxed)
    }

    /// Frees every block from `mark` on: the next one starts there again.
    #[cfg(feature = "library")]
    pub(crate) fn reset(mark: usize) {
        ALLOCATOR.0.next.store(mark, Relaxed);
    }

    // SAFETY: `alloc` returns either null or a block of `layout.size()` bytes
    // aligned to `layout.align()` inside linear memory that no other block
    // overlaps (`Region::take`: the pointer only moves forward from the
    // heap base, and memory only grows); Wasm guests here are
    // single-threaded.
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if self.0.next.load(Relaxed) == 0 {
                self.0.start_at(core::ptr::addr_of!(__heap_base) as usize);
            }
            self.0.take(layout)
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if self.0.resize_last(ptr as usize, layout.size(), new_size) {
                return ptr;
            }
            // SAFETY: as `GlobalAlloc::realloc`'s default, with the
            // caller's guarantees: a new block, the old bytes copied.
            unsafe { grow_by_copy(self, ptr, layout, new_size) }
        }
    }
}

/// The runtimes' global allocator: Rust's own (dlmalloc) while a runtime
/// prepares, so that what compiling frees is reused and the snapshot stays
/// small; from the end of `wv_prepare` on (the state every evaluation
/// starts from), a bump allocator above the prepared heap that never
/// frees, as the policies' does: each evaluation runs in a fresh instance
/// and is thrown away. Blocks from the preparation freed during an
/// evaluation go back to dlmalloc. Measured in wasmi on the typical Pod:
/// building the Rego runtime's `input` took about 40% less fuel.
///
/// The `prepared-arena` feature installs it (for runtimes; off by
/// default).
#[cfg(all(target_arch = "wasm32", feature = "prepared-arena"))]
#[allow(unsafe_code)]
mod arena {
    use core::alloc::{GlobalAlloc, Layout};
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::alloc::System;

    use crate::region::{PAGE, Region, grow_by_copy};

    struct Arena {
        /// First byte of the bump region; 0 while preparing.
        start: AtomicUsize,
        region: Region,
    }

    #[global_allocator]
    static ARENA: Arena = Arena {
        start: AtomicUsize::new(0),
        region: Region::new(),
    };

    /// Switches to bump allocation above the current memory (called once,
    /// at the end of a successful `wv_prepare`).
    pub fn start() {
        let top = core::arch::wasm32::memory_size(0) * PAGE;
        // Grown now, the reserve is part of the prepared state (zero
        // pages, which the snapshot does not store).
        core::arch::wasm32::memory_grow(0, RESERVE_PAGES);
        ARENA.region.start_at(top);
        ARENA.start.store(top, Relaxed);
    }

    /// Pages (64 KiB each) of bump region grown at the end of preparing,
    /// so that an evaluation allocating less (the typical one: the
    /// Gatekeeper and CEL benchmarks' policies on the typical Pod) never
    /// grows memory, and the engine can write its instance back and reuse
    /// it: an instance whose memory grew is dropped (the engine's
    /// `reuse.rs`). Each reserved page costs the engine about 0.7 µs per
    /// evaluation to check.
    const RESERVE_PAGES: usize = 8;

    // SAFETY: before `start`, every call goes to `System` unchanged. After
    // it, `alloc` returns null or a block from `Region::take` in pages grown
    // after every block dlmalloc owns (dlmalloc is never asked to allocate
    // again, so it never grows into them); blocks never overlap. `dealloc`
    // hands dlmalloc's blocks (below `start`) back to it and ignores the
    // bump region's. Wasm guests here are single-threaded.
    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if self.start.load(Relaxed) == 0 {
                // SAFETY: forwarded with the caller's guarantees.
                return unsafe { System.alloc(layout) };
            }
            self.region.take(layout)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let start = self.start.load(Relaxed);
            if start == 0 || (ptr as usize) < start {
                // SAFETY: a block dlmalloc allocated (below the bump
                // region), freed once by the caller.
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let start = self.start.load(Relaxed);
            if start == 0 {
                // SAFETY: forwarded with the caller's guarantees.
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            if (ptr as usize) >= start
                && self
                    .region
                    .resize_last(ptr as usize, layout.size(), new_size)
            {
                return ptr;
            }
            // SAFETY: as `GlobalAlloc::realloc`'s default, with the
            // caller's guarantees: a new block from the bump region, the old
            // bytes copied, the old block given back as `dealloc` does.
            unsafe { grow_by_copy(self, ptr, layout, new_size) }
        }
    }
}

/// Starts the runtimes' evaluation allocator, when installed (see `arena`).
#[doc(hidden)]
pub fn __start_evaluation_allocator() {
    #[cfg(all(target_arch = "wasm32", feature = "prepared-arena"))]
    arena::start();
}

/// The library module's evaluation ([`export_library!`]).
#[cfg(all(target_arch = "wasm32", feature = "library"))]
#[allow(unsafe_code)]
mod library {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use crate::Response;

    /// The heap's mark: the end of the host's request buffer.
    static MARK: AtomicUsize = AtomicUsize::new(0);

    /// `wv_mark`.
    pub fn mark() {
        MARK.store(crate::bump::mark(), Relaxed);
    }

    /// `wv_evaluate_at`.
    pub fn evaluate_at(policies: &[fn(&[u8]) -> Response], index: i32, ptr: i32, len: i32) -> i64 {
        let mark = MARK.load(Relaxed);
        if mark == 0 {
            return crate::guest::answer(&Response::error(
                "wv_evaluate_at before wv_mark: the host wrote no request",
            ));
        }
        crate::bump::reset(mark);
        let (start, len) = (ptr as u32 as usize, len as u32 as usize);
        let Some(policy) = usize::try_from(index).ok().and_then(|i| policies.get(i)) else {
            return crate::guest::answer(&Response::error(format!(
                "the library has no policy {index} (it has {})",
                policies.len()
            )));
        };
        if start == 0 || start.checked_add(len).is_none_or(|end| end > mark) {
            return crate::guest::answer(&Response::error(format!(
                "the request at {start}+{len} is not inside the buffer below {mark}"
            )));
        }
        // SAFETY: `start..start + len` lies below the mark, inside the
        // buffer the host reserved with `wv_alloc` before `wv_mark` and
        // wrote; nothing frees or writes it while the slice lives (blocks
        // are taken after the mark).
        let request = unsafe { core::slice::from_raw_parts(start as *const u8, len) };
        crate::guest::answer(&policy(request))
    }
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod guest {
    use crate::{LogLevel, Request, Response};

    // SAFETY: the host defines `wasm_validate.log` with exactly this type
    // (`docs/abi.md`); a module importing anything else is refused at load.
    #[link(wasm_import_module = "wasm_validate")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn host_log(level: i32, ptr: i32, len: i32);
    }

    pub fn log(level: LogLevel, message: &str) {
        // SAFETY: the host reads `len` bytes at `ptr` of our memory, which is
        // the live `message` slice, and keeps no reference to it.
        unsafe { host_log(level as i32, message.as_ptr() as i32, message.len() as i32) }
    }

    /// Reserves `len` bytes for the host to write the request into. The buffer
    /// is leaked here and reclaimed by [`evaluate`].
    pub fn alloc(len: i32) -> i32 {
        let Ok(len) = usize::try_from(len) else {
            return 0;
        };
        let mut buffer = Vec::<u8>::new();
        if buffer.try_reserve_exact(len).is_err() {
            return 0;
        }
        buffer.resize(len, 0);
        let ptr = buffer.as_mut_ptr();
        core::mem::forget(buffer);
        ptr as i32
    }

    /// Takes back the buffer from [`alloc`], evaluates the version 2
    /// request in it in place, and leaks the response for the host to read
    /// (the host discards the whole instance after the call, so nothing is
    /// freed by hand).
    pub fn evaluate<S, F>(ptr: i32, len: i32, f: F) -> i64
    where
        S: for<'a> serde::Deserialize<'a>,
        F: for<'d> Fn(&Request<S, crate::Object<'d>>) -> Response,
    {
        let request = take(ptr, len);
        let response = crate::evaluate_tape(&request, f);
        drop(request);
        answer(&response)
    }

    /// Takes back the buffer from [`alloc`] that the host filled.
    pub fn take(ptr: i32, len: i32) -> Vec<u8> {
        let len = len as usize;
        // SAFETY: `ptr` and `len` are exactly what `alloc(len)` returned and
        // reserved (capacity == length == len); the host wrote into that
        // buffer and passes ownership back with this call, once.
        unsafe { Vec::from_raw_parts(ptr as *mut u8, len, len) }
    }

    /// Leaks `response` for the host to read and returns what `wv_evaluate`
    /// returns: 0 for a plain allow, else `(ptr << 32) | len`.
    pub fn answer(response: &Response) -> i64 {
        if response.is_plain_allow() {
            return 0;
        }
        // Leaked as it is: a boxed slice would first shrink the buffer to
        // its length (a copy), and the host reads it and then writes the
        // whole instance back anyway.
        let encoded: &'static mut [u8] = crate::encode_response(response).leak();
        let out_len = encoded.len() as u64;
        let out_ptr = encoded.as_mut_ptr() as u32 as u64;
        ((out_ptr << 32) | out_len) as i64
    }
}

/// What [`export_policy!`] and [`export_runtime!`] both define on wasm32:
/// the metadata section from the `&'static str` constant `$metadata`,
/// `wv_abi_version` and `wv_alloc`. Internal; expands inside their
/// `#[allow(unsafe_code)]` block.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_common {
    ($metadata:ident) => {
        #[unsafe(link_section = "wasm-validate.metadata")]
        #[used]
        static METADATA: [u8; $metadata.len()] = $crate::__private::bytes($metadata);

        #[unsafe(no_mangle)]
        pub extern "C" fn wv_abi_version() -> i32 {
            $crate::abi::ABI_VERSION as i32
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn wv_alloc(len: i32) -> i32 {
            $crate::__private::alloc(len)
        }
    };
}

/// Exports a policy: `export_policy!(metadata = <&'static str JSON>, evaluate = <fn path>)`.
///
/// The evaluate function has the shape `fn(&Request<S, Object>) -> Response`
/// with `S` the settings type (serde) and [`Object`] the lazy object view.
/// Defines `pub const METADATA_JSON: &str`,
/// `pub fn evaluate_json(request: &[u8]) -> Response` (version 1 JSON) and
/// `pub fn evaluate_tape(request: &[u8]) -> Response` (version 2) on every
/// target; on wasm32 `wv_evaluate` reads version 2 requests.
#[macro_export]
macro_rules! export_policy {
    (metadata = $metadata:expr, evaluate = $evaluate:path $(,)?) => {
        /// The policy's metadata as JSON (also embedded in the Wasm custom section).
        pub const METADATA_JSON: &str = $metadata;

        /// Decodes a JSON request (ABI version 1) and evaluates it natively
        /// (tests, benchmarks).
        pub fn evaluate_json(request: &[u8]) -> $crate::Response {
            $crate::evaluate_json(request, $evaluate)
        }

        /// Reads a version 2 request (the host's tape) and evaluates it
        /// natively: what the module runs, compiled for the host (benchmarks).
        pub fn evaluate_tape(request: &[u8]) -> $crate::Response {
            $crate::evaluate_tape(request, $evaluate)
        }

        $crate::__policy_exports! {
            // SAFETY: the unsafe attributes name the ABI's exports and its
            // metadata section; each name is defined once per module, by this
            // macro, and the functions are safe Rust.
            #[cfg(target_arch = "wasm32")]
            #[allow(unsafe_code)]
            const _: () = {
                $crate::__export_common!(METADATA_JSON);

                #[unsafe(no_mangle)]
                pub extern "C" fn wv_evaluate(ptr: i32, len: i32) -> i64 {
                    $crate::__private::evaluate(ptr, len, $evaluate)
                }
            };
        }
    };
}

/// What [`export_policy!`] exports on wasm32 (the ABI's functions and the
/// metadata section): its input as it is, or nothing with the `library`
/// feature, when the policy is linked into a library module with others
/// ([`export_library!`]) and the library exports for all of them.
#[cfg(not(feature = "library"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __policy_exports {
    ($($exports:tt)*) => { $($exports)* };
}

/// See the other definition: with the `library` feature, nothing.
#[cfg(feature = "library")]
#[doc(hidden)]
#[macro_export]
macro_rules! __policy_exports {
    ($($exports:tt)*) => {};
}

/// Exports a **library module**: several policies linked into one module,
/// each evaluated by its index, so that a host evaluating many of them on
/// one object writes the object into one instance once and writes one
/// instance back afterwards (docs/abi.md, "Library modules"):
/// `export_library!(metadata = <&'static str JSON>, policies = [<fn path>, ...])`,
/// each path a `fn(&[u8]) -> Response` that evaluates a version 2 request
/// (the `evaluate_tape` that [`export_policy!`] defines in each policy's
/// crate). The policies' crates must be built with this crate's `library`
/// feature, which keeps their own exports out.
///
/// On wasm32 it exports `wv_abi_version`, `wv_alloc` and the metadata
/// section as a policy does, and:
/// - `wv_mark()`: keeps everything allocated so far (the host's request
///   buffer) and makes it the point the heap goes back to;
/// - `wv_evaluate_at(index, ptr, len) -> i64`: frees everything allocated
///   since the mark, evaluates the version 2 request of `len` bytes at
///   `ptr` (inside the marked buffer) with the policy at `index`, and
///   answers as `wv_evaluate` does; an index or range that does not fit is
///   an error response;
/// - `wv_evaluate`, which answers every request with an error (a library
///   is not one policy).
///
/// Going back to the mark frees every block, so a policy in a library must
/// keep nothing between evaluations (no static holding what it allocated);
/// the policies of `policies/` keep nothing (`crates/pipeline`'s
/// `library_and_own_modules_give_the_same_results` runs them in two orders
/// in one instance and compares every result with their own modules').
#[macro_export]
macro_rules! export_library {
    (metadata = $metadata:expr, policies = [$($policy:path),* $(,)?] $(,)?) => {
        // SAFETY: the unsafe attributes name the ABI's exports and its
        // metadata section; each name is defined once per module, by this
        // macro, and the functions are safe Rust.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            const LIBRARY_METADATA: &str = $metadata;
            $crate::__export_common!(LIBRARY_METADATA);

            static POLICIES: &[fn(&[u8]) -> $crate::Response] = &[$($policy),*];

            #[unsafe(no_mangle)]
            pub extern "C" fn wv_mark() {
                $crate::__private::mark();
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn wv_evaluate_at(index: i32, ptr: i32, len: i32) -> i64 {
                $crate::__private::evaluate_at(POLICIES, index, ptr, len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn wv_evaluate(_ptr: i32, _len: i32) -> i64 {
                $crate::__private::answer(&$crate::Response::error(
                    "a library module evaluates its policies with wv_evaluate_at",
                ))
            }
        };
    };
}

/// Exports a runtime, a module prepared once with the program it runs
/// (`wv_prepare`, `docs/abi.md`): `export_runtime!(metadata = <&'static
/// str JSON>, prepare = <fn(&[u8]) -> Result<(), String>>, evaluate =
/// <fn(&[u8]) -> Response>)`. `prepare` gets the settings tape section and
/// `evaluate` the version 2 request; an `Err` from `prepare` refuses the
/// settings with its message. On wasm32 this defines the ABI's exports and
/// the metadata section; on other targets nothing.
#[macro_export]
macro_rules! export_runtime {
    (metadata = $metadata:expr, prepare = $prepare:path, evaluate = $evaluate:path $(,)?) => {
        // SAFETY: the unsafe attributes name the ABI's exports and its
        // metadata section; each name is defined once per module, by this
        // macro, and the functions are safe Rust.
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            const RUNTIME_METADATA: &str = $metadata;
            $crate::__export_common!(RUNTIME_METADATA);

            #[unsafe(no_mangle)]
            pub extern "C" fn wv_prepare(ptr: i32, len: i32) -> i64 {
                let settings = $crate::__private::take(ptr, len);
                match $prepare(&settings) {
                    Ok(()) => {
                        drop(settings);
                        $crate::__start_evaluation_allocator();
                        0
                    }
                    Err(error) => $crate::__private::answer(&$crate::Response::error(error)),
                }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn wv_evaluate(ptr: i32, len: i32) -> i64 {
                let request = $crate::__private::take(ptr, len);
                $crate::__private::answer(&$evaluate(&request))
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_what_display_writes() {
        let mut buffer = [0u8; 20];
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            assert_eq!(decimal(n, &mut buffer), n.to_string());
        }
    }
}
