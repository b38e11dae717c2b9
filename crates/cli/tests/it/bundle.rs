//! Policy bundles end to end with the real binary: `bundle keygen`,
//! `create`, `verify`, `inspect`, and `--bundle` on `check` and
//! `post-render`, on an edge directory that holds nothing but the bundle and
//! the public key, with an empty environment (no network, no cache, no
//! HOME). Tampering is made by rewriting the archive.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::root;
use serde_json::Value;
use wasm_validate_bundle::{MANIFEST, SIGNATURE, pack, unpack};

const CONFIG: &str = "apiVersion: wasm-validate.dev/v1
kind: Configuration
profiles: [baseline]
policies:
  - policy: policies/label-deployments.wat
  - policy: require-minimum-replicas
    settings: {minimum: 2}
    action: warn
  - policy: require-minimum-replicas
    id: replicas-for-ha
    settings: {minimum: 3}
    action: audit
";
const MANIFESTS: &str = "testdata/real/microservices-demo.yaml";

fn scratch(name: &str) -> PathBuf {
    common::scratch("bundle", name)
}

/// Runs the binary in `dir` with an empty environment.
fn run_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::run_with(dir, args, stdin, true)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A platform team's directory: the configuration, a module it names and a
/// key pair. Returns the directory.
fn author(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::copy(
        root().join("testdata/wat/label-deployments.wat"),
        dir.join("policies/label-deployments.wat"),
    )
    .unwrap();
    std::fs::write(dir.join("wasm-validate.yaml"), CONFIG).unwrap();
    std::fs::copy(root().join(MANIFESTS), dir.join("app.yaml")).unwrap();
    let keygen = run_in(
        &dir,
        &[
            "bundle",
            "keygen",
            "--private-key",
            "key.pem",
            "--public-key",
            "key.pub.pem",
        ],
        None,
    );
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    dir
}

/// An edge directory with only the bundle, the public key and the manifests.
fn edge(name: &str, bundle: &[u8], public_key: &Path) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("policies.tgz"), bundle).unwrap();
    std::fs::copy(public_key, dir.join("key.pub.pem")).unwrap();
    std::fs::copy(root().join(MANIFESTS), dir.join("app.yaml")).unwrap();
    dir
}

fn create(dir: &Path, key: Option<&str>) -> Vec<u8> {
    let mut args = vec!["bundle", "create", "-o", "policies.tgz"];
    if let Some(key) = key {
        args.extend(["--key", key]);
    }
    let output = run_in(dir, &args, None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("15 policies, modules: 13 built-in, 1 from files"),
        "{}",
        text(&output.stdout)
    );
    std::fs::read(dir.join("policies.tgz")).unwrap()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&output.stderr)))
}

#[test]
fn a_signed_bundle_runs_on_an_edge_directory_as_the_configuration_did() {
    let dir = author("run");
    let bundle = create(&dir, Some("key.pem"));
    let direct = run_in(&dir, &["check", "app.yaml", "-o", "json"], None);
    assert_eq!(direct.status.code(), Some(0), "{}", text(&direct.stderr));
    let edge = edge("run-edge", &bundle, &dir.join("key.pub.pem"));
    std::fs::remove_dir_all(&dir).unwrap();
    let args = [
        "check",
        "--bundle",
        "policies.tgz",
        "--bundle-key",
        "key.pub.pem",
        "app.yaml",
        "-o",
        "json",
    ];
    let bundled = run_in(&edge, &args, None);
    assert_eq!(bundled.status.code(), Some(0), "{}", text(&bundled.stderr));
    let (direct, bundled) = (report(&direct), report(&bundled));
    assert_eq!(direct["summary"], bundled["summary"]);
    assert_eq!(direct["results"], bundled["results"]);
    assert_eq!(direct["policies"], bundled["policies"]);
    assert!(bundled["summary"]["mutated"].as_u64().unwrap() > 0);
    assert!(bundled["summary"]["warned"].as_u64().unwrap() > 0);

    // post-render too, reading the release from stdin.
    let stream = std::fs::read(edge.join("app.yaml")).unwrap();
    let rendered = run_in(
        &edge,
        &[
            "post-render",
            "--bundle",
            "policies.tgz",
            "--bundle-key",
            "key.pub.pem",
        ],
        Some(&stream),
    );
    assert_eq!(
        rendered.status.code(),
        Some(0),
        "{}",
        text(&rendered.stderr)
    );
    assert!(text(&rendered.stdout).contains("wasm-validate.dev/mutated"));

    // verify and inspect.
    let verify = run_in(
        &edge,
        &[
            "bundle",
            "verify",
            "policies.tgz",
            "--public-key",
            "key.pub.pem",
        ],
        None,
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("signature verified with SHA256:"));
    let inspect = run_in(
        &edge,
        &["bundle", "inspect", "policies.tgz", "-o", "json"],
        None,
    );
    let manifest: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(manifest["kind"], "PolicyBundle");
    assert_eq!(
        manifest["modules"]["policies/label-deployments.wat"],
        "modules/0-label-deployments.wat"
    );
    assert!(manifest["builtins"]["privileged"].is_string());
    assert!(manifest["builtins"]["require-minimum-replicas"].is_string());
}

