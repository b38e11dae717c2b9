//! Typed, lazy views of Kubernetes objects for policies.
//!
//! Each view is a [`ValueRef`] into the request's tape (see [`crate::view`]):
//! an accessor such as [`SecurityContext::privileged`] reads its field when
//! it is called, and nothing else is decoded. [`Object::pod_specs`] finds the
//! pod spec of every pod-spec-bearing kind (Pod, PodTemplate, Deployment,
//! ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job, CronJob)
//! with its JSON Pointer, and [`PodSpecRef::containers`] visits containers,
//! initContainers and ephemeralContainers with theirs (both in `pods.rs`).
//!
//! Field names follow the Kubernetes API (`core/v1`): the accessor of
//! `allowPrivilegeEscalation` is `allow_privilege_escalation()`. An absent or
//! `null` field reads as `None` (or `""`, or an empty list, as documented
//! per accessor); a field of the wrong type reads as absent and makes the
//! evaluation an error response (see [`crate::view`]).

use crate::view::{List, StringMap, Strings, ValueRef, View};

/// Declares a view type: a `Copy` wrapper over the object value it reads.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a>(ValueRef<'a>);

        impl<'a> View<'a> for $name<'a> {
            fn from_object(value: ValueRef<'a>) -> Self {
                $name(value)
            }
        }

        impl<'a> $name<'a> {
            /// The object value this view reads, for fields it has no
            /// accessor for.
            pub fn value(self) -> ValueRef<'a> {
                self.0
            }
        }
    };
}

/// Declares a view's field accessors: `name -> Type = reader("key");`, where
/// `reader` is one of [`ValueRef`]'s `*_field` methods.
macro_rules! fields {
    ($view:ident { $( $(#[$doc:meta])* $method:ident -> $ty:ty = $read:ident($key:literal); )* }) => {
        impl<'a> $view<'a> {
            $(
                $(#[$doc])*
                pub fn $method(self) -> $ty {
                    self.0.$read($key)
                }
            )*
        }
    };
}

view!(
    /// A Kubernetes object as a policy sees it (the request's `object`).
    Object
);

impl<'a> Object<'a> {
    /// The view of the request's object; `root` must be an object.
    pub fn new(root: ValueRef<'a>) -> Self {
        Object(root)
    }

    /// `metadata` (empty when absent).
    pub fn metadata(self) -> ObjectMeta<'a> {
        ObjectMeta(Some(self.0))
    }
}

fields!(Object {
    /// `apiVersion`, for example `apps/v1` (`""` when absent).
    api_version -> &'a str = text_field("apiVersion");
    /// `kind`, for example `Deployment` (`""` when absent).
    kind -> &'a str = text_field("kind");
    /// `spec`: a pod spec for Pods, a workload spec (with `template` or
    /// `jobTemplate`) for workload kinds; [`PodSpec`] reads both.
    spec -> Option<PodSpec<'a>> = view_field("spec");
    /// `template` (PodTemplate objects only).
    template -> Option<PodTemplateSpec<'a>> = view_field("template");
});

/// `metadata` of an object or a pod template; every accessor reads as
/// absent when the metadata itself is absent. It holds the object that
/// owns the metadata and finds `metadata` in it only when read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObjectMeta<'a>(Option<ValueRef<'a>>);

impl<'a> ObjectMeta<'a> {
    fn object(self) -> Option<ValueRef<'a>> {
        self.0?.get("metadata")?.as_object()
    }

    /// Whether the object has a `metadata` object.
    pub fn is_present(self) -> bool {
        self.object().is_some()
    }

    /// `metadata.name`.
    pub fn name(self) -> Option<&'a str> {
        self.object()?.str_field("name")
    }

    /// `metadata.namespace`.
    pub fn namespace(self) -> Option<&'a str> {
        self.object()?.str_field("namespace")
    }

    /// `metadata.labels` (empty when absent).
    pub fn labels(self) -> StringMap<'a> {
        self.object()
            .map(|m| m.string_map_field("labels"))
            .unwrap_or_default()
    }

    /// `metadata.annotations` (empty when absent).
    pub fn annotations(self) -> StringMap<'a> {
        self.object()
            .map(|m| m.string_map_field("annotations"))
            .unwrap_or_default()
    }
}

view!(
    /// A pod template: `metadata` and `spec`.
    PodTemplateSpec
);

