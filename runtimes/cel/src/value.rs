//! Values for CEL: a tape (the ABI's version 2 encoding) or a JSON value
//! turned into a [`cel::Value`], and a CEL value turned back into JSON
//! (for a `messageExpression`'s result and audit annotations).
//!
//! Kubernetes' CEL sees an object as JSON does: integers are `int` (a
//! `uint` above `i64::MAX`), other numbers `double`, objects maps with
//! string keys.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::common::value::Val;
use cel::objects::{Key, Map};
use wasm_validate_abi::tape::{Node, Tape, TapeError};

/// The value at the root of `tape`.
pub fn from_tape(tape: &Tape<'_>) -> Result<Value, TapeError> {
    let mut keys: Vec<Option<Arc<String>>> = vec![None; tape.key_count() as usize];
    Ok(at(tape, 0, &mut keys)?.0)
}

fn text(bytes: &[u8]) -> Result<&str, TapeError> {
    std::str::from_utf8(bytes).map_err(|e| TapeError(format!("a string is not UTF-8: {e}")))
}

/// The value at node `index` and the index after its subtree. Keys are
/// interned in the tape, so each distinct key is allocated once.
fn at(
    tape: &Tape<'_>,
    index: u32,
    keys: &mut [Option<Arc<String>>],
) -> Result<(Value, u32), TapeError> {
    Ok(match tape.node(index)? {
        Node::Null => (Value::Null, index + 1),
        Node::Bool(b) => (Value::Bool(b), index + 1),
        Node::UInt(n) => (
            i64::try_from(n).map_or(Value::UInt(n), Value::Int),
            index + 1,
        ),
        Node::Int(n) => (Value::Int(n), index + 1),
        Node::Float(f) => (Value::Float(f), index + 1),
        Node::String(bytes) => (Value::String(Arc::new(text(bytes)?.to_owned())), index + 1),
        Node::Array { len, end } => {
            let mut items = Vec::with_capacity(len as usize);
            let mut child = index + 1;
            while child < end {
                let (item, next) = at(tape, child, keys)?;
                items.push(item);
                child = next;
            }
            (Value::List(Arc::new(items)), end)
        }
        Node::Object { len, end } => {
            let mut members = HashMap::with_capacity(len as usize);
            let mut child = index + 1;
            while child < end {
                let id = tape.key_id(child)? as usize;
                let key = match &keys[id] {
                    Some(key) => key.clone(),
                    None => {
                        let key = Arc::new(text(tape.key(child)?)?.to_owned());
                        keys[id] = Some(key.clone());
                        key
                    }
                };
                let (value, next) = at(tape, child, keys)?;
                members.insert(Key::String(key), value);
                child = next;
            }
            (
                Value::Map(Map {
                    map: Arc::new(members),
                }),
                end,
            )
        }
    })
}

/// What identifies the object a request is about: `apiVersion`, `kind`,
/// `metadata.name` and `metadata.namespace` (empty when absent).
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// The string at `path` (object keys) in `tape`, if there is one.
pub fn tape_text(tape: &Tape<'_>, path: &[&str]) -> Option<String> {
    let mut index = 0;
    for key in path {
        index = tape.member(index, key.as_bytes()).ok()??;
    }
    match tape.node(index).ok()? {
        Node::String(bytes) => Some(text(bytes).ok()?.to_owned()),
        _ => None,
    }
}

/// The value at the root of `tape` as CEL's own values, built directly
/// (no intermediate [`Value`]); its strings and keys borrow the tape's
/// bytes instead of being copied.
pub fn val_from_tape<'a>(tape: &Tape<'a>) -> Result<Box<dyn Val + 'a>, TapeError> {
    // The root must decode; what lies under it is read when used
    // (`crate::lazy`).
    tape.node(0)?;
    Ok(crate::lazy::val_at(tape, 0).0)
}

/// A JSON value as CEL sees it.
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(from_json).collect()))
        }
        serde_json::Value::Object(members) => Value::Map(Map {
            map: Arc::new(
                members
                    .iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), from_json(v)))
                    .collect(),
            ),
        }),
    }
}

/// A CEL value as JSON: maps with non-string keys get the keys' text;
/// values JSON has no form for (types, functions, bytes) are their debug
/// text.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => s.as_str().into(),
        Value::List(items) => items.iter().map(to_json).collect(),
        Value::Map(map) => map
            .map
            .iter()
            .map(|(k, v)| (key_text(k), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => format!("{other:?}").into(),
    }
}

/// A map key's text (`"a"` is `a`, `1` is `1`).
pub fn key_text(key: &Key) -> String {
    match key {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

/// The string of a CEL value, as a message: a string as it is, anything
/// else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => to_json(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasm_validate_abi::tape;

    use super::*;

    #[test]
    fn a_tape_as_cel_values_reads_as_its_json_does() {
        let json = json!({"b": [1, -2, 2.5, "x", null, true, {"k": []}], "a": {"y": "é", "x": 18446744073709551615u64}});
        let encoded = tape::encode(&json);
        let parsed = Tape::parse(&encoded).unwrap();
        let val = val_from_tape(&parsed).unwrap();
        assert_eq!(Value::try_from(val.as_ref()).unwrap(), from_json(&json));
        assert_eq!(tape_text(&parsed, &["a", "y"]).as_deref(), Some("é"));
        assert_eq!(tape_text(&parsed, &["a", "z"]), None);
    }

    #[test]
    fn a_tape_reads_as_its_json_does() {
        let json = json!({
            "b": [1, -2, 2.5, "x", null, true, {"k": []}],
            "a": {"z": {}, "y": "é", "x": 18446744073709551615u64},
        });
        let encoded = tape::encode(&json);
        let from_tape = from_tape(&Tape::parse(&encoded).unwrap()).unwrap();
        assert_eq!(from_tape, from_json(&json));
        assert_eq!(to_json(&from_tape), json);
    }
}
