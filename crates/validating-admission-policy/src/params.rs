//! A binding's parameter resources: those a `paramRef` selects among
//! objects ([`matching_params`]), and the lookup among the run's objects
//! when the policy files hold none ([`ParamLookup`]).

use serde_json::{Value, json};
use wasm_validate_abi::Rule;

use crate::{ParamKind, ParamRef};

/// The parameter resources among `objects` that `param_ref` selects: of
/// `kind`, in the reference's namespace when it names one, by name or by
/// label selector.
pub(crate) fn matching_params<'a>(
    objects: impl Iterator<Item = &'a Value>,
    kind: &ParamKind,
    param_ref: &ParamRef,
) -> Vec<&'a Value> {
    objects
        .filter(|o| o["apiVersion"] == kind.api_version.as_str() && o["kind"] == kind.kind.as_str())
        .filter(|o| {
            param_ref
                .namespace
                .as_deref()
                .is_none_or(|ns| o["metadata"]["namespace"].as_str().unwrap_or("") == ns)
        })
        .filter(|o| match (&param_ref.name, &param_ref.selector) {
            (Some(name), _) => o["metadata"]["name"] == name.as_str(),
            (None, Some(selector)) => {
                let empty = serde_json::Map::new();
                selector.matches(o["metadata"]["labels"].as_object().unwrap_or(&empty))
            }
            (None, None) => false,
        })
        .collect()
}

/// A binding's parameter resource, looked for among the run's objects (the
/// inputs of a check, the objects a cluster audit reads) when it is not
/// among the policy files: one found is the policy's `params`; none
/// follows the reference's `parameterNotFoundAction` (`Deny`: every
/// matched resource is denied with the API server's message; `Allow`:
/// nothing runs); several are an error (several run one policy each,
/// `POLICY/PARAM`, only when given with the policies).
#[derive(Debug, Clone)]
pub struct ParamLookup {
    pub(crate) kind: ParamKind,
    pub(crate) param_ref: ParamRef,
    /// The binding's name, for errors.
    pub(crate) binding: String,
    /// The program, its `params` to fill in.
    pub(crate) program: Value,
    /// The program when none is found and the action is `Deny`.
    pub(crate) missing: Value,
    /// `parameterNotFoundAction: Allow`.
    pub(crate) allow_missing: bool,
}

impl ParamLookup {
    /// The program before the run's objects are known (and at admission,
    /// where they are not read): as if none were found.
    pub(crate) fn initial_program(&self) -> Value {
        if self.allow_missing {
            json!({"matchConditions": [{"name": "parameter-not-found", "expression": "false"}]})
        } else {
            self.missing.clone()
        }
    }

    /// The program for a run over `objects` (see the type's docs).
    pub(crate) fn program_for(&self, objects: &[&Value]) -> Result<Value, String> {
        let found = matching_params(objects.iter().copied(), &self.kind, &self.param_ref);
        match found[..] {
            [param] => {
                let mut program = self.program.clone();
                program["params"] = param.clone();
                Ok(program)
            }
            [] => Ok(self.initial_program()),
            _ => Err(format!(
                "binding {}: its paramRef selects {} {} resources among the run's objects; \
                 a binding runs with several parameter resources (once per resource) only \
                 when they are given with the policies",
                self.binding,
                found.len(),
                self.kind.kind
            )),
        }
    }

    /// The kind to read, as a rule: what a cluster audit lists.
    pub(crate) fn rule(&self) -> Rule {
        let (group, version) = self
            .kind
            .api_version
            .split_once('/')
            .unwrap_or(("", self.kind.api_version.as_str()));
        Rule {
            api_groups: vec![group.to_owned()],
            api_versions: vec![version.to_owned()],
            kinds: vec![self.kind.kind.clone()],
            resources: Vec::new(),
            operations: wasm_validate_abi::create_and_update(),
        }
    }
}
