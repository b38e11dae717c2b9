//! Ingresses must terminate TLS: `spec.tls` must have at least one entry, and
//! every `spec.rules[*].host` must be listed in the `hosts` of some entry
//! (an entry without `hosts` covers only the default host, a rule without a
//! host).
//! Source: <https://kubernetes.io/docs/concepts/services-networking/ingress/#tls>.
#![deny(unsafe_code)]

use serde::Deserialize;
use wasm_validate_sdk::{NoSettings, Request, Response, export_policy, violation};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ingress {
    spec: IngressSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IngressSpec {
    tls: Vec<Tls>,
    rules: Vec<Rule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Tls {
    hosts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Rule {
    host: Option<String>,
}

fn evaluate(request: &Request<NoSettings, Ingress>) -> Response {
    let spec = &request.object.spec;
    if spec.tls.is_empty() {
        return Response::from_violations(vec![violation(
            "Ingress must terminate TLS: spec.tls is not set",
            "/spec/tls",
        )]);
    }
    let violations = spec
        .rules
        .iter()
        .enumerate()
        .filter_map(|(index, rule)| {
            let host = rule.host.as_deref().filter(|h| !h.is_empty())?;
            let covered = spec
                .tls
                .iter()
                .any(|tls| tls.hosts.iter().any(|h| h == host));
            (!covered).then(|| {
                violation(
                    format!(
                        "Ingress must terminate TLS for host \"{host}\": no spec.tls entry lists it"
                    ),
                    format!("/spec/rules/{index}/host"),
                )
            })
        })
        .collect();
    Response::from_violations(violations)
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
