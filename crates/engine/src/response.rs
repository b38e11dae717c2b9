//! Reading a native module's answer out of its memory (`docs/abi.md`).

use wasm_validate_abi::Response;

use crate::EvalError;

/// Reads and decodes the answer of `wv_evaluate`: `packed` is its `i64`
/// result, the response's offset in `memory` (the guest's linear memory) in
/// the high 32 bits and its length in bytes in the low 32 bits; 0 means
/// "allowed, nothing to say" (`docs/abi.md`).
///
/// Errors, without reading or copying anything first: a length over
/// `max_len` ([`EvalError::ResponseTooLarge`]); a range outside `memory`.
/// Then the bytes must be UTF-8 JSON of an ABI [`Response`]; a denial needs
/// a violation, a patch needs a `mutating` policy, violation paths must be
/// JSON Pointers (RFC 6901) ([`EvalError::MalformedResponse`]); a response
/// with `error` set is [`EvalError::Policy`]. Never panics, for any input
/// (fuzzed by `fuzz/fuzz_targets/abi_response.rs`).
pub fn read_response(
    memory: &[u8],
    packed: u64,
    max_len: usize,
    mutating: bool,
) -> Result<Response, EvalError> {
    if packed == 0 {
        return Ok(Response::allow());
    }
    let (start, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
    if len > max_len {
        return Err(EvalError::ResponseTooLarge { len, max: max_len });
    }
    let bytes = start
        .checked_add(len)
        .and_then(|end| memory.get(start..end))
        .ok_or_else(|| {
            EvalError::MalformedResponse(format!(
                "response at bytes {start}..{} lies outside the {} bytes of linear memory",
                start as u64 + len as u64,
                memory.len()
            ))
        })?;
    decode_response(bytes, mutating)
}

fn decode_response(bytes: &[u8], mutating: bool) -> Result<Response, EvalError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| EvalError::MalformedResponse(format!("response is not valid UTF-8: {e}")))?;
    let response: Response = serde_json::from_str(text).map_err(|e| {
        EvalError::MalformedResponse(format!("response is not a valid ABI response: {e}"))
    })?;
    if let Some(message) = response.error {
        return Err(EvalError::Policy(message));
    }
    if !response.allowed && response.violations.is_empty() {
        return Err(EvalError::MalformedResponse(
            "the response denies the resource but gives no violation".to_owned(),
        ));
    }
    if response.patch.is_some() && !mutating {
        return Err(EvalError::MalformedResponse(
            "a patch from a policy whose metadata does not declare it mutating".to_owned(),
        ));
    }
    for violation in &response.violations {
        if !(violation.path.is_empty() || violation.path.starts_with('/')) {
            return Err(EvalError::MalformedResponse(format!(
                "violation path {:?} is not a JSON Pointer",
                violation.path
            )));
        }
    }
    Ok(response)
}
