//! `serve --sync-interval`: a Gatekeeper constraint whose template reads
//! `data.inventory` sees the cluster's objects at admission, read by the
//! policy source every sync interval, and keeps the last ones read when a
//! read fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wasm_validate_abi::Rule;
use wasm_validate_engine::Engine;
use wasm_validate_manifest::{Format, Resource};
use wasm_validate_pipeline::PolicySet;
use wasm_validate_server::{Options, Policies, PolicySource};

use crate::serve::{post, review_of, start_with};

/// `testdata/gatekeeper/uniquehost`: a template that denies an Ingress
/// whose host another Ingress of the inventory has, and its constraint.
fn library_text() -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/gatekeeper/uniquehost"
    );
    let mut text = std::fs::read(format!("{dir}/template.yaml")).unwrap();
    text.extend_from_slice(b"\n---\n");
    text.extend(std::fs::read(format!("{dir}/constraint.yaml")).unwrap());
    text
}

fn ingress(name: &str, host: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"rules": [{"host": host}]},
    })
}

fn library(engine: &Engine) -> PolicySet {
    let parsed = wasm_validate_manifest::parse("library.yaml", library_text(), Format::Yaml);
    let mut library = wasm_validate_gatekeeper::Library::default();
    library.add_parsed(Arc::new(parsed)).unwrap();
    library.check().unwrap();
    let runtimes = wasm_validate_gatekeeper::load_runtime(engine);
    PolicySet {
        policies: library.policies(engine, &runtimes).unwrap(),
        ..PolicySet::default()
    }
}

/// The cluster as the source reads it: the objects, or a read error; and
/// the rules it was asked to list.
struct Cluster {
    objects: Mutex<Result<Vec<Value>, String>>,
    asked: Mutex<Vec<Rule>>,
}

impl PolicySource for Cluster {
    fn fingerprint(&self) -> Vec<u8> {
        vec![0]
    }

    fn load(&self) -> Result<Policies, String> {
        Err("not reloaded in this test".to_owned())
    }

    fn objects(&self, rules: &[Rule]) -> Option<Result<Vec<Resource>, String>> {
        *self.asked.lock().unwrap() = rules.to_vec();
        let objects = self.objects.lock().unwrap().clone();
        Some(objects.map(|objects| {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
            let text = serde_json::to_vec(&list).unwrap();
            let parsed = wasm_validate_manifest::parse("cluster", text, Format::Json);
            parsed.resources
        }))
    }
}

