//! The `admission.k8s.io/v1` AdmissionReview as the API server sends and
//! reads it: only what a validating or mutating webhook uses. Field names
//! and meanings follow the Kubernetes API reference ("Dynamic Admission
//! Control"); fields this server does not read are kept where the response
//! must echo them and otherwise ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_validate_abi::Operation;

/// The only `apiVersion` served (`admissionReviewVersions: [v1]`).
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// The `kind` of a review.
pub const KIND: &str = "AdmissionReview";

/// An AdmissionReview: `request` on the way in, `response` on the way out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `AdmissionReview`.
    #[serde(default)]
    pub kind: String,
    /// What the API server asks about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AdmissionRequest>,
    /// The webhook's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AdmissionResponse>,
}

/// Group, version and kind (GVK), as in `request.kind`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct GroupVersionKind {
    /// API group, `""` for the core group.
    #[serde(default)]
    pub group: String,
    /// API version, for example `v1`.
    #[serde(default)]
    pub version: String,
    /// Kind, for example `Pod`.
    #[serde(default)]
    pub kind: String,
}

/// An AdmissionRequest (`request` of a review).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Identifies this call; the response must echo it.
    #[serde(default)]
    pub uid: String,
    /// The kind of the object (GVK).
    #[serde(default)]
    pub kind: GroupVersionKind,
    /// Its name, when known (empty on CREATE with `generateName`).
    #[serde(default)]
    pub name: String,
    /// Its namespace, empty for cluster-scoped resources.
    #[serde(default)]
    pub namespace: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: Operation,
    /// Who asked (`username`, `uid`, `groups`, `extra`), kept as given.
    #[serde(default)]
    pub user_info: Value,
    /// The object as it would be stored; `null` on DELETE.
    #[serde(default)]
    pub object: Option<Value>,
    /// The object as stored before; on UPDATE and DELETE.
    #[serde(default)]
    pub old_object: Option<Value>,
    /// Whether the request will not be persisted (`kubectl --dry-run=server`).
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// The `status` of a denial: an HTTP-like code and a message the API
/// server passes to the client after "admission webhook ... denied the
/// request: ".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Status {
    /// 403 for a denial by policy, 500 for a policy that could not run.
    pub code: u16,
    /// Each violated policy and field, one per line.
    pub message: String,
}

/// An AdmissionResponse (`response` of a review).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's `uid`, echoed.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Why it is not (set when `allowed` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `JSONPatch` when `patch` is set (mutating webhook only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The RFC 6902 patch, base64-encoded (mutating webhook only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Warnings shown to the client (each at most 120 characters, at most
    /// 4 KiB in all, as the API server wants).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Annotations the API server adds to the audit event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}
