//! The schema stage as the pipeline holds it: the run's mode and schemas
//! ([`SchemaStage`], a [`crate::PolicySet`]'s `schema`) and the parallel
//! check of a run's resources before the policies ([`check_schemas`]).

use wasm_validate_manifest::{Parsed, Resource};

/// The schema stage of a run (`wasm-validate-schema`): its mode and the
/// schemas (a Kubernetes version's built-in kinds, and the CRDs given).
#[derive(Debug, Clone)]
pub struct SchemaStage {
    /// `on` or `strict` (`off` is no stage).
    pub mode: wasm_validate_schema::Mode,
    /// The schemas; a run adds the CRDs among its inputs to a copy.
    pub schemas: std::sync::Arc<wasm_validate_schema::Schemas>,
    /// Whether the user chose the Kubernetes version (`--kubernetes-version`
    /// or `schema.kubernetesVersion`); when not, a live audit follows the
    /// server's version.
    pub version_given: bool,
}

/// Checks every resource against `schemas`, in parallel (on the current
/// rayon pool), before any policy runs: one outcome per resource, in input
/// order. The objects are checked as read (before mutations).
pub fn check_schemas(
    schemas: &wasm_validate_schema::Schemas,
    resources: &[Resource],
) -> Vec<wasm_validate_schema::Outcome> {
    use rayon::prelude::*;
    resources
        .par_iter()
        .map(|resource| schemas.validate(&resource.object))
        .collect()
}

/// Adds to `schemas` every CustomResourceDefinition among `parsed`'s
/// resources, each with its `file:line` as source (for notices); returns
/// how many were added.
pub fn add_crds(schemas: &mut wasm_validate_schema::Schemas, parsed: &[Parsed]) -> usize {
    let mut added = 0;
    for resource in parsed.iter().flat_map(|input| &input.resources) {
        let source = format!("{}:{}", resource.source.file, resource.source.line);
        if schemas.add_crd(&resource.object, &source) {
            added += 1;
        }
    }
    added
}
