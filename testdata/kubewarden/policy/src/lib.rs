//! A test policy for wasm-validate's Kubewarden support, written against
//! `kubewarden-policy-sdk` as Kubewarden's own policies are.
//!
//! - Rejects a pod (or a workload's pod template) that sets `hostNetwork`,
//!   `hostPID` or `hostIPC` (code 403), as the built-in `host-namespaces`.
//! - Warns about containers whose image has no tag or the `latest` tag.
//! - `requiredConfigMap: NAME`: rejects unless a ConfigMap NAME exists in the
//!   resource's namespace (a context-aware lookup through the host's
//!   `kubernetes` capability).
//! - `addLabel: KEY`: mutates the resource, adding the label KEY=`"true"`.
//! - Settings are validated: both keys, when given, must be non-empty.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::ConfigMap;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    ListResourcesByNamespaceRequest, list_resources_by_namespace,
};
use kubewarden_policy_sdk::logging;
use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::Validatable;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{protocol_version_guest, validate_settings};
use serde::Deserialize;
use slog::{Logger, o};

static LOG: LazyLock<Logger> = LazyLock::new(|| {
    Logger::root(
        slog::Fuse(logging::KubewardenDrain::new()),
        o!("policy" => "kubewarden-test-policy"),
    )
});

/// The policy's metadata, as `kwctl annotate` would embed it.
#[used]
#[unsafe(link_section = "io.kubewarden.metadata")]
static METADATA: [u8; include_bytes!("../metadata.json").len()] =
    *include_bytes!("../metadata.json");

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    required_config_map: Option<String>,
    add_label: Option<String>,
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.required_config_map.as_deref() == Some("") {
            return Err("requiredConfigMap must not be empty".to_owned());
        }
        if self.add_label.as_deref() == Some("") {
            return Err("addLabel must not be empty".to_owned());
        }
        Ok(())
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings::<Settings>);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn respond(response: ValidationResponse) -> CallResult {
    Ok(serde_json::to_vec(&response)?)
}

fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<Settings>::new(payload)?;
    slog::info!(LOG, "validating"; "kind" => &request.request.kind.kind, "name" => &request.request.name);
    let Some(spec) = request.extract_pod_spec_from_object()? else {
        return respond(ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: None,
        });
    };
    let mut problems = Vec::new();
    for (field, set) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if set == Some(true) {
            problems.push(format!("{field} must not be true"));
        }
    }
    let warnings: Vec<String> = spec
        .containers
        .iter()
        .filter(|c| {
            let image = c.image.as_deref().unwrap_or_default();
            let name = image.rsplit('/').next().unwrap_or(image);
            !image.contains('@') && (!name.contains(':') || name.ends_with(":latest"))
        })
        .map(|c| format!("container {} uses the latest tag", c.name))
        .collect();
    if let Some(wanted) = &request.settings.required_config_map {
        let namespace = request.request.namespace.clone();
        let found = list_resources_by_namespace::<ConfigMap>(&ListResourcesByNamespaceRequest {
            api_version: "v1".to_owned(),
            kind: "ConfigMap".to_owned(),
            namespace: namespace.clone(),
            label_selector: None,
            field_selector: None,
            field_masks: None,
        })?;
        if !found
            .items
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(wanted.as_str()))
        {
            problems.push(format!(
                "ConfigMap {wanted} not found in namespace {namespace:?}"
            ));
        }
    }
    let warnings = (!warnings.is_empty()).then_some(warnings);
    if !problems.is_empty() {
        return respond(ValidationResponse {
            accepted: false,
            message: Some(problems.join("; ")),
            code: Some(403),
            mutated_object: None,
            audit_annotations: None,
            warnings,
        });
    }
    let mut mutated_object = None;
    if let Some(label) = &request.settings.add_label {
        let object = &request.request.object;
        if object["metadata"]["labels"][label.as_str()].is_null() {
            let mut changed = object.clone();
            changed["metadata"]["labels"][label.as_str()] = serde_json::json!("true");
            mutated_object = Some(changed);
        }
    }
    respond(ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object,
        audit_annotations: None,
        warnings,
    })
}
