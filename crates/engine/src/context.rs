//! The context of an evaluation: the resources of the run (for
//! context-aware Kubewarden lookups), the request's deadline and, at
//! admission, the AdmissionRequest as the API server sent it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// The resources of the current run, which the `kubernetes` host
/// capability answers from: every object as read (before mutations).
/// Cheap to clone.
///
/// It also carries the wall-clock deadline of the request an evaluation
/// belongs to, if any (admission): see [`Context::with_deadline`].
#[derive(Debug, Clone, Default)]
pub struct Context {
    objects: Arc<Vec<Value>>,
    deadline: Option<std::time::Instant>,
    request: Option<Arc<Value>>,
    yield_after: Option<Arc<AtomicU64>>,
}

impl Context {
    /// A context holding `objects` (Kubernetes objects with `apiVersion`,
    /// `kind` and `metadata`).
    pub fn new(objects: Vec<Value>) -> Context {
        Context {
            objects: Arc::new(objects),
            deadline: None,
            request: None,
            yield_after: None,
        }
    }

    /// The same context with a wall-clock deadline: an evaluation still
    /// running at `deadline` stops with [`crate::EvalError::Deadline`]. The
    /// engine gives the policy its fuel in slices and checks the clock
    /// between them, so a policy is stopped within one slice of the
    /// deadline ([`crate::DEADLINE_FUEL_SLICE`]); fuel stays the same for the
    /// same evaluation.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Context {
        self.deadline = Some(deadline);
        self
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// The same context with a yield allowance of `fuel` units, shared by
    /// every evaluation in it (and its clones): an evaluation that would
    /// take the fuel used in the context past `fuel` stops with
    /// [`crate::EvalError::Yielded`] (checked at the same slices as the
    /// deadline, never more than the allowance apart). For a server that
    /// tries a request on the thread that read it and moves it to a thread
    /// that may block only when it takes longer (docs/admission.md).
    pub fn with_yield_after(mut self, fuel: u64) -> Context {
        self.yield_after = Some(Arc::new(AtomicU64::new(fuel)));
        self
    }

    /// Whether the yield allowance ([`Context::with_yield_after`]) is
    /// spent: an evaluation in this context stopped with
    /// [`crate::EvalError::Yielded`], or the next would, so the caller does
    /// not use what the context's evaluations answered.
    pub fn yielded(&self) -> bool {
        self.yield_after
            .as_ref()
            .is_some_and(|left| left.load(Ordering::Relaxed) == 0)
    }

    /// The fuel the yield allowance has left, if there is one.
    pub(crate) fn yield_allowance(&self) -> Option<&AtomicU64> {
        self.yield_after.as_deref()
    }

    /// The same context for an admission request: `request` is the
    /// `admission.k8s.io/v1` AdmissionRequest as the API server sent it.
    /// Kubewarden policies then receive it (its uid, user, namespace, name,
    /// operation, old object and options) instead of the CREATE made up for
    /// offline runs, with `object` set to the object being evaluated.
    pub fn with_admission_request(mut self, request: Value) -> Context {
        self.request = Some(Arc::new(request));
        self
    }

    /// The objects of the run.
    pub(crate) fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// The admission request, if any.
    pub fn admission_request(&self) -> Option<&Value> {
        self.request.as_deref()
    }
}
