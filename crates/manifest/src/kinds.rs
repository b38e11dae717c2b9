//! The kinds of Kubernetes' built-in API groups, to tell a mistyped kind
//! (`apps/v1` `Deploymnet`), which no policy would ever match and which
//! the API server would refuse, from a custom resource.
//!
//! Source: the Kubernetes API reference
//! (<https://kubernetes.io/docs/reference/kubernetes-api/>, v1.34) and
//! `kubectl api-resources` of a v1.34 cluster, plus the removed
//! `extensions` group and `policy/v1beta1` PodSecurityPolicy, still found
//! in old charts.

/// Built-in API groups (`""` is the core group) and their kinds.
pub const BUILTIN_KINDS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "admissionregistration.k8s.io",
        &[
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io", &["APIService"]),
    (
        "apps",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    (
        "authentication.k8s.io",
        &["SelfSubjectReview", "TokenRequest", "TokenReview"],
    ),
    (
        "authorization.k8s.io",
        &[
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ],
    ),
    ("autoscaling", &["HorizontalPodAutoscaler", "Scale"]),
    ("batch", &["CronJob", "Job"]),
    (
        "certificates.k8s.io",
        &[
            "CertificateSigningRequest",
            "ClusterTrustBundle",
            "PodCertificateRequest",
        ],
    ),
    ("coordination.k8s.io", &["Lease", "LeaseCandidate"]),
    ("discovery.k8s.io", &["EndpointSlice"]),
    ("events.k8s.io", &["Event"]),
    (
        "extensions",
        &[
            "DaemonSet",
            "Deployment",
            "Ingress",
            "NetworkPolicy",
            "PodSecurityPolicy",
            "ReplicaSet",
        ],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    ("internal.apiserver.k8s.io", &["StorageVersion"]),
    (
        "networking.k8s.io",
        &[
            "IPAddress",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "ServiceCIDR",
        ],
    ),
    ("node.k8s.io", &["RuntimeClass"]),
    (
        "policy",
        &["Eviction", "PodDisruptionBudget", "PodSecurityPolicy"],
    ),
    (
        "rbac.authorization.k8s.io",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    (
        "resource.k8s.io",
        &[
            "DeviceClass",
            "DeviceTaintRule",
            "ResourceClaim",
            "ResourceClaimTemplate",
            "ResourceSlice",
        ],
    ),
    ("scheduling.k8s.io", &["PriorityClass"]),
    (
        "storage.k8s.io",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
    ("storagemigration.k8s.io", &["StorageVersionMigration"]),
];

/// What [`check_kind`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindCheck {
    /// A kind of a built-in group.
    Builtin,
    /// Not a kind of its built-in group, but a change of case or within two
    /// edits of one (one edit for kinds of under six letters): almost
    /// certainly a typo of that kind.
    Mistyped(&'static str),
    /// A custom resource, or a built-in group's kind unknown here and not
    /// close to a known one (a kind newer than this table).
    Custom,
}

/// Classifies `kind` of `apiVersion` (`group/version`, or `version` for the
/// core group) against [`BUILTIN_KINDS`]. `List` kinds are not asked about.
pub fn check_kind(api_version: &str, kind: &str) -> KindCheck {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let Some((_, kinds)) = BUILTIN_KINDS.iter().find(|(g, _)| *g == group) else {
        return KindCheck::Custom;
    };
    if kinds.contains(&kind) {
        return KindCheck::Builtin;
    }
    kinds
        .iter()
        .map(|known| {
            let distance = if known.eq_ignore_ascii_case(kind) {
                0
            } else {
                strsim::damerau_levenshtein(known, kind)
            };
            (distance, *known)
        })
        .filter(|(distance, known)| *distance <= if known.len() < 6 { 1 } else { 2 })
        .min()
        .map_or(KindCheck::Custom, |(_, known)| KindCheck::Mistyped(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_classified() {
        assert_eq!(check_kind("apps/v1", "Deployment"), KindCheck::Builtin);
        assert_eq!(check_kind("v1", "ConfigMap"), KindCheck::Builtin);
        assert_eq!(
            check_kind("apps/v1", "Deploymnet"),
            KindCheck::Mistyped("Deployment")
        );
        assert_eq!(
            check_kind("v1", "configmap"),
            KindCheck::Mistyped("ConfigMap")
        );
        assert_eq!(check_kind("v1", "Services"), KindCheck::Mistyped("Service"));
        // Far from every kind of its group: perhaps newer than the table.
        assert_eq!(check_kind("apps/v1", "Frobnicator"), KindCheck::Custom);
        assert_eq!(
            check_kind("example.com/v1", "Deploymnet"),
            KindCheck::Custom
        );
        assert_eq!(
            check_kind("cert-manager.io/v1", "Certificate"),
            KindCheck::Custom
        );
    }

    #[test]
    fn groups_are_sorted_and_unique() {
        let groups: Vec<&str> = BUILTIN_KINDS.iter().map(|(g, _)| *g).collect();
        let mut sorted = groups.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(groups, sorted);
        for (group, kinds) in BUILTIN_KINDS {
            assert!(kinds.windows(2).all(|w| w[0] < w[1]), "{group}");
        }
    }
}
