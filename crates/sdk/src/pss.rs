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
    let mut violations = Vec::new();
    for c in pod.containers() {
        let Some(proc_mount) = c.security_context().and_then(|sc| sc.proc_mount.as_deref()) else {
            continue;
        };
        if proc_mount != "Default" {
            violations.push(violation(
                format!(
                    "the default /proc masks must be used: {} must not set securityContext.procMount to \"{proc_mount}\"",
                    c.describe()
                ),
                format!("{}/securityContext/procMount", c.pointer),
            ));
        }
    }
    violations
}
