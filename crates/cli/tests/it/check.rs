//! `wasm-validate check` on the real manifests of `testdata/real`, on the
//! fixtures, and on bad input and hostile policies.

use crate::common::{json, policy_names, root, run};

/// insta snapshots of the JSON results of `check` on each file of
/// `testdata/real` and `testdata/fixtures`, with the built-in policies.
#[test]
fn json_results_on_real_manifests() {
    let root = root();
    let mut files = Vec::new();
    for dir in [
        "testdata/real",
        "testdata/real/kube-prometheus",
        "testdata/fixtures",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    assert!(files.len() > 90, "the corpus is copied into testdata/real");
    for file in files {
        let output = run(&["check", "-o", "json", &file], None);
        let report = json(&output);
        let code = output.status.code().unwrap();
        let expected = if report["summary"]["failed"].as_u64().unwrap() > 0 {
            1
        } else {
            0
        };
        assert_eq!(code, expected, "{file}");
        assert_eq!(report["summary"]["inputErrors"], 0, "{file}");
        let name = file.replace('/', "__");
        insta::assert_json_snapshot!(name, report);
    }
}

#[test]
fn node_exporter_shares_host_namespaces() {
    let output = run(
        &[
            "check",
            "testdata/real/kube-prometheus/nodeExporter-daemonset.yaml",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("DaemonSet monitoring/node-exporter"),
        "{text}"
    );
    assert!(text.contains("FAIL host-namespaces [Host Namespaces]: host namespaces must not be shared: hostNetwork=true shares the host's network namespace (at /spec/template/spec/hostNetwork, line 100)"), "{text}");
    assert!(text.contains("hostPID=true"), "{text}");
}

#[test]
fn directories_are_read_recursively_and_stdin_with_dash() {
    let all = json(&run(&["check", "-o", "json", "testdata/real"], None));
    let files: std::collections::BTreeSet<String> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource"]["file"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("testdata/real/kube-prometheus/"))
    );
    let text = std::fs::read(root().join("testdata/fixtures/violations.yaml")).unwrap();
    let piped = json(&run(&["check", "-o", "json", "-"], Some(&text)));
    assert_eq!(piped["summary"]["resources"], 5);
    assert_eq!(piped["results"][0]["resource"]["file"], "-");
}

#[test]
fn policies_are_chosen_by_name_and_path() {
    let output = run(
        &[
            "check",
            "-o",
            "json",
            "--policy",
            "disallow-host-namespaces",
            "--policy",
            "testdata/wat/deny-all.wat",
            "testdata/fixtures/violations.yaml",
        ],
        None,
    );
    let report = json(&output);
    let names = policy_names(&report);
    // disallow-host-namespaces is the documented alias of host-namespaces.
    assert_eq!(names, ["host-namespaces", "deny-all"]);
    assert_eq!(output.status.code(), Some(1));

    let unknown = run(
        &["check", "--policy", "no-such-policy", "testdata/fixtures"],
        None,
    );
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8(unknown.stderr).unwrap();
    assert!(
        stderr.contains("no-such-policy") && stderr.contains("host-namespaces"),
        "{stderr}"
    );

    let forbidden = run(
        &[
            "check",
            "--policy",
            "testdata/wat/forbidden-import.wat",
            "testdata/fixtures",
        ],
        None,
    );
    // Refused at load: an error of the run, in the report (see
    // modules_refused_at_load_are_errors_and_the_others_still_run).
    assert_eq!(forbidden.status.code(), Some(2));
    assert!(
        String::from_utf8(forbidden.stdout)
            .unwrap()
            .contains("path_open")
    );
}

#[test]
fn listing_policies() {
    let output = run(&["check", "--list-policies"], None);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    let folders = std::fs::read_dir(root().join("policies")).unwrap().count();
    assert_eq!(text.lines().count(), folders, "{text}");
    assert!(text.contains("drop-all-capabilities") && text.contains("mutating"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("privileged ") && l.contains("baseline"))
    );
    let listed = json(&run(&["policies", "-o", "json"], None));
    assert_eq!(listed.as_array().unwrap().len(), folders);
    let privileged = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "privileged")
        .unwrap();
    assert_eq!(privileged["control"], "Privileged Containers");
    assert_eq!(privileged["aliases"][0], "disallow-privileged-containers");
}

