//! The Helm chart under `deploy/`, linted and rendered by Helm 4's own chart
//! engine (PyPI's helm-python-sdk, `deploy/render.py`; there is no helm
//! binary): it lints clean, every rendering passes the built-in library
//! (the restricted profile and the best practices) with no finding, and
//! the webhook configurations send the API server's requests for exactly
//! the resources the chart's policies match.
//!
//! CI installs helm-python-sdk into a virtualenv and names its Python in
//! `WASM_VALIDATE_PYTHON`; without a Python that has it, the test says so
//! and checks nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::{root, scratch};

/// A Python with helm-python-sdk, if there is one.
fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("WASM_VALIDATE_PYTHON").map(PathBuf::from),
        Some(root().join("target/venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import helm_python"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The objects of one render (template name to text).
fn rendered(render: &Value) -> Vec<Value> {
    let joined: String = render
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n---\n");
    documents(&joined)
}

fn documents(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .filter_map(|d| serde_yaml::from_str::<Value>(d).ok())
        .filter(Value::is_object)
        .collect()
}

#[test]
fn the_chart_lints_passes_its_own_policies_and_asks_for_what_they_match() {
    let Some(python) = python() else {
        eprintln!(
            "chart test skipped: no Python with helm-python-sdk (set WASM_VALIDATE_PYTHON; .ci/run installs it)"
        );
        return;
    };
    let dir = scratch("chart", "render");
    let out = dir.join("render.json");
    let status = Command::new(&python)
        .arg(root().join("deploy/render.py"))
        .arg(root().join("deploy/wasm-validate"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();

    // Lint (strict): no errors, nothing above info.
    assert_eq!(
        report["lint"]["errors"],
        serde_json::json!([]),
        "{report:#}"
    );
    for message in report["lint"]["messages"].as_array().unwrap() {
        assert!(message["severity"].as_u64().unwrap() <= 1, "{message}");
    }

    // The plural resources the chart's policies match (its configuration's
    // profiles), by API group.
    let config = std::fs::read_to_string(root().join("deploy/wasm-validate/values.yaml")).unwrap();
    let values: Value = serde_yaml::from_str(&config).unwrap();
    let chosen: Value = serde_yaml::from_str(values["config"].as_str().unwrap()).unwrap();
    let profiles: Vec<wasm_validate_builtin::Profile> = chosen["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p.as_str().unwrap() {
            "baseline" => wasm_validate_builtin::Profile::Baseline,
            "restricted" => wasm_validate_builtin::Profile::Restricted,
            "best-practices" => wasm_validate_builtin::Profile::BestPractices,
            "fixes" => wasm_validate_builtin::Profile::Fixes,
            other => panic!("profile {other}"),
        })
        .collect();
    let names = wasm_validate_builtin::select(&profiles, |_| false);
    // A rule names groups and kinds independently; what exists is the
    // kinds each built-in group serves (the removed `extensions` group no
    // longer does).
    let mut matched = BTreeSet::new();
    for metadata in wasm_validate_builtin::catalog()
        .iter()
        .filter(|m| names.contains(&m.name.as_str()))
    {
        for rule in &metadata.rules {
            for (group, kinds) in wasm_validate_manifest::kinds::BUILTIN_KINDS {
                if *group == "extensions" || !rule.api_groups.iter().any(|g| g == group) {
                    continue;
                }
                for kind in kinds.iter().filter(|k| rule.kinds.iter().any(|r| r == *k)) {
                    matched.insert((group.to_string(), wasm_validate_abi::plural_of(kind)));
                }
            }
        }
    }

    for (name, rendered) in report["renders"].as_object().unwrap() {
        let text: Vec<&str> = rendered
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_str)
            .collect();
        let text = text.join("\n---\n");
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &text).unwrap();
        // The built-in library finds nothing in the chart's own manifests.
        let check = Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
            .args(["check", "--no-config"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            check.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let objects = documents(&text);
        let webhooks: Vec<&Value> = objects
            .iter()
            .filter(|o| {
                o["kind"]
                    .as_str()
                    .is_some_and(|k| k.ends_with("WebhookConfiguration"))
            })
            .collect();
        assert!(!webhooks.is_empty(), "{name}");
        for configuration in webhooks {
            for webhook in configuration["webhooks"].as_array().unwrap() {
                assert_eq!(
                    webhook["admissionReviewVersions"],
                    serde_json::json!(["v1"])
                );
                assert_eq!(webhook["sideEffects"], "None");
                let excluded = &webhook["namespaceSelector"]["matchExpressions"][0]["values"];
                assert!(
                    excluded
                        .as_array()
                        .unwrap()
                        .contains(&Value::from("wasm-validate")),
                    "{name}: the server's own namespace is excluded"
                );
                let mut asked = BTreeSet::new();
                for rule in webhook["rules"].as_array().unwrap() {
                    for group in rule["apiGroups"].as_array().unwrap() {
                        for resource in rule["resources"].as_array().unwrap() {
                            asked.insert((
                                group.as_str().unwrap().to_owned(),
                                resource.as_str().unwrap().to_owned(),
                            ));
                        }
                    }
                }
                assert_eq!(asked, matched, "{name}: webhook rules against policy rules");
            }
        }
    }
    // The non-default values: no cert-manager (a given Secret and
    // caBundle), no mutating webhook, three replicas, and the audit
    // CronJob with its RBAC.
    let own = &report["renders"]["own-certificate"];
    let objects = rendered(own);
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "MutatingWebhookConfiguration")
    );
    assert!(!objects.iter().any(|o| o["kind"] == "Certificate"));
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    let validating = objects
        .iter()
        .find(|o| o["kind"] == "ValidatingWebhookConfiguration")
        .unwrap();
    assert_eq!(
        validating["webhooks"][0]["clientConfig"]["caBundle"],
        "Q0EK"
    );
    assert_eq!(validating["webhooks"][0]["failurePolicy"], "Ignore");
    let cronjob = objects.iter().find(|o| o["kind"] == "CronJob").unwrap();
    let command =
        &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0];
    assert!(
        command
            .as_str()
            .unwrap()
            .contains("-o policyreport | kubectl apply -f -")
    );
    let role = objects.iter().find(|o| o["kind"] == "ClusterRole").unwrap();
    let mut listed = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        if rule["verbs"] == serde_json::json!(["list"]) {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    listed.insert((
                        group.as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    assert_eq!(
        listed, matched,
        "the audit may list what the policies check"
    );
    assert!(
        objects.iter().any(|o| o["kind"] == "ClusterRoleBinding"),
        "the audit's role is bound"
    );
    generated_certificate(&report["renders"]["generated-certificate"]);
    synced(&report["renders"]["sync"]);
    shipped_files(&report["renders"]["crds"]);
}

/// `files`: more files in the ConfigMap, mounted beside the configuration,
/// which names them by relative path: with a CRD for `schema.crdPaths`,
/// the configuration as the server reads it checks custom resources
/// against it (here through `check`, on the files written out as the
/// volume holds them).
fn shipped_files(render: &Value) {
    let objects = rendered(render);
    let map = objects.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    let data = map["data"].as_object().unwrap();
    let mut names: Vec<&str> = data.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["crds.yaml", "wasm-validate.yaml"]);
    let dir = crate::common::scratch("chart", "files");
    for (name, text) in data {
        std::fs::write(dir.join(name), text.as_str().unwrap()).unwrap();
    }
    let scaler = "apiVersion: example.com/v1\nkind: Scaler\nmetadata: {name: scale-x, namespace: default}\n\
                  spec: {minReplicas: 5, maxReplicas: 3}\n";
    std::fs::write(dir.join("scaler.yaml"), scaler).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasm-validate"))
        .args(["check", "--config"])
        .arg(dir.join("wasm-validate.yaml"))
        .arg(dir.join("scaler.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("minReplicas must not exceed maxReplicas"),
        "{stdout}"
    );
}

/// `sync.enabled`: the server reads the cluster's objects every
/// `sync.interval` (`--sync-interval`), with a token mounted and a role
/// that may list `sync.resources`, bound to its ServiceAccount; off by
/// default, with no token.
fn synced(render: &Value) {
    let objects = rendered(render);
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], true);
    let args = pod["containers"][0]["args"].as_array().unwrap();
    assert!(args.iter().any(|a| a == "--sync-interval=2m"), "{args:?}");
    let role = objects
        .iter()
        .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "wv-wasm-validate-sync")
        .unwrap_or_else(|| panic!("no sync role in {objects:?}"));
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"] == serde_json::json!(["namespaces"])
                && r["verbs"] == serde_json::json!(["list"]))
    );
    let binding = objects
        .iter()
        .find(|o| {
            o["kind"] == "ClusterRoleBinding" && o["roleRef"]["name"] == role["metadata"]["name"]
        })
        .unwrap();
    let account = objects
        .iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .unwrap();
    assert_eq!(binding["subjects"][0]["name"], account["metadata"]["name"]);
}

