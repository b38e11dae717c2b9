//! The admission webhook's protocol: an `admission.k8s.io/v1`
//! AdmissionReview in, the configured policy set's verdict out, for the
//! validating and the mutating endpoint of `wasm-validate serve`. No policy
//! logic lives here: matching, exemptions, actions and mutations are the
//! pipeline's, exactly as offline ([`wasm_validate_pipeline::evaluate_admission`]);
//! this crate turns a review into a resource and the pipeline's results into
//! an AdmissionResponse.
//!
//! What reaches the policies: the object (for DELETE, the object being
//! deleted, which the API server sends as `oldObject`), the operation, and
//! `oldObject` on UPDATE and DELETE, through the ABI (version 2's request
//! header and old-object section, version 1's `operation`).
//!
//! The response (Kubernetes "Dynamic Admission Control"): `uid` echoed;
//! `allowed`; for a denial a `status` with code 403 (a policy denied) or
//! 500 (only policies that could not run) and a message naming each policy
//! and field, one per line; `warnings` for policies whose action is `warn`
//! and for what policies warn themselves, each at most 120 characters and
//! all at most 4 KiB; `auditAnnotations` for `audit` policies, one per
//! policy, and the `auditAnnotations` a ValidatingAdmissionPolicy gives
//! (`POLICY/KEY`, the unique values of several bindings joined with
//! commas); and from the mutating endpoint only, the applied patches as one
//! base64 RFC 6902 `JSONPatch` (the API server refuses a patch from a
//! validating webhook).
#![forbid(unsafe_code)]

pub mod review;
mod verdict;

use std::sync::Arc;

use serde_json::Value;
use wasm_validate_abi::Operation;
use wasm_validate_engine::{Context, Engine};
use wasm_validate_manifest::{Resource, Source};
use wasm_validate_pipeline::{Admission, PolicySet};

pub use review::{AdmissionRequest, AdmissionResponse, AdmissionReview, Status};
pub use verdict::{MAX_WARNING_CHARS, MAX_WARNINGS_BYTES, fit_warnings};

/// Which webhook a review came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The ValidatingWebhookConfiguration's: runs the validating policies.
    Validating,
    /// The MutatingWebhookConfiguration's: runs the mutating policies and
    /// answers with their patch.
    Mutating,
}

/// A review that cannot be answered with a verdict; the server answers it
/// with HTTP 400 and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON of an AdmissionReview's shape.
    #[error("the body is not an AdmissionReview: {0}")]
    Malformed(String),
    /// Another `apiVersion` than `admission.k8s.io/v1`.
    #[error("apiVersion {0:?} is not served (only admission.k8s.io/v1)")]
    ApiVersion(String),
    /// Another `kind` than `AdmissionReview`.
    #[error("kind {0:?} is not AdmissionReview")]
    Kind(String),
    /// No `request`.
    #[error("the AdmissionReview has no request")]
    NoRequest,
    /// An empty `request.uid`, which the response could not echo.
    #[error("the AdmissionReview's request has no uid")]
    NoUid,
}

/// The policies `endpoint` runs, taken from `set` once when a policy set is
/// loaded: the mutating policies for [`Endpoint::Mutating`], the others for
/// [`Endpoint::Validating`], with the set's exemptions; the validating
/// endpoint keeps the set's schema stage, for custom resources (see
/// [`review`]).
pub fn policies_for(set: &PolicySet, endpoint: Endpoint) -> PolicySet {
    let mutating = endpoint == Endpoint::Mutating;
    PolicySet {
        policies: set
            .policies
            .iter()
            .filter(|p| p.policy.metadata().mutating == mutating)
            .cloned()
            .collect(),
        exemptions: set.exemptions.clone(),
        ignore_annotations: set.ignore_annotations,
        unloadable: Vec::new(),
        schema: if mutating { None } else { set.schema.clone() },
    }
}

