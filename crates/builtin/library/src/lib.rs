//! The library module: every built-in policy linked into one guest module,
//! each evaluated by its index, the place of its folder among `policies/`
//! sorted by name (docs/abi.md, "Library modules"). `crates/builtin`'s
//! build script compiles it to wasm32 like the policies, in a cargo run of
//! its own, since the SDK's `library` feature it turns on keeps the
//! policies' own exports out; a host evaluating several built-in policies
//! on one object writes the object into one instance once instead of
//! once per policy (docs/performance.md, "The library module").

wasm_validate_sdk::export_library!(
    metadata = r#"{"abiVersion":2,"name":"library","description":"wasm-validate's built-in policies in one module, evaluated by index with wv_evaluate_at","severity":"low","rules":[]}"#,
    policies = [
        policy_add_default_labels::evaluate_tape,
        policy_allow_privilege_escalation::evaluate_tape,
        policy_allowed_image_registries::evaluate_tape,
        policy_apparmor_profile::evaluate_tape,
        policy_capabilities_baseline::evaluate_tape,
        policy_capabilities_restricted::evaluate_tape,
        policy_disallow_default_service_account_token::evaluate_tape,
        policy_disallow_latest_tag::evaluate_tape,
        policy_disallow_service_types::evaluate_tape,
        policy_drop_all_capabilities::evaluate_tape,
        policy_host_namespaces::evaluate_tape,
        policy_host_path_volumes::evaluate_tape,
        policy_host_ports::evaluate_tape,
        policy_host_probes_and_host_lifecycle::evaluate_tape,
        policy_privileged::evaluate_tape,
        policy_proc_mount::evaluate_tape,
        policy_proc_mount_restricted::evaluate_tape,
        policy_require_ingress_tls::evaluate_tape,
        policy_require_minimum_replicas::evaluate_tape,
        policy_require_probes::evaluate_tape,
        policy_require_read_only_root_filesystem::evaluate_tape,
        policy_require_requests_and_limits::evaluate_tape,
        policy_required_labels::evaluate_tape,
        policy_restricted_volumes::evaluate_tape,
        policy_run_as_non_root::evaluate_tape,
        policy_run_as_user::evaluate_tape,
        policy_seccomp_profile_baseline::evaluate_tape,
        policy_seccomp_profile_restricted::evaluate_tape,
        policy_selinux_options::evaluate_tape,
        policy_set_allow_privilege_escalation_false::evaluate_tape,
        policy_set_image_pull_policy::evaluate_tape,
        policy_set_run_as_non_root::evaluate_tape,
        policy_set_seccomp_runtime_default::evaluate_tape,
        policy_sysctls::evaluate_tape,
        policy_windows_host_process::evaluate_tape,
    ],
);
