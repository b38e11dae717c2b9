//! The cluster's objects for the policies prepared with a run's objects
//! (Gatekeeper's `data.inventory`, and the Namespaces a constraint's
//! `namespaceSelector` reads). Offline, the run is the files checked; at
//! admission it is the cluster, as Gatekeeper's synced cache is. Every
//! sync interval the policy source lists what those policies select and
//! read ([`crate::PolicySource::objects`]), the policy set is prepared
//! again with them, and the new set replaces the one serving atomically,
//! as a reload does; requests in flight keep the set they started with. A
//! read that fails keeps the set serving, and is logged and counted
//! (`wasm_validate_reloads_total{what="objects",result="error"}`). A set
//! reloaded from its files is prepared with the objects last read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use wasm_validate_abi::Rule;
use wasm_validate_manifest::Resource;

use crate::{AppState, Policies, PolicySource, log};

/// The objects last read, and the set they were applied to.
#[derive(Default)]
pub(crate) struct Synced {
    /// The policies as loaded, before any objects (what a sync prepares
    /// again).
    pub(crate) base: RwLock<Option<Arc<Policies>>>,
    /// The objects of the last successful read.
    pub(crate) objects: Mutex<Option<Arc<Vec<Resource>>>>,
}

impl Policies {
    /// Whether a policy of either endpoint is prepared with the run's
    /// objects.
    pub(crate) fn needs_objects(&self) -> bool {
        self.validating.needs_run_objects() || self.mutating.needs_run_objects()
    }

    /// What those policies select and read, for the source to list.
    pub(crate) fn object_rules(&self) -> Vec<Rule> {
        self.validating
            .policies
            .iter()
            .chain(&self.mutating.policies)
            .filter_map(|p| {
                let run_objects = p.run_objects.as_ref()?;
                Some(
                    p.policy
                        .metadata()
                        .rules
                        .clone()
                        .into_iter()
                        .chain(run_objects.reads()),
                )
            })
            .flatten()
            .collect()
    }

    /// These policies with those that need them prepared with `objects`.
    pub(crate) fn with_objects(&self, objects: &[Resource]) -> Policies {
        let read: Vec<&Resource> = objects.iter().collect();
        Policies {
            validating: self.validating.with_run_objects(&self.engine, &read),
            mutating: self.mutating.with_run_objects(&self.engine, &read),
            engine: self.engine.clone(),
        }
    }
}

/// Serves `loaded` (a set just loaded from its files), prepared with the
/// objects last read when it needs them, and makes it the base of later
/// syncs. The base stays locked until the set is replaced (see
/// [`sync_once`]).
pub(crate) fn replace(state: &AppState, loaded: Arc<Policies>) {
    let mut base = state.synced.base.write().unwrap_or_else(|e| e.into_inner());
    *base = Some(loaded.clone());
    let objects = state
        .synced
        .objects
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let serving = match objects {
        Some(objects) if loaded.needs_objects() => Arc::new(loaded.with_objects(&objects)),
        _ => loaded,
    };
    *state.policies.write().unwrap_or_else(|e| e.into_inner()) = serving;
    drop(base);
}

/// Reads the objects and prepares the base set with them, once: the
/// number of objects read and of policies prepared.
pub(crate) fn sync_once(
    state: &AppState,
    source: &dyn PolicySource,
) -> Option<Result<(usize, usize), String>> {
    let base = state
        .synced
        .base
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()?;
    if !base.needs_objects() {
        return None;
    }
    let objects = match source.objects(&base.object_rules())? {
        Ok(objects) => Arc::new(objects),
        Err(error) => return Some(Err(error)),
    };
    let prepared = Arc::new(base.with_objects(&objects));
    // Of the policies that needed them, those prepared (the others are an
    // error result for every request they apply to, naming why).
    let count = base
        .validating
        .policies
        .iter()
        .zip(&prepared.validating.policies)
        .chain(
            base.mutating
                .policies
                .iter()
                .zip(&prepared.mutating.policies),
        )
        .filter(|(before, after)| before.needs_run_objects() && after.unavailable.is_none())
        .count();
    *state
        .synced
        .objects
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(objects.clone());
    // Only if the base is still the one prepared: a reload meanwhile has
    // prepared its own set with these objects' predecessors, and the next
    // sync prepares it with newer ones. The base stays locked while the
    // set is replaced, so that a reload cannot come in between and be
    // undone.
    let now = state.synced.base.read().unwrap_or_else(|e| e.into_inner());
    if now.as_ref().is_some_and(|now| Arc::ptr_eq(now, &base)) {
        *state.policies.write().unwrap_or_else(|e| e.into_inner()) = prepared;
    }
    drop(now);
    Some(Ok((objects.len(), count)))
}

/// Says on stderr that the policies which read other objects than the one
/// under review see none, when the set has any and no sync runs: a
/// constraint's `namespaceSelector` then matches nothing, which would
/// otherwise go unnoticed.
pub(crate) fn warn_unsynced(state: &AppState) {
    let Some(base) = state
        .synced
        .base
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    else {
        return;
    };
    let reading: Vec<&str> = base
        .validating
        .policies
        .iter()
        .chain(&base.mutating.policies)
        .filter(|p| p.needs_run_objects())
        .map(|p| p.id.as_str())
        .collect();
    if reading.is_empty() {
        return;
    }
    log::event(
        state.logging,
        "warn",
        &format!(
            "{} read other objects than the one under review (Gatekeeper's data.inventory or namespaceSelector, a ValidatingAdmissionPolicy's params); without --sync-interval they see none",
            reading.join(", ")
        ),
        &[],
    );
}

/// Syncs at once, then every `interval` until `stop` is set, on a thread
/// of its own (the source's reads block).
pub(crate) fn spawn(
    state: Arc<AppState>,
    source: Arc<dyn PolicySource>,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("wasm-validate-sync".to_owned())
        .spawn(move || {
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                next = Instant::now() + interval;
                match sync_once(&state, &*source) {
                    None => {}
                    Some(Ok((objects, policies))) => {
                        state.metrics.reload("objects", true);
                        log::event(
                            state.logging,
                            "info",
                            &format!(
                                "{objects} objects read from the cluster; {policies} policies prepared with them"
                            ),
                            &[],
                        );
                    }
                    Some(Err(error)) => {
                        state.metrics.reload("objects", false);
                        log::event(
                            state.logging,
                            "error",
                            &format!(
                                "cannot read the cluster's objects, the policies keep the last ones read: {error}"
                            ),
                            &[],
                        );
                    }
                }
            }
        })
        .expect("a thread starts")
}