/// The archive with `edit` applied to its entries.
fn tamper(bundle: &[u8], edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let mut entries = unpack(bundle).unwrap();
    edit(&mut entries);
    pack(&entries).unwrap()
}

/// `--bundle` on `check`, `post-render` and `bundle verify`: all exit 2
/// with `expected` on stderr and nothing on stdout.
fn assert_refused(name: &str, bundle: &[u8], public_key: &Path, key: bool, expected: &str) {
    let edge = edge(name, bundle, public_key);
    let mut check = vec![
        "check",
        "--bundle",
        "policies.tgz",
        "app.yaml",
        "-o",
        "json",
    ];
    let mut post = vec!["post-render", "--bundle", "policies.tgz"];
    let mut verify = vec!["bundle", "verify", "policies.tgz"];
    if key {
        check.extend(["--bundle-key", "key.pub.pem"]);
        post.extend(["--bundle-key", "key.pub.pem"]);
        verify.extend(["--public-key", "key.pub.pem"]);
    }
    let stream = std::fs::read(edge.join("app.yaml")).unwrap();
    for (args, stdin) in [(&check, None), (&post, Some(&stream[..])), (&verify, None)] {
        let output = run_in(&edge, args, stdin);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name} {args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{name} {args:?}: nothing ran");
        assert!(
            stderr.contains("policies.tgz") && stderr.contains(expected),
            "{name} {args:?}: {stderr}"
        );
    }
}

#[test]
fn tampering_is_refused_before_any_policy_runs() {
    let dir = author("tamper");
    let signed = create(&dir, Some("key.pem"));
    let key = dir.join("key.pub.pem");
    let module = "modules/0-label-deployments.wat";

    let changed = tamper(&signed, |entries| {
        let data = &mut entries.iter_mut().find(|(p, _)| p == module).unwrap().1;
        let at = data.len() / 2;
        data[at] ^= 0x20;
    });
    let expected = format!("{module}: changed since the bundle was made");
    assert_refused("changed", &changed, &key, true, &expected);
    assert_refused("changed-nokey", &changed, &key, false, &expected);

    let missing = tamper(&signed, |entries| {
        entries.retain(|(p, _)| p != "builtin/privileged.wasm")
    });
    assert_refused(
        "missing",
        &missing,
        &key,
        false,
        "builtin/privileged.wasm: listed in bundle.json but missing",
    );

    let added = tamper(&signed, |entries| {
        entries.push(("builtin/extra.wasm".to_owned(), b"\0asm\x01\0\0\0".to_vec()))
    });
    assert_refused(
        "added",
        &added,
        &key,
        false,
        "builtin/extra.wasm: in the bundle but not listed",
    );

    let unsigned_key = tamper(&signed, |entries| entries.retain(|(p, _)| p != SIGNATURE));
    assert_refused(
        "unsigned",
        &unsigned_key,
        &key,
        true,
        "the bundle is not signed",
    );

    // The manifest edited (a warn turned into nothing by listing another
    // digest): the signature no longer matches.
    let edited = tamper(&signed, |entries| {
        let manifest = &mut entries.iter_mut().find(|(p, _)| p == MANIFEST).unwrap().1;
        let text = String::from_utf8(manifest.clone()).unwrap();
        *manifest = text
            .replace("wasm-validate 0.1.0", "wasm-validate 0.1.1")
            .into_bytes();
    });
    assert_refused("edited", &edited, &key, true, "bad signature");

    // Signed with another key.
    let other = author("tamper-other");
    let foreign = create(&other, Some("key.pem"));
    assert_refused("foreign", &foreign, &key, true, "bad signature");

    assert_refused(
        "garbage",
        b"not a bundle",
        &key,
        false,
        "not a policy bundle",
    );
}