/// Every runtime-hostile module of `testdata/wat`, all in one run beside a
/// built-in policy: each gives an error result with its precise cause on
/// every resource, the run finishes, and the built-in policy's results are
/// exactly those of a run without them.
#[test]
fn hostile_policies_give_error_results_and_the_run_finishes() {
    let fixture = "testdata/fixtures/violations.yaml";
    let alone = json(&run(
        &[
            "check",
            "-o",
            "json",
            "--policy",
            "disallow-privileged-containers",
            fixture,
        ],
        None,
    ));
    let hostile = [
        ("infinite-loop", "out of fuel"),
        ("endless-start", "out of fuel"),
        ("memory-bomb", "memory limit"),
        ("huge-initial-memory", "memory limit"),
        ("huge-table", "table limit"),
        ("deep-recursion", "stack overflow"),
        ("unreachable", "unreachable"),
        ("garbage-response", "not valid UTF-8"),
        ("invalid-json", "not a valid ABI response"),
        ("wrong-shape-response", "not a valid ABI response"),
        (
            "response-out-of-bounds",
            "outside the 65536 bytes of linear memory",
        ),
        (
            "huge-response",
            "response of 4294967295 bytes is larger than the limit",
        ),
        (
            "memory-sized-response",
            "response of 33554432 bytes is larger",
        ),
        ("patch-removes-metadata", "removes /metadata"),
        ("patch-renames", "changes /metadata/name"),
        ("patch-other-resource", "does not apply"),
        ("kubewarden-endless", "out of fuel"),
        (
            "kubewarden-huge-response",
            "response of 2147483647 bytes is larger",
        ),
        ("kubewarden-garbage", "not a Kubewarden validation response"),
    ];
    let mut args = vec![
        "check".to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
        "--fuel".to_owned(),
        "2000000".to_owned(),
        "--memory-limit".to_owned(),
        "48".to_owned(),
    ];
    for (module, _) in hostile {
        args.extend(["--policy".to_owned(), format!("testdata/wat/{module}.wat")]);
    }
    args.extend([
        "--policy".to_owned(),
        "disallow-privileged-containers".to_owned(),
        fixture.to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&args, None);
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    let results = report["results"].as_array().unwrap();
    for (module, cause) in hostile {
        let mine: Vec<_> = results.iter().filter(|r| r["policy"] == module).collect();
        assert_eq!(mine.len(), 5, "{module} applies to every resource");
        for result in mine {
            assert_eq!(result["result"], "error", "{module}");
            let error = result["error"].as_str().unwrap();
            assert!(error.contains(cause), "{module}: {error}");
        }
    }
    let others: Vec<_> = results
        .iter()
        .filter(|r| !hostile.iter().any(|(module, _)| r["policy"] == *module))
        .cloned()
        .collect();
    assert_eq!(
        &others,
        alone["results"].as_array().unwrap(),
        "hostile modules changed other results"
    );
    assert_eq!(report["summary"]["mutated"], 0);
}

/// Modules the engine refuses at load (a forbidden or nonexistent import,
/// an import or export of the wrong type, an invalid body) check nothing:
/// each is an error of the run (exit 2) naming the module, where it was
/// chosen and the precise cause, and the other policies' results are those
/// of a run without it.
#[test]
fn modules_refused_at_load_are_errors_and_the_others_still_run() {
    let fixture = "testdata/fixtures/violations.yaml";
    let policy = "disallow-privileged-containers";
    let alone = json(&run(
        &["check", "-o", "json", "--policy", policy, fixture],
        None,
    ));
    for (module, cause) in [
        (
            "forbidden-import",
            r#"imports "wasi_snapshot_preview1"."path_open""#,
        ),
        ("nonexistent-import", r#"imports "wasm_validate"."exec""#),
        (
            "log-wrong-type",
            "the host offers it as (i32, i32, i32) -> ()",
        ),
        ("wrong-signature", r#"export "wv_evaluate" has type"#),
        ("invalid-body", "not a valid WebAssembly module"),
    ] {
        let path = format!("testdata/wat/{module}.wat");
        let args = [
            "check", "-o", "json", "--policy", &path, "--policy", policy, fixture,
        ];
        let output = run(&args, None);
        assert_eq!(output.status.code(), Some(2), "{module}");
        let report = json(&output);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{module}: {errors:?}");
        assert_eq!(errors[0]["file"], path.as_str());
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("--policy {path}")) && message.contains(cause),
            "{module}: {message}"
        );
        assert_eq!(report["results"], alone["results"], "{module}");
        let text = run(&["check", "--policy", &path, fixture], None);
        let stdout = String::from_utf8_lossy(&text.stdout);
        assert!(
            stdout.contains(&format!("ERROR {path}: the policy cannot be loaded")),
            "{module}: {stdout}"
        );
    }
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    for (file, expected) in [
        (
            "testdata/bad/invalid.yaml",
            "testdata/bad/invalid.yaml:9: document 2: invalid YAML",
        ),
        (
            "testdata/bad/scalar.yaml",
            "testdata/bad/scalar.yaml:1: document 1: the document is a string, not a Kubernetes object",
        ),
        (
            "testdata/bad/binary.yaml",
            "testdata/bad/binary.yaml:1: binary data",
        ),
        (
            "testdata/bad/missing.yaml",
            "testdata/bad/missing.yaml: cannot read",
        ),
    ] {
        let output = run(&["check", file], None);
        assert_eq!(output.status.code(), Some(2), "{file}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(expected), "{file}: {text}");
    }
    // The valid document next to the broken one is still checked.
    let report = json(&run(
        &["check", "-o", "json", "testdata/bad/invalid.yaml"],
        None,
    ));
    assert_eq!(report["summary"]["resources"], 1);
    assert_eq!(report["errors"][0]["document"], 2);
}

#[test]
fn fail_on_warn_makes_warnings_fail() {
    let args = |extra: &[&'static str]| {
        let mut args = vec!["check", "--policy", "testdata/wat/warn-all.wat"];
        args.extend_from_slice(extra);
        args.push("testdata/fixtures/compliant-pod.yaml");
        args
    };
    let default = run(&args(&[]), None);
    assert_eq!(default.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&default.stdout)
            .contains("WARN warn-all: this resource is deprecated")
    );
    assert_eq!(
        run(&args(&["--fail-on", "deny"]), None).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&args(&["--fail-on", "warn"]), None).status.code(),
        Some(1)
    );
    // An error still wins with 2.
    let with_error = run(
        &args(&[
            "--fail-on",
            "warn",
            "--policy",
            "testdata/wat/unreachable.wat",
        ]),
        None,
    );
    assert_eq!(with_error.status.code(), Some(2));
}

/// The reading limits: a document over `--max-document-size` is an error
/// with file, document and line, the documents around it are still
/// checked, and a limit of 0 is refused by the argument parser.
#[test]
fn reading_limits_are_flags() {
    let stream = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  x: {}\n",
        "x".repeat(2 << 20)
    );
    let args = ["check", "-o", "json", "--max-document-size", "1", "-"];
    let output = run(&args, Some(stream.as_bytes()));
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    assert_eq!(report["summary"]["resources"], 1);
    assert_eq!(report["errors"][0]["document"], 2);
    assert_eq!(report["errors"][0]["line"], 5);
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("2.0 MiB, larger than the limit of 1.0 MiB"),
        "{message}"
    );
    let default = run(&["check", "-o", "json", "-"], Some(stream.as_bytes()));
    assert_eq!(json(&default)["summary"]["resources"], 2);
    for flag in [
        "--max-input-size",
        "--max-document-size",
        "--max-list-items",
    ] {
        let output = run(&["check", flag, "0", "-"], Some(b""));
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(flag),
            "{flag}"
        );
    }
}