/// Answers the AdmissionReview in `body` with `set` (the endpoint's
/// policies, see [`policies_for`]): the review to send back, with the
/// request's `uid` echoed. A review without an object to check (CONNECT,
/// or a DELETE the API server sends no `oldObject` for) is allowed. A
/// policy still running at `deadline` stops with an error, which its
/// `failurePolicy` then handles like any other, so the request is answered
/// in time.
///
/// On the validating endpoint, a CREATE or UPDATE of a custom resource
/// whose CRD the set's schema stage has (`schema.crdPaths`) is checked
/// against it as offline, its `x-kubernetes-validations` rules included,
/// with `oldSelf` on UPDATE for transition rules (each node's old value
/// correlated as the API server does); the findings deny as the `schema`
/// policy (`[schema] MESSAGE (at POINTER)`). Built-in kinds are not
/// checked: the API server has, before it calls a validating webhook.
pub fn review(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    body: &[u8],
    deadline: Option<std::time::Instant>,
) -> Result<AdmissionReview, ReviewError> {
    review_detailed(engine, set, endpoint, body, deadline).map(|reviewed| reviewed.review)
}

/// What one policy did on a request, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The policy's name (its `id`).
    pub policy: String,
    /// `pass`, `fail` or `error`.
    pub outcome: &'static str,
    /// Fuel it used (0 when it failed to run).
    pub fuel: u64,
}

/// A review answered, with what the server reports about it.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The review to send back.
    pub review: AdmissionReview,
    /// The request's operation.
    pub operation: Operation,
    /// The request's kind (`request.kind.kind`).
    pub kind: String,
    /// The request's uid.
    pub uid: String,
    /// The request's namespace (empty for cluster-scoped resources).
    pub namespace: String,
    /// The request's name.
    pub name: String,
    /// Each policy that ran, in policy order.
    pub evaluations: Vec<Evaluated>,
}

/// [`review`], with the operation, the kind and what each policy did.
pub fn review_detailed(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    body: &[u8],
    deadline: Option<std::time::Instant>,
) -> Result<Reviewed, ReviewError> {
    review_within(engine, set, endpoint, body, deadline, None)
        .expect("without a yield allowance a review finishes")
}

/// [`review_detailed`], tried within `fuel` units of fuel for all of its
/// evaluations together (the engine's yield allowance,
/// [`Context::with_yield_after`]): `None` when they need more, and nothing
/// is answered; the caller then runs [`review_detailed`] where it may take
/// long (a thread that may block). A review that cannot be read is
/// answered either way. For a server that answers most requests on the
/// thread that read them and hands only slow ones to other threads
/// (docs/admission.md).
pub fn try_review_detailed(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    body: &[u8],
    deadline: Option<std::time::Instant>,
    fuel: u64,
) -> Option<Result<Reviewed, ReviewError>> {
    review_within(engine, set, endpoint, body, deadline, Some(fuel))
}

/// [`review_detailed`] under an optional yield allowance; `None` when the
/// allowance was spent.
fn review_within(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    body: &[u8],
    deadline: Option<std::time::Instant>,
    yield_after: Option<u64>,
) -> Option<Result<Reviewed, ReviewError>> {
    match read_request(body) {
        Ok(request) => {
            review_request(engine, set, endpoint, body, request, deadline, yield_after).map(Ok)
        }
        Err(error) => Some(Err(error)),
    }
}

/// The review in `body` and its request, checked.
fn read_request(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    let review: AdmissionReview =
        serde_json::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
    if review.api_version != review::API_VERSION {
        return Err(ReviewError::ApiVersion(review.api_version));
    }
    if review.kind != review::KIND {
        return Err(ReviewError::Kind(review.kind));
    }
    let request = review.request.ok_or(ReviewError::NoRequest)?;
    if request.uid.is_empty() {
        return Err(ReviewError::NoUid);
    }
    Ok(request)
}