impl<'a> PodTemplateSpec<'a> {
    /// `template.metadata` (empty when absent).
    pub fn metadata(self) -> ObjectMeta<'a> {
        ObjectMeta(Some(self.0))
    }
}

fields!(PodTemplateSpec {
    /// `template.spec`.
    spec -> Option<PodSpec<'a>> = view_field("spec");
});

view!(
    /// A CronJob's `jobTemplate`.
    JobTemplateSpec
);

fields!(JobTemplateSpec {
    /// `jobTemplate.spec`: a Job spec, whose `template` holds the pod.
    spec -> Option<PodSpec<'a>> = view_field("spec");
});

view!(
    /// A pod spec (`core/v1 PodSpec`), also read as a workload spec for the
    /// fields that lead to one (`template`, `jobTemplate`, `replicas`).
    PodSpec
);

fields!(PodSpec {
    /// `containers`.
    containers -> List<'a, Container<'a>> = list_field("containers");
    /// `initContainers`.
    init_containers -> List<'a, Container<'a>> = list_field("initContainers");
    /// `ephemeralContainers`.
    ephemeral_containers -> List<'a, Container<'a>> = list_field("ephemeralContainers");
    /// `hostNetwork`.
    host_network -> Option<bool> = bool_field("hostNetwork");
    /// `hostPID`.
    host_pid -> Option<bool> = bool_field("hostPID");
    /// `hostIPC`.
    host_ipc -> Option<bool> = bool_field("hostIPC");
    /// `hostUsers`: `false` runs the pod in a user namespace.
    host_users -> Option<bool> = bool_field("hostUsers");
    /// `securityContext` (pod level).
    security_context -> Option<PodSecurityContext<'a>> = view_field("securityContext");
    /// `volumes`.
    volumes -> List<'a, Volume<'a>> = list_field("volumes");
    /// `os`.
    os -> Option<PodOs<'a>> = view_field("os");
    /// `serviceAccountName`.
    service_account_name -> Option<&'a str> = str_field("serviceAccountName");
    /// `serviceAccount` (deprecated alias of `serviceAccountName`).
    service_account -> Option<&'a str> = str_field("serviceAccount");
    /// `automountServiceAccountToken`.
    automount_service_account_token -> Option<bool> = bool_field("automountServiceAccountToken");
    /// Workload kinds: `spec.replicas`.
    replicas -> Option<i64> = i64_field("replicas");
    /// Workload kinds: `spec.template`.
    template -> Option<PodTemplateSpec<'a>> = view_field("template");
    /// CronJob: `spec.jobTemplate`.
    job_template -> Option<JobTemplateSpec<'a>> = view_field("jobTemplate");
});

view!(
    /// `spec.os`.
    PodOs
);

fields!(PodOs {
    /// `name`: `linux` or `windows` (`""` when absent).
    name -> &'a str = text_field("name");
});

view!(
    /// A volume: its `name` and its source, the other keys (for example
    /// `{"hostPath": {...}}`), so that any volume type, even one newer than
    /// this SDK, is seen.
    Volume
);

impl<'a> Volume<'a> {
    /// `name` (`""` when absent).
    pub fn name(self) -> &'a str {
        self.0.text_field("name")
    }

    /// The source `key` (for example `hostPath`), unless absent or `null`.
    pub fn source(self, key: &str) -> Option<ValueRef<'a>> {
        if key == "name" {
            return None;
        }
        self.0.get(key)
    }

    /// Every source: the keys other than `name` whose value is not `null`,
    /// sorted by key (so that messages come in a stable order).
    pub fn sources(self) -> Vec<(&'a str, ValueRef<'a>)> {
        let mut sources: Vec<_> = self
            .0
            .members()
            .filter(|(key, value)| *key != "name" && !value.is_null())
            .collect();
        sources.sort_by(|a, b| a.0.cmp(b.0));
        sources
    }
}

view!(
    /// A `seccompProfile` or an `appArmorProfile`: both have a `type` and a
    /// `localhostProfile`.
    SecurityProfile
);

fields!(SecurityProfile {
    /// `type`: `RuntimeDefault`, `Localhost` or `Unconfined` (`""` when absent).
    profile_type -> &'a str = text_field("type");
    /// `localhostProfile`.
    localhost_profile -> Option<&'a str> = str_field("localhostProfile");
});

/// `seccompProfile`.
pub type SeccompProfile<'a> = SecurityProfile<'a>;

