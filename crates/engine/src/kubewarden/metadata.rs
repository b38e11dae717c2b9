//! A Kubewarden policy's metadata: the `io.kubewarden.metadata` section
//! (written by `kwctl annotate`) translated into ours, and the check of
//! the module's imports and exports.

use serde::Deserialize;
use wasm_validate_abi::{self as abi, Metadata, Rule, RuleOperation, Severity};

use super::{
    KUBEWARDEN_METADATA_SECTION, KubewardenInfo, WAPC_FUNCTIONS, WAPC_MODULE, WASI_FUNCTIONS,
    WASI_MODULE,
};
use crate::LoadError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KwRule {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    api_versions: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    operations: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KwResource {
    api_version: String,
    kind: String,
}

/// The `io.kubewarden.metadata` section (unknown keys are ignored: newer
/// kwctl versions add some).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KwMetadata {
    #[serde(default)]
    protocol_version: Option<String>,
    #[serde(default)]
    rules: Vec<KwRule>,
    #[serde(default)]
    mutating: bool,
    #[serde(default)]
    context_aware_resources: Vec<KwResource>,
    #[serde(default)]
    execution_mode: Option<String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// Whether a module speaks Kubewarden's waPC protocol: it exports
/// `__guest_call` and imports from `wapc`.
pub(crate) fn is_kubewarden(module: &wasmi::Module) -> bool {
    module.get_export("__guest_call").is_some()
        && module.imports().any(|i| i.module() == WAPC_MODULE)
}

/// A policy name from a title: lowercase letters, digits and dashes.
pub(super) fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Reads a Kubewarden module's metadata and translates it: rules select
/// resources (by plural name) for operation CREATE, the name comes from the
/// `io.kubewarden.policy.title` annotation (else `fallback_name`), and
/// settings are left to the policy's own `validate_settings`.
pub(crate) fn read_metadata(
    module: &wasmi::Module,
    fallback_name: &str,
) -> Result<(Metadata, KubewardenInfo), LoadError> {
    let mut sections = module
        .custom_sections()
        .filter(|s| s.name() == KUBEWARDEN_METADATA_SECTION);
    let section = sections.next();
    if sections.next().is_some() {
        return Err(LoadError::Metadata(format!(
            "the module has more than one \"{KUBEWARDEN_METADATA_SECTION}\" custom section"
        )));
    }
    let kw: Option<KwMetadata> = section
        .map(|s| serde_json::from_slice(s.data()))
        .transpose()
        .map_err(|e| {
            LoadError::Metadata(format!(
                "invalid JSON in \"{KUBEWARDEN_METADATA_SECTION}\": {e}"
            ))
        })?;
    let Some(kw) = kw else {
        // No metadata (not annotated by kwctl): every resource, not mutating.
        let every = Rule {
            api_groups: vec!["*".to_owned()],
            api_versions: vec!["*".to_owned()],
            kinds: vec!["*".to_owned()],
            resources: Vec::new(),
            operations: vec![RuleOperation::All],
        };
        let metadata = translated(
            slug(fallback_name),
            "Kubewarden policy (no io.kubewarden.metadata section: applies to every resource, may not mutate)".to_owned(),
            Severity::Medium,
            vec![every],
            false,
            Vec::new(),
        );
        return Ok((metadata, KubewardenInfo::default()));
    };
    if let Some(version) = &kw.protocol_version
        && version != "v1"
    {
        return Err(LoadError::Metadata(format!(
            "Kubewarden protocol version {version:?} is not supported (this host speaks v1)"
        )));
    }
    if let Some(mode) = &kw.execution_mode
        && mode != "kubewarden-wapc"
    {
        return Err(LoadError::Metadata(format!(
            "Kubewarden execution mode {mode:?} is not supported (only kubewarden-wapc policies run here)"
        )));
    }
    let rules = kw
        .rules
        .iter()
        .map(|r| Rule {
            api_groups: r.api_groups.clone(),
            api_versions: if r.api_versions.is_empty() {
                vec!["*".to_owned()]
            } else {
                r.api_versions.clone()
            },
            kinds: Vec::new(),
            // Subresources (`pods/status`) never match a resource read from a manifest.
            resources: r
                .resources
                .iter()
                .filter(|res| !res.contains('/'))
                .cloned()
                .collect(),
            // The policy's own operations (no list: every operation); an
            // unknown one matches nothing.
            operations: if r.operations.is_empty() {
                vec![RuleOperation::All]
            } else {
                r.operations
                    .iter()
                    .filter_map(|o| {
                        serde_json::from_value(serde_json::Value::String(o.clone())).ok()
                    })
                    .collect()
            },
        })
        .collect();
    let title = kw.annotations.get("io.kubewarden.policy.title");
    let name = slug(title.map_or(fallback_name, String::as_str));
    let name = if name.is_empty() {
        "kubewarden-policy".to_owned()
    } else {
        name
    };
    let description = kw
        .annotations
        .get("io.kubewarden.policy.description")
        .cloned()
        .unwrap_or_else(|| "Kubewarden policy".to_owned());
    let severity = match kw
        .annotations
        .get("io.kubewarden.policy.severity")
        .map(String::as_str)
    {
        Some("low") => Severity::Low,
        Some("high") => Severity::High,
        Some("critical") => Severity::Critical,
        Some("info") => Severity::Info,
        _ => Severity::Medium,
    };
    let references = kw
        .annotations
        .get("io.kubewarden.policy.url")
        .into_iter()
        .cloned()
        .collect();
    let metadata = translated(name, description, severity, rules, kw.mutating, references);
    let info = KubewardenInfo {
        context_aware: kw
            .context_aware_resources
            .into_iter()
            .map(|r| (r.api_version, r.kind))
            .collect(),
    };
    Ok((metadata, info))
}

/// Our metadata for a Kubewarden policy: ABI version 1, category
/// `kubewarden`, no settings schema (the policy validates its settings).
fn translated(
    name: String,
    description: String,
    severity: Severity,
    rules: Vec<Rule>,
    mutating: bool,
    references: Vec<String>,
) -> Metadata {
    Metadata {
        abi_version: 1,
        name,
        description,
        severity,
        rules,
        mutating,
        settings_schema: None,
        references,
        category: Some("kubewarden".to_owned()),
        level: None,
        control: None,
        overrides: Vec::new(),
        aliases: Vec::new(),
    }
}

/// Checks a Kubewarden module's imports: waPC and the offered WASI
/// functions only, with their exact types.
pub(crate) fn check_imports(module: &wasmi::Module) -> Result<(), LoadError> {
    for import in module.imports() {
        let table: &[(&str, usize, bool)] = match import.module() {
            WAPC_MODULE => &WAPC_FUNCTIONS,
            WASI_MODULE => &WASI_FUNCTIONS,
            _ => &[],
        };
        let offered = table.iter().any(|(name, params, result)| {
            *name == import.name()
                && matches!(import.ty(), wasmi::ExternType::Func(ty)
                    if ty.params() == vec![wasmi::ValType::I32; *params]
                        && ty.results() == if *result { &[wasmi::ValType::I32][..] } else { &[] })
        });
        if !offered {
            return Err(LoadError::ForbiddenKubewardenImport {
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
    }
    match module.get_export("__guest_call") {
        Some(wasmi::ExternType::Func(ty))
            if ty.params() == [wasmi::ValType::I32; 2] && ty.results() == [wasmi::ValType::I32] => {
        }
        _ => {
            return Err(LoadError::Export {
                name: "__guest_call",
                problem: "must be (i32, i32) -> i32".to_owned(),
            });
        }
    }
    match module.get_export(abi::exports::MEMORY) {
        Some(wasmi::ExternType::Memory(_)) => Ok(()),
        _ => Err(LoadError::Export {
            name: abi::exports::MEMORY,
            problem: "is missing or not a memory".to_owned(),
        }),
    }
}
