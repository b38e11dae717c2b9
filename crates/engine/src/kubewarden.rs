//! Kubewarden policies: the waPC protocol
//! (<https://wapc.io>, as Kubewarden's policy-evaluator drives it) and the
//! few WASI preview 1 functions such policies import, implemented by this
//! host with no file system, no environment and deterministic randomness.
//!
//! A module is a Kubewarden policy when it exports `__guest_call` and
//! imports from the `wapc` module. Its metadata comes from the
//! `io.kubewarden.metadata` custom section (written by `kwctl annotate`)
//! when present (`kubewarden/metadata.rs`). Each resource is sent as the
//! `validate` operation with, at admission, the AdmissionRequest the API
//! server sent ([`Context::with_admission_request`]) and offline an
//! admission request of operation CREATE built from it; the answer
//! (`accepted`, `message`, `code`, `mutated_object`, `warnings`) becomes an
//! ABI [`Response`]: a rejection is one violation at the root of the
//! object, a mutated object an RFC 6902 patch computed with `json-patch`.
//!
//! Host capabilities (`__host_call`): `kubewarden`/`kubernetes` lookups are
//! answered from the [`Context`] of the run (the other resources checked),
//! restricted to the kinds of the policy's `contextAwareResources`;
//! `kubewarden`/`tracing`/`log` becomes a log record. Every other capability
//! (OCI, sigstore, DNS, crypto, `can_i`) is refused with an error the policy
//! sees, and that it usually turns into an error result.

use serde::Deserialize;
use serde_json::{Value, json};
use wasm_validate_abi::{self as abi, LogLevel, Response, Violation};
use wasmi::{Caller, Linker, Memory};

use crate::{Context, EvalError, HostState};

mod metadata;

pub(crate) use metadata::{check_imports, is_kubewarden, read_metadata};

/// Name of the custom section holding a Kubewarden policy's metadata.
pub const KUBEWARDEN_METADATA_SECTION: &str = "io.kubewarden.metadata";

/// Import module of the waPC host functions.
pub(crate) const WAPC_MODULE: &str = "wapc";

/// Import module of WASI preview 1.
pub(crate) const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The WASI preview 1 functions this host offers, with their parameter
/// counts (all `i32`) and whether they return an `i32` errno.
pub(crate) const WASI_FUNCTIONS: [(&str, usize, bool); 7] = [
    ("fd_write", 4, true),
    ("environ_get", 2, true),
    ("environ_sizes_get", 2, true),
    ("args_get", 2, true),
    ("args_sizes_get", 2, true),
    ("random_get", 2, true),
    ("proc_exit", 1, false),
];

/// The waPC host functions, with their parameter counts (all `i32`) and
/// whether they return an `i32`.
pub(crate) const WAPC_FUNCTIONS: [(&str, usize, bool); 9] = [
    ("__guest_request", 2, false),
    ("__guest_response", 2, false),
    ("__guest_error", 2, false),
    ("__host_call", 8, true),
    ("__host_response_len", 0, true),
    ("__host_response", 1, false),
    ("__host_error_len", 0, true),
    ("__host_error", 1, false),
    ("__console_log", 2, false),
];

/// WASI errno values used here.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;

/// What the host knows of a Kubewarden policy besides the translated
/// metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KubewardenInfo {
    /// `(apiVersion, kind)` pairs the policy may look up.
    pub context_aware: Vec<(String, String)>,
}

/// waPC state of one evaluation.
#[derive(Debug, Default)]
pub(crate) struct WapcState {
    operation: Vec<u8>,
    payload: Vec<u8>,
    response: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
    host_response: Vec<u8>,
    host_error: Vec<u8>,
    context: Context,
    context_aware: Vec<(String, String)>,
    random: u64,
    response_limit: usize,
    /// A limit the guest broke inside a host function; reported instead of
    /// the trap the host function raised.
    pub failure: Option<EvalError>,
}