#[test]
fn openssl_keys_sign_and_verify_bundles() {
    let dir = author("openssl");
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .status()
            .expect("openssl (installed by .ci/run) runs");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "ossl.pem"]);
    openssl(&["pkey", "-in", "ossl.pem", "-pubout", "-out", "ossl.pub.pem"]);
    create(&dir, Some("ossl.pem"));
    let verify = run_in(
        &dir,
        &[
            "bundle",
            "verify",
            "policies.tgz",
            "--public-key",
            "ossl.pub.pem",
        ],
        None,
    );
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
    let wrong = run_in(
        &dir,
        &[
            "bundle",
            "verify",
            "policies.tgz",
            "--public-key",
            "key.pub.pem",
        ],
        None,
    );
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn bundles_are_reproducible_and_refuse_what_would_not_load() {
    let dir = author("repro");
    let first = create(&dir, Some("key.pem"));
    assert_eq!(
        first,
        create(&dir, Some("key.pem")),
        "same inputs, same bytes"
    );
    // A signed bundle opened without a key: it runs, and says the signature
    // was not checked.
    let edge = edge("repro-edge", &first, &dir.join("key.pub.pem"));
    let output = run_in(
        &edge,
        &["check", "--bundle", "policies.tgz", "app.yaml"],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stderr).contains("its signature was not"));
    // --bundle replaces the other ways of choosing policies.
    let conflict = run_in(
        &edge,
        &[
            "check",
            "--bundle",
            "policies.tgz",
            "--profile",
            "baseline",
            "app.yaml",
        ],
        None,
    );
    assert_eq!(conflict.status.code(), Some(2));
    // A configuration naming a module that is not there: no bundle.
    std::fs::write(
        dir.join("broken.yaml"),
        CONFIG.replace("label-deployments.wat", "missing.wat"),
    )
    .unwrap();
    let broken = run_in(
        &dir,
        &[
            "bundle",
            "create",
            "--config",
            "broken.yaml",
            "-o",
            "broken.tgz",
        ],
        None,
    );
    assert_eq!(broken.status.code(), Some(2));
    assert!(
        text(&broken.stderr).contains("missing.wat"),
        "{}",
        text(&broken.stderr)
    );
    assert!(!dir.join("broken.tgz").exists());
    // keygen does not overwrite a key.
    let again = run_in(
        &dir,
        &[
            "bundle",
            "keygen",
            "--private-key",
            "key.pem",
            "--public-key",
            "k2.pem",
        ],
        None,
    );
    assert_eq!(again.status.code(), Some(2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Copies the files of `from` (a directory of `testdata`) into `to`.
fn copy_dir(from: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(root().join(from)).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn a_bundle_carries_gatekeeper_and_conftest_policies_to_the_edge() {
    let dir = scratch("foreign-author");
    copy_dir(
        "testdata/gatekeeper/requiredlabels",
        &dir.join("gatekeeper"),
    );
    copy_dir("testdata/conftest/policy", &dir.join("conftest"));
    std::fs::write(
        dir.join("wasm-validate.yaml"),
        "apiVersion: wasm-validate.dev/v1\nkind: Configuration\npolicies:\n  - policy: ./gatekeeper/\n  - policy: ./conftest/\n",
    )
    .unwrap();
    let output = run_in(&dir, &["bundle", "create", "-o", "policies.tgz"], None);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("2 policies, modules: 0 built-in, 2 from files"));
    // On the edge there is no policy file, only the bundle.
    let edge = scratch("foreign-edge");
    std::fs::copy(dir.join("policies.tgz"), edge.join("policies.tgz")).unwrap();
    std::fs::copy(
        root().join("testdata/gatekeeper/requiredlabels/objects.yaml"),
        edge.join("objects.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root().join("testdata/conftest/manifests.yaml"),
        edge.join("manifests.yaml"),
    )
    .unwrap();
    let output = run_in(
        &edge,
        &[
            "check",
            "--bundle",
            "policies.tgz",
            "-o",
            "json",
            "objects.yaml",
            "manifests.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report = report(&output);
    let policies = common::policy_names(&report);
    assert_eq!(policies, ["WvRequiredLabels/team-and-tier", "data.main"]);
    let failed: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail")
        .map(|r| {
            (
                r["policy"].as_str().unwrap(),
                r["resource"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("WvRequiredLabels/team-and-tier", "bare"),
            ("WvRequiredLabels/team-and-tier", "web"),
            ("data.main", "web"),
            ("WvRequiredLabels/team-and-tier", "api"),
        ]
    );
}
