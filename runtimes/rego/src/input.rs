//! A tape (the ABI's version 2 encoding) read into a regorus [`Value`]
//! directly, without serde: objects are built from their members sorted
//! once (regorus keeps objects as sorted slices), and each distinct key is
//! allocated once per tape (the tape interns keys: each has an id, which
//! indexes the keys already converted). Measured in wasmi on the typical Pod, this halves the
//! cost of building `input` against regorus's serde visitor (docs/rego.md).

use std::collections::BTreeMap;

use regorus::Value;
use wasm_validate_abi::tape::{Node, Tape, TapeError};

use crate::reads::Reads;

/// The value at the root of `tape`.
pub fn value_of(tape: &Tape<'_>) -> Result<Value, TapeError> {
    Reader::new(*tape).value(0, &Reads::Whole)
}

/// Reads values out of one tape, converting each distinct key once
/// however many values are read.
pub struct Reader<'t> {
    tape: Tape<'t>,
    keys: Vec<Option<Value>>,
}

impl<'t> Reader<'t> {
    /// A reader of `tape`.
    pub fn new(tape: Tape<'t>) -> Self {
        Reader {
            tape,
            keys: vec![None; tape.key_count() as usize],
        }
    }

    /// The part of the value at node `index` that `reads` names: the
    /// members of an object it does not name are left out (a program
    /// cannot observe them: [`Reads`]); anything else is converted whole.
    pub fn value(&mut self, index: u32, reads: &Reads) -> Result<Value, TapeError> {
        reading(&self.tape, index, reads, &mut self.keys)
    }

    /// The value at the path of member names `path` from the root, whole;
    /// `None` when a step is missing or not an object.
    pub fn field(&mut self, path: &[&str]) -> Option<Value> {
        let mut at = 0;
        for key in path {
            at = self.tape.member(at, key.as_bytes()).ok()??;
        }
        self.value(at, &Reads::Whole).ok()
    }
}

fn reading(
    tape: &Tape<'_>,
    index: u32,
    reads: &Reads,
    keys: &mut [Option<Value>],
) -> Result<Value, TapeError> {
    let (Reads::Members(wanted), Node::Object { end, .. }) = (reads, tape.node(index)?) else {
        return at(tape, index, keys).map(|(value, _)| value);
    };
    let mut members = BTreeMap::new();
    let mut child = index + 1;
    while child < end {
        let key = text(tape.key(child)?)?;
        if let Some(inner) = wanted.get(key) {
            members.insert(Value::from(key), reading(tape, child, inner, keys)?);
        }
        child = tape.next(child)?;
    }
    Ok(Value::from(members))
}

fn text(bytes: &[u8]) -> Result<&str, TapeError> {
    std::str::from_utf8(bytes).map_err(|e| TapeError(format!("a string is not UTF-8: {e}")))
}

/// The value at node `index` and the index after its subtree.
fn at(tape: &Tape<'_>, index: u32, keys: &mut [Option<Value>]) -> Result<(Value, u32), TapeError> {
    Ok(match tape.node(index)? {
        Node::Null => (Value::Null, index + 1),
        Node::Bool(b) => (Value::from(b), index + 1),
        Node::UInt(n) => (Value::from(n), index + 1),
        Node::Int(n) => (Value::from(n), index + 1),
        Node::Float(f) => (Value::from(f), index + 1),
        Node::String(bytes) => (Value::from(text(bytes)?), index + 1),
        Node::Array { len, end } => {
            let mut items = Vec::with_capacity(len as usize);
            let mut child = index + 1;
            while child < end {
                let (item, next) = at(tape, child, keys)?;
                items.push(item);
                child = next;
            }
            (Value::from(items), end)
        }
        Node::Object { len, end } => {
            let mut members = Vec::with_capacity(len as usize);
            let mut child = index + 1;
            while child < end {
                let id = tape.key_id(child)? as usize;
                let key = match &keys[id] {
                    Some(key) => key.clone(),
                    None => {
                        let key = Value::from(text(tape.key(child)?)?);
                        keys[id] = Some(key.clone());
                        key
                    }
                };
                let (value, next) = at(tape, child, keys)?;
                members.push((key, value));
                child = next;
            }
            // BTreeMap's FromIterator sorts once and builds in bulk.
            (
                Value::from(members.into_iter().collect::<BTreeMap<_, _>>()),
                end,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasm_validate_abi::tape;

    use super::*;

    #[test]
    fn reads_what_regorus_reads_from_json() {
        let json = json!({
            "b": [1, -2, 2.5, "x", null, true, {"k": []}],
            "a": {"z": {}, "y": "é", "x": 18446744073709551615u64},
        });
        let encoded = tape::encode(&json);
        let from_tape = value_of(&Tape::parse(&encoded).unwrap()).unwrap();
        let from_json = Value::from_json_str(&json.to_string()).unwrap();
        assert_eq!(from_tape, from_json);
    }

    #[test]
    fn reading_converts_only_the_members_read() {
        let json = json!({
            "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"containers": [{"image": "i"}], "replicas": 2},
            "status": {},
        });
        let encoded = tape::encode(&json);
        let tape = Tape::parse(&encoded).unwrap();
        let mut reads = Reads::none();
        reads.add(&["metadata".to_owned(), "labels".to_owned()]);
        reads.add(&["spec".to_owned(), "containers".to_owned(), "x".to_owned()]);
        reads.add(&["missing".to_owned()]);
        let expected = json!({
            "metadata": {"labels": {"x": "1"}},
            "spec": {"containers": [{"image": "i"}]},
        });
        assert_eq!(
            Reader::new(tape).value(0, &reads).unwrap(),
            Value::from_json_str(&expected.to_string()).unwrap()
        );
        assert_eq!(
            Reader::new(tape).value(0, &Reads::Whole).unwrap(),
            value_of(&tape).unwrap()
        );
    }
}
