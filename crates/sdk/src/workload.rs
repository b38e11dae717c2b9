//! Typed, partial views of Kubernetes objects for policies.
//!
//! Only the fields policies read are decoded; unknown fields are skipped.
//! [`Object::pod_specs`] finds the pod spec of every pod-spec-bearing kind
//! (Pod, PodTemplate, Deployment, ReplicaSet, ReplicationController,
//! StatefulSet, DaemonSet, Job, CronJob) with its JSON Pointer, and
//! [`PodSpec::containers`] visits containers, initContainers and
//! ephemeralContainers with theirs.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A Kubernetes object as a policy sees it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Object {
    /// `apiVersion`, for example `apps/v1`.
    pub api_version: String,
    /// `kind`, for example `Deployment`.
    pub kind: String,
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `spec`: a pod spec for Pods, a workload spec (with `template` or
    /// `jobTemplate`) for workload kinds; decoded as the union of both.
    pub spec: Option<PodSpec>,
    /// `template` (PodTemplate objects only).
    pub template: Option<PodTemplateSpec>,
}

/// `metadata` of an object or a pod template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// A pod template: `metadata` and `spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodTemplateSpec {
    /// `template.metadata`.
    pub metadata: ObjectMeta,
    /// `template.spec`.
    pub spec: Option<Box<PodSpec>>,
}

/// A CronJob's `jobTemplate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobTemplateSpec {
    /// `jobTemplate.spec`: a Job spec, whose `template` holds the pod.
    pub spec: Option<Box<PodSpec>>,
}

/// A pod spec (`core/v1 PodSpec`) together with the workload fields that lead
/// to one (`template`, `jobTemplate`), so that any `spec` decodes into it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// `containers`.
    pub containers: Vec<Container>,
    /// `initContainers`.
    pub init_containers: Vec<Container>,
    /// `ephemeralContainers`.
    pub ephemeral_containers: Vec<Container>,
    /// `hostNetwork`.
    pub host_network: Option<bool>,
    /// `hostPID`.
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    /// `hostIPC`.
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    /// `hostUsers`.
    pub host_users: Option<bool>,
    /// `securityContext` (pod level).
    pub security_context: Option<PodSecurityContext>,
    /// `volumes`, undecoded.
    pub volumes: Vec<Value>,
    /// `os.name`, through `os`.
    pub os: Option<PodOs>,
    /// `serviceAccountName`.
    pub service_account_name: Option<String>,
    /// `automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
    /// Workload kinds: `spec.template`.
    pub template: Option<PodTemplateSpec>,
    /// CronJob: `spec.jobTemplate`.
    pub job_template: Option<JobTemplateSpec>,
}

/// `spec.os`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PodOs {
    /// `linux` or `windows`.
    pub name: String,
}

/// Pod-level `securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSecurityContext {
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `seccompProfile`, undecoded.
    pub seccomp_profile: Option<Value>,
    /// `seLinuxOptions`, undecoded.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<Value>,
    /// `sysctls`, undecoded.
    pub sysctls: Vec<Value>,
}

/// A container, init container or ephemeral container.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `securityContext`.
    pub security_context: Option<SecurityContext>,
    /// `resources`.
    pub resources: Option<ResourceRequirements>,
    /// `ports`, undecoded.
    pub ports: Vec<Value>,
    /// `livenessProbe`, undecoded.
    pub liveness_probe: Option<Value>,
    /// `readinessProbe`, undecoded.
    pub readiness_probe: Option<Value>,
}

/// Container-level `securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContext {
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `capabilities`.
    pub capabilities: Option<Capabilities>,
    /// `procMount`.
    pub proc_mount: Option<String>,
    /// `seccompProfile`, undecoded.
    pub seccomp_profile: Option<Value>,
    /// `seLinuxOptions`, undecoded.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<Value>,
}

/// `securityContext.capabilities`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// `add`.
    pub add: Option<Vec<String>>,
    /// `drop`.
    pub drop: Option<Vec<String>>,
}

/// `resources`: quantities stay undecoded (`"500m"`, `1`, `"1Gi"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourceRequirements {
    /// `limits`.
    pub limits: Option<BTreeMap<String, Value>>,
    /// `requests`.
    pub requests: Option<BTreeMap<String, Value>>,
}

/// A pod spec found in an object, with the JSON Pointer that leads to it
/// (for example `/spec/template/spec`) and the pod's metadata when it comes
/// from a template.
#[derive(Debug, Clone, Copy)]
pub struct PodSpecRef<'a> {
    /// JSON Pointer (RFC 6901) of the pod spec in the object.
    pub pointer: &'static str,
    /// The pod spec.
    pub spec: &'a PodSpec,
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// `containers`.
    Container,
    /// `initContainers`.
    Init,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The pod spec field name of the list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    /// Words for messages: `container`, `init container`, `ephemeral container`.
    pub fn noun(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "init container",
            ContainerKind::Ephemeral => "ephemeral container",
        }
    }
}