impl WapcState {
    pub(crate) fn new(context: Context, info: &KubewardenInfo, response_limit: usize) -> Self {
        WapcState {
            context,
            context_aware: info.context_aware.clone(),
            // SplitMix64's published starting constant: a fixed seed, so the
            // same input always gives the same bytes.
            random: 0x9E37_79B9_7F4A_7C15,
            response_limit,
            ..WapcState::default()
        }
    }

    /// Sets the operation and payload `__guest_request` hands over.
    pub(crate) fn set_call(&mut self, operation: &str, payload: &[u8]) {
        self.operation = operation.as_bytes().to_vec();
        self.payload = payload.to_vec();
    }

    /// The guest's response and error, as given through
    /// `__guest_response` and `__guest_error`.
    pub(crate) fn into_answer(self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (self.response, self.error)
    }
}

fn memory(caller: &Caller<'_, HostState>) -> Result<Memory, wasmi::Error> {
    caller
        .get_export(abi::exports::MEMORY)
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmi::Error::new("the module exports no memory"))
}

fn read(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, wasmi::Error> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    memory(caller)?
        .data(caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            wasmi::Error::new(format!(
                "the policy pointed outside its memory ({start}+{len})"
            ))
        })
}

fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), wasmi::Error> {
    let memory = memory(caller)?;
    memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .map_err(|_| {
            wasmi::Error::new(format!(
                "the policy pointed outside its memory ({}+{})",
                ptr as u32,
                bytes.len()
            ))
        })
}

fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Result<(), wasmi::Error> {
    write(caller, ptr, &value.to_le_bytes())
}

fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

/// Defines the waPC and WASI host functions on the linker.
pub(crate) fn define(linker: &mut Linker<HostState>) {
    let defined = define_wapc(linker).and_then(|()| define_wasi(linker));
    defined.expect("each host function is defined once");
}

