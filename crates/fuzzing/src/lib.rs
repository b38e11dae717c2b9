//! The properties that the fuzz targets in `fuzz/` check, as plain
//! functions, so that `cargo test` replays every seed and every crash a
//! fuzzer ever found (`tests/replay.rs`, `testdata/fuzz/`). Each function
//! takes arbitrary bytes and panics when a property fails; libFuzzer
//! reports the panic as a crash. `cargo xtask fuzz` writes the seed
//! corpora ([`seeds`]) and runs the targets (see `docs/security.md`).
//!
//! - [`manifest`]: reading any bytes as YAML or JSON never panics; every
//!   document read is written back byte for byte; re-serialising every
//!   resource (what a mutation does) and reading the result again gives the
//!   same objects in the same order (parse, emit, parse is stable).
//! - [`abi_response`]: decoding any `wv_evaluate` answer (pointer, length,
//!   memory) and any Kubewarden `validate` answer never panics, and what is
//!   accepted follows the ABI's rules.
//! - [`patch`]: applying any JSON Patch to any object never panics, and an
//!   applied patch keeps the resource's identity.
//! - [`tape`]: reading any bytes as an ABI version 2 request (what a guest's
//!   SDK does) never panics, and what decodes re-encodes to a tape that
//!   decodes to the same value.
//! - [`admission_review`]: answering any bytes as an AdmissionReview at
//!   either endpoint never panics; an answer echoes the request's `uid`, is
//!   allowed or says why not, and carries a patch (a valid base64 RFC 6902
//!   patch) only from the mutating endpoint.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wasm_validate_abi::{Patch, Response};
use wasm_validate_manifest::{Content, Format, ReadLimits, parse_with, render};

/// The fuzz targets, by name (`fuzz/fuzz_targets/NAME.rs`).
pub const TARGETS: &[&str] = &[
    "manifest",
    "abi_response",
    "patch",
    "tape",
    "admission_review",
];

