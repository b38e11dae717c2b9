//! API versions Kubernetes deprecated or removed, with the release that did
//! it and the replacement, as pluto reports them and as the Kubernetes
//! deprecation guide lists them
//! (<https://kubernetes.io/docs/reference/using-api/deprecation-guide/>).

/// One deprecated or removed API: `apiVersion`, kind (`*` for every kind of
/// that version), the minor release that deprecated it, the one that
/// removed it (`None` while it is still served), and what replaces it.
pub(crate) struct Deprecation {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub deprecated_in: u32,
    pub removed_in: Option<u32>,
    pub replacement: &'static str,
}

const fn d(
    api_version: &'static str,
    kind: &'static str,
    deprecated_in: u32,
    removed_in: Option<u32>,
    replacement: &'static str,
) -> Deprecation {
    Deprecation {
        api_version,
        kind,
        deprecated_in,
        removed_in,
        replacement,
    }
}

/// The table, by minor version of 1.x.
pub(crate) const DEPRECATIONS: &[Deprecation] = &[
    d(
        "extensions/v1beta1",
        "Deployment",
        9,
        Some(16),
        "apps/v1 Deployment",
    ),
    d(
        "extensions/v1beta1",
        "DaemonSet",
        9,
        Some(16),
        "apps/v1 DaemonSet",
    ),
    d(
        "extensions/v1beta1",
        "ReplicaSet",
        9,
        Some(16),
        "apps/v1 ReplicaSet",
    ),
    d(
        "extensions/v1beta1",
        "NetworkPolicy",
        9,
        Some(16),
        "networking.k8s.io/v1 NetworkPolicy",
    ),
    d(
        "extensions/v1beta1",
        "PodSecurityPolicy",
        10,
        Some(16),
        "policy/v1beta1 PodSecurityPolicy, itself removed in 1.25 (use Pod Security Admission)",
    ),
    d(
        "extensions/v1beta1",
        "Ingress",
        14,
        Some(22),
        "networking.k8s.io/v1 Ingress",
    ),
    d("apps/v1beta1", "*", 9, Some(16), "apps/v1"),
    d("apps/v1beta2", "*", 9, Some(16), "apps/v1"),
    d(
        "networking.k8s.io/v1beta1",
        "Ingress",
        19,
        Some(22),
        "networking.k8s.io/v1 Ingress",
    ),
    d(
        "networking.k8s.io/v1beta1",
        "IngressClass",
        19,
        Some(22),
        "networking.k8s.io/v1 IngressClass",
    ),
    d(
        "rbac.authorization.k8s.io/v1beta1",
        "*",
        17,
        Some(22),
        "rbac.authorization.k8s.io/v1",
    ),
    d(
        "rbac.authorization.k8s.io/v1alpha1",
        "*",
        17,
        Some(22),
        "rbac.authorization.k8s.io/v1",
    ),
    d(
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        16,
        Some(22),
        "apiextensions.k8s.io/v1 CustomResourceDefinition",
    ),
    d(
        "apiregistration.k8s.io/v1beta1",
        "APIService",
        19,
        Some(22),
        "apiregistration.k8s.io/v1 APIService",
    ),
    d(
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        16,
        Some(22),
        "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration",
    ),
    d(
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        16,
        Some(22),
        "admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration",
    ),
    d(
        "scheduling.k8s.io/v1beta1",
        "PriorityClass",
        14,
        Some(22),
        "scheduling.k8s.io/v1 PriorityClass",
    ),
    d(
        "scheduling.k8s.io/v1alpha1",
        "PriorityClass",
        14,
        Some(17),
        "scheduling.k8s.io/v1 PriorityClass",
    ),
    d(
        "coordination.k8s.io/v1beta1",
        "Lease",
        19,
        Some(22),
        "coordination.k8s.io/v1 Lease",
    ),
    d(
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        19,
        Some(22),
        "certificates.k8s.io/v1 CertificateSigningRequest",
    ),
    d(
        "storage.k8s.io/v1beta1",
        "StorageClass",
        19,
        Some(22),
        "storage.k8s.io/v1 StorageClass",
    ),
    d(
        "storage.k8s.io/v1beta1",
        "VolumeAttachment",
        19,
        Some(22),
        "storage.k8s.io/v1 VolumeAttachment",
    ),
    d(
        "storage.k8s.io/v1beta1",
        "CSIDriver",
        19,
        Some(22),
        "storage.k8s.io/v1 CSIDriver",
    ),
    d(
        "storage.k8s.io/v1beta1",
        "CSINode",
        17,
        Some(22),
        "storage.k8s.io/v1 CSINode",
    ),
    d(
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        24,
        Some(27),
        "storage.k8s.io/v1 CSIStorageCapacity",
    ),
    d("batch/v1beta1", "CronJob", 21, Some(25), "batch/v1 CronJob"),
    d("batch/v2alpha1", "CronJob", 8, Some(21), "batch/v1 CronJob"),
    d(
        "discovery.k8s.io/v1beta1",
        "EndpointSlice",
        21,
        Some(25),
        "discovery.k8s.io/v1 EndpointSlice",
    ),
    d(
        "events.k8s.io/v1beta1",
        "Event",
        22,
        Some(25),
        "events.k8s.io/v1 Event",
    ),
    d(
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        22,
        Some(25),
        "autoscaling/v2 HorizontalPodAutoscaler",
    ),
    d(
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        23,
        Some(26),
        "autoscaling/v2 HorizontalPodAutoscaler",
    ),
    d(
        "policy/v1beta1",
        "PodDisruptionBudget",
        21,
        Some(25),
        "policy/v1 PodDisruptionBudget",
    ),
    d(
        "policy/v1beta1",
        "PodSecurityPolicy",
        21,
        Some(25),
        "Pod Security Admission (the pod-security.kubernetes.io/* namespace labels)",
    ),
    d(
        "node.k8s.io/v1beta1",
        "RuntimeClass",
        20,
        Some(25),
        "node.k8s.io/v1 RuntimeClass",
    ),
    d(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "*",
        23,
        Some(26),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    d(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "*",
        26,
        Some(29),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    d(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "*",
        29,
        Some(32),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    d(
        "v1",
        "Endpoints",
        33,
        None,
        "discovery.k8s.io/v1 EndpointSlice",
    ),
];

/// The entry for an `apiVersion` and kind, if it was ever deprecated.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<&'static Deprecation> {
    DEPRECATIONS
        .iter()
        .find(|d| d.api_version == api_version && (d.kind == kind || d.kind == "*"))
}

/// The minor number of a `1.x` version string.
pub(crate) fn minor(version: &str) -> u32 {
    version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}