fn define_wapc(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    linker.func_wrap(
        WAPC_MODULE,
        "__guest_request",
        |mut caller: Caller<'_, HostState>, op_ptr: i32, ptr: i32| -> Result<(), wasmi::Error> {
            let operation = std::mem::take(&mut caller.data_mut().wapc.operation);
            let payload = std::mem::take(&mut caller.data_mut().wapc.payload);
            write(&mut caller, op_ptr, &operation)?;
            write(&mut caller, ptr, &payload)?;
            Ok(())
        },
    )?;
    for (name, is_error) in [("__guest_response", false), ("__guest_error", true)] {
        linker.func_wrap(
            WAPC_MODULE,
            name,
            move |mut caller: Caller<'_, HostState>,
                  ptr: i32,
                  len: i32|
                  -> Result<(), wasmi::Error> {
                let limit = caller.data().wapc.response_limit;
                if len as u32 as usize > limit {
                    caller.data_mut().wapc.failure = Some(EvalError::ResponseTooLarge {
                        len: len as u32 as usize,
                        max: limit,
                    });
                    return Err(wasmi::Error::new("response too large"));
                }
                let bytes = read(&caller, ptr, len)?;
                let wapc = &mut caller.data_mut().wapc;
                if is_error {
                    wapc.error = Some(bytes);
                } else {
                    wapc.response = Some(bytes);
                }
                Ok(())
            },
        )?;
    }
    linker.func_wrap(
        WAPC_MODULE,
        "__host_call",
        |mut caller: Caller<'_, HostState>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         ptr: i32,
         len: i32|
         -> Result<i32, wasmi::Error> {
            let binding = String::from_utf8_lossy(&read(&caller, bd_ptr, bd_len)?).into_owned();
            let namespace = String::from_utf8_lossy(&read(&caller, ns_ptr, ns_len)?).into_owned();
            let operation = String::from_utf8_lossy(&read(&caller, op_ptr, op_len)?).into_owned();
            let payload = read(&caller, ptr, len)?;
            let answer = host_call(
                caller.data_mut(),
                &binding,
                &namespace,
                &operation,
                &payload,
            );
            let wapc = &mut caller.data_mut().wapc;
            match answer {
                Ok(bytes) => {
                    wapc.host_response = bytes;
                    Ok(1)
                }
                Err(message) => {
                    wapc.host_error = message.into_bytes();
                    Ok(0)
                }
            }
        },
    )?;
    linker.func_wrap(
        WAPC_MODULE,
        "__host_response_len",
        |caller: Caller<'_, HostState>| -> i32 { len_i32(caller.data().wapc.host_response.len()) },
    )?;
    linker.func_wrap(
        WAPC_MODULE,
        "__host_response",
        |mut caller: Caller<'_, HostState>, ptr: i32| -> Result<(), wasmi::Error> {
            let bytes = std::mem::take(&mut caller.data_mut().wapc.host_response);
            write(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        WAPC_MODULE,
        "__host_error_len",
        |caller: Caller<'_, HostState>| -> i32 { len_i32(caller.data().wapc.host_error.len()) },
    )?;
    linker.func_wrap(
        WAPC_MODULE,
        "__host_error",
        |mut caller: Caller<'_, HostState>, ptr: i32| -> Result<(), wasmi::Error> {
            let bytes = std::mem::take(&mut caller.data_mut().wapc.host_error);
            write(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        WAPC_MODULE,
        "__console_log",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> Result<(), wasmi::Error> {
            let bytes = read(&caller, ptr, len)?;
            if !bytes.is_empty() {
                caller
                    .data_mut()
                    .push_log(LogLevel::Debug, &bytes, bytes.len());
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn define_wasi(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    linker.func_wrap(
        WASI_MODULE,
        "fd_write",
        |mut caller: Caller<'_, HostState>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         nwritten: i32|
         -> Result<i32, wasmi::Error> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            let Some(vectors) = (iovs_len as u32).checked_mul(8) else {
                return Ok(ERRNO_FAULT);
            };
            let table = read(&caller, iovs, vectors as i32)?;
            let mut text = Vec::new();
            for vector in table.chunks_exact(8) {
                let ptr = u32::from_le_bytes(vector[..4].try_into().expect("4 bytes"));
                let len = u32::from_le_bytes(vector[4..].try_into().expect("4 bytes"));
                text.extend(read(&caller, ptr as i32, len as i32)?);
            }
            let written = text.len() as u32;
            let level = if fd == 2 {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            let message = String::from_utf8_lossy(&text).trim_end().to_owned();
            if !message.is_empty() {
                caller
                    .data_mut()
                    .push_log(level, message.as_bytes(), message.len());
            }
            write_u32(&mut caller, nwritten, written)?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    // No environment and no arguments: counts and sizes are 0.
    for (sizes, get) in [
        ("environ_sizes_get", "environ_get"),
        ("args_sizes_get", "args_get"),
    ] {
        linker.func_wrap(
            WASI_MODULE,
            sizes,
            |mut caller: Caller<'_, HostState>,
             count: i32,
             size: i32|
             -> Result<i32, wasmi::Error> {
                write_u32(&mut caller, count, 0)?;
                write_u32(&mut caller, size, 0)?;
                Ok(ERRNO_SUCCESS)
            },
        )?;
        linker.func_wrap(
            WASI_MODULE,
            get,
            |_: Caller<'_, HostState>, _: i32, _: i32| -> i32 { ERRNO_SUCCESS },
        )?;
    }
    linker.func_wrap(
        WASI_MODULE,
        "random_get",
        |mut caller: Caller<'_, HostState>, buf: i32, len: i32| -> Result<i32, wasmi::Error> {
            let mut bytes = Vec::with_capacity(len as u32 as usize);
            let state = &mut caller.data_mut().wapc.random;
            while bytes.len() < len as u32 as usize {
                // SplitMix64 (Steele, Lea and Flood, 2014): deterministic, not secret.
                *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = *state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                bytes.extend_from_slice(&z.to_le_bytes());
            }
            bytes.truncate(len as u32 as usize);
            write(&mut caller, buf, &bytes)?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI_MODULE,
        "proc_exit",
        |_: Caller<'_, HostState>, code: i32| -> Result<(), wasmi::Error> {
            Err(wasmi::Error::i32_exit(code))
        },
    )?;
    Ok(())
}

/// The Kubernetes lookup requests of the SDK (snake_case fields).
#[derive(Debug, Deserialize)]
struct Lookup {
    api_version: String,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    label_selector: Option<String>,
    #[serde(default)]
    field_selector: Option<String>,
}

/// Answers one `__host_call`: the response bytes, or the error the guest
/// receives.
fn host_call(
    state: &mut HostState,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => {
            let record: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
            let level = match record["level"].as_str().unwrap_or("info") {
                "trace" => LogLevel::Trace,
                "debug" => LogLevel::Debug,
                "warning" | "warn" => LogLevel::Warn,
                "error" | "critical" => LogLevel::Error,
                _ => LogLevel::Info,
            };
            let message = match record["message"].as_str() {
                Some(message) => message.to_owned(),
                None => String::from_utf8_lossy(payload).into_owned(),
            };
            if !message.is_empty() {
                state.push_log(level, message.as_bytes(), message.len());
            }
            Ok(Vec::new())
        }
        (
            "kubewarden",
            "kubernetes",
            op @ ("list_resources_by_namespace" | "list_resources_all" | "get_resource"),
        ) => {
            let lookup: Lookup = serde_json::from_slice(payload)
                .map_err(|e| format!("kubernetes.{op}: invalid request: {e}"))?;
            let wapc = &state.wapc;
            let declared = wapc
                .context_aware
                .iter()
                .any(|(v, k)| *v == lookup.api_version && *k == lookup.kind);
            if !declared {
                return Err(format!(
                    "kubernetes.{op}: {} {} is not among the policy's contextAwareResources",
                    lookup.api_version, lookup.kind
                ));
            }
            let wanted_namespace = match op {
                "list_resources_all" => None,
                _ => Some(lookup.namespace.clone().unwrap_or_default()),
            };
            let selector = Selector::parse(lookup.label_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("kubernetes.{op}: labelSelector: {e}"))?;
            let fields = FieldSelector::parse(lookup.field_selector.as_deref().unwrap_or(""))
                .map_err(|e| format!("kubernetes.{op}: fieldSelector: {e}"))?;
            let found = wapc.context.objects().iter().filter(|o| {
                o["apiVersion"] == lookup.api_version.as_str()
                    && o["kind"] == lookup.kind.as_str()
                    && wanted_namespace
                        .as_deref()
                        .is_none_or(|ns| o["metadata"]["namespace"].as_str().unwrap_or("") == ns)
                    && selector.matches(&o["metadata"]["labels"])
                    && fields.matches(o)
            });
            let answer = if op == "get_resource" {
                let name = lookup.name.clone().unwrap_or_default();
                found
                    .into_iter()
                    .find(|o| o["metadata"]["name"] == name.as_str())
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "kubernetes.get_resource: {} {name} not found in the resources of this run",
                            lookup.kind
                        )
                    })?
            } else {
                let items: Vec<&Value> = found.collect();
                json!({
                    "apiVersion": lookup.api_version,
                    "kind": format!("{}List", lookup.kind),
                    "metadata": {"resourceVersion": ""},
                    "items": items,
                })
            };
            Ok(serde_json::to_vec(&answer).expect("JSON encodes"))
        }
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available: wasm-validate runs offline and grants only kubernetes lookups (answered from the resources of the run) and logging"
        )),
    }
}