/// Runs the property of `target` on `data`. Panics on an unknown target.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "manifest" => manifest(data),
        "abi_response" => abi_response(data),
        "patch" => patch(data),
        "tape" => tape(data),
        "admission_review" => admission_review(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// ABI version 2 request reading (see the crate docs): `data` is a request
/// as the host writes it, or anything else. The SDK's typed view decodes
/// from it or gives an error; a value that decodes is encoded again, and
/// that tape decodes to the same value.
pub fn tape(data: &[u8]) {
    use wasm_validate_abi::tape::{RequestView, encode};
    let Ok(view) = RequestView::parse(data) else {
        return;
    };
    let _ = wasm_validate_sdk::evaluate_tape(data, read_every_field);
    for section in [Some(view.settings), Some(view.object), view.old_object]
        .into_iter()
        .flatten()
    {
        if let Ok(value) = section.to_value() {
            let again = encode(&value);
            let reread = wasm_validate_abi::tape::Tape::parse(&again)
                .and_then(|t| t.to_value())
                .expect("a re-encoded tape reads");
            assert_eq!(
                reread, value,
                "encode(decode(tape)) decodes to the same value"
            );
        }
    }
}

/// Reads every field of the SDK's lazy object view (as the built-in
/// policies do), so that the fuzzer reaches each accessor on any tape.
fn read_every_field(
    request: &wasm_validate_abi::Request<Value, wasm_validate_sdk::Object<'_>>,
) -> wasm_validate_abi::Response {
    let object = request.object;
    let mut seen = Vec::new();
    seen.push(object.api_version().len());
    let meta = object.metadata();
    seen.push(meta.name().map_or(0, str::len) + meta.namespace().map_or(0, str::len));
    seen.push(meta.labels().iter().count() + meta.annotations().iter().count());
    for pod in object.pod_specs() {
        let spec = pod.spec;
        seen.push(pod.metadata.labels().iter().count());
        for flag in [
            spec.host_network(),
            spec.host_pid(),
            spec.host_ipc(),
            spec.host_users(),
            spec.automount_service_account_token(),
        ] {
            seen.push(usize::from(flag == Some(true)));
        }
        seen.push(spec.service_account_name().map_or(0, str::len));
        seen.push(spec.os().map_or(0, |os| os.name().len()));
        for volume in spec.volumes() {
            seen.push(volume.name().len() + volume.sources().len());
        }
        if let Some(sc) = pod.security_context() {
            seen.push(sc.run_as_user().unwrap_or(0) as usize);
            seen.push(sc.sysctls().map(|s| s.name().len()).sum());
            seen.push(sc.seccomp_profile().map_or(0, |p| p.profile_type().len()));
        }
        for c in pod.containers() {
            let container = c.container;
            seen.push(c.field("image").len() + container.image().map_or(0, str::len));
            seen.push(container.ports().filter_map(|p| p.host_port()).count());
            seen.push(
                container
                    .liveness_probe()
                    .and_then(|h| h.http_get())
                    .and_then(|a| a.host())
                    .map_or(0, str::len),
            );
            if let Some(sc) = c.security_context() {
                seen.push(usize::from(sc.privileged() == Some(true)));
                seen.push(sc.proc_mount().map_or(0, str::len));
                if let Some(caps) = sc.capabilities() {
                    seen.push(caps.add().map_or(0, |a| a.iter().count()));
                    seen.push(usize::from(caps.drop().is_some_and(|d| d.contains("ALL"))));
                }
                seen.push(
                    sc.se_linux_options()
                        .and_then(|o| o.selinux_type())
                        .map_or(0, str::len),
                );
            }
            if let Some(resources) = container.resources() {
                seen.push(usize::from(
                    resources.limits().is_some_and(|l| l.contains_key("cpu")),
                ));
            }
        }
    }
    wasm_validate_abi::Response::error(format!("{}", seen.len()))
}

/// AdmissionReview answering (see the crate docs): the built-in library's
/// baseline and fixes, loaded once per process.
pub fn admission_review(data: &[u8]) {
    use base64::Engine as _;
    use std::sync::OnceLock;
    use wasm_validate_admission::{Endpoint, policies_for, review};
    use wasm_validate_engine::{Engine, Limits};
    use wasm_validate_pipeline::{ConfiguredPolicy, PolicySet};
    static LOADED: OnceLock<(Engine, PolicySet, PolicySet)> = OnceLock::new();
    let (engine, validating, mutating) = LOADED.get_or_init(|| {
        let engine = Engine::default();
        let names = wasm_validate_builtin::select(
            &[
                wasm_validate_builtin::Profile::Baseline,
                wasm_validate_builtin::Profile::Fixes,
            ],
            |_| false,
        );
        let set = PolicySet {
            policies: names
                .into_iter()
                .map(|name| {
                    let bytes = wasm_validate_builtin::get(name).expect("a built-in policy");
                    let policy = engine.load(bytes, Limits::default()).expect("it loads");
                    ConfiguredPolicy::new(policy, json!({}))
                })
                .collect(),
            ..PolicySet::default()
        };
        let validating = policies_for(&set, Endpoint::Validating);
        let mutating = policies_for(&set, Endpoint::Mutating);
        (engine, validating, mutating)
    });
    // The review's decoder, like the API server's (Go's encoding/json),
    // does not refuse invalid UTF-8 inside a string it skips (an unknown
    // field): the uid the answer must echo is read the same way, with such
    // bytes replaced (found by fuzzing: testdata/fuzz/admission_review/crash-8414f5c8...).
    let uid = serde_json::from_str::<Value>(&String::from_utf8_lossy(data))
        .ok()
        .and_then(|v| v["request"]["uid"].as_str().map(str::to_owned));
    for (endpoint, set) in [
        (Endpoint::Validating, validating),
        (Endpoint::Mutating, mutating),
    ] {
        let Ok(answered) = review(engine, set, endpoint, data, None) else {
            continue;
        };
        let response = answered.response.expect("an answer has a response");
        assert_eq!(Some(&response.uid), uid.as_ref(), "the uid is echoed");
        assert_eq!(
            response.allowed,
            response.status.is_none(),
            "a denial says why"
        );
        assert_eq!(response.patch.is_some(), response.patch_type.is_some());
        if let Some(patch) = &response.patch {
            assert_eq!(
                endpoint,
                Endpoint::Mutating,
                "no patch from a validating webhook"
            );
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch)
                .expect("the patch is base64");
            serde_json::from_slice::<Patch>(&bytes).expect("the patch is RFC 6902");
        }
    }
}

/// Small limits, so that the fuzzer spends its time on structure, not size.
const LIMITS: ReadLimits = ReadLimits {
    input_bytes: 1 << 20,
    document_bytes: 256 << 10,
    list_items: 1000,
};