/// Answers `request`; `None` when the yield allowance was spent.
fn review_request(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    body: &[u8],
    request: AdmissionRequest,
    deadline: Option<std::time::Instant>,
    yield_after: Option<u64>,
) -> Option<Reviewed> {
    let mut context = Context::default();
    // Kubewarden policies, and policies that take `input.review` in their
    // settings (Gatekeeper's), get the request as the API server sent it
    // (read again only when the set has one).
    if set.policies.iter().any(|p| {
        p.policy.protocol() == wasm_validate_engine::Protocol::Kubewarden || p.review_in_settings
    }) {
        let raw = serde_json::from_slice::<Value>(body)
            .map(|mut v| v["request"].take())
            .unwrap_or(Value::Null);
        context = context.with_admission_request(raw);
    }
    if let Some(deadline) = deadline {
        context = context.with_deadline(deadline);
    }
    if let Some(fuel) = yield_after {
        context = context.with_yield_after(fuel);
    }
    let (operation, kind) = (request.operation, request.kind.kind.clone());
    let (uid, namespace, name) = (
        request.uid.clone(),
        request.namespace.clone(),
        request.name.clone(),
    );
    let (response, evaluations) = answer(engine, set, endpoint, request, &context);
    if context.yielded() {
        return None;
    }
    Some(Reviewed {
        review: AdmissionReview {
            api_version: review::API_VERSION.to_owned(),
            kind: review::KIND.to_owned(),
            request: None,
            response: Some(response),
        },
        operation,
        kind,
        uid,
        namespace,
        name,
        evaluations,
    })
}

/// The verdict on one request.
fn answer(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    mut request: AdmissionRequest,
    context: &Context,
) -> (AdmissionResponse, Vec<Evaluated>) {
    // The object is moved out of the request (copied only on DELETE,
    // where it is also the old object the policies see).
    let object = match request.operation {
        Operation::Delete => request.old_object.clone(),
        _ => request.object.take(),
    };
    let Some(object) = object.filter(Value::is_object) else {
        let allowed = AdmissionResponse {
            uid: request.uid,
            allowed: true,
            ..AdmissionResponse::default()
        };
        return (allowed, Vec::new());
    };
    let mut resource = Resource {
        object,
        source: Source {
            file: Arc::from(format!("admission request {}", request.uid)),
            document: 1,
            line: 1,
            item: None,
            helm_source: None,
        },
        modified: false,
    };
    let admission = Admission {
        operation: request.operation,
        old_object: request.old_object,
    };
    let schema = schema_findings(engine, set, endpoint, &resource.object, &admission, context);
    let results =
        wasm_validate_pipeline::evaluate_admission(engine, set, &mut resource, &admission, context);
    let mut evaluations: Vec<Evaluated> = results
        .iter()
        .map(|result| Evaluated {
            policy: set.policies[result.policy].name().to_owned(),
            outcome: match result.outcome {
                wasm_validate_pipeline::Outcome::Pass => "pass",
                wasm_validate_pipeline::Outcome::Fail(_) => "fail",
                wasm_validate_pipeline::Outcome::Error(_) => "error",
            },
            fuel: result.fuel_used,
        })
        .collect();
    if let Some(findings) = &schema {
        evaluations.insert(
            0,
            Evaluated {
                policy: wasm_validate_pipeline::SCHEMA_POLICY.to_owned(),
                outcome: if findings.is_empty() { "pass" } else { "fail" },
                fuel: 0,
            },
        );
    }
    (
        verdict::assemble(
            set,
            endpoint,
            request.uid,
            &results,
            schema.as_deref().unwrap_or_default(),
        ),
        evaluations,
    )
}

/// The schema stage's findings on a custom resource the set's CRDs define,
/// on the validating endpoint's CREATE and UPDATE (see [`review`]);
/// `None` when it does not apply.
fn schema_findings(
    engine: &Engine,
    set: &PolicySet,
    endpoint: Endpoint,
    object: &Value,
    admission: &Admission,
    context: &Context,
) -> Option<Vec<wasm_validate_schema::Finding>> {
    let stage = set.schema.as_ref()?;
    let old = match admission.operation {
        Operation::Create => None,
        Operation::Update => admission.old_object.as_ref(),
        Operation::Delete | Operation::Connect => return None,
    };
    if endpoint != Endpoint::Validating || !stage.schemas.defines(object) {
        return None;
    }
    let mut outcomes = vec![stage.schemas.validate_update(object, old)];
    wasm_validate_pipeline::check_crd_rules_in(
        engine,
        &stage.schemas,
        &mut outcomes,
        &stage.rule_cache,
        context,
    );
    outcomes.pop().map(|outcome| outcome.findings)
}
