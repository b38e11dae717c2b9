//! Encoding a policy's [`Response`] as the JSON the host reads
//! (`docs/abi.md`, "Response"), without serde_json's serializer on the
//! common path.
//!
//! In the interpreter, serde_json's generic serializer cost about 24,000
//! fuel for a response with one violation; this writer escapes strings in
//! runs and writes the few keys itself. Its output is byte for byte what
//! `serde_json::to_vec` writes for the same response (tested below), so the
//! host's decoder and every snapshot are unaffected. Patches (RFC 6902, the
//! responses of mutating policies) are written here too, so that no module
//! links serde_json's serializer and its float-formatting tables (15 KB of
//! data that every instantiation would copy); a floating-point number in a
//! patch value is written by Rust's shortest round-trip formatting, which
//! the host reads back to the same number.

use serde_json::Value;

use crate::{Patch, PatchOperation, Response};

/// The response as JSON: `allowed`, then `violations`, `warnings`, `patch`
/// and `error` when present, in the field order and with the escaping of
/// serde_json (RFC 8259: `"`, `\` and control characters escaped, `\b`,
/// `\t`, `\n`, `\f`, `\r` by name and the others as `\u00xx`; everything
/// else, non-ASCII included, written as UTF-8).
pub fn encode_response(response: &Response) -> Vec<u8> {
    // Room for the usual answer at once (growing by doubling copied it
    // three or four times for one violation).
    let texts: usize = response
        .violations
        .iter()
        .map(|v| v.message.len() + v.path.len() + 32)
        .chain(response.warnings.iter().map(|w| w.len() + 4))
        .sum();
    let mut out = Vec::with_capacity(64 + texts + texts / 8);
    out.extend_from_slice(if response.allowed {
        b"{\"allowed\":true"
    } else {
        b"{\"allowed\":false"
    });
    if !response.violations.is_empty() {
        out.extend_from_slice(b",\"violations\":[");
        for (i, violation) in response.violations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"message\":");
            string(&mut out, &violation.message);
            out.extend_from_slice(b",\"path\":");
            string(&mut out, &violation.path);
            out.push(b'}');
        }
        out.push(b']');
    }
    if !response.warnings.is_empty() {
        out.extend_from_slice(b",\"warnings\":[");
        for (i, warning) in response.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(&mut out, warning);
        }
        out.push(b']');
    }
    if let Some(patch) = &response.patch {
        out.extend_from_slice(b",\"patch\":");
        write_patch(&mut out, patch);
    }
    if let Some(error) = &response.error {
        out.extend_from_slice(b",\"error\":");
        string(&mut out, error);
    }
    if response.not_applicable {
        out.extend_from_slice(b",\"notApplicable\":true");
    }
    if !response.audit_annotations.is_empty() {
        out.extend_from_slice(b",\"auditAnnotations\":{");
        for (i, (key, value)) in response.audit_annotations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(&mut out, key);
            out.push(b':');
            string(&mut out, value);
        }
        out.push(b'}');
    }
    out.push(b'}');
    out
}

