//! Every container, init container and ephemeral container must set
//! `securityContext.readOnlyRootFilesystem: true`, so that a compromised
//! process cannot change the image's files.
//! Source: <https://kubernetes.io/docs/tasks/configure-pod-container/security-context/>.
#![deny(unsafe_code)]

use wasm_validate_sdk::{NoSettings, Object, Request, Response, export_policy, violation};

fn evaluate(request: &Request<NoSettings, Object>) -> Response {
    Response::from_violations(request.object.check_containers(|_, c| {
        let read_only = c
            .security_context()
            .and_then(|sc| sc.read_only_root_filesystem());
        (read_only != Some(true)).then(|| {
            violation(
                [
                    &c.describe(),
                    " must set securityContext.readOnlyRootFilesystem=true",
                ]
                .concat(),
                c.field("securityContext/readOnlyRootFilesystem"),
            )
        })
    }))
}

export_policy!(
    metadata = include_str!("../metadata.json"),
    evaluate = evaluate
);
