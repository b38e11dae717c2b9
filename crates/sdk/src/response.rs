//! Encoding a policy's [`Response`] as the JSON the host reads
//! (`docs/abi.md`, "Response"), without serde_json's serializer on the
//! common path.
//!
//! In the interpreter, serde_json's generic serializer cost about 24,000
//! fuel for a response with one violation; this writer escapes strings in
//! runs and writes the few keys itself. Its output is byte for byte what
//! `serde_json::to_vec` writes for the same response (tested below), so the
//! host's decoder and every snapshot are unaffected. A patch, only in the
//! responses of mutating policies, is still written by serde_json.

use crate::Response;

/// The response as JSON: `allowed`, then `violations`, `warnings`, `patch`
/// and `error` when present, in the field order and with the escaping of
/// serde_json (RFC 8259: `"`, `\` and control characters escaped, `\b`,
/// `\t`, `\n`, `\f`, `\r` by name and the others as `\u00xx`; everything
/// else, non-ASCII included, written as UTF-8).
pub fn encode_response(response: &Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
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
        if serde_json::to_writer(&mut out, patch).is_err() {
            return encode_response(&Response::error("cannot encode the patch"));
        }
    }
    if let Some(error) = &response.error {
        out.extend_from_slice(b",\"error\":");
        string(&mut out, error);
    }
    out.push(b'}');
    out
}

/// Writes `text` as a JSON string: runs of bytes that need no escape are
/// copied at once.
fn string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut run = 0;
    for (i, &byte) in bytes.iter().enumerate() {
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
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(escape);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
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
                    {"op": "add", "path": "/metadata/labels/a~1b", "value": {"x": "\"q\"\n"}}
                ]))
                .unwrap()
            }),
            error,
        }
    }

    #[test]
    fn the_same_bytes_as_serde_json_on_hand_picked_responses() {
        let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} unit \u{1f} del \u{7f} é ☃ 𝄞 / </script>";
        for r in [
            Response::allow(),
            Response::error(tricky),
            response(
                false,
                vec![(tricky.into(), "/spec/x~0y".into())],
                vec![],
                false,
                None,
            ),
            response(true, vec![], vec!["w1".into(), tricky.into()], true, None),
            response(
                false,
                vec![("a".into(), String::new()); 3],
                vec!["w".into()],
                true,
                Some("e".into()),
            ),
        ] {
            assert_eq!(
                String::from_utf8(encode_response(&r)).unwrap(),
                serde_json::to_string(&r).unwrap()
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
        ) {
            let r = response(allowed, violations, warnings, patch, error);
            let ours = encode_response(&r);
            prop_assert_eq!(&ours, &serde_json::to_vec(&r).unwrap());
            prop_assert_eq!(serde_json::from_slice::<Response>(&ours).unwrap(), r);
        }
    }
}