/// `tls.generate` (no cert-manager): the chart makes a CA and a serving
/// certificate for the Service, the Secret the Deployment mounts holds
/// them, and both webhook configurations trust that CA. Checked with
/// openssl: the certificate verifies against the CA, for the Service's DNS
/// names.
fn generated_certificate(render: &Value) {
    use base64::Engine as _;
    let objects = rendered(render);
    assert!(!objects.iter().any(|o| o["kind"] == "Certificate"));
    let secret = objects.iter().find(|o| o["kind"] == "Secret").unwrap();
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == secret["metadata"]["name"])
    );
    let ca = secret["data"]["ca.crt"].as_str().unwrap();
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        let webhook = objects.iter().find(|o| o["kind"] == kind).unwrap();
        assert_eq!(
            webhook["webhooks"][0]["clientConfig"]["caBundle"], ca,
            "{kind}"
        );
    }
    let dir = scratch("chart", "generated-certificate");
    let decode = |key: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().unwrap())
            .unwrap()
    };
    std::fs::write(dir.join("ca.pem"), decode("ca.crt")).unwrap();
    std::fs::write(dir.join("tls.pem"), decode("tls.crt")).unwrap();
    assert!(
        String::from_utf8(decode("tls.key"))
            .unwrap()
            .contains("PRIVATE KEY")
    );
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl (CI installs it)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(openssl(&["verify", "-CAfile", "ca.pem", "tls.pem"]).contains("tls.pem: OK"));
    let names = openssl(&["x509", "-in", "tls.pem", "-noout", "-ext", "subjectAltName"]);
    assert!(
        names.contains("DNS:wv-wasm-validate.wasm-validate.svc")
            && names.contains("DNS:wv-wasm-validate.wasm-validate.svc.cluster.local"),
        "{names}"
    );
}