fn verdict(body: &[u8]) -> (bool, String) {
    let answer: Value = serde_json::from_slice(body).unwrap();
    let response = &answer["response"];
    (
        response["allowed"].as_bool().unwrap(),
        response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A server for `set` whose source reads `objects` every 100 ms.
async fn start_synced(
    name: &str,
    engine: Engine,
    set: PolicySet,
    objects: Vec<Value>,
) -> (crate::serve::Running, Arc<Cluster>) {
    let cluster = Arc::new(Cluster {
        objects: Mutex::new(Ok(objects)),
        asked: Mutex::new(Vec::new()),
    });
    let options = Options {
        sync_interval: Some(Duration::from_millis(100)),
        ..Options::default()
    };
    let server = start_with(
        name,
        engine,
        set,
        Some((cluster.clone() as Arc<dyn PolicySource>, vec![0])),
        options,
    )
    .await;
    (server, cluster)
}

/// Posts `body` until the answer's verdict is `allowed` (at most 5 s): the
/// last answer's message, or `None` if it never was.
async fn until(server: &crate::serve::Running, body: &[u8], allowed: bool) -> Option<String> {
    for _ in 0..100 {
        let (_, answer) = post(server, "/validate", body.to_vec()).await;
        let (now, message) = verdict(&answer);
        if now == allowed {
            return Some(message);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referential_constraint_sees_the_clusters_objects_at_admission() {
    let engine = Engine::default();
    let set = library(&engine);
    let (server, cluster) = start_synced(
        "sync",
        engine,
        set,
        vec![ingress("taken", "shop.example.com")],
    )
    .await;
    let duplicate = review_of("Ingress", ingress("new", "shop.example.com"));
    let message = until(&server, &duplicate, false)
        .await
        .expect("the duplicate host is denied once the objects are read");
    assert!(
        message.contains("host shop.example.com is already used by Ingress shop/taken"),
        "{message}"
    );
    let (_, body) = post(
        &server,
        "/validate",
        review_of("Ingress", ingress("new", "blog.example.com")),
    )
    .await;
    assert!(verdict(&body).0, "a host no other ingress has is allowed");
    // The source was asked for what the constraint selects.
    let asked = cluster.asked.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|rule| rule.kinds.iter().any(|k| k == "Ingress")),
        "{asked:?}"
    );

    // A failed read keeps the objects last read.
    *cluster.objects.lock().unwrap() = Err("the API server is unreachable".to_owned());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, body) = post(&server, "/validate", duplicate.clone()).await;
    assert!(!verdict(&body).0, "still denied with the objects last read");

    // The taken ingress is deleted: the next read allows the host again.
    *cluster.objects.lock().unwrap() = Ok(Vec::new());
    assert!(
        until(&server, &duplicate, true).await.is_some(),
        "allowed once the other ingress is gone"
    );
}

/// A ValidatingAdmissionPolicy whose binding takes its params from a
/// `ReplicaLimit` and selects namespaces by label
/// (`testdata/vap/policies/replicas.yaml`): at admission both come from
/// the objects read, and the source is asked for both kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bindings_params_and_namespaces_come_from_the_clusters_objects() {
    let engine = Engine::default();
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vap/policies/replicas.yaml"
    ))
    .unwrap();
    // The policy and its binding; the ReplicaLimit the file ends with is
    // left to the cluster.
    let text = String::from_utf8(text).unwrap();
    let kept = text
        .split("\n---\n")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert!(!kept.contains("maxReplicas: 3"), "{kept}");
    let parsed = wasm_validate_manifest::parse("replicas.yaml", kept.into(), Format::Yaml);
    let mut library = wasm_validate_validating_admission_policy::Library::default();
    library.add_parsed(&parsed).unwrap();
    library.check().unwrap();
    let runtime = wasm_validate_validating_admission_policy::load_runtime(&engine);
    let set = PolicySet {
        policies: library.policies(&engine, &runtime).unwrap(),
        ..PolicySet::default()
    };
    let (server, cluster) = start_synced(
        "sync-vap",
        engine,
        set,
        vec![
            json!({"apiVersion": "rules.example.com/v1", "kind": "ReplicaLimit",
                "metadata": {"name": "replica-limit-test.example.com", "namespace": "default"},
                "maxReplicas": 4}),
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "staging", "labels": {"environment": "test"}}}),
        ],
    )
    .await;
    let deployment = |namespace: &str, replicas: u32| {
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "c0ffee00-0000-4000-8000-000000000003",
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "namespace": namespace,
                "operation": "CREATE",
                "userInfo": {"username": "test"},
                "object": {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": namespace},
                    "spec": {"replicas": replicas}},
            }
        }))
        .unwrap()
    };
    let message = until(&server, &deployment("staging", 5), false)
        .await
        .expect("denied with the params read from the cluster");
    assert!(
        message.contains("object.spec.replicas must be no greater than 4"),
        "{message}"
    );
    let (_, body) = post(&server, "/validate", deployment("staging", 2)).await;
    assert!(verdict(&body).0, "within the limit");
    let (_, body) = post(&server, "/validate", deployment("prod", 5)).await;
    assert!(
        verdict(&body).0,
        "a namespace without the label is not bound"
    );
    let asked = cluster.asked.lock().unwrap().clone();
    for kind in ["ReplicaLimit", "Namespace"] {
        assert!(
            asked
                .iter()
                .any(|rule| rule.kinds.iter().any(|k| k == kind)),
            "{kind}: {asked:?}"
        );
    }
}
