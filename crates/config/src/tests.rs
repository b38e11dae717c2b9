use super::*;
use wasm_validate_pipeline::{Action, FailurePolicy};

fn config(text: &str) -> Result<Config, ConfigError> {
    Config::from_text("wasm-validate.yaml", text.to_owned(), PathBuf::from("."))
}

fn build(text: &str) -> Result<PolicySet, ConfigError> {
    build_policy_set(
        &Engine::default(),
        Some(&config(text)?),
        &CommandLine::default(),
    )
}

const HEADER: &str = "apiVersion: wasm-validate.dev/v1\nkind: Configuration\n";

fn error(text: &str) -> String {
    match build(&format!("{HEADER}{text}")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.0,
    }
}

#[test]
fn unknown_keys_are_errors_with_line_and_key() {
    let message = error("policies:\n  - policy: privileged\n    actoin: warn\n");
    assert!(
        message.starts_with("wasm-validate.yaml:5:5: policies[0]: unknown field `actoin`"),
        "{message}"
    );
    let message = error("defaults:\n  fuel: lots\n");
    assert!(
        message.starts_with("wasm-validate.yaml:4:9: defaults.fuel: invalid type"),
        "{message}"
    );
    let message = error("policies:\n  - policy: privileged\n    action: block\n");
    assert!(
        message.contains(
            "policies[0].action: unknown variant `block`, expected one of `deny`, `warn`, `audit`"
        ),
        "{message}"
    );
    let message = error("profiles: [restricted, strict]\n");
    assert!(
        message.contains("profiles[1]: unknown variant `strict`"),
        "{message}"
    );
}

#[test]
fn the_header_is_checked() {
    let message = config("apiVersion: v2\nkind: Configuration\n")
        .unwrap_err()
        .0;
    assert_eq!(
        message,
        "wasm-validate.yaml:1: apiVersion: expected wasm-validate.dev/v1, got \"v2\""
    );
    let message = config("").unwrap_err().0;
    assert_eq!(message, "wasm-validate.yaml: the file is empty");
    let message = config("kind: Configuration\n").unwrap_err().0;
    assert!(message.contains("missing field `apiVersion`"), "{message}");
}

#[test]
fn semantic_errors_name_the_line_and_key() {
    let message = error(
        "policies:\n  - policy: privileged\n    match:\n      namespaces: [prod, \"team-[a\"]\n",
    );
    assert!(
        message.starts_with(
            "wasm-validate.yaml:6: policies[0].match.namespaces[1]: invalid glob \"team-[a\""
        ),
        "{message}"
    );
    let message = error("policies:\n  - policy: no-such-policy\n");
    assert!(message.starts_with("wasm-validate.yaml:4: policies[0].policy: no built-in policy is named \"no-such-policy\""), "{message}");
    let message = error("policies:\n  - policy: required-labels\n    settings: {labels: []}\n");
    assert!(
        message.starts_with(
            "wasm-validate.yaml:5: policies[0].settings: policy required-labels: invalid settings"
        ),
        "{message}"
    );
    let message = error("policies:\n  - policy: ./missing.wasm\n");
    assert!(
        message.contains("policies[0].policy: cannot read the module"),
        "{message}"
    );
    let message = error("exemptions:\n  - reason: \"\"\n    kinds: [Pod]\n");
    assert!(
        message.starts_with("wasm-validate.yaml:4: exemptions[0].reason: a reason is required"),
        "{message}"
    );
    let message = error("exemptions:\n  - reason: x\n    policies: [privileged, priviledged]\n");
    assert!(
        message.starts_with(
            "wasm-validate.yaml:5: exemptions[0].policies[1]: no policy is named \"priviledged\""
        ),
        "{message}"
    );
    let message = error(
        "policies:\n  - policy: privileged\n    exclude:\n      - labelSelector:\n          matchExpressions: [{key: a, operator: In}]\n",
    );
    assert!(message.contains("policies[0].exclude[0].labelSelector: matchExpressions[0] (a): In needs at least one value"), "{message}");
    let message =
        error("policies:\n  - policy: privileged\n  - policy: disallow-privileged-containers\n");
    assert!(
        message.contains("policies[1].policy: a policy named privileged is already chosen"),
        "{message}"
    );
}

