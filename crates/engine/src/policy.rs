//! [`Policy`]: a loaded module with its metadata, limits and the state
//! its evaluations start from.

use std::fmt;

use wasm_validate_abi::Metadata;
use wasmi::Module;

use crate::{Limits, Protocol, kubewarden, reuse, snapshot};

/// A loaded policy: a compiled module with its metadata and limits.
/// Cheap to clone; shared by all threads.
#[derive(Clone)]
pub struct Policy {
    pub(crate) module: Module,
    pub(crate) metadata: Metadata,
    pub(crate) limits: Limits,
    pub(crate) kubewarden: Option<kubewarden::KubewardenInfo>,
    /// For a module that exports `wv_prepare`: its mutable globals' export
    /// names (checked at load, see `snapshot.rs`).
    pub(crate) preparable: Option<std::sync::Arc<[String]>>,
    /// The state `wv_prepare` left ([`Engine::prepare`]).
    pub(crate) snapshot: Option<std::sync::Arc<snapshot::Snapshot>>,
    /// Idle instances kept for the next evaluations (`reuse.rs`).
    pub(crate) pool: std::sync::Arc<reuse::Pool>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("metadata", &self.metadata)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// The metadata read from the module's custom section.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Replaces the metadata the policy is described and matched by: for a
    /// runtime prepared with a program (a Gatekeeper constraint), the
    /// program's own name, description and rules. The ABI version and
    /// `mutating` stay the module's own, since they say how to talk to it.
    pub fn set_metadata(&mut self, metadata: Metadata) {
        self.metadata = Metadata {
            abi_version: self.metadata.abi_version,
            mutating: self.metadata.mutating,
            ..metadata
        };
    }

    /// The policy's name (from its metadata).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The limits each evaluation runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limits each evaluation runs under.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The protocol the module speaks.
    pub fn protocol(&self) -> Protocol {
        match self.kubewarden {
            Some(_) => Protocol::Kubewarden,
            None => Protocol::Native,
        }
    }

    /// The ABI version the module speaks (`abiVersion` in its metadata):
    /// 1 takes JSON requests, 2 tape requests (`docs/abi.md`). Kubewarden
    /// modules count as 1 (they take JSON).
    pub fn abi_version(&self) -> u32 {
        match self.kubewarden {
            Some(_) => 1,
            None => self.metadata.abi_version,
        }
    }

    /// Whether the module exports `wv_prepare` and so must be prepared with
    /// its settings ([`Engine::prepare`]) before it is evaluated.
    pub fn is_preparable(&self) -> bool {
        self.preparable.is_some()
    }

    /// Whether [`Engine::prepare`] made this policy (its evaluations start
    /// from the prepared state).
    pub fn is_prepared(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Bytes of memory each evaluation of a prepared policy restores into
    /// its fresh instance (0 when not prepared).
    pub fn prepared_bytes(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.restored_bytes())
    }

    /// Whether evaluations reuse an instance that an earlier evaluation
    /// ended normally in, put back into its starting state (`reuse.rs`):
    /// true for a module in wasm-validate's own ABI whose mutable globals
    /// are all exported and whose code changes no table, and whose starting
    /// memory is at most 4 MiB (known once it has been instantiated: before
    /// its first evaluation, true for every module with the proof).
    /// Kubewarden modules always get a fresh instance.
    pub fn reuses_instances(&self) -> bool {
        self.kubewarden.is_none() && self.pool.is_reusable()
    }

    /// Whether the policy looks up other resources (a Kubewarden policy
    /// with `contextAwareResources`), so that [`Engine::evaluate_in`] needs
    /// the run's [`Context`].
    pub fn is_context_aware(&self) -> bool {
        self.kubewarden
            .as_ref()
            .is_some_and(|k| !k.context_aware.is_empty())
    }
}
