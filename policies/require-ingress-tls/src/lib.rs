//! Ingresses must terminate TLS: `spec.tls` must have at least one entry, and
//! every `spec.rules[*].host` must be listed in the `hosts` of some entry
//! (an entry without `hosts` covers only the default host, a rule without a
//! host).
//! Source: <https://kubernetes.io/docs/concepts/services-networking/ingress/#tls>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    let spec = request.object.value().get("spec");
    let tls = spec.and_then(|spec| spec.get("tls"));
    if tls.is_none_or(|tls| tls.elements().next().is_none()) {
        return Response::from_violations(vec![violation(
            "Ingress must terminate TLS: spec.tls is not set",
            "/spec/tls",
        )]);
    }
    let violations = spec
        .and_then(|spec| spec.get("rules"))
        .into_iter()
        .flat_map(|rules| rules.elements())
        .enumerate()
        .filter_map(|(index, rule)| {
            let host = rule.str_field("host").filter(|h| !h.is_empty())?;
            let covered = tls.into_iter().flat_map(|tls| tls.elements()).any(|entry| {
                entry
                    .strings_field("hosts")
                    .is_some_and(|hosts| hosts.contains(host))
            });
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
