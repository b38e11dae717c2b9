//! A ValidatingAdmissionPolicy's `auditAnnotations`, as the API server
//! evaluates them
//! (https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/,
//! "Audit annotations"): for each request the policy applies to (its match
//! conditions hold), each `valueExpression` is evaluated whatever the
//! validations found; a string becomes the annotation's value (cut to 10
//! KiB), `null` or an empty string leaves the annotation out, anything else
//! is an error, as is an expression that fails (the policy's
//! `failurePolicy` then decides). The host gives each key already in the
//! API server's form, `POLICY/KEY`.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::{Env, Value};
use serde::Deserialize;

use crate::Compiled;

/// The longest value kept, in bytes: the API server cuts longer ones.
pub const MAX_VALUE_BYTES: usize = 10 * 1024;

/// One audit annotation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditAnnotation {
    /// The annotation's key, `POLICY/KEY`.
    pub key: String,
    /// A CEL expression giving its value: a string, or `null` for none.
    pub value_expression: String,
}

/// The compiled annotations, in order, each with its key.
pub(crate) type Annotations = Vec<(String, Compiled)>;

/// Compiles the annotations' expressions; errors (each naming
/// `auditAnnotations[i].valueExpression`) go to `errors`.
pub(crate) fn compile(
    env: &Arc<Env>,
    annotations: &[AuditAnnotation],
    errors: &mut Vec<String>,
) -> Annotations {
    annotations
        .iter()
        .enumerate()
        .filter_map(|(i, annotation)| {
            let name = format!("auditAnnotations[{i}].valueExpression");
            match crate::compile(env, &name, &annotation.value_expression, &[]) {
                Ok(compiled) => Some((annotation.key.clone(), compiled)),
                Err(error) => {
                    errors.push(error);
                    None
                }
            }
        })
        .collect()
}

/// Evaluates the annotations: each by `evaluate` (the fast evaluation's
/// answer, or cel-rust's in the context it gives; an error as its text);
/// the annotations to report, or the first error, naming its expression.
pub(crate) fn evaluate<'c>(
    annotations: &'c Annotations,
    mut evaluate: impl FnMut(&'c Compiled) -> Result<Value, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (key, compiled) in annotations {
        match evaluate(compiled) {
            Ok(Value::Null) => {}
            Ok(Value::String(text)) if text.is_empty() => {}
            Ok(Value::String(text)) => {
                let mut end = text.len().min(MAX_VALUE_BYTES);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                out.insert(key.clone(), text[..end].to_owned());
            }
            Ok(other) => {
                return Err(format!(
                    "{}: evaluated to {other:?}, not a string or null",
                    compiled.name
                ));
            }
            Err(error) => {
                return Err(format!("{} ({}): {error}", compiled.name, compiled.source));
            }
        }
    }
    Ok(out)
}
