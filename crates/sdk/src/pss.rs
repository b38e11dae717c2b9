//! Helpers shared by the Pod Security Standards policies (policy version
//! v1.37 of pod-security-admission), where two controls apply the same test
//! at different levels. Source:
//! <https://kubernetes.io/docs/concepts/security/pod-security-standards/>.

use crate::{PodSpecRef, Violation, violation};

/// Whether a `seccompProfile.type` is one the standard allows when set:
/// `RuntimeDefault` or `Localhost`.
pub fn seccomp_type_allowed(profile_type: &str) -> bool {
    matches!(profile_type, "RuntimeDefault" | "Localhost")
}

/// "/proc Mount Type": one violation per container, init container or
/// ephemeral container whose `securityContext.procMount` is set to anything
/// but `Default`.
pub fn non_default_proc_mounts(pod: &PodSpecRef<'_>) -> Vec<Violation> {
    pod.containers()
        .filter_map(|c| {
            let proc_mount = c.security_context()?.proc_mount()?;
            (proc_mount != "Default").then(|| {
                violation(
                    format!(
                        "the default /proc masks must be used: {} must not set securityContext.procMount to \"{proc_mount}\"",
                        c.describe()
                    ),
                    c.field("securityContext/procMount"),
                )
            })
        })
        .collect()
}
