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

use crate::Violation;

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
/// to one (`template`, `jobTemplate`, `replicas`), so that any `spec` decodes
/// into it.
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
    /// `hostUsers`: `false` runs the pod in a user namespace.
    pub host_users: Option<bool>,
    /// `securityContext` (pod level).
    pub security_context: Option<PodSecurityContext>,
    /// `volumes`.
    pub volumes: Vec<Volume>,
    /// `os`.
    pub os: Option<PodOs>,
    /// `serviceAccountName`.
    pub service_account_name: Option<String>,
    /// `serviceAccount` (deprecated alias of `serviceAccountName`).
    pub service_account: Option<String>,
    /// `automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
    /// Workload kinds: `spec.replicas`.
    pub replicas: Option<i64>,
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

/// A volume: its `name` and its source, kept as the remaining keys (for
/// example `{"hostPath": {...}}`), so that any volume type, even one newer
/// than this SDK, is seen.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Volume {
    /// `name`.
    #[serde(default)]
    pub name: String,
    /// Every other key of the volume: the volume source(s).
    #[serde(flatten)]
    pub source: BTreeMap<String, Value>,
}

/// A `seccompProfile` or an `appArmorProfile`: both have a `type` and a
/// `localhostProfile`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityProfile {
    /// `type`: `RuntimeDefault`, `Localhost` or `Unconfined` (`""` when absent).
    #[serde(rename = "type")]
    pub profile_type: String,
    /// `localhostProfile`.
    pub localhost_profile: Option<String>,
}

/// `seccompProfile`.
pub type SeccompProfile = SecurityProfile;

/// `appArmorProfile`.
pub type AppArmorProfile = SecurityProfile;

/// `seLinuxOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SeLinuxOptions {
    /// `user`.
    pub user: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `type`.
    #[serde(rename = "type")]
    pub selinux_type: Option<String>,
    /// `level`.
    pub level: Option<String>,
}

/// `windowsOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowsOptions {
    /// `hostProcess`.
    pub host_process: Option<bool>,
}

/// One entry of `securityContext.sysctls`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Sysctl {
    /// `name`, for example `net.ipv4.tcp_syncookies`.
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
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `fsGroup`.
    pub fs_group: Option<i64>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<SeccompProfile>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<AppArmorProfile>,
    /// `seLinuxOptions`.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
    /// `sysctls`.
    pub sysctls: Vec<Sysctl>,
}

/// A container, init container or ephemeral container.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: Option<String>,
    /// `imagePullPolicy`.
    pub image_pull_policy: Option<String>,
    /// `securityContext`.
    pub security_context: Option<SecurityContext>,
    /// `resources`.
    pub resources: Option<ResourceRequirements>,
    /// `ports`.
    pub ports: Vec<ContainerPort>,
    /// `livenessProbe`.
    pub liveness_probe: Option<Handler>,
    /// `readinessProbe`.
    pub readiness_probe: Option<Handler>,
    /// `startupProbe`.
    pub startup_probe: Option<Handler>,
    /// `lifecycle`.
    pub lifecycle: Option<Lifecycle>,
    /// `restartPolicy` (`Always` makes an init container a sidecar).
    pub restart_policy: Option<String>,
}

/// One entry of a container's `ports`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// `containerPort`.
    pub container_port: Option<i64>,
    /// `hostPort`.
    pub host_port: Option<i64>,
}

/// A probe or a lifecycle handler: the actions that can name a host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Handler {
    /// `httpGet`.
    pub http_get: Option<HostAction>,
    /// `tcpSocket`.
    pub tcp_socket: Option<HostAction>,
}

/// The `host` of an `httpGet` or `tcpSocket` action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HostAction {
    /// `host`; empty or absent means the pod's IP.
    pub host: Option<String>,
}