/// Manifest reading and writing (see the crate docs).
pub fn manifest(data: &[u8]) {
    let json = parse_with("fuzz.json", data.to_vec(), Format::Json, &LIMITS);
    check_parsed(&json);
    let parsed = parse_with("fuzz.yaml", data.to_vec(), Format::Yaml, &LIMITS);
    check_parsed(&parsed);
    if parsed.documents.is_empty() {
        return;
    }
    assert_eq!(
        render(&parsed).expect("an unmodified stream renders"),
        parsed.text,
        "an unmodified stream is written back byte for byte"
    );
    // Every resource re-serialised, as a mutation does, then read again.
    let mut modified = parsed.clone();
    for resource in &mut modified.resources {
        resource.modified = true;
    }
    let Ok(text) = render(&modified) else {
        return;
    };
    let again = parse_with("fuzz.yaml", text.into_bytes(), Format::Yaml, &LIMITS);
    let objects = |p: &wasm_validate_manifest::Parsed| -> Vec<Value> {
        p.resources.iter().map(|r| r.object.clone()).collect()
    };
    assert!(
        again.errors.len() <= parsed.errors.len(),
        "re-serialised documents read back without new errors: {:?}",
        again.errors
    );
    if parsed.errors.is_empty() {
        assert_eq!(
            objects(&again),
            objects(&parsed),
            "parse, emit, parse gives the same objects"
        );
    }
}

fn check_parsed(parsed: &wasm_validate_manifest::Parsed) {
    let invalid = parsed
        .documents
        .iter()
        .filter(|d| d.content == Content::Invalid)
        .count();
    assert!(
        parsed.errors.len() >= invalid,
        "every invalid document has its error"
    );
    for error in &parsed.errors {
        assert_eq!(&*error.file, &*parsed.file);
        assert!(!error.message.is_empty());
    }
    for resource in &parsed.resources {
        assert!(!resource.api_version().is_empty() && !resource.kind().is_empty());
        assert!(resource.source.line >= 1);
    }
}

/// A Pod, the object Kubewarden answers are decoded against.
fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    })
}

/// ABI response decoding. `data`: 8 bytes of `wv_evaluate`'s packed
/// answer (little-endian), 1 byte whose low bit is the policy's `mutating`,
/// then the guest's linear memory; the memory is also decoded as a
/// Kubewarden `validate` answer for a Pod.
pub fn abi_response(data: &[u8]) {
    let Some((head, memory)) = data.split_first_chunk::<9>() else {
        return;
    };
    let packed = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    let mutating = head[8] & 1 == 1;
    if let Ok(response) = wasm_validate_engine::read_response(memory, packed, 64 << 10, mutating) {
        check_response(&response, mutating);
    }
    let object = pod();
    if let Ok(response) =
        wasm_validate_engine::kubewarden::decode_validate(memory, &object, mutating)
    {
        check_response(&response, mutating);
        if let Some(patch) = &response.patch {
            let mut patched = object.clone();
            json_patch::patch(&mut patched, &patch.0)
                .expect("the diff of a mutated object applies to the object");
        }
    }
}

fn check_response(response: &Response, mutating: bool) {
    assert!(
        response.allowed || !response.violations.is_empty(),
        "a denial carries a violation"
    );
    assert!(
        mutating || response.patch.is_none(),
        "only a mutating policy patches"
    );
    assert!(response.error.is_none(), "an error is an EvalError");
    for violation in &response.violations {
        assert!(violation.path.is_empty() || violation.path.starts_with('/'));
    }
}

/// Patch application: `data` is an object's JSON, a newline, and a JSON
/// Patch (RFC 6902). When the patch applies, the guarded fields are those
/// of the object and `metadata` is still a mapping.
pub fn patch(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((object, patch)) = text.split_once('\n') else {
        return;
    };
    let (Ok(object), Ok(patch)) = (
        serde_json::from_str::<Value>(object),
        serde_json::from_str::<Patch>(patch),
    ) else {
        return;
    };
    let Ok(patched) = wasm_validate_pipeline::apply_patch(&object, &patch) else {
        return;
    };
    for pointer in [
        "/apiVersion",
        "/kind",
        "/metadata/name",
        "/metadata/generateName",
        "/metadata/namespace",
        "/metadata/annotations/postrenderer.helm.sh~1postrender-filename",
    ] {
        assert_eq!(
            object.pointer(pointer),
            patched.pointer(pointer),
            "{pointer} is kept"
        );
    }
    if object["metadata"].is_object() {
        assert!(patched["metadata"].is_object(), "metadata is kept");
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The YAML documents of the manifests under `testdata/` (real charts,
/// fixtures, bad inputs), one per seed, and each manifest file of under
/// 16 KiB whole.
fn manifest_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for dir in ["real", "fixtures", "bad", "kubewarden"] {
        for path in files(&testdata().join(dir)) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let is_manifest = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            );
            if !is_manifest {
                continue;
            }
            if bytes.len() < 16 << 10 {
                seeds.push(bytes.clone());
            }
            if let Ok(text) = String::from_utf8(bytes) {
                for piece in wasm_validate_manifest::split(&text) {
                    seeds.push(text[piece.range].as_bytes().to_vec());
                }
            }
        }
    }
    seeds
}

