//! The pipeline's results on one request, turned into an AdmissionResponse
//! (see the crate docs for what goes where).

use std::collections::BTreeMap;

use base64::Engine as _;
use wasm_validate_abi::{Patch, Violation};
use wasm_validate_pipeline::{Action, FailurePolicy, Outcome, PolicyResult, PolicySet};
use wasm_validate_schema::Finding;

use crate::Endpoint;
use crate::review::{AdmissionResponse, Status};

/// The most characters of one warning; longer ones are cut and end with
/// `…` (the API server's limit for a warning it shows in full, Kubernetes
/// "Admission webhook warnings").
pub const MAX_WARNING_CHARS: usize = 120;

/// The most bytes of all warnings together (the same page).
pub const MAX_WARNINGS_BYTES: usize = 4096;

/// One violation as a line of a message: `[policy] message (at /pointer)`.
fn line(policy: &str, violation: &Violation) -> String {
    if violation.path.is_empty() {
        format!("[{policy}] {}", violation.message)
    } else {
        format!("[{policy}] {} (at {})", violation.message, violation.path)
    }
}

/// An audit annotation key from a policy's name: the characters a
/// qualified name allows (letters, digits, `-`, `_`, `.`), at most 63.
fn annotation_key(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect()
}

/// Warnings within the API server's limits: each cut to
/// [`MAX_WARNING_CHARS`] characters (ending with `…` when cut), and as many
/// as fit in [`MAX_WARNINGS_BYTES`], the last then saying how many were
/// left out.
pub fn fit_warnings(warnings: Vec<String>) -> Vec<String> {
    let cut = |text: String| -> String {
        if text.chars().count() <= MAX_WARNING_CHARS {
            return text;
        }
        let mut short: String = text.chars().take(MAX_WARNING_CHARS - 1).collect();
        short.push('…');
        short
    };
    let total = warnings.len();
    let mut kept: Vec<String> = Vec::new();
    let mut bytes = 0;
    for warning in warnings.into_iter().map(cut) {
        if bytes + warning.len() > MAX_WARNINGS_BYTES {
            break;
        }
        bytes += warning.len();
        kept.push(warning);
    }
    if kept.len() < total {
        let note = |left: usize| format!("{left} more warnings left out (4 KiB limit)");
        while !kept.is_empty() && bytes + note(total - kept.len()).len() > MAX_WARNINGS_BYTES {
            bytes -= kept.pop().map_or(0, |w| w.len());
        }
        kept.push(note(total - kept.len()));
    }
    kept
}

/// The response to a request with `uid` from the results of `set`'s
/// policies on it and the schema stage's findings (which deny, first).
pub(crate) fn assemble(
    set: &PolicySet,
    endpoint: Endpoint,
    uid: String,
    results: &[PolicyResult],
    schema: &[Finding],
) -> AdmissionResponse {
    let mut denials: Vec<String> = schema
        .iter()
        .map(|finding| {
            line(
                wasm_validate_pipeline::SCHEMA_POLICY,
                &Violation {
                    message: finding.message.clone(),
                    path: finding.pointer.clone(),
                },
            )
        })
        .collect();
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut audit: BTreeMap<String, String> = BTreeMap::new();
    let mut patch = Vec::new();
    for result in results {
        let policy = &set.policies[result.policy];
        let name = policy.name();
        warnings.extend(result.warnings.iter().map(|w| format!("[{name}] {w}")));
        // A ValidatingAdmissionPolicy's audit annotations: the unique values
        // of one key (several bindings of one policy) joined with commas,
        // as the API server joins them.
        for (key, value) in &result.audit_annotations {
            match audit.get_mut(key) {
                Some(joined) if joined.split(", ").any(|v| v == value) => {}
                Some(joined) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                None => {
                    audit.insert(key.clone(), value.clone());
                }
            }
        }
        match &result.outcome {
            Outcome::Pass => {}
            Outcome::Fail(violations) => {
                let lines = violations.iter().map(|v| line(name, v));
                match policy.action {
                    Action::Deny => denials.extend(lines),
                    Action::Warn => warnings.extend(lines),
                    Action::Audit => {
                        let text: Vec<String> = lines.collect();
                        audit.insert(annotation_key(name), text.join("; "));
                    }
                }
            }
            // The policy's failurePolicy: Fail (the Kubernetes default)
            // denies naming the cause, Ignore allows and warns.
            Outcome::Error(message) => match policy.failure_policy {
                FailurePolicy::Fail => {
                    failures.push(format!("[{name}] the policy could not run: {message}"))
                }
                FailurePolicy::Ignore => warnings.push(format!(
                    "[{name}] ignored (failurePolicy Ignore), the policy could not run: {message}"
                )),
            },
        }
        if endpoint == Endpoint::Mutating
            && result.patch_applied
            && let Some(applied) = &result.patch
        {
            patch.extend(applied.0.iter().cloned());
        }
    }
    let allowed = denials.is_empty() && failures.is_empty();
    let status = (!allowed).then(|| Status {
        code: if denials.is_empty() { 500 } else { 403 },
        message: denials
            .iter()
            .chain(&failures)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    });
    let patch = (allowed && !patch.is_empty()).then(|| {
        let json = serde_json::to_vec(&Patch(patch)).expect("a patch encodes");
        base64::engine::general_purpose::STANDARD.encode(json)
    });
    AdmissionResponse {
        uid,
        allowed,
        status,
        patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
        patch,
        warnings: fit_warnings(warnings),
        audit_annotations: audit,
    }
}