/// `appArmorProfile`.
pub type AppArmorProfile<'a> = SecurityProfile<'a>;

view!(
    /// `seLinuxOptions`.
    SeLinuxOptions
);

fields!(SeLinuxOptions {
    /// `user`.
    user -> Option<&'a str> = str_field("user");
    /// `role`.
    role -> Option<&'a str> = str_field("role");
    /// `type`.
    selinux_type -> Option<&'a str> = str_field("type");
    /// `level`.
    level -> Option<&'a str> = str_field("level");
});

view!(
    /// `windowsOptions`.
    WindowsOptions
);

fields!(WindowsOptions {
    /// `hostProcess`.
    host_process -> Option<bool> = bool_field("hostProcess");
});

view!(
    /// One entry of `securityContext.sysctls`.
    Sysctl
);

fields!(Sysctl {
    /// `name`, for example `net.ipv4.tcp_syncookies` (`""` when absent).
    name -> &'a str = text_field("name");
});

view!(
    /// Pod-level `securityContext`.
    PodSecurityContext
);

fields!(PodSecurityContext {
    /// `runAsNonRoot`.
    run_as_non_root -> Option<bool> = bool_field("runAsNonRoot");
    /// `runAsUser`.
    run_as_user -> Option<i64> = i64_field("runAsUser");
    /// `runAsGroup`.
    run_as_group -> Option<i64> = i64_field("runAsGroup");
    /// `fsGroup`.
    fs_group -> Option<i64> = i64_field("fsGroup");
    /// `seccompProfile`.
    seccomp_profile -> Option<SeccompProfile<'a>> = view_field("seccompProfile");
    /// `appArmorProfile`.
    app_armor_profile -> Option<AppArmorProfile<'a>> = view_field("appArmorProfile");
    /// `seLinuxOptions`.
    se_linux_options -> Option<SeLinuxOptions<'a>> = view_field("seLinuxOptions");
    /// `windowsOptions`.
    windows_options -> Option<WindowsOptions<'a>> = view_field("windowsOptions");
    /// `sysctls`.
    sysctls -> List<'a, Sysctl<'a>> = list_field("sysctls");
});

view!(
    /// A container, init container or ephemeral container.
    Container
);

fields!(Container {
    /// `name` (`""` when absent).
    name -> &'a str = text_field("name");
    /// `image`.
    image -> Option<&'a str> = str_field("image");
    /// `imagePullPolicy`.
    image_pull_policy -> Option<&'a str> = str_field("imagePullPolicy");
    /// `securityContext`.
    security_context -> Option<SecurityContext<'a>> = view_field("securityContext");
    /// `resources`.
    resources -> Option<ResourceRequirements<'a>> = view_field("resources");
    /// `ports`.
    ports -> List<'a, ContainerPort<'a>> = list_field("ports");
    /// `livenessProbe`.
    liveness_probe -> Option<Handler<'a>> = view_field("livenessProbe");
    /// `readinessProbe`.
    readiness_probe -> Option<Handler<'a>> = view_field("readinessProbe");
    /// `startupProbe`.
    startup_probe -> Option<Handler<'a>> = view_field("startupProbe");
    /// `lifecycle`.
    lifecycle -> Option<Lifecycle<'a>> = view_field("lifecycle");
    /// `restartPolicy` (`Always` makes an init container a sidecar).
    restart_policy -> Option<&'a str> = str_field("restartPolicy");
});

view!(
    /// One entry of a container's `ports`.
    ContainerPort
);

fields!(ContainerPort {
    /// `containerPort`.
    container_port -> Option<i64> = i64_field("containerPort");
    /// `hostPort`.
    host_port -> Option<i64> = i64_field("hostPort");
});

view!(
    /// A probe or a lifecycle handler: the actions that can name a host.
    Handler
);

fields!(Handler {
    /// `httpGet`.
    http_get -> Option<HostAction<'a>> = view_field("httpGet");
    /// `tcpSocket`.
    tcp_socket -> Option<HostAction<'a>> = view_field("tcpSocket");
});

view!(
    /// An `httpGet` or `tcpSocket` action.
    HostAction
);

fields!(HostAction {
    /// `host`; empty or absent means the pod's IP.
    host -> Option<&'a str> = str_field("host");
});

view!(
    /// A container's `lifecycle`.
    Lifecycle
);