/// An equality-based label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`,
/// comma-separated; Kubernetes "Labels and Selectors").
#[derive(Debug, Default)]
struct Selector(Vec<(String, Option<String>, bool)>);

impl Selector {
    fn parse(text: &str) -> Result<Selector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if term.contains(" in ") || term.contains(" notin ") || term.contains('(') {
                return Err(format!("{term:?}: set-based selectors are not supported"));
            }
            if let Some((key, value)) = term.split_once("!=") {
                terms.push((key.trim().to_owned(), Some(value.trim().to_owned()), false));
            } else if let Some((key, value)) = term.split_once('=') {
                let value = value.trim_start_matches('=');
                terms.push((key.trim().to_owned(), Some(value.trim().to_owned()), true));
            } else if let Some(key) = term.strip_prefix('!') {
                terms.push((key.trim().to_owned(), None, false));
            } else {
                terms.push((term.to_owned(), None, true));
            }
        }
        Ok(Selector(terms))
    }

    fn matches(&self, labels: &Value) -> bool {
        self.0.iter().all(|(key, value, equal)| {
            let actual = labels[key.as_str()].as_str();
            match value {
                Some(value) => (actual == Some(value.as_str())) == *equal,
                None => actual.is_some() == *equal,
            }
        })
    }
}

/// A field selector on `metadata.name` and `metadata.namespace` (`=`,
/// `==`, `!=`), the fields every kind supports.
#[derive(Debug, Default)]
struct FieldSelector(Vec<(String, String, bool)>);