/// The fixed responses in the data segments of `testdata/wat/*.wat`, and
/// the patches of the built-in policies' snapshots as responses.
fn responses() -> Vec<Vec<u8>> {
    let mut responses = Vec::new();
    for path in files(&testdata().join("wat")) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("(data (i32.const 16) \"") {
                let body = rest.trim_end_matches("\")");
                responses.push(
                    body.replace("\\\"", "\"")
                        .replace("\\\\", "\\")
                        .into_bytes(),
                );
            }
        }
    }
    for patch in snapshot_patches() {
        let response = json!({"allowed": true, "patch": patch});
        responses.push(response.to_string().into_bytes());
    }
    responses.push(
        json!({"allowed": false, "violations": [{"message": "m", "path": "/spec"}], "warnings": ["w"]})
            .to_string()
            .into_bytes(),
    );
    let mut mutated = pod();
    mutated["metadata"]["labels"]["team"] = json!("a");
    for answer in [
        json!({"accepted": true}),
        json!({"accepted": false, "message": "no", "code": 403}),
        json!({"accepted": true, "mutated_object": mutated, "warnings": ["w"]}),
    ] {
        responses.push(answer.to_string().into_bytes());
    }
    responses
}

/// Every `patch` of the built-in policies' snapshot files.
fn snapshot_patches() -> Vec<Value> {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut patches = Vec::new();
    for path in files(&policies) {
        if !path.to_string_lossy().ends_with(".snap.yaml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(Value::Array(entries)) = serde_yaml::from_str::<Value>(&text) else {
            continue;
        };
        patches.extend(entries.into_iter().filter_map(|e| e.get("patch").cloned()));
    }
    patches
}

/// The seed corpus of `target`, built from `testdata/` and `policies/`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut seeds = match target {
        "manifest" => manifest_seeds(),
        "abi_response" => responses()
            .into_iter()
            .flat_map(|response| {
                let packed = (16u64 << 32) | response.len() as u64;
                let mut memory = vec![0; 16];
                memory.extend_from_slice(&response);
                [1u8, 0].map(|mutating| {
                    let mut seed = packed.to_le_bytes().to_vec();
                    seed.push(mutating);
                    seed.extend_from_slice(&memory);
                    seed
                })
            })
            .collect(),
        "patch" => {
            let objects: Vec<Value> = manifest_seeds()
                .iter()
                .filter_map(|seed| serde_yaml::from_slice::<Value>(seed).ok())
                .filter(|v| v["kind"] == "Pod" || v["kind"] == "Deployment")
                .take(8)
                .collect();
            let mut seeds = Vec::new();
            for patch in snapshot_patches() {
                for object in &objects {
                    seeds.push(format!("{object}\n{patch}").into_bytes());
                }
            }
            seeds
        }
        "tape" => manifest_seeds()
            .iter()
            .filter_map(|seed| serde_yaml::from_slice::<Value>(seed).ok())
            .filter(|v| v.is_object())
            .map(|object| {
                use wasm_validate_abi::{Operation, tape};
                tape::request(
                    Operation::Create,
                    &tape::encode(&json!({"types": ["NodePort"]})),
                    &tape::encode(&object),
                    Some(&tape::encode(&object["metadata"])),
                )
            })
            .collect(),
        "admission_review" => manifest_seeds()
            .iter()
            .filter_map(|seed| serde_yaml::from_slice::<Value>(seed).ok())
            .filter(|v| v.is_object())
            .take(40)
            .enumerate()
            .map(|(i, object)| {
                let operation = ["CREATE", "UPDATE", "DELETE"][i % 3];
                let (new, old) = match operation {
                    "DELETE" => (Value::Null, object),
                    "UPDATE" => (object.clone(), object),
                    _ => (object, Value::Null),
                };
                serde_json::to_vec(&json!({
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {
                        "uid": format!("seed-{i}"),
                        "operation": operation,
                        "object": new,
                        "oldObject": old,
                        "dryRun": i % 2 == 0,
                    }
                }))
                .expect("JSON encodes")
            })
            .collect(),
        other => panic!("unknown fuzz target {other:?}"),
    };
    seeds.sort();
    seeds.dedup();
    seeds
}

/// The regression inputs of `target`: every file in `testdata/fuzz/TARGET/`
/// (crashes found by `cargo xtask fuzz`, kept once fixed).
pub fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files(&testdata().join("fuzz").join(target))
        .into_iter()
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}