fields!(Lifecycle {
    /// `postStart`.
    post_start -> Option<Handler<'a>> = view_field("postStart");
    /// `preStop`.
    pre_stop -> Option<Handler<'a>> = view_field("preStop");
});

view!(
    /// Container-level `securityContext`.
    SecurityContext
);

fields!(SecurityContext {
    /// `privileged`.
    privileged -> Option<bool> = bool_field("privileged");
    /// `runAsNonRoot`.
    run_as_non_root -> Option<bool> = bool_field("runAsNonRoot");
    /// `runAsUser`.
    run_as_user -> Option<i64> = i64_field("runAsUser");
    /// `runAsGroup`.
    run_as_group -> Option<i64> = i64_field("runAsGroup");
    /// `allowPrivilegeEscalation`.
    allow_privilege_escalation -> Option<bool> = bool_field("allowPrivilegeEscalation");
    /// `readOnlyRootFilesystem`.
    read_only_root_filesystem -> Option<bool> = bool_field("readOnlyRootFilesystem");
    /// `capabilities`.
    capabilities -> Option<Capabilities<'a>> = view_field("capabilities");
    /// `procMount`.
    proc_mount -> Option<&'a str> = str_field("procMount");
    /// `seccompProfile`.
    seccomp_profile -> Option<SeccompProfile<'a>> = view_field("seccompProfile");
    /// `appArmorProfile`.
    app_armor_profile -> Option<AppArmorProfile<'a>> = view_field("appArmorProfile");
    /// `seLinuxOptions`.
    se_linux_options -> Option<SeLinuxOptions<'a>> = view_field("seLinuxOptions");
    /// `windowsOptions`.
    windows_options -> Option<WindowsOptions<'a>> = view_field("windowsOptions");
});

view!(
    /// `securityContext.capabilities`.
    Capabilities
);

fields!(Capabilities {
    /// `add`.
    add -> Option<Strings<'a>> = strings_field("add");
    /// `drop`.
    drop -> Option<Strings<'a>> = strings_field("drop");
});

view!(
    /// `resources`: quantities stay undecoded (`"500m"`, `1`, `"1Gi"`);
    /// read them with [`ValueRef::get`] or [`ValueRef::contains_key`].
    ResourceRequirements
);

