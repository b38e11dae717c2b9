//! ConstraintTemplates (`templates.gatekeeper.sh/v1`, `v1beta1` and
//! `v1alpha1`), as Gatekeeper reads them: the constraint kind the template
//! defines, the schema of its constraints' `parameters`, and its Rego.
//! Source: <https://open-policy-agent.github.io/gatekeeper/website/docs/constrainttemplates>.

use serde_json::Value;

use crate::{GatekeeperError, Location};

/// The API group of ConstraintTemplates.
pub const TEMPLATE_GROUP: &str = "templates.gatekeeper.sh";
/// The only target Gatekeeper's Kubernetes validation uses.
pub const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// A ConstraintTemplate.
#[derive(Debug, Clone)]
pub struct Template {
    /// `metadata.name` (by Gatekeeper's rule, the kind in lowercase).
    pub name: String,
    /// The constraint kind it defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    /// The `metadata.gatekeeper.sh/title` annotation.
    pub title: Option<String>,
    /// The `description` annotation.
    pub description: Option<String>,
    /// The OpenAPI v3 schema of the constraints' `parameters`
    /// (`spec.crd.spec.validation.openAPIV3Schema`, or `legacySchema`'s).
    pub parameters_schema: Option<Value>,
    /// The Rego module that defines `violation` (empty when the template
    /// has only the CEL engine).
    pub rego: String,
    /// The `K8sNativeValidation` (CEL) engine's `source` (`validations`,
    /// `variables`, `matchConditions`), when the template has one.
    pub cel: Option<Value>,
    /// Library modules it imports (`libs`).
    pub libs: Vec<String>,
    /// Rego language version: 0 unless the Rego engine's `source.version`
    /// is `v1`.
    pub rego_version: u8,
    /// The JSON Pointer of the object that holds `rego` and `libs`
    /// (`/spec/targets/0`, or `/spec/targets/0/code/N/source`), to find
    /// their lines in the file.
    pub rego_source: String,
    /// Where the template was read.
    pub location: Location,
}

impl Template {
    /// Whether `object` is a ConstraintTemplate (by apiVersion group and kind).
    pub fn is_template(object: &Value) -> bool {
        object["kind"] == "ConstraintTemplate"
            && object["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{TEMPLATE_GROUP}/")))
    }

    /// Reads a ConstraintTemplate. The Rego comes from the target's `code`
    /// entry with `engine: Rego` when there is one (templates that carry
    /// CEL and Rego), else from the target's `rego` and `libs`.
    ///
    /// Errors: an unsupported apiVersion; no `spec.crd.spec.names.kind`;
    /// not exactly one target, or a target other than
    /// `admission.k8s.gatekeeper.sh`; no Rego, with a message saying so
    /// when the template has only the `K8sNativeValidation` (CEL) engine.
    pub fn from_object(object: &Value, location: Location) -> Result<Template, GatekeeperError> {
        let fail = |message: String| GatekeeperError::new(&location, message);
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        if !matches!(
            api_version,
            "templates.gatekeeper.sh/v1"
                | "templates.gatekeeper.sh/v1beta1"
                | "templates.gatekeeper.sh/v1alpha1"
        ) {
            return Err(fail(format!(
                "apiVersion {api_version:?} is not a ConstraintTemplate version this tool reads \
                 (templates.gatekeeper.sh/v1, v1beta1, v1alpha1)"
            )));
        }
        let name = object["metadata"]["name"]
            .as_str()
            .ok_or_else(|| fail("ConstraintTemplate without metadata.name".to_owned()))?
            .to_owned();
        let crd = &object["spec"]["crd"]["spec"];
        let kind = crd["names"]["kind"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                fail(format!(
                    "ConstraintTemplate {name}: spec.crd.spec.names.kind is missing"
                ))
            })?
            .to_owned();
        let validation = &crd["validation"];
        let parameters_schema = ["openAPIV3Schema", "legacySchema"]
            .iter()
            .map(|key| &validation[*key])
            .find(|schema| schema.is_object())
            .cloned();
        let targets = object["spec"]["targets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let [target] = targets.as_slice() else {
            return Err(fail(format!(
                "ConstraintTemplate {name}: spec.targets must hold exactly one target, found {}",
                targets.len()
            )));
        };
        if target["target"] != TARGET {
            return Err(fail(format!(
                "ConstraintTemplate {name}: target {} is not {TARGET}",
                target["target"]
            )));
        }
        let cel = target["code"].as_array().and_then(|code| {
            code.iter()
                .find(|c| c["engine"] == "K8sNativeValidation")
                .map(|c| c["source"].clone())
        });
        let (rego, libs, rego_version) = match (rego_of(target), &cel) {
            (Some(rego), _) => rego,
            (None, Some(_)) => (String::new(), Vec::new(), 0),
            (None, None) => {
                return Err(fail(format!(
                    "ConstraintTemplate {name} has neither Rego nor a K8sNativeValidation (CEL) engine"
                )));
            }
        };
        let rego_source = target["code"]
            .as_array()
            .and_then(|code| code.iter().position(|c| c["engine"] == "Rego"))
            .map_or("/spec/targets/0".to_owned(), |i| {
                format!("/spec/targets/0/code/{i}/source")
            });
        let annotation = |key: &str| {
            object["metadata"]["annotations"][key]
                .as_str()
                .map(|s| s.trim().to_owned())
        };
        Ok(Template {
            title: annotation("metadata.gatekeeper.sh/title"),
            description: annotation("description"),
            name,
            kind,
            parameters_schema,
            rego,
            cel,
            libs,
            rego_version,
            rego_source,
            location,
        })
    }
}

/// The Rego of a target: `(rego, libs, version)`.
fn rego_of(target: &Value) -> Option<(String, Vec<String>, u8)> {
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|libs| {
                libs.iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let from_code = target["code"].as_array().and_then(|code| {
        code.iter().find(|c| c["engine"] == "Rego").and_then(|c| {
            let source = &c["source"];
            let rego = source["rego"].as_str().filter(|r| !r.trim().is_empty())?;
            let version = if source["version"] == "v1" { 1 } else { 0 };
            Some((rego.to_owned(), strings(&source["libs"]), version))
        })
    });
    from_code.or_else(|| {
        let rego = target["rego"].as_str().filter(|r| !r.trim().is_empty())?;
        Some((rego.to_owned(), strings(&target["libs"]), 0))
    })
}