/// A container with where it is: its list and index, and its JSON Pointer.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// JSON Pointer of the container, for example `/spec/template/spec/containers/0`.
    pub pointer: String,
    /// The container.
    pub container: &'a Container,
}

impl Object {
    /// Every pod spec in the object, by kind: `Pod` (`/spec`), `PodTemplate`
    /// (`/template/spec`), `Deployment`, `ReplicaSet`, `ReplicationController`,
    /// `StatefulSet`, `DaemonSet`, `Job` (`/spec/template/spec`) and `CronJob`
    /// (`/spec/jobTemplate/spec/template/spec`). Other kinds have none.
    pub fn pod_specs(&self) -> Vec<PodSpecRef<'_>> {
        fn template_spec(template: &Option<PodTemplateSpec>) -> Option<&PodSpec> {
            template.as_ref().and_then(|t| t.spec.as_deref())
        }
        let found = match self.kind.as_str() {
            "Pod" => self.spec.as_ref().map(|spec| ("/spec", spec)),
            "PodTemplate" => template_spec(&self.template).map(|spec| ("/template/spec", spec)),
            "Deployment"
            | "ReplicaSet"
            | "ReplicationController"
            | "StatefulSet"
            | "DaemonSet"
            | "Job" => self
                .spec
                .as_ref()
                .and_then(|spec| template_spec(&spec.template))
                .map(|spec| ("/spec/template/spec", spec)),
            "CronJob" => self
                .spec
                .as_ref()
                .and_then(|spec| spec.job_template.as_ref())
                .and_then(|job| job.spec.as_deref())
                .and_then(|job| template_spec(&job.template))
                .map(|spec| ("/spec/jobTemplate/spec/template/spec", spec)),
            _ => None,
        };
        found
            .map(|(pointer, spec)| PodSpecRef { pointer, spec })
            .into_iter()
            .collect()
    }
}

impl<'a> PodSpecRef<'a> {
    /// Every container of the pod: `containers`, then `initContainers`, then
    /// `ephemeralContainers`, each with its JSON Pointer.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + 'a {
        let pointer = self.pointer;
        let spec = self.spec;
        [
            (ContainerKind::Container, &spec.containers),
            (ContainerKind::Init, &spec.init_containers),
            (ContainerKind::Ephemeral, &spec.ephemeral_containers),
        ]
        .into_iter()
        .flat_map(move |(kind, list)| {
            list.iter()
                .enumerate()
                .map(move |(index, container)| ContainerRef {
                    kind,
                    index,
                    pointer: format!("{pointer}/{}/{index}", kind.field()),
                    container,
                })
        })
    }

    /// JSON Pointer of a field of the pod spec, for example `field("hostPID")`.
    pub fn field(&self, name: &str) -> String {
        format!("{}/{}", self.pointer, name)
    }
}

/// The kinds that carry a pod spec, for policies' `rules`.
pub const POD_SPEC_KINDS: [&str; 9] = [
    "Pod",
    "PodTemplate",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: &str) -> Object {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn finds_pod_spec_of_every_workload_kind() {
        let pod = r#"{"containers":[{"name":"a"}],"initContainers":[{"name":"i"}],"ephemeralContainers":[{"name":"e"}]}"#;
        let cases = [
            ("Pod", format!(r#"{{"kind":"Pod","spec":{pod}}}"#), "/spec"),
            (
                "PodTemplate",
                format!(r#"{{"kind":"PodTemplate","template":{{"spec":{pod}}}}}"#),
                "/template/spec",
            ),
            (
                "CronJob",
                format!(
                    r#"{{"kind":"CronJob","spec":{{"jobTemplate":{{"spec":{{"template":{{"spec":{pod}}}}}}}}}}}"#
                ),
                "/spec/jobTemplate/spec/template/spec",
            ),
        ];
        for (kind, json, pointer) in cases {
            let object = object(&json);
            let specs = object.pod_specs();
            assert_eq!(specs.len(), 1, "{kind}");
            assert_eq!(specs[0].pointer, pointer);
            let pointers: Vec<String> = specs[0].containers().map(|c| c.pointer).collect();
            assert_eq!(
                pointers,
                [
                    format!("{pointer}/containers/0"),
                    format!("{pointer}/initContainers/0"),
                    format!("{pointer}/ephemeralContainers/0"),
                ]
            );
        }
        for kind in [
            "Deployment",
            "ReplicaSet",
            "ReplicationController",
            "StatefulSet",
            "DaemonSet",
            "Job",
        ] {
            let object = object(&format!(
                r#"{{"kind":"{kind}","spec":{{"template":{{"spec":{pod}}}}}}}"#
            ));
            assert_eq!(
                object.pod_specs()[0].pointer,
                "/spec/template/spec",
                "{kind}"
            );
        }
    }

    #[test]
    fn other_kinds_have_no_pod_spec() {
        let object = object(r#"{"kind":"Service","spec":{"ports":[]}}"#);
        assert!(object.pod_specs().is_empty());
    }
}
