//! The schema stage as the pipeline holds it: the run's mode and schemas
//! ([`SchemaStage`], a [`crate::PolicySet`]'s `schema`), the parallel
//! check of a run's resources before the policies ([`check_schemas`]), and
//! the CRDs' `x-kubernetes-validations` rules evaluated in the CEL runtime
//! ([`check_crd_rules`]).

use wasm_validate_manifest::{Parsed, Resource};

/// The name the schema stage's findings are reported and denied under, as
/// if it were a policy: in reports (`wasm-validate-report`) and at
/// admission (`wasm-validate-admission`).
pub const SCHEMA_POLICY: &str = "schema";

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
    /// The CRD rules prepared so far in this run ([`check_crd_rules`]), so
    /// that a batched check compiles each CRD version's rules once.
    pub rule_cache: std::sync::Arc<CrdRuleCache>,
}

/// A CRD name, a version name and the rules' JSON text.
type RuleKey = (String, String, String);

/// A preparation's result.
type Prepared = Result<wasm_validate_engine::Policy, String>;

/// CRD versions' `x-kubernetes-validations` rules prepared in the CEL
/// runtime, by CRD name, version and the rules' text (a changed CRD is
/// prepared again). Holds policies of one engine: use one cache per
/// engine.
#[derive(Debug, Default)]
pub struct CrdRuleCache {
    prepared: std::sync::Mutex<std::collections::HashMap<RuleKey, Prepared>>,
    runtime: std::sync::OnceLock<wasm_validate_engine::Policy>,
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

impl CrdRuleCache {
    /// How many CRD versions' rules were prepared.
    pub fn len(&self) -> usize {
        self.prepared.lock().map_or(0, |p| p.len())
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fuel a CEL program's preparation may use: compiling CEL in the
/// interpreter costs far more per byte of source than evaluating does
/// (Kyverno's disallow-selinux, 6 expressions and their 2 autogen copies,
/// needs more than 100 million); bounded all the same.
pub const CEL_PREPARE_FUEL: u64 = 2_000_000_000;

/// The built-in CEL runtime (`runtimes/cel`), loaded with
/// [`CEL_PREPARE_FUEL`] for preparations (once per call; keep the result);
/// a prepared policy takes evaluation limits with `Policy::set_limits`.
pub fn load_cel_runtime(engine: &wasm_validate_engine::Engine) -> wasm_validate_engine::Policy {
    let wasm = wasm_validate_builtin::runtime("cel").expect("the CEL runtime is built in");
    let limits = wasm_validate_engine::Limits {
        fuel: CEL_PREPARE_FUEL,
        ..Default::default()
    };
    engine
        .load_prevalidated(wasm, limits, "cel")
        .expect("the built-in CEL runtime loads")
}

/// Evaluates, in the CEL runtime, the `x-kubernetes-validations` rules of
/// the custom resources [`check_schemas`] found them on (`outcomes`, one
/// per resource): each rule that is false becomes a finding at its node,
/// in the API server's words (`spec: Invalid value: "object": MESSAGE`);
/// a CRD version whose rules do not compile, or a rule that fails to
/// evaluate, is a finding too, so that nothing passes unchecked. Each CRD
/// version's rules are compiled once per `cache` (one per run's stage);
/// evaluations run in parallel (on the current rayon pool) under the
/// default limits. A node's old value (an UPDATE's, from
/// `Schemas::validate_update`) is bound as `oldSelf` for transition rules,
/// which are skipped on a node without one unless they set
/// `optionalOldSelf` (docs/cel.md).
pub fn check_crd_rules(
    engine: &wasm_validate_engine::Engine,
    schemas: &wasm_validate_schema::Schemas,
    outcomes: &mut [wasm_validate_schema::Outcome],
    cache: &CrdRuleCache,
) {
    check_crd_rules_in(
        engine,
        schemas,
        outcomes,
        cache,
        &wasm_validate_engine::Context::default(),
    );
}

/// [`check_crd_rules`], each evaluation in `context` (the admission
/// server's, with its request's deadline).
pub fn check_crd_rules_in(
    engine: &wasm_validate_engine::Engine,
    schemas: &wasm_validate_schema::Schemas,
    outcomes: &mut [wasm_validate_schema::Outcome],
    cache: &CrdRuleCache,
    context: &wasm_validate_engine::Context,
) {
    use rayon::prelude::*;
    use std::collections::HashMap;
    let mut prepared: HashMap<(String, String), Prepared> = HashMap::new();
    let mut cached = cache.prepared.lock().unwrap_or_else(|e| e.into_inner());
    for checks in outcomes.iter().filter_map(|o| o.rule_checks.as_ref()) {
        let key = (checks.crd.clone(), checks.version.clone());
        if prepared.contains_key(&key) {
            continue;
        }
        let rules = schemas
            .crd_rules(&checks.crd, &checks.version)
            .unwrap_or_default();
        let text = serde_json::to_string(rules).expect("rules encode");
        let cache_key = (checks.crd.clone(), checks.version.clone(), text);
        if let Some(policy) = cached.get(&cache_key) {
            prepared.insert(key, policy.clone());
            continue;
        }
        let runtime = cache.runtime.get_or_init(|| load_cel_runtime(engine));
        let policy = engine
            .prepare(runtime, &serde_json::json!({"rules": rules}))
            .map(|mut policy| {
                policy.set_limits(wasm_validate_engine::Limits::default());
                policy
            })
            .map_err(|e| match e {
                wasm_validate_engine::EvalError::Policy(message) => message,
                other => other.to_string(),
            });
        cached.insert(cache_key, policy.clone());
        prepared.insert(key, policy);
    }
    drop(cached);
    outcomes.par_iter_mut().for_each(|outcome| {
        let Some(checks) = outcome.rule_checks.take() else {
            return;
        };
        let finding = |message: String| wasm_validate_schema::Finding {
            pointer: String::new(),
            message,
        };
        let policy = match &prepared[&(checks.crd.clone(), checks.version.clone())] {
            Ok(policy) => policy,
            Err(error) => {
                outcome.findings.push(finding(format!(
                    "the x-kubernetes-validations rules of CustomResourceDefinition {} version {} do not compile: {error}",
                    checks.crd, checks.version
                )));
                return;
            }
        };
        let nodes: Vec<serde_json::Value> = checks
            .nodes
            .iter()
            .flat_map(|node| {
                node.rules.iter().map(|rule| {
                    let mut check = serde_json::json!({"rule": rule, "self": node.value, "path": node.pointer, "field": node.field});
                    if let Some(old) = &node.old {
                        check["oldSelf"] = old.clone();
                    }
                    check
                })
            })
            .collect();
        let request = wasm_validate_abi::tape::request(
            wasm_validate_abi::Operation::Create,
            &wasm_validate_abi::tape::encode(&serde_json::json!({})),
            &wasm_validate_abi::tape::encode(&serde_json::json!({"nodes": nodes})),
            None,
        );
        match engine.evaluate_in(policy, &request, context) {
            Ok(evaluation) => outcome.findings.extend(evaluation.response.violations.into_iter().map(
                |v| wasm_validate_schema::Finding {
                    pointer: v.path,
                    message: v.message,
                },
            )),
            Err(error) => outcome.findings.push(finding(format!(
                "x-kubernetes-validations of CustomResourceDefinition {}: {}",
                checks.crd,
                match error {
                    wasm_validate_engine::EvalError::Policy(message) => message,
                    other => other.to_string(),
                }
            ))),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture's CRD and custom resources, as read.
    fn fixture() -> (wasm_validate_schema::Schemas, Vec<serde_json::Value>) {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/schema/cel/rules.yaml"
        ))
        .unwrap();
        let mut schemas = wasm_validate_schema::Schemas::new("1.37").unwrap();
        let mut resources = Vec::new();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
            if !schemas.add_crd(&object, "rules.yaml") {
                resources.push(object);
            }
        }
        (schemas, resources)
    }

    #[test]
    fn a_crd_versions_rules_are_prepared_once_per_cache() {
        let (schemas, objects) = fixture();
        let engine = wasm_validate_engine::Engine::default();
        let cache = CrdRuleCache::default();
        // Two batches, as a batched check makes them.
        for object in &objects[1..] {
            let mut outcomes = vec![schemas.validate(object)];
            check_crd_rules(&engine, &schemas, &mut outcomes, &cache);
            assert!(!outcomes[0].findings.is_empty(), "{object}");
            assert!(outcomes[0].rule_checks.is_none());
        }
        assert_eq!(cache.len(), 1);
        let mut good = vec![schemas.validate(&objects[0])];
        check_crd_rules(&engine, &schemas, &mut good, &cache);
        assert_eq!(good[0].findings, vec![]);
    }
}
