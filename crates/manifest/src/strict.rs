//! Decoding a document into a `serde_json::Value` that refuses duplicate
//! mapping keys: serde_json's own `Value` keeps the last one silently, which
//! would drop what the user wrote (Kubernetes' strict decoding rejects it too).
//! It also stops at a sequence longer than the run's item limit, before
//! building the rest of it (a `List` of a million items).

use std::cell::Cell;
use std::fmt;

thread_local! {
    static MAX_ITEMS: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Runs `decode` with sequences limited to `max_items` items on this thread.
pub(crate) fn with_max_items<T>(max_items: usize, decode: impl FnOnce() -> T) -> T {
    let before = MAX_ITEMS.replace(max_items);
    let result = decode();
    MAX_ITEMS.set(before);
    result
}

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value decoded with duplicate keys rejected.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-compatible value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a JSON number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Strict::deserialize(deserializer).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let max = MAX_ITEMS.get();
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max).min(4096));
        while let Some(Strict(item)) = seq.next_element()? {
            if items.len() == max {
                return Err(de::Error::custom(format!(
                    "a sequence of more than {max} items (--max-list-items)"
                )));
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}