impl FieldSelector {
    fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, equal) = match term.split_once("!=") {
                Some((f, v)) => (f, v, false),
                None => match term.split_once('=') {
                    Some((f, v)) => (f, v.trim_start_matches('='), true),
                    None => return Err(format!("{term:?}: expected field=value")),
                },
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" {
                return Err(format!(
                    "{field:?}: only metadata.name and metadata.namespace are supported"
                ));
            }
            terms.push((field.to_owned(), value.trim().to_owned(), equal));
        }
        Ok(FieldSelector(terms))
    }

    fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, value, equal)| {
            let actual = match field.as_str() {
                "metadata.name" => object["metadata"]["name"].as_str(),
                _ => object["metadata"]["namespace"].as_str(),
            };
            (actual.unwrap_or("") == value) == *equal
        })
    }
}

/// The admission request (operation CREATE) Kubewarden's `validate`
/// operation receives for `object`, with the policy's `settings`.
///
/// `userInfo` is a documented placeholder (`wasm-validate`, group
/// `system:authenticated`); `oldObject` is null; the resource is the kind's
/// plural as Kubernetes guesses it (lowercase, `s`/`es`/`ies`); a missing
/// namespace is `""`.
pub(crate) fn validate_payload(
    object: &Value,
    settings: &Value,
    admission_request: Option<&Value>,
) -> Value {
    if let Some(request) = admission_request {
        let mut request = request.clone();
        // The object as the earlier (mutating) policies left it; a DELETE
        // keeps its null object and its oldObject.
        if !request["object"].is_null() {
            request["object"] = object.clone();
        }
        return json!({"request": request, "settings": settings});
    }
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("");
    let (group, version) = abi::split_api_version(api_version);
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
    let gvk = json!({"group": group, "version": version, "kind": kind});
    let gvr = json!({"group": group, "version": version, "resource": abi::plural_of(kind)});
    json!({
        "request": {
            "uid": format!("wasm-validate/{api_version}/{kind}/{namespace}/{name}"),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "wasm-validate", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
        "settings": settings,
    })
}

/// Kubewarden's answer to `validate`.
#[derive(Debug, Deserialize)]
struct KwResponse {
    accepted: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    mutated_object: Option<Value>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

/// Translates a Kubewarden `validate` answer (JSON: `accepted`, optional
/// `message`, `code`, `mutated_object`, `warnings`) into an ABI response
/// for `object`: a rejection becomes one violation at the whole object
/// (`""`) with the message and code; a mutated object becomes the JSON Patch
/// (RFC 6902, computed with json-patch's `diff`) from `object` to it.
///
/// Errors ([`EvalError::MalformedResponse`]): not JSON of that shape, or a
/// mutated object from a policy not declared `mutating`. Never panics, for
/// any input (fuzzed by `fuzz/fuzz_targets/abi_response.rs`).
pub fn decode_validate(
    bytes: &[u8],
    object: &Value,
    mutating: bool,
) -> Result<Response, EvalError> {
    let answer: KwResponse = serde_json::from_slice(bytes).map_err(|e| {
        EvalError::MalformedResponse(format!("not a Kubewarden validation response: {e}"))
    })?;
    let mut response = Response {
        allowed: answer.accepted,
        warnings: answer.warnings.unwrap_or_default(),
        ..Response::default()
    };
    if !answer.accepted {
        let mut message = answer
            .message
            .unwrap_or_else(|| "rejected by the policy (no message)".to_owned());
        if let Some(code) = answer.code {
            message.push_str(&format!(" (code {code})"));
        }
        response.violations.push(Violation {
            message,
            path: String::new(),
        });
    }
    if let Some(mutated) = answer.mutated_object {
        if !mutating {
            return Err(EvalError::MalformedResponse(
                "a mutated object from a policy whose metadata does not declare it mutating"
                    .to_owned(),
            ));
        }
        let patch = json_patch::diff(object, &mutated);
        if !patch.0.is_empty() {
            response.patch = Some(patch);
        }
    }
    Ok(response)
}

/// Translates a `validate_settings` answer: `Ok` when valid, else the
/// policy's message.
pub(crate) fn decode_settings(bytes: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Answer {
        valid: bool,
        #[serde(default)]
        message: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a Kubewarden settings validation response: {e}"))?;
    if answer.valid {
        Ok(())
    } else {
        Err(answer
            .message
            .unwrap_or_else(|| "the policy rejected its settings".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::metadata::slug;
    use super::*;

    #[test]
    fn titles_become_policy_names() {
        assert_eq!(slug("Pod Privileged Policy"), "pod-privileged-policy");
        assert_eq!(
            slug("  verify-image_signatures! "),
            "verify-image-signatures"
        );
    }

    #[test]
    fn label_selectors_use_kubernetes_equality_semantics() {
        let labels = json!({"app": "web", "tier": "front"});
        let check = |s: &str| Selector::parse(s).unwrap().matches(&labels);
        assert!(check(""));
        assert!(check("app=web"));
        assert!(check("app==web,tier"));
        assert!(check("app!=db,!missing"));
        assert!(!check("app=db"));
        assert!(!check("tier!=front"));
        assert!(!check("missing"));
        assert!(Selector::parse("app in (a,b)").is_err());
    }

    #[test]
    fn field_selectors_cover_name_and_namespace() {
        let object = json!({"metadata": {"name": "a", "namespace": "ns"}});
        let check = |s: &str| FieldSelector::parse(s).unwrap().matches(&object);
        assert!(check("metadata.name=a,metadata.namespace==ns"));
        assert!(!check("metadata.name!=a"));
        assert!(FieldSelector::parse("spec.nodeName=x").is_err());
    }

    #[test]
    fn the_admission_request_is_built_from_the_object() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "web", "namespace": "shop"}});
        let payload = validate_payload(&object, &json!({"a": 1}), None);
        let request = &payload["request"];
        assert_eq!(request["operation"], "CREATE");
        assert_eq!(
            request["kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(request["resource"]["resource"], "deployments");
        assert_eq!(request["namespace"], "shop");
        assert_eq!(request["object"], object);
        assert!(request["oldObject"].is_null());
        assert_eq!(payload["settings"], json!({"a": 1}));
    }

    #[test]
    fn answers_become_abi_responses() {
        let object = json!({"metadata": {"name": "a"}});
        let rejected = decode_validate(
            br#"{"accepted": false, "message": "no", "code": 403, "warnings": ["w"]}"#,
            &object,
            false,
        )
        .unwrap();
        assert!(!rejected.allowed);
        assert_eq!(rejected.violations[0].message, "no (code 403)");
        assert_eq!(rejected.violations[0].path, "");
        assert_eq!(rejected.warnings, ["w"]);
        let mutated = decode_validate(
            br#"{"accepted": true, "mutated_object": {"metadata": {"name": "a", "labels": {"x": "y"}}}}"#,
            &object,
            true,
        )
        .unwrap();
        let patch = serde_json::to_value(mutated.patch.unwrap()).unwrap();
        assert_eq!(
            patch,
            json!([{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}])
        );
        assert!(
            decode_validate(
                br#"{"accepted": true, "mutated_object": {}}"#,
                &object,
                false
            )
            .is_err()
        );
        assert!(decode_validate(b"[]", &object, true).is_err());
        assert_eq!(decode_settings(br#"{"valid": true}"#), Ok(()));
        assert_eq!(
            decode_settings(br#"{"valid": false, "message": "bad"}"#),
            Err("bad".to_owned())
        );
    }
}
