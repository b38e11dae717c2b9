//! The serde `Deserializer` over a [`Tape`]: what lets the SDK's typed
//! views (serde structs) decode from a tape as they did from JSON. Keys are
//! matched as bytes, a subtree a view does not keep costs one node read, and
//! nesting is capped at [`MAX_DEPTH`].

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::{Node, Tape, TapeError};

fn text(bytes: &[u8]) -> Result<&str, TapeError> {
    std::str::from_utf8(bytes).map_err(|e| TapeError(format!("a string is not UTF-8: {e}")))
}

/// How deep containers may nest while decoding, as serde_json's default
/// recursion limit: deeper input is an error, not a guest stack overflow.
pub const MAX_DEPTH: u32 = 128;

/// A serde `Deserializer` for the subtree at one node, `depth` containers deep.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    tape: Tape<'a>,
    index: u32,
    depth: u32,
}

impl<'a> At<'a> {
    /// The root of `tape`.
    pub(super) fn root(tape: Tape<'a>) -> Self {
        Self::new(tape, 0)
    }

    /// The subtree at node `index` of `tape`.
    pub(super) fn new(tape: Tape<'a>, index: u32) -> Self {
        At {
            tape,
            index,
            depth: 0,
        }
    }
}

impl<'de> Deserializer<'de> for At<'de> {
    type Error = TapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        let node = self.tape.node(self.index)?;
        if matches!(node, Node::Array { .. } | Node::Object { .. }) && self.depth >= MAX_DEPTH {
            return Err(TapeError(format!(
                "containers nest more than {MAX_DEPTH} deep at node {}",
                self.index
            )));
        }
        match node {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(b),
            Node::UInt(n) => visitor.visit_u64(n),
            Node::Int(n) => visitor.visit_i64(n),
            Node::Float(n) => visitor.visit_f64(n),
            Node::String(bytes) => visitor.visit_borrowed_str(text(bytes)?),
            Node::Array { len, end } => visitor.visit_seq(Children {
                tape: self.tape,
                next: self.index + 1,
                end,
                left: len,
                depth: self.depth + 1,
            }),
            Node::Object { len, end } => visitor.visit_map(Children {
                tape: self.tape,
                next: self.index + 1,
                end,
                left: len,
                depth: self.depth + 1,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        match self.tape.node(self.index)? {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TapeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TapeError> {
        match self.tape.node(self.index)? {
            // A unit variant: "Name".
            Node::String(bytes) => visitor.visit_enum(text(bytes)?.into_deserializer()),
            // {"Name": value}.
            Node::Object { len: 1, .. } => visitor.visit_enum(Variant {
                tape: self.tape,
                index: self.index + 1,
                depth: self.depth + 1,
            }),
            _ => Err(de::Error::custom(
                "an enum must be a string or an object with one member",
            )),
        }
    }

    /// Skipping costs one node read, whatever the subtree holds.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The elements of an array or the members of an object.
struct Children<'a> {
    tape: Tape<'a>,
    next: u32,
    end: u32,
    left: u32,
    depth: u32,
}

impl<'a> Children<'a> {
    fn take(&mut self) -> Result<Option<u32>, TapeError> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.next >= self.end {
            return Err(TapeError(format!(
                "a container's children run past its end at node {}",
                self.end
            )));
        }
        self.left -= 1;
        let index = self.next;
        self.next = self.tape.next(index)?;
        Ok(Some(index))
    }
}

impl<'de> SeqAccess<'de> for Children<'de> {
    type Error = TapeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TapeError> {
        match self.take()? {
            Some(index) => seed
                .deserialize(At {
                    tape: self.tape,
                    index,
                    depth: self.depth,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

impl<'de> MapAccess<'de> for Children<'de> {
    type Error = TapeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, TapeError> {
        // The key is read here; `next` still points at its value.
        if self.left == 0 {
            return Ok(None);
        }
        if self.next >= self.end {
            return Err(TapeError(format!(
                "an object's members run past its end at node {}",
                self.end
            )));
        }
        seed.deserialize(Key(self.tape.key(self.next)?)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TapeError> {
        let index = self
            .take()?
            .ok_or_else(|| TapeError("a value without its key".to_owned()))?;
        seed.deserialize(At {
            tape: self.tape,
            index,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

/// An object member's key. Struct fields are matched on the key's bytes
/// (no UTF-8 check for keys a view does not keep); keys kept as strings are
/// checked.
struct Key<'a>(&'a [u8]);

impl<'de> Deserializer<'de> for Key<'de> {
    type Error = TapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        visitor.visit_borrowed_str(text(self.0)?)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        visitor.visit_borrowed_bytes(self.0)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TapeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum
    }
}

/// `{"Variant": value}` for an externally tagged enum.
struct Variant<'a> {
    tape: Tape<'a>,
    index: u32,
    depth: u32,
}

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = TapeError;
    type Variant = At<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, At<'de>), TapeError> {
        let name = seed.deserialize(Key(self.tape.key(self.index)?))?;
        Ok((
            name,
            At {
                tape: self.tape,
                index: self.index,
                depth: self.depth,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for At<'de> {
    type Error = TapeError;

    fn unit_variant(self) -> Result<(), TapeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, TapeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TapeError> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TapeError> {
        self.deserialize_any(visitor)
    }
}