impl<'a> ResourceRequirements<'a> {
    /// `limits`.
    pub fn limits(self) -> Option<ValueRef<'a>> {
        self.0.get("limits")?.as_object()
    }

    /// `requests`.
    pub fn requests(self) -> Option<ValueRef<'a>> {
        self.0.get("requests")?.as_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Document;
    use wasm_validate_abi::tape::{Tape, encode};

    /// Runs `f` on the view of `json`, then returns the document's problem.
    fn with_object<R>(json: &str, f: impl FnOnce(Object<'_>) -> R) -> (R, Option<String>) {
        let bytes = encode(&serde_json::from_str(json).unwrap());
        let document = Document::new(Tape::parse(&bytes).unwrap());
        let result = f(Object::new(document.root()));
        (result, document.problem())
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
            let ((found, pointers, names), problem) = with_object(&json, |object| {
                let specs = object.pod_specs();
                let pointers: Vec<String> = specs[0].containers().map(|c| c.pointer()).collect();
                let names: Vec<&str> = specs[0].containers().map(|c| c.container.name()).collect();
                (specs[0].pointer, pointers, names.join(","))
            });
            assert_eq!(problem, None);
            assert_eq!(found, pointer, "{kind}");
            assert_eq!(
                pointers,
                [
                    format!("{pointer}/containers/0"),
                    format!("{pointer}/initContainers/0"),
                    format!("{pointer}/ephemeralContainers/0"),
                ]
            );
            assert_eq!(names, "a,i,e");
        }
        for kind in [
            "Deployment",
            "ReplicaSet",
            "ReplicationController",
            "StatefulSet",
            "DaemonSet",
            "Job",
        ] {
            let json = format!(r#"{{"kind":"{kind}","spec":{{"template":{{"spec":{pod}}}}}}}"#);
            let (pointer, _) = with_object(&json, |object| object.pod_specs()[0].pointer);
            assert_eq!(pointer, "/spec/template/spec", "{kind}");
        }
    }

    #[test]
    fn other_kinds_have_no_pod_spec() {
        let (specs, _) = with_object(r#"{"kind":"Service","spec":{"ports":[]}}"#, |object| {
            object.pod_specs().len()
        });
        assert_eq!(specs, 0);
    }

    #[test]
    fn fields_read_in_place_and_null_reads_as_absent() {
        let json = r#"{"kind":"Pod","metadata":{"labels":{"app":"web","gone":null}},
            "spec":{"hostPID":true,"hostIPC":null,"securityContext":{"runAsUser":0,
            "sysctls":[{"name":"a"},{"name":"b"}]},
            "volumes":[{"name":"v","secret":{},"hostPath":{"path":"/"},"emptyDir":null}],
            "containers":[{"name":"c","image":"nginx","securityContext":{"privileged":true,
            "capabilities":{"add":["NET_ADMIN","SYS_TIME"],"drop":null}},
            "resources":{"limits":{"cpu":"1"}},"ports":[{"hostPort":80}]}]}}"#;
        let (_, problem) = with_object(json, |object| {
            let labels = object.metadata().labels();
            assert_eq!(labels.get("app"), Some("web"));
            assert_eq!(labels.get("gone"), None);
            assert_eq!(labels.iter().collect::<Vec<_>>(), [("app", "web")]);
            let spec = object.spec().unwrap();
            assert_eq!(spec.host_pid(), Some(true));
            assert_eq!(spec.host_ipc(), None);
            assert_eq!(spec.host_network(), None);
            let sc = spec.security_context().unwrap();
            assert_eq!(sc.run_as_user(), Some(0));
            let sysctls: Vec<&str> = sc.sysctls().map(|s| s.name()).collect();
            assert_eq!(sysctls, ["a", "b"]);
            let volume = spec.volumes().next().unwrap();
            let sources: Vec<&str> = volume.sources().iter().map(|(k, _)| *k).collect();
            assert_eq!(sources, ["hostPath", "secret"]);
            assert!(volume.source("emptyDir").is_none());
            let container = spec.containers().next().unwrap();
            assert_eq!(container.image(), Some("nginx"));
            let csc = container.security_context().unwrap();
            assert_eq!(csc.privileged(), Some(true));
            let caps = csc.capabilities().unwrap();
            let added: Vec<&str> = caps.add().unwrap().iter().collect();
            assert_eq!(added, ["NET_ADMIN", "SYS_TIME"]);
            assert!(caps.drop().is_none());
            let resources = container.resources().unwrap();
            assert!(resources.limits().unwrap().contains_key("cpu"));
            assert!(resources.requests().is_none());
            let ports: Vec<Option<i64>> = container.ports().map(|p| p.host_port()).collect();
            assert_eq!(ports, [Some(80)]);
        });
        assert_eq!(problem, None);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_a_problem_naming_its_pointer() {
        let json = r#"{"kind":"Pod","spec":{"containers":[{"name":"a"},
            {"name":"b","securityContext":{"privileged":"yes"}}]}}"#;
        let (privileged, problem) = with_object(json, |object| {
            object
                .spec()
                .unwrap()
                .containers()
                .map(|c| c.security_context().and_then(|sc| sc.privileged()))
                .collect::<Vec<_>>()
        });
        assert_eq!(privileged, [None, None]);
        assert_eq!(
            problem.as_deref(),
            Some(
                "at \"/spec/containers/1/securityContext/privileged\": expected a boolean, found a string"
            )
        );
        for (json, expected) in [
            (
                r#"{"kind":"Pod","spec":{"containers":{"name":"a"}}}"#,
                "at \"/spec/containers\": expected an array, found an object",
            ),
            (
                r#"{"kind":"Pod","spec":{"containers":[null]}}"#,
                "at \"/spec/containers/0\": expected an object, found null",
            ),
            (
                r#"{"kind":"Pod","spec":{"securityContext":{"runAsUser":1.5}}}"#,
                "at \"/spec/securityContext/runAsUser\": expected an integer, found a number",
            ),
            (
                r#"{"kind":"Pod","metadata":{"labels":{"a~/b":1}}}"#,
                "at \"/metadata/labels/a~0~1b\": expected a string, found a number",
            ),
        ] {
            let (_, problem) = with_object(json, |object| {
                let _ = object.metadata().labels().iter().count();
                for pod in object.pod_specs() {
                    let _ = pod.security_context().map(|sc| sc.run_as_user());
                    let _ = pod.containers().count();
                }
            });
            assert_eq!(problem.as_deref(), Some(expected), "{json}");
        }
    }
}
