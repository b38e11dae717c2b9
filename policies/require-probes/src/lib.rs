//! Every container (not init or ephemeral containers) of a long-running
//! workload (Pod, PodTemplate, Deployment, ReplicaSet, ReplicationController,
//! StatefulSet, DaemonSet) must define the probes in the settings (default
//! `livenessProbe` and `readinessProbe`).
//! Source: <https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{ContainerKind, Object, Request, Response, export_policy, violation};

/// Settings: `{"probes": ["livenessProbe", "readinessProbe"]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "default_probes")]
    probes: Vec<String>,
}

fn default_probes() -> Vec<String> {
    vec!["livenessProbe".to_owned(), "readinessProbe".to_owned()]
}

fn evaluate(request: &Request<Settings, Object>) -> Response {
    let mut violations = Vec::new();
    for pod in request.object.pod_specs() {
        for c in pod
            .containers()
            .filter(|c| c.kind == ContainerKind::Container)
        {
            for probe in &request.settings.probes {
                let present = match probe.as_str() {
                    "livenessProbe" => c.container.liveness_probe().is_some(),
                    "readinessProbe" => c.container.readiness_probe().is_some(),
                    "startupProbe" => c.container.startup_probe().is_some(),
                    other => {
                        return Response::error(format!("unknown probe {other:?} in settings"));
                    }
                };
                if !present {
                    violations.push(violation(
                        [&c.describe(), " must define a ", probe].concat(),
                        c.field(probe),
                    ));
                }
            }
        }
    }
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