#[test]
fn entries_configure_profile_policies_and_ids_allow_twice() {
    let set = build(&format!(
        "{HEADER}profiles: [baseline]\ndefaults: {{action: warn, fuel: 1000, failurePolicy: Ignore}}\npolicies:
  - policy: privileged
    action: deny
    failurePolicy: Fail
    fuel: 2000
    match: {{kinds: [Deployment], namespaces: [\"prod-*\"]}}
  - policy: allowed-image-registries
    id: registries-prod
    settings: {{registries: [registry.example.com/]}}
  - policy: allowed-image-registries
    id: registries-dev
    settings: {{registries: [docker.io/]}}
    action: audit
annotationExemptions: false
exemptions:
  - reason: agents
    policies: [registries-dev, host-namespaces]
    kinds: [DaemonSet]
    containers: [\"agent-*\"]
"
    ))
    .unwrap();
    let names: Vec<&str> = set.policies.iter().map(|p| p.name()).collect();
    let baseline = wasm_validate_builtin::select(&[Profile::Baseline], |_| false);
    assert_eq!(&names[..baseline.len()], &baseline[..]);
    assert_eq!(
        &names[baseline.len()..],
        ["registries-prod", "registries-dev"]
    );
    let privileged = &set.policies[names.iter().position(|n| *n == "privileged").unwrap()];
    assert_eq!(privileged.action, Action::Deny);
    assert_eq!(privileged.failure_policy, FailurePolicy::Fail);
    assert_eq!(privileged.policy.limits().fuel, 2000);
    assert_eq!(
        privileged.include.as_ref().unwrap().namespaces[0].pattern(),
        "prod-*"
    );
    let host = &set.policies[names.iter().position(|n| *n == "host-namespaces").unwrap()];
    assert_eq!(host.action, Action::Warn);
    assert_eq!(host.failure_policy, FailurePolicy::Ignore);
    assert_eq!(host.policy.limits().fuel, 1000);
    let dev = set.policies.last().unwrap();
    assert_eq!(dev.action, Action::Audit);
    assert_eq!(
        dev.settings,
        serde_json::json!({"registries": ["docker.io/"]})
    );
    assert!(set.ignore_annotations);
    assert_eq!(set.exemptions.len(), 1);
    assert_eq!(
        set.exemptions[0].exempt.source,
        ExemptionSource::Config("wasm-validate.yaml:20".to_owned())
    );
}

#[test]
fn the_command_line_adds_and_overrides() {
    let file = config(&format!(
        "{HEADER}policies:\n  - policy: require-minimum-replicas\n    settings: {{minimum: 2}}\n"
    ))
    .unwrap();
    let command_line = CommandLine {
        policies: vec!["privileged".to_owned()],
        settings: vec![(
            "require-minimum-replicas".to_owned(),
            serde_json::json!({"minimum": 3}),
        )],
        fuel: Some(5000),
        ..CommandLine::default()
    };
    let set = build_policy_set(&Engine::default(), Some(&file), &command_line).unwrap();
    let names: Vec<&str> = set.policies.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["require-minimum-replicas", "privileged"]);
    assert_eq!(set.policies[0].settings, serde_json::json!({"minimum": 3}));
    assert_eq!(set.policies[1].policy.limits().fuel, 5000);
    // No file and nothing chosen: the default profiles.
    let set = build_policy_set(&Engine::default(), None, &CommandLine::default()).unwrap();
    let default =
        wasm_validate_builtin::select(&[Profile::Restricted, Profile::BestPractices], |_| false);
    assert_eq!(set.policies.len(), default.len());
    let message = build_policy_set(
        &Engine::default(),
        None,
        &CommandLine {
            settings: vec![("nothing".to_owned(), serde_json::json!({}))],
            ..CommandLine::default()
        },
    )
    .unwrap_err()
    .0;
    assert_eq!(
        message,
        "--settings nothing: no chosen policy has this name"
    );
}

#[test]
fn unknown_annotation_names_are_found() {
    let set = build(&format!(
        "{HEADER}policies:\n  - policy: privileged\n    id: priv\n"
    ))
    .unwrap();
    let names: Vec<String> = [
        "priv",
        "privileged",
        "host-ports",
        "disallow-privileged-containers",
        "hostports",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(unknown_policy_names(&set, &names), ["hostports"]);
}
