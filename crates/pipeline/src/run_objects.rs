//! Policies prepared with the objects of a run: a foreign format whose
//! policies read other objects than the one under review (Gatekeeper's
//! `data.inventory`, and the Namespaces its `namespaceSelector` reads)
//! gives them a [`RunObjects`]; [`run`](crate::run) prepares those once per
//! run, over every resource read, before any evaluation.

use std::sync::Arc;

use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::Resource;

use crate::{ConfiguredPolicy, PolicySet, Selector};

/// Makes a policy for a run over `resources`.
pub trait RunObjects: std::fmt::Debug + Send + Sync {
    /// The policy to evaluate and the selector to match with, for a run
    /// over `resources` (their objects as read, with where each was read);
    /// an error is the result of every evaluation the policy would have
    /// made.
    fn prepare(
        &self,
        engine: &Engine,
        resources: &[&Resource],
    ) -> Result<(Policy, Option<Arc<dyn Selector>>), String>;

    /// Kinds the policy reads besides those its rules select (a
    /// ValidatingAdmissionPolicy's `paramKind`): a cluster audit lists them
    /// too, so that they are among the run's objects.
    fn reads(&self) -> Vec<wasm_validate_abi::Rule> {
        Vec::new()
    }

    /// The selector to match with when [`RunObjects::prepare`] failed, so
    /// that its error is the result of exactly the evaluations the policy
    /// would have made; `None` keeps the policy's own.
    fn selector(&self, _resources: &[&Resource]) -> Option<Arc<dyn Selector>> {
        None
    }
}

impl ConfiguredPolicy {
    /// Whether the policy must be prepared with the run's objects
    /// ([`PolicySet::with_run_objects`]); commands then read every input
    /// before checking any.
    pub fn needs_run_objects(&self) -> bool {
        self.run_objects.is_some()
    }
}

impl PolicySet {
    /// Whether a policy must be prepared with the run's objects.
    pub fn needs_run_objects(&self) -> bool {
        self.policies
            .iter()
            .any(ConfiguredPolicy::needs_run_objects)
    }

    /// The set with each policy that needs them prepared with `objects`;
    /// one that fails is kept with [`ConfiguredPolicy::unavailable`] set.
    pub fn with_run_objects(&self, engine: &Engine, resources: &[&Resource]) -> PolicySet {
        let mut set = self.clone();
        for configured in &mut set.policies {
            let Some(run_objects) = configured.run_objects.take() else {
                continue;
            };
            match run_objects.prepare(engine, resources) {
                Ok((policy, selector)) => {
                    // The limits the run gave the policy, not the ones it
                    // was prepared under.
                    let limits = configured.policy.limits();
                    configured.policy = policy;
                    configured.policy.set_limits(limits);
                    if selector.is_some() {
                        configured.selector = selector;
                    }
                }
                Err(error) => {
                    configured.unavailable = Some(error);
                    if let Some(selector) = run_objects.selector(resources) {
                        configured.selector = Some(selector);
                    }
                }
            }
        }
        set
    }
}
