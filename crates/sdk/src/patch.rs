//! RFC 6902 patches, what a mutating policy answers: built from typed
//! operations ([`add`], [`replace`], [`remove`], then [`response`]), or
//! from operations written as JSON values ([`patch_response`]).
//!
//! The typed operations are the cheaper way: no JSON object is built for
//! an operation and taken apart again (its member names allocated, looked
//! up and removed), which was about a fifth of a mutating policy's time in
//! wasmi (docs/performance.md).

use crate::abi::Patch;
use crate::abi::json_patch::{
    AddOperation, RemoveOperation, ReplaceOperation, jsonptr::PointerBuf,
};
use crate::{PatchOperation, Response};

/// One operation of a patch, its path a JSON Pointer (RFC 6901) that
/// [`response`] checks.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    /// `add`: sets `value` at `path` (a member, or an array index, `-` for
    /// the end).
    Add {
        /// Where.
        path: String,
        /// What.
        value: serde_json::Value,
    },
    /// `replace`: replaces the value at `path`, which must exist.
    Replace {
        /// Where.
        path: String,
        /// What.
        value: serde_json::Value,
    },
    /// `remove`: removes the value at `path`, which must exist.
    Remove {
        /// Where.
        path: String,
    },
}

/// `add` of `value` at `path`.
pub fn add(path: impl Into<String>, value: serde_json::Value) -> PatchOp {
    PatchOp::Add {
        path: path.into(),
        value,
    }
}

/// `replace` of the value at `path` with `value`.
pub fn replace(path: impl Into<String>, value: serde_json::Value) -> PatchOp {
    PatchOp::Replace {
        path: path.into(),
        value,
    }
}

/// `remove` of the value at `path`.
pub fn remove(path: impl Into<String>) -> PatchOp {
    PatchOp::Remove { path: path.into() }
}

/// A response that allows the object and applies `operations`, or a plain
/// allow when there are none; an operation whose path is not a JSON
/// Pointer makes an error response naming it (`cannot build the patch:
/// operation 1: "path": ...`), as [`patch_response`] does.
pub fn response(operations: Vec<PatchOp>) -> Response {
    assemble(operations.into_iter().map(|operation| {
        let made = match operation {
            PatchOp::Add { path, value } => PointerBuf::parse(path)
                .map(|path| PatchOperation::Add(AddOperation { path, value })),
            PatchOp::Replace { path, value } => PointerBuf::parse(path)
                .map(|path| PatchOperation::Replace(ReplaceOperation { path, value })),
            PatchOp::Remove { path } => {
                PointerBuf::parse(path).map(|path| PatchOperation::Remove(RemoveOperation { path }))
            }
        };
        made.map_err(|error| format!("\"path\": {error}"))
    }))
}

/// A response that allows the object and applies `operations` (RFC 6902),
/// or a plain allow when there are none. Operations are JSON values of the
/// form `{"op": "add", "path": ..., "value": ...}` (`from` for `move` and
/// `copy`); a malformed one (not an object, an unknown `op`, a missing
/// member, a `path` that is not a JSON Pointer) makes an error response
/// naming it. Built directly, without serde's buffering of tagged enums
/// (about a third of a mutating policy's fuel when it was used).
pub fn patch_response(operations: Vec<serde_json::Value>) -> Response {
    assemble(operations.into_iter().map(patch_operation))
}

/// The response of a patch's operations, made one by one: a plain allow
/// when there are none, an error naming the first that could not be made.
fn assemble(operations: impl ExactSizeIterator<Item = Result<PatchOperation, String>>) -> Response {
    if operations.len() == 0 {
        return Response::allow();
    }
    let mut patch = Vec::with_capacity(operations.len());
    for (index, operation) in operations.enumerate() {
        match operation {
            Ok(operation) => patch.push(operation),
            Err(error) => {
                return Response::error(format!(
                    "cannot build the patch: operation {index}: {error}"
                ));
            }
        }
    }
    Response {
        patch: Some(Patch(patch)),
        ..Response::allow()
    }
}