/// A container's `lifecycle`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Lifecycle {
    /// `postStart`.
    pub post_start: Option<Handler>,
    /// `preStop`.
    pub pre_stop: Option<Handler>,
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
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `capabilities`.
    pub capabilities: Option<Capabilities>,
    /// `procMount`.
    pub proc_mount: Option<String>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<SeccompProfile>,
    /// `appArmorProfile`.
    pub app_armor_profile: Option<AppArmorProfile>,
    /// `seLinuxOptions`.
    #[serde(rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `windowsOptions`.
    pub windows_options: Option<WindowsOptions>,
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
    /// The pod's metadata: the object's for a Pod, the template's otherwise.
    pub metadata: &'a ObjectMeta,
    /// JSON Pointer of that metadata, for example `/spec/template/metadata`.
    pub metadata_pointer: &'static str,
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
        fn from_template<'a>(
            template: &'a Option<PodTemplateSpec>,
            pointer: &'static str,
            metadata_pointer: &'static str,
        ) -> Option<PodSpecRef<'a>> {
            let template = template.as_ref()?;
            let spec = template.spec.as_deref()?;
            Some(PodSpecRef {
                pointer,
                metadata: &template.metadata,
                metadata_pointer,
                spec,
            })
        }
        let found = match self.kind.as_str() {
            "Pod" => self.spec.as_ref().map(|spec| PodSpecRef {
                pointer: "/spec",
                metadata: &self.metadata,
                metadata_pointer: "/metadata",
                spec,
            }),
            "PodTemplate" => from_template(&self.template, "/template/spec", "/template/metadata"),
            "Deployment"
            | "ReplicaSet"
            | "ReplicationController"
            | "StatefulSet"
            | "DaemonSet"
            | "Job" => self.spec.as_ref().and_then(|spec| {
                from_template(
                    &spec.template,
                    "/spec/template/spec",
                    "/spec/template/metadata",
                )
            }),
            "CronJob" => self
                .spec
                .as_ref()
                .and_then(|spec| spec.job_template.as_ref())
                .and_then(|job| job.spec.as_deref())
                .and_then(|job| {
                    from_template(
                        &job.template,
                        "/spec/jobTemplate/spec/template/spec",
                        "/spec/jobTemplate/spec/template/metadata",
                    )
                }),
            _ => None,
        };
        found.into_iter().collect()
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

    /// Whether the pod declares `spec.os.name: windows`; the Linux-only
    /// controls of the Pod Security Standards exempt such pods.
    pub fn is_windows(&self) -> bool {
        self.spec.os.as_ref().is_some_and(|os| os.name == "windows")
    }

    /// Whether the pod runs in a user namespace (`spec.hostUsers: false`),
    /// which relaxes the Running as Non-root, Running as Non-root user and
    /// (Baseline) /proc Mount Type controls since policy version v1.35.
    pub fn in_user_namespace(&self) -> bool {
        self.spec.host_users == Some(false)
    }

    /// The pod-level `securityContext`, if any.
    pub fn security_context(&self) -> Option<&'a PodSecurityContext> {
        self.spec.security_context.as_ref()
    }
}

impl Object {
    /// Runs `check` on every container, init container and ephemeral
    /// container of every pod spec in the object (with its pod) and collects
    /// what it returns (an `Option<Violation>` or a `Vec<Violation>`).
    pub fn check_containers<F, I>(&self, mut check: F) -> Vec<Violation>
    where
        F: FnMut(&PodSpecRef<'_>, &ContainerRef<'_>) -> I,
        I: IntoIterator<Item = Violation>,
    {
        let mut violations = Vec::new();
        for pod in self.pod_specs() {
            for container in pod.containers() {
                violations.extend(check(&pod, &container));
            }
        }
        violations
    }
}

impl ContainerRef<'_> {
    /// JSON Pointer of a field of the container, for example
    /// `field("securityContext/privileged")`.
    pub fn field(&self, path: &str) -> String {
        format!("{}/{path}", self.pointer)
    }

    /// The container as messages name it: `container "app"`,
    /// `init container "setup"`, `ephemeral container "debug"`.
    pub fn describe(&self) -> String {
        format!("{} \"{}\"", self.kind.noun(), self.container.name)
    }

    /// The container's `securityContext`, if any.
    pub fn security_context(&self) -> Option<&SecurityContext> {
        self.container.security_context.as_ref()
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
