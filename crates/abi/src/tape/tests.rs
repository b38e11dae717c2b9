use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

fn sample() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "annotations": {}},
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [
                {"name": "a", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                 "resources": {"limits": {"cpu": "500m", "memory": 1}},
                 "securityContext": {"privileged": true, "runAsUser": -1, "capabilities": {"drop": ["ALL"]}}},
                {"name": "b", "image": "busybox", "args": ["sleep", "3600"], "env": [{"name": "X", "value": "ü ☃"}]}
            ]}},
            "weird": [null, false, true, 1.5, -7, 18446744073709551615u64, [], {}, ""]
        }
    })
}

#[test]
fn every_value_survives_the_round_trip() {
    let value = sample();
    let tape = encode(&value);
    assert_eq!(tape.len() % 8, 0);
    let read = Tape::parse(&tape).unwrap();
    assert_eq!(read.to_value().unwrap(), value);
    for scalar in [
        json!(null),
        json!(true),
        json!(0),
        json!("x"),
        json!([]),
        json!({}),
    ] {
        assert_eq!(
            Tape::parse(&encode(&scalar)).unwrap().to_value().unwrap(),
            scalar
        );
    }
}

#[test]
fn keys_are_interned_and_subtrees_end_where_they_say() {
    let value = sample();
    let bytes = encode(&value);
    let tape = Tape::parse(&bytes).unwrap();
    // "name" appears under metadata, two containers and an env entry: stored once.
    let names = (0..tape.len())
        .filter(|&i| tape.key(i).ok() == Some(b"name".as_slice()))
        .count();
    assert_eq!(names, 4);
    let key_count = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let mut keys: Vec<&[u8]> = (0..tape.len()).filter_map(|i| tape.key(i).ok()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), key_count);
    // Key ids: one per distinct key, the same for equal keys, and within
    // the table.
    assert_eq!(tape.key_count() as usize, key_count);
    let mut by_id: Vec<Option<&[u8]>> = vec![None; key_count];
    for index in 0..tape.len() {
        let (Ok(id), Ok(key)) = (tape.key_id(index), tape.key(index)) else {
            continue;
        };
        assert_eq!(*by_id[id as usize].get_or_insert(key), key, "key {id}");
    }
    assert!(by_id.iter().all(Option::is_some));
    // The root object's subtree is the whole tape; skipping "metadata" lands on "spec".
    assert!(matches!(tape.node(0).unwrap(), Node::Object { len: 4, end } if end == tape.len()));
    let metadata = (1..tape.len())
        .find(|&i| tape.key(i).ok() == Some(b"metadata".as_slice()))
        .unwrap();
    assert_eq!(tape.key(tape.next(metadata).unwrap()).unwrap(), b"spec");
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct View {
    kind: String,
    metadata: Meta,
    spec: Option<Spec>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Meta {
    name: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Spec {
    replicas: Option<i64>,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    only: u8,
}

#[derive(Debug, PartialEq, Deserialize)]
enum Choice {
    Plain,
    With(i32),
}

#[test]
fn typed_views_decode_as_they_do_from_json() {
    let value = sample();
    let bytes = encode(&value);
    let tape = Tape::parse(&bytes).unwrap();
    let from_tape: View = tape.deserialize().unwrap();
    let from_json: View = serde_json::from_value(value).unwrap();
    assert_eq!(from_tape, from_json);
    assert_eq!(from_tape.spec.unwrap().rest.len(), 2);

    let strict = encode(&json!({"only": 1, "other": 2}));
    let error = Tape::parse(&strict)
        .unwrap()
        .deserialize::<Strict>()
        .unwrap_err();
    assert!(error.0.contains("unknown field `other`"), "{error}");
    let overflow = encode(&json!({"only": 300}));
    assert!(
        Tape::parse(&overflow)
            .unwrap()
            .deserialize::<Strict>()
            .is_err()
    );

    for (json, expected) in [
        (json!("Plain"), Choice::Plain),
        (json!({"With": 4}), Choice::With(4)),
    ] {
        assert_eq!(
            Tape::parse(&encode(&json))
                .unwrap()
                .deserialize::<Choice>()
                .unwrap(),
            expected
        );
    }
}

#[test]
fn requests_carry_operation_and_sections() {
    let settings = encode(&json!({"types": ["NodePort"]}));
    let object = encode(&sample());
    let bytes = request(
        Operation::Update,
        &settings,
        &object,
        Some(&encode(&json!({"kind": "Old"}))),
    );
    assert!(is_request(&bytes));
    let view = RequestView::parse(&bytes).unwrap();
    assert_eq!(view.operation, Operation::Update);
    assert_eq!(
        view.settings.to_value().unwrap(),
        json!({"types": ["NodePort"]})
    );
    assert_eq!(view.object.to_value().unwrap(), sample());
    assert_eq!(
        view.old_object.unwrap().to_value().unwrap(),
        json!({"kind": "Old"})
    );
    let decoded: Request<Value, View> = view.decode().unwrap();
    assert_eq!(decoded.object.kind, "Deployment");

    let create = request(Operation::Create, &settings, &object, None);
    assert!(RequestView::parse(&create).unwrap().old_object.is_none());
    let from_json = request_from_json(
        &json!({"operation": "CREATE", "settings": {"types": ["NodePort"]}, "object": sample()}),
    )
    .unwrap();
    assert_eq!(from_json, create);
    assert!(!is_request(b"{\"operation\":\"CREATE\"}"));
}

/// A library module's buffer holds one request per settings: each read from
/// its start reads as `request` makes it alone, sharing one object.
#[test]
fn requests_sharing_one_object_read_as_requests_of_their_own() {
    let object = encode(&sample());
    let old = encode(&json!({"kind": "Old"}));
    let settings = [
        encode(&json!({})),
        encode(&json!({"types": ["NodePort", "LoadBalancer"]})),
        encode(&json!({"labels": [{"key": "app"}]})),
    ];
    let sections: Vec<&[u8]> = settings.iter().map(Vec::as_slice).collect();
    for old_object in [None, Some(old.as_slice())] {
        let (buffer, starts) = requests(Operation::Update, &sections, &object, old_object);
        assert_eq!(starts.len(), settings.len());
        assert_eq!(
            buffer.len(),
            HEADER_LEN * settings.len()
                + settings.iter().map(Vec::len).sum::<usize>()
                + object.len()
                + old_object.map_or(0, <[u8]>::len)
        );
        for (section, &start) in settings.iter().zip(&starts) {
            assert_eq!(start % 8, 0);
            let shared = RequestView::parse(&buffer[start..]).unwrap();
            let alone_bytes = request(Operation::Update, section, &object, old_object);
            let alone = RequestView::parse(&alone_bytes).unwrap();
            assert_eq!(shared.operation, alone.operation);
            assert_eq!(
                shared.settings.to_value().unwrap(),
                alone.settings.to_value().unwrap()
            );
            assert_eq!(shared.object.to_value().unwrap(), sample());
            assert_eq!(
                shared.old_object.map(|t| t.to_value().unwrap()),
                old_object.map(|_| json!({"kind": "Old"}))
            );
        }
    }
}

/// Every truncation and every single-byte change of a request decodes to a
/// value or an error, never a panic, and no read leaves the buffer.
#[test]
fn malformed_requests_are_errors_not_panics() {
    let bytes = request(
        Operation::Create,
        &encode(&json!({})),
        &encode(&sample()),
        None,
    );
    for cut in 0..bytes.len() {
        let _ = RequestView::parse(&bytes[..cut]).and_then(|v| v.object.to_value());
    }
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut changed = bytes.clone();
            changed[at] ^= flip;
            let _ = RequestView::parse(&changed).and_then(|v| {
                v.object.to_value()?;
                v.decode::<Value, View>()
            });
        }
    }
    // A container whose end points backwards, and a key that does not exist.
    let mut tape = encode(&json!({"a": [1]}));
    let node1 = SECTION_HEADER_LEN + NODE_LEN;
    tape[node1 + 12..node1 + 16].copy_from_slice(&0u32.to_le_bytes());
    assert!(
        Tape::parse(&tape)
            .unwrap()
            .to_value()
            .unwrap_err()
            .0
            .contains("ends at 0")
    );
    let mut tape = encode(&json!({"a": 1}));
    tape[node1 + 4..node1 + 8].copy_from_slice(&9u32.to_le_bytes());
    assert!(
        Tape::parse(&tape)
            .unwrap()
            .to_value()
            .unwrap_err()
            .0
            .contains("key 9")
    );
    assert!(RequestView::parse(b"WVT2").is_err());
    assert!(Tape::parse(&[0; 16]).is_err());
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error() {
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH {
        deep = json!([deep]);
    }
    assert_eq!(
        Tape::parse(&encode(&deep)).unwrap().to_value().unwrap(),
        deep
    );
    let deeper = json!({ "a": deep });
    let error = Tape::parse(&encode(&deeper))
        .unwrap()
        .to_value()
        .unwrap_err();
    assert!(error.0.contains("nest more than 128"), "{error}");
}

/// docs/abi.md's worked example, byte for byte.
#[test]
fn the_documented_example_is_what_the_encoder_writes() {
    let bytes = encode(&json!({"kind": "Pod", "spec": {"hostPID": true}}));
    let words: Vec<u32> = bytes
        .chunks(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect();
    assert_eq!(bytes.len(), 128);
    assert_eq!(&words[..4], [4, 3, 18, 0]);
    assert_eq!(
        &words[4..20],
        [
            8, NO_KEY, 2, 4, //
            6, 0, 4, 3, //
            8, 1, 1, 4, //
            2, 2, 0, 0,
        ]
    );
    assert_eq!(&words[20..26], [0, 4, 7, 4, 11, 7]);
    assert_eq!(&bytes[104..122], b"kindPodspechostPID");
    assert!(bytes[122..].iter().all(|&b| b == 0));
}