/// Writes a JSON Patch as serde_json does: an array of objects with `op`,
/// then `from` (move, copy), `path`, then `value` (add, replace, test).
fn write_patch(out: &mut Vec<u8>, patch: &Patch) {
    out.push(b'[');
    for (i, operation) in patch.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (op, from, path, value) = match operation {
            PatchOperation::Add(o) => ("add", None, &o.path, Some(&o.value)),
            PatchOperation::Remove(o) => ("remove", None, &o.path, None),
            PatchOperation::Replace(o) => ("replace", None, &o.path, Some(&o.value)),
            PatchOperation::Move(o) => ("move", Some(&o.from), &o.path, None),
            PatchOperation::Copy(o) => ("copy", Some(&o.from), &o.path, None),
            PatchOperation::Test(o) => ("test", None, &o.path, Some(&o.value)),
        };
        out.extend_from_slice(b"{\"op\":");
        string(out, op);
        if let Some(from) = from {
            out.extend_from_slice(b",\"from\":");
            string(out, from.as_str());
        }
        out.extend_from_slice(b",\"path\":");
        string(out, path.as_str());
        if let Some(value) = value {
            out.extend_from_slice(b",\"value\":");
            write_value(out, value);
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Writes a JSON value compactly, as `serde_json::to_writer` does (object
/// members in the map's order); see the module docs for floats.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            if let Some(n) = number.as_u64() {
                decimal(out, n);
            } else if let Some(n) = number.as_i64() {
                out.push(b'-');
                decimal(out, n.unsigned_abs());
            } else if let Some(n) = number.as_f64() {
                exact_decimal(out, n);
            }
        }
        Value::String(text) => string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Writes a finite `f64` as the exact decimal value it holds, without an
/// exponent (`0.5`, `1.0`, `0.1000000000000000055511151231257827...`), so
/// that a reader rounding correctly gets back the same number; no float
/// printing code (or its tables) is linked into guests. A finite `f64` is
/// `m * 2^e`: for `e >= 0` an integer, else `m * 5^-e / 10^-e`.
fn exact_decimal(out: &mut Vec<u8>, n: f64) {
    if n.is_sign_negative() {
        out.push(b'-');
    }
    let bits = n.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // Decimal digits, least significant first.
    let mut digits: Vec<u8> = Vec::with_capacity(32);
    let mut m = mantissa;
    while m > 0 {
        digits.push((m % 10) as u8);
        m /= 10;
    }
    let multiply = |digits: &mut Vec<u8>, by: u8| {
        let mut carry = 0;
        for digit in digits.iter_mut() {
            let product = *digit * by + carry;
            *digit = product % 10;
            carry = product / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    };
    let point = if exponent >= 0 {
        for _ in 0..exponent {
            multiply(&mut digits, 2);
        }
        0
    } else {
        for _ in 0..-exponent {
            multiply(&mut digits, 5);
        }
        (-exponent) as usize
    };
    while digits.len() <= point {
        digits.push(0);
    }
    // Fraction digits without trailing zeros, at least one.
    let last = digits[..point]
        .iter()
        .position(|d| *d != 0)
        .unwrap_or(point);
    let integer = &digits[point..];
    out.extend(integer.iter().rev().map(|d| b'0' + d));
    out.push(b'.');
    if last == point {
        out.push(b'0');
    } else {
        out.extend(digits[last..point].iter().rev().map(|d| b'0' + d));
    }
}

/// Writes `n` in decimal ([`crate::decimal`]).
fn decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(crate::decimal(n, &mut digits).as_bytes());
}

/// Writes `text` as a JSON string: runs of bytes that need no escape are
/// copied at once.
fn string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(text.len() + 2);
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (most messages
        // and pointers have none): a byte at a time, in wasmi, was about a
        // fifth of a violating evaluation.
        if let Some(word) = bytes.get(i..i + 8)
            && !needs_escape(u64::from_le_bytes(word.try_into().expect("eight bytes")))
        {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        i += 1;
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i - 1]);
        out.extend_from_slice(escape);
        run = i;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` must be escaped in a JSON
/// string: a control character (below 0x20), `"` or `\`. The classic
/// word tricks ("has a byte less than n", "has a zero byte", from Bit
/// Twiddling Hacks), exact for the word as a whole; bytes of 0x80 and above
/// (UTF-8) never match.
const fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn has_zero(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGH
    }
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = has_zero(word ^ (ONES * b'"' as u64));
    let backslash = has_zero(word ^ (ONES * b'\\' as u64));
    control | quote | backslash != 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::{Patch, Violation};

    fn response(
        allowed: bool,
        violations: Vec<(String, String)>,
        warnings: Vec<String>,
        patch: bool,
        error: Option<String>,
        audit_annotations: Vec<(String, String)>,
    ) -> Response {
        Response {
            allowed,
            violations: violations
                .into_iter()
                .map(|(message, path)| Violation { message, path })
                .collect(),
            warnings,
            patch: patch.then(|| {
                serde_json::from_value::<Patch>(json!([
                    {"op": "add", "path": "/metadata/labels/a~1b", "value": {"x": "\"q\"\n"}},
                    {"op": "replace", "path": "/spec/replicas", "value": [0, 1, -1, u64::MAX, i64::MIN, null, true, false, {}, []]},
                    {"op": "remove", "path": "/metadata/annotations"},
                    {"op": "move", "from": "/a", "path": "/b"},
                    {"op": "copy", "from": "/c", "path": "/d"},
                    {"op": "test", "path": "/e", "value": {"b": 1, "a": [{"z": "é"}]}},
                ]))
                .unwrap()
            }),
            error,
            not_applicable: false,
            audit_annotations: audit_annotations.into_iter().collect(),
        }
    }

    #[test]
    fn the_same_bytes_as_serde_json_on_hand_picked_responses() {
        let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} unit \u{1f} del \u{7f} é ☃ 𝄞 / </script>";
        for r in [
            Response::allow(),
            Response {
                not_applicable: true,
                ..Response::allow()
            },
            Response::error(tricky),
            response(
                false,
                vec![(tricky.into(), "/spec/x~0y".into())],
                vec![],
                false,
                None,
                vec![],
            ),
            response(
                true,
                vec![],
                vec!["w1".into(), tricky.into()],
                true,
                None,
                vec![],
            ),
            response(
                false,
                vec![("a".into(), String::new()); 3],
                vec!["w".into()],
                true,
                Some("e".into()),
                vec![
                    ("policy/b".into(), tricky.into()),
                    ("policy/a".into(), "x".into()),
                ],
            ),
        ] {
            assert_eq!(
                String::from_utf8(encode_response(&r)).unwrap(),
                serde_json::to_string(&r).unwrap()
            );
        }
    }

    #[test]
    fn floats_are_written_as_their_exact_decimal() {
        for (n, text) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (2.0f64.powi(60), "1152921504606846976.0"),
            (
                0.1,
                "0.1000000000000000055511151231257827021181583404541015625",
            ),
            // Exact values, as Python's `decimal.Decimal(float)` writes them.
            (
                -1.5e-5,
                "-0.000015000000000000000380012861456169304119612206704914569854736328125",
            ),
        ] {
            let mut out = Vec::new();
            exact_decimal(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
        for n in [
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -f64::MAX,
            1e300,
            123.456,
        ] {
            let mut out = Vec::new();
            exact_decimal(&mut out, n);
            let back: f64 = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                back.to_bits(),
                n.to_bits(),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    proptest! {
        /// Any response, any strings: the same bytes as serde_json, which
        /// the host decodes back to the same response.
        #[test]
        fn the_same_bytes_as_serde_json(
            allowed: bool,
            violations in proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
            warnings in proptest::collection::vec(any::<String>(), 0..3),
            patch: bool,
            error: Option<String>,
            audit_annotations in proptest::collection::vec((any::<String>(), any::<String>()), 0..3),
        ) {
            let r = response(allowed, violations, warnings, patch, error, audit_annotations);
            let ours = encode_response(&r);
            prop_assert_eq!(&ours, &serde_json::to_vec(&r).unwrap());
            prop_assert_eq!(serde_json::from_slice::<Response>(&ours).unwrap(), r);
        }

        /// The word test agrees with the byte-by-byte definition on any
        /// eight bytes.
        #[test]
        fn needs_escape_is_exact(word: u64, at in 0usize..8, byte in prop::sample::select(vec![0u8, 0x1f, 0x20, b'"', b'\\', 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff])) {
            let mut bytes = word.to_le_bytes();
            for word in [word, { bytes[at] = byte; u64::from_le_bytes(bytes) }] {
                let expected = word.to_le_bytes().iter().any(|b| *b < 0x20 || *b == b'"' || *b == b'\\');
                prop_assert_eq!(needs_escape(word), expected);
            }
        }

        /// Strings dense in what JSON escapes, at every offset of the
        /// eight-byte steps: the same bytes as serde_json.
        #[test]
        fn strings_escape_as_serde_json(text in proptest::collection::vec(prop::sample::select(vec!['a', ' ', '"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', '\u{80}', 'é', '€', '/']), 0..40)) {
            let text: String = text.into_iter().collect();
            let mut ours = Vec::new();
            string(&mut ours, &text);
            prop_assert_eq!(ours, serde_json::to_vec(&text).unwrap());
        }

        /// Any patch value, floats included: the host reads back the same
        /// value; without floats, the same bytes as serde_json.
        #[test]
        fn patch_values_read_back_the_same(value in json_value()) {
            let patch: Patch = serde_json::from_value(json!([{"op": "add", "path": "/x", "value": value}])).unwrap();
            let r = Response { patch: Some(patch), ..Response::allow() };
            let ours = encode_response(&r);
            let theirs = serde_json::to_vec(&r).unwrap();
            prop_assert_eq!(serde_json::from_slice::<Response>(&ours).unwrap(), r);
            if !String::from_utf8_lossy(&theirs).contains(['.', 'e']) {
                prop_assert_eq!(&ours, &theirs);
            }
        }
    }

    /// Any JSON value (floats finite, as serde_json's `Value` holds them).
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "[a-z\\\"\n]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z]{0,3}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