/// One RFC 6902 operation from its JSON form.
fn patch_operation(operation: serde_json::Value) -> Result<PatchOperation, String> {
    use crate::abi::json_patch::{CopyOperation, MoveOperation, TestOperation};
    let serde_json::Value::Object(mut members) = operation else {
        return Err("an operation must be an object".to_owned());
    };
    let op = match members.remove("op") {
        Some(serde_json::Value::String(op)) => op,
        _ => return Err("\"op\" must be a string".to_owned()),
    };
    let mut take = |key: &str| {
        members
            .remove(key)
            .ok_or_else(|| format!("no \"{key}\" member"))
    };
    let mut pointer = |key: &str| match take(key)? {
        serde_json::Value::String(text) => {
            PointerBuf::parse(text).map_err(|e| format!("\"{key}\": {e}"))
        }
        _ => Err(format!("\"{key}\" must be a string")),
    };
    let path = pointer("path")?;
    Ok(match op.as_str() {
        "add" => PatchOperation::Add(AddOperation {
            path,
            value: take("value")?,
        }),
        "remove" => PatchOperation::Remove(RemoveOperation { path }),
        "replace" => PatchOperation::Replace(ReplaceOperation {
            path,
            value: take("value")?,
        }),
        "move" => PatchOperation::Move(MoveOperation {
            from: pointer("from")?,
            path,
        }),
        "copy" => PatchOperation::Copy(CopyOperation {
            from: pointer("from")?,
            path,
        }),
        "test" => PatchOperation::Test(TestOperation {
            path,
            value: take("value")?,
        }),
        other => return Err(format!("unknown op \"{other}\"")),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patch_response_builds_what_serde_would() {
        let operations = vec![
            json!({"op": "add", "path": "/metadata/labels/a~1b", "value": {"x": 1}}),
            json!({"op": "remove", "path": "/spec/x"}),
            json!({"op": "replace", "path": "/spec/replicas", "value": 2}),
            json!({"op": "move", "from": "/a", "path": "/b"}),
            json!({"op": "copy", "from": "/c", "path": "/d"}),
            json!({"op": "test", "path": "/e", "value": null}),
        ];
        let expected: Patch = serde_json::from_value(json!(operations)).unwrap();
        assert_eq!(patch_response(operations).patch, Some(expected));
        assert_eq!(patch_response(vec![]), Response::allow());
    }

    #[test]
    fn a_malformed_patch_operation_is_an_error_naming_it() {
        for (operation, error) in [
            (json!("add"), "operation 0: an operation must be an object"),
            (
                json!({"op": "add", "path": "/a"}),
                "operation 0: no \"value\" member",
            ),
            (
                json!({"op": "frob", "path": "/a"}),
                "operation 0: unknown op \"frob\"",
            ),
            (
                json!({"op": "add", "path": "a", "value": 1}),
                "operation 0: \"path\": ",
            ),
            (
                json!({"path": "/a"}),
                "operation 0: \"op\" must be a string",
            ),
            (
                json!({"op": "move", "path": "/a"}),
                "operation 0: no \"from\" member",
            ),
        ] {
            let response = patch_response(vec![operation]);
            let message = response.error.expect("an error");
            assert!(
                message.starts_with(&format!("cannot build the patch: {error}")),
                "{message}"
            );
        }
    }

    /// The typed operations make the patch the JSON ones make, and a bad
    /// path is the same error.
    #[test]
    fn typed_operations_make_what_json_operations_make() {
        let typed = response(vec![
            add("/metadata/labels/a~1b", json!({"x": 1})),
            remove("/spec/x"),
            replace("/spec/replicas", json!(2)),
        ]);
        let from_json = patch_response(vec![
            json!({"op": "add", "path": "/metadata/labels/a~1b", "value": {"x": 1}}),
            json!({"op": "remove", "path": "/spec/x"}),
            json!({"op": "replace", "path": "/spec/replicas", "value": 2}),
        ]);
        assert_eq!(typed, from_json);
        assert!(typed.patch.is_some());
        assert_eq!(response(vec![]), Response::allow());
        let bad = response(vec![add("/a", json!(1)), remove("a")]);
        let from_json = patch_response(vec![
            json!({"op": "add", "path": "/a", "value": 1}),
            json!({"op": "remove", "path": "a"}),
        ]);
        assert_eq!(bad, from_json);
        assert!(
            bad.error
                .unwrap()
                .starts_with("cannot build the patch: operation 1: \"path\": ")
        );
    }
}
