//! Finding the pod specs of an object and visiting their containers, with
//! the JSON Pointer of each: what most Pod Security Standards policies
//! loop over.

use crate::Violation;
use crate::workload::{
    Container, Object, ObjectMeta, PodSecurityContext, PodSpec, PodTemplateSpec, SecurityContext,
};

/// A pod spec found in an object, with the JSON Pointer that leads to it
/// (for example `/spec/template/spec`) and the pod's metadata when it comes
/// from a template.
#[derive(Debug, Clone, Copy)]
pub struct PodSpecRef<'a> {
    /// JSON Pointer (RFC 6901) of the pod spec in the object.
    pub pointer: &'static str,
    /// The pod's metadata: the object's for a Pod, the template's otherwise.
    pub metadata: ObjectMeta<'a>,
    /// JSON Pointer of that metadata, for example `/spec/template/metadata`.
    pub metadata_pointer: &'static str,
    /// The pod spec.
    pub spec: PodSpec<'a>,
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

/// A container with where it is: its list and index, and its pod's JSON
/// Pointer (the container's own pointer is built only when asked for).
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// JSON Pointer of the pod spec it is in, for example `/spec/template/spec`.
    pub pod_pointer: &'static str,
    /// The container.
    pub container: Container<'a>,
}

impl<'a> Object<'a> {
    /// Every pod spec in the object, by kind: `Pod` (`/spec`), `PodTemplate`
    /// (`/template/spec`), `Deployment`, `ReplicaSet`, `ReplicationController`,
    /// `StatefulSet`, `DaemonSet`, `Job` (`/spec/template/spec`) and `CronJob`
    /// (`/spec/jobTemplate/spec/template/spec`). Other kinds have none.
    pub fn pod_specs(self) -> Vec<PodSpecRef<'a>> {
        fn from_template<'a>(
            template: Option<PodTemplateSpec<'a>>,
            pointer: &'static str,
            metadata_pointer: &'static str,
        ) -> Option<PodSpecRef<'a>> {
            let template = template?;
            Some(PodSpecRef {
                pointer,
                metadata: template.metadata(),
                metadata_pointer,
                spec: template.spec()?,
            })
        }
        let found = match self.kind() {
            "Pod" => self.spec().map(|spec| PodSpecRef {
                pointer: "/spec",
                metadata: self.metadata(),
                metadata_pointer: "/metadata",
                spec,
            }),
            "PodTemplate" => from_template(self.template(), "/template/spec", "/template/metadata"),
            "Deployment"
            | "ReplicaSet"
            | "ReplicationController"
            | "StatefulSet"
            | "DaemonSet"
            | "Job" => self.spec().and_then(|spec| {
                from_template(
                    spec.template(),
                    "/spec/template/spec",
                    "/spec/template/metadata",
                )
            }),
            "CronJob" => self
                .spec()
                .and_then(|spec| spec.job_template())
                .and_then(|job| job.spec())
                .and_then(|job| {
                    from_template(
                        job.template(),
                        "/spec/jobTemplate/spec/template/spec",
                        "/spec/jobTemplate/spec/template/metadata",
                    )
                }),
            _ => None,
        };
        found.into_iter().collect()
    }

    /// Runs `check` on every container, init container and ephemeral
    /// container of every pod spec in the object (with its pod) and collects
    /// what it returns (an `Option<Violation>` or a `Vec<Violation>`).
    pub fn check_containers<F, I>(self, mut check: F) -> Vec<Violation>
    where
        F: FnMut(&PodSpecRef<'a>, &ContainerRef<'a>) -> I,
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

impl<'a> PodSpecRef<'a> {
    /// Every container of the pod: `containers`, then `initContainers`, then
    /// `ephemeralContainers`, each with where it is.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + use<'a> {
        let pod_pointer = self.pointer;
        let spec = self.spec;
        [
            (ContainerKind::Container, spec.containers()),
            (ContainerKind::Init, spec.init_containers()),
            (ContainerKind::Ephemeral, spec.ephemeral_containers()),
        ]
        .into_iter()
        .flat_map(move |(kind, list)| {
            list.enumerate()
                .map(move |(index, container)| ContainerRef {
                    kind,
                    index,
                    pod_pointer,
                    container,
                })
        })
    }

    /// JSON Pointer of a field of the pod spec, for example `field("hostPID")`.
    pub fn field(&self, name: &str) -> String {
        [self.pointer, "/", name].concat()
    }

    /// Whether the pod declares `spec.os.name: windows`; the Linux-only
    /// controls of the Pod Security Standards exempt such pods.
    pub fn is_windows(&self) -> bool {
        self.spec.os().is_some_and(|os| os.name() == "windows")
    }

    /// Whether the pod runs in a user namespace (`spec.hostUsers: false`),
    /// which relaxes the Running as Non-root, Running as Non-root user and
    /// (Baseline) /proc Mount Type controls since policy version v1.35.
    pub fn in_user_namespace(&self) -> bool {
        self.spec.host_users() == Some(false)
    }

    /// The pod-level `securityContext`, if any.
    pub fn security_context(&self) -> Option<PodSecurityContext<'a>> {
        self.spec.security_context()
    }
}

impl<'a> ContainerRef<'a> {
    /// JSON Pointer of the container, for example
    /// `/spec/template/spec/containers/0`.
    pub fn pointer(&self) -> String {
        let mut index = [0u8; 20];
        let index = crate::decimal(self.index as u64, &mut index);
        [self.pod_pointer, "/", self.kind.field(), "/", index].concat()
    }

    /// JSON Pointer of a field of the container, for example
    /// `field("securityContext/privileged")`.
    pub fn field(&self, path: &str) -> String {
        let mut index = [0u8; 20];
        let index = crate::decimal(self.index as u64, &mut index);
        [
            self.pod_pointer,
            "/",
            self.kind.field(),
            "/",
            index,
            "/",
            path,
        ]
        .concat()
    }

    /// The container as messages name it: `container "app"`,
    /// `init container "setup"`, `ephemeral container "debug"`.
    pub fn describe(&self) -> String {
        [self.kind.noun(), " \"", self.container.name(), "\""].concat()
    }

    /// The container's `securityContext`, if any.
    pub fn security_context(&self) -> Option<SecurityContext<'a>> {
        self.container.security_context()
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
