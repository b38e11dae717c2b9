use super::*;

/// A suite directory with `resources.yaml` and `wasm-validate-test.yaml`.
struct Suite {
    dir: PathBuf,
}

impl Suite {
    fn new(name: &str, suite: &str) -> Suite {
        let dir =
            std::env::temp_dir().join(format!("wv-policy-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("resources.yaml"), RESOURCES).unwrap();
        std::fs::write(dir.join(SUITE_FILE), suite).unwrap();
        Suite { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(SUITE_FILE)
    }

    fn run(&self, options: Options) -> Result<SuiteOutcome, String> {
        run_suite(&Engine::default(), &self.file(), options)
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const RESOURCES: &str = "apiVersion: v1
kind: Pod
metadata: {name: privileged, namespace: a}
spec:
  containers:
  - {name: app, image: nginx:1.27, securityContext: {privileged: true}}
---
apiVersion: v1
kind: Pod
metadata: {name: privileged, namespace: b, annotations: {wasm-validate.dev/ignore: privileged, wasm-validate.dev/ignore-reason: lab}}
spec:
  containers:
  - {name: app, image: nginx:1.27, securityContext: {privileged: true}}
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec:
  containers:
  - {name: app, image: nginx:1.27}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: ClusterIP}
";

const HEADER: &str =
    "apiVersion: wasm-validate.dev/v1\nkind: PolicyTest\nresources: [resources.yaml]\n";

#[test]
fn expectations_hold_for_every_result_kind() {
    let suite = Suite::new(
        "kinds",
        &format!(
            "{HEADER}policies:
  - policy: privileged
  - policy: drop-all-capabilities
  - policy: disallow-latest-tag
    action: warn
results:
  - {{policy: privileged, resource: Pod/a/privileged, result: fail}}
  - {{policy: privileged, resource: Pod/b/privileged, result: skip}}
  - {{policy: privileged, resources: [Pod/plain], result: pass}}
  - {{policy: privileged, resource: Service/web, result: skip}}
  - {{policy: disallow-latest-tag, resource: Pod/plain, result: pass}}
  - policy: drop-all-capabilities
    resource: Pod/plain
    result: pass
    patch: [{{op: add, path: /spec/containers/0/securityContext, value: {{capabilities: {{drop: [ALL]}}}}}}]
"
        ),
    );
    let outcome = suite.run(Options::default()).unwrap();
    assert_eq!(outcome.failures, Vec::<String>::new());
    assert_eq!(outcome.checked, 6);
    assert!(outcome.passed());
}

#[test]
fn wrong_expectations_fail_with_the_line() {
    let suite = Suite::new(
        "wrong",
        &format!(
            "{HEADER}policies:
  - policy: privileged
  - policy: disallow-latest-tag
    action: warn
  - policy: drop-all-capabilities
results:
  - {{policy: privileged, resource: Pod/a/privileged, result: pass}}
  - {{policy: privileged, resource: Pod/privileged, result: fail}}
  - {{policy: privileged, resource: Pod/missing, result: fail}}
  - {{resource: Pod/plain, result: pass}}
  - {{policy: nothing, resource: Pod/plain, result: pass}}
  - {{policy: drop-all-capabilities, resource: Pod/plain, result: pass, patch: []}}
  - {{policy: disallow-latest-tag, resource: Pod/plain, result: fail}}
"
        ),
    );
    let outcome = suite.run(Options::default()).unwrap();
    let file = suite.file().display().to_string();
    let expected = [
        format!(
            "{file}:10: results[0]: privileged on Pod/a/privileged: expected pass, got fail (privileged containers must not set securityContext.privileged=true: container \"app\" at /spec/containers/0/securityContext/privileged)"
        ),
        format!(
            "{file}:11: results[1]: Pod/privileged names 2 resources; add the namespace (Kind/namespace/name)"
        ),
        format!("{file}:12: results[2]: no resource Pod/missing in the suite's resources"),
        format!("{file}:13: results[3]: the suite runs several policies: say which (policy: NAME)"),
        format!("{file}:14: results[4]: the suite runs no policy named \"nothing\""),
    ];
    assert_eq!(&outcome.failures[..5], &expected[..]);
    assert!(
        outcome.failures[5].contains(
            "drop-all-capabilities on Pod/plain: expected the patch [], got [{\"op\":\"add\""
        ),
        "{}",
        outcome.failures[5]
    );
    // A latest-tag finding under action warn is a warn result.
    assert!(
        outcome.failures[6].ends_with("disallow-latest-tag on Pod/plain: expected fail, got pass"),
        "{}",
        outcome.failures[6]
    );
    assert_eq!(outcome.failures.len(), 7);
    assert!(!outcome.passed());
}

#[test]
fn snapshots_are_recorded_compared_and_updated() {
    let suite = Suite::new(
        "snapshot",
        &format!("{HEADER}policies:\n  - policy: privileged\nresults: []\n"),
    );
    let snapshot = suite.dir.join("snapshots/wasm-validate-test.snap.yaml");
    let check = Options {
        snapshot: true,
        ..Options::default()
    };
    let update = Options {
        snapshot: true,
        update: true,
        ..Options::default()
    };
    let missing = suite.run(check).unwrap();
    assert_eq!(
        missing.snapshot,
        Some(SnapshotStatus::Missing(snapshot.clone()))
    );
    assert!(!missing.passed());
    let written = suite.run(update).unwrap();
    assert_eq!(
        written.snapshot,
        Some(SnapshotStatus::Written(snapshot.clone()))
    );
    let text = std::fs::read_to_string(&snapshot).unwrap();
    assert!(
        text.contains("resource: Pod/b/privileged\n  policy: privileged\n  result: skip"),
        "{text}"
    );
    assert!(text.contains("reason: lab"), "{text}");
    assert_eq!(
        suite.run(check).unwrap().snapshot,
        Some(SnapshotStatus::Matched)
    );
    // A resource that changes changes the snapshot: the diff shows how.
    std::fs::write(
        suite.dir.join("resources.yaml"),
        RESOURCES.replacen("privileged: true", "privileged: false", 1),
    )
    .unwrap();
    let changed = suite.run(check).unwrap();
    let Some(SnapshotStatus::Changed(path, diff)) = &changed.snapshot else {
        panic!("expected a changed snapshot, got {:?}", changed.snapshot);
    };
    assert_eq!(path, &snapshot);
    assert!(diff.contains("-  result: fail\n+  result: pass"), "{diff}");
    assert!(!changed.passed());
    assert_eq!(std::fs::read_to_string(&snapshot).unwrap(), text);
}

#[test]
fn broken_suites_cannot_run() {
    let cases = [
        ("kind: PolicyTest\n", "missing field `apiVersion`"),
        (
            "apiVersion: wasm-validate.dev/v1\nkind: Configuration\nresources: [resources.yaml]\n",
            ":2: kind: expected PolicyTest, got \"Configuration\"",
        ),
        (
            "apiVersion: wasm-validate.dev/v1\nkind: PolicyTest\nresources: [resources.yaml]\nresults:\n  - {resource: Pod/plain, result: passed}\n",
            "results[0].result: unknown variant `passed`",
        ),
        (
            "apiVersion: wasm-validate.dev/v1\nkind: PolicyTest\nresources: [nowhere.yaml]\n",
            "nowhere.yaml",
        ),
        (
            "apiVersion: wasm-validate.dev/v1\nkind: PolicyTest\nresources: [resources.yaml]\npolicies: [{policy: nothing}]\n",
            ":4: policies[0].policy: no built-in policy is named \"nothing\"",
        ),
    ];
    for (text, expected) in cases {
        let suite = Suite::new("broken", text);
        let error = suite.run(Options::default()).unwrap_err();
        assert!(error.contains(expected), "expected {expected:?} in {error}");
    }
}

#[test]
fn suites_are_found_recursively_and_run_all_reports() {
    let one = Suite::new(
        "all",
        &format!(
            "{HEADER}policies:\n  - policy: privileged\nresults:\n  - {{resource: Pod/plain, result: pass}}\n"
        ),
    );
    let nested = one.dir.join("nested");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("resources.yaml"), RESOURCES).unwrap();
    std::fs::write(
        nested.join(SUITE_FILE),
        format!("{HEADER}policies:\n  - policy: privileged\nresults:\n  - {{resource: Pod/plain, result: fail}}\n"),
    )
    .unwrap();
    let found = find_suites(std::slice::from_ref(&one.dir)).unwrap();
    assert_eq!(found, [nested.join(SUITE_FILE), one.file()]);
    let mut out = Vec::new();
    let code = run_all(std::slice::from_ref(&one.dir), Options::default(), &mut out);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS ") && out.contains("FAIL "), "{out}");
    assert!(
        out.ends_with("2 suites: 1 passed, 1 failed, 0 could not run; 2 results checked\n"),
        "{out}"
    );
    let mut out = Vec::new();
    assert_eq!(
        run_all(&[one.dir.join("none")], Options::default(), &mut out),
        2
    );
}
