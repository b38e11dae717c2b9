//! Reads the resources of a live cluster, for `kubectl wasm-validate`
//! without `-f`, through the `kube` crate.
//!
//! - Credentials are found as kubectl finds them: `--kubeconfig`, else
//!   `KUBECONFIG` (files merged), else `~/.kube/config`, else the in-cluster
//!   service account; `--context` picks the context.
//! - Which resources are listed follows from the policies' rules (GVKs),
//!   resolved through API discovery; kinds the server does not serve are
//!   skipped with a note.
//! - Lists are paginated (`limit`/`continue`) and handed over one page at a
//!   time. A client thread fetches the next page while the caller checks
//!   the current one: one request in flight, at most [`PAGES_AHEAD`] pages
//!   waiting, so memory stays bounded by the page size whatever the
//!   cluster's size.
//! - A 403 on one resource type is recorded and the audit goes on with the
//!   others; an unreachable server or refused credentials (401) stop it with
//!   a clear error.
//! - For the schema stage ([`ClusterOptions::definitions`]), the server's
//!   version (`/version`) and its CustomResourceDefinitions are read first,
//!   before any page, and handed over as [`Read::Definitions`].
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Discovery, Scope, verbs};
use wasm_validate_abi::Rule;
use wasm_validate_manifest::{Resource, Source};

/// The input name given to resources read from a cluster.
pub const CLUSTER_INPUT: &str = "cluster";

/// How many fetched pages may wait for the caller while the next request is
/// in flight.
pub const PAGES_AHEAD: usize = 2;

/// What [`audit`] hands its caller, in order: the definitions first (only
/// with [`ClusterOptions::definitions`]), then the pages.
#[derive(Debug)]
pub enum Read {
    /// The server's version and CRDs, before any page.
    Definitions(Definitions),
    /// A page of resources to check.
    Page(Page),
}

/// What the schema stage needs from the cluster, read before the
/// resources.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// The server's `gitVersion` from `/version` (`v1.35.2`, or with a
    /// vendor suffix such as `v1.35.2-gke.100`); `None` if it could not be
    /// read.
    pub server_version: Option<String>,
    /// Every CustomResourceDefinition the server holds
    /// (`apiextensions.k8s.io/v1` objects, `apiVersion` and `kind` set),
    /// read page by page regardless of `-n` and `-l`.
    pub crds: Vec<serde_json::Value>,
    /// Why the CRDs (or the version) could not be read, when they could not
    /// (a 403 on `customresourcedefinitions`, ...); the audit goes on.
    pub problems: Vec<String>,
}

/// One page of a list, as handed to the caller of [`audit`].
#[derive(Debug)]
pub struct Page {
    /// The resource type listed, as `resource.group` (`deployments.apps`,
    /// `pods` for the core group).
    pub resource_type: String,
    /// The page's resources, with `apiVersion` and `kind` set, source file
    /// [`CLUSTER_INPUT`] and document = running number over the audit.
    pub resources: Vec<Resource>,
}

/// Where and what to read (kubectl's flags).
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n/--namespace` (default: the context's namespace, else `default`).
    pub namespace: Option<String>,
    /// `-A/--all-namespaces`.
    pub all_namespaces: bool,
    /// `-l/--selector`, a label selector passed to the server.
    pub selector: Option<String>,
    /// `--request-timeout`: for each request (connect, read, write).
    pub request_timeout: Option<Duration>,
    /// Items per list request (`limit`).
    pub page_size: u32,
    /// Read the server's version and its CRDs before the resources (the
    /// schema stage's definitions); needs `list` on
    /// `customresourcedefinitions.apiextensions.k8s.io`.
    pub definitions: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            kubeconfig: None,
            context: None,
            namespace: None,
            all_namespaces: false,
            selector: None,
            request_timeout: None,
            page_size: 500,
            definitions: false,
        }
    }
}

/// Why an audit could not be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

/// What an audit read, besides the resources handed to the page callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditOutcome {
    /// The server, as `https://host:port`.
    pub server: String,
    /// The namespace listed (`None` with `--all-namespaces`).
    pub namespace: Option<String>,
    /// Resource types listed, as `resource.group` (`deployments.apps`).
    pub listed: Vec<String>,
    /// Kinds the policies name that the server does not serve.
    pub not_served: Vec<String>,
    /// Resource types that could not be read, with why (a 403, ...).
    pub unreadable: Vec<String>,
    /// Resources read.
    pub resources: usize,
}

async fn client_config(options: &ClusterOptions) -> Result<kube::Config, ClusterError> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = if let Some(path) = &options.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|e| ClusterError(format!("kubeconfig {}: {e}", path.display())))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
            .await
            .map_err(|e| ClusterError(format!("kubeconfig {}: {e}", path.display())))?
    } else {
        let has_file = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
            || std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".kube/config"))
                .is_some_and(|p| p.is_file());
        if has_file {
            kube::Config::from_kubeconfig(&kube_options)
                .await
                .map_err(|e| ClusterError(format!("kubeconfig: {e}")))?
        } else {
            kube::Config::incluster().map_err(|e| {
                ClusterError(format!(
                    "no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster: {e}"
                ))
            })?
        }
    };
    if let Some(timeout) = options.request_timeout {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
    }
    Ok(config)
}

/// A message for a failed request to `server`.
fn describe(server: &str, what: &str, error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 401 => format!(
            "{server}: the credentials were refused (401 Unauthorized) while {what}: is the token expired? ({})",
            status.message
        ),
        kube::Error::Api(status) => format!(
            "{server}: {what}: {} {} ({})",
            status.code, status.reason, status.message
        ),
        other => format!("cannot reach the API server at {server} while {what}: {other}"),
    }
}

/// The `(group, kind)` pairs the rules name explicitly (no `*`).
fn named_kinds(rules: &[Rule]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for rule in rules {
        for group in rule.api_groups.iter().filter(|g| *g != "*") {
            for kind in rule.kinds.iter().filter(|k| *k != "*") {
                let pair = (group.clone(), kind.clone());
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
    }
    out
}

/// Lists every resource the `rules` select, page by page, calling `on_read`
/// with each [`Read::Page`] in order (types in discovery order, each type's
/// items in the server's order), after one [`Read::Definitions`] when
/// [`ClusterOptions::definitions`] is set. Pages are fetched by a client
/// thread of its own tokio runtime while `on_read` runs on the calling
/// thread.
///
/// Errors: a kubeconfig that cannot be read, an unreachable server or
/// refused credentials. A 403 on one type is not an error: it is listed in
/// [`AuditOutcome::unreadable`] and the other types are read.
pub fn audit(
    options: &ClusterOptions,
    rules: &[Rule],
    on_read: &mut dyn FnMut(Read),
) -> Result<AuditOutcome, ClusterError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("wasm-validate-client")
        .enable_all()
        .build()
        .map_err(|e| ClusterError(format!("cannot start the client: {e}")))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Read>(PAGES_AHEAD);
    let fetch = runtime.spawn(audit_async(options.clone(), rules.to_vec(), sender));
    while let Some(read) = receiver.blocking_recv() {
        on_read(read);
    }
    runtime
        .block_on(fetch)
        .map_err(|e| ClusterError(format!("the client stopped: {e}")))?
}

async fn audit_async(
    options: ClusterOptions,
    rules: Vec<Rule>,
    pages: tokio::sync::mpsc::Sender<Read>,
) -> Result<AuditOutcome, ClusterError> {
    let config = client_config(&options).await?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let namespace = if options.all_namespaces {
        None
    } else {
        Some(
            options
                .namespace
                .clone()
                .unwrap_or_else(|| config.default_namespace.clone()),
        )
    };
    let client = kube::Client::try_from(config)
        .map_err(|e| ClusterError(format!("{server}: cannot build a client: {e}")))?;
    if options.definitions {
        let definitions = read_definitions(&client, &server, options.page_size).await?;
        if pages.send(Read::Definitions(definitions)).await.is_err() {
            return Ok(AuditOutcome::default());
        }
    }
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| ClusterError(describe(&server, "discovering the API", &e)))?;
    let mut outcome = AuditOutcome {
        server: server.clone(),
        namespace: namespace.clone(),
        ..AuditOutcome::default()
    };
    let mut targets: Vec<(ApiResource, bool)> = Vec::new();
    for group in discovery.groups_alphabetical() {
        for (resource, capabilities) in group.recommended_resources() {
            let wanted = rules
                .iter()
                .any(|r| r.matches(&resource.api_version, &resource.kind));
            if wanted && capabilities.supports_operation(verbs::LIST) {
                targets.push((resource, capabilities.scope == Scope::Namespaced));
            }
        }
    }
    for (group, kind) in named_kinds(&rules) {
        let served = targets
            .iter()
            .any(|(r, _)| r.group == group && r.kind == kind);
        if !served {
            let group = if group.is_empty() { "core" } else { &group };
            outcome
                .not_served
                .push(format!("{kind} ({group}): not served by {server}, skipped"));
        }
    }
    let source_file: Arc<str> = Arc::from(CLUSTER_INPUT);
    let mut document = 0;
    for (resource, namespaced) in &targets {
        let api: Api<DynamicObject> = match (&namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, resource),
            _ => Api::all_with(client.clone(), resource),
        };
        let name = if resource.group.is_empty() {
            resource.plural.clone()
        } else {
            format!("{}.{}", resource.plural, resource.group)
        };
        let mut token: Option<String> = None;
        loop {
            let selector = options.selector.as_deref();
            let page = match list_page(&api, options.page_size, selector, token.as_deref()).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    outcome
                        .unreadable
                        .push(format!("{name}: forbidden (403): {}", status.message));
                    break;
                }
                Err(error) => {
                    return Err(ClusterError(describe(
                        &server,
                        &format!("listing {name}"),
                        &error,
                    )));
                }
            };
            let items: Vec<Resource> = page
                .items
                .into_iter()
                .map(|item| {
                    document += 1;
                    let mut object = serde_json::to_value(&item).expect("an object encodes");
                    object["apiVersion"] = resource.api_version.clone().into();
                    object["kind"] = resource.kind.clone().into();
                    Resource {
                        object,
                        source: Source {
                            file: source_file.clone(),
                            document,
                            line: 1,
                            item: None,
                            helm_source: None,
                        },
                        modified: false,
                    }
                })
                .collect();
            outcome.resources += items.len();
            let page_of = Page {
                resource_type: name.clone(),
                resources: items,
            };
            if pages.send(Read::Page(page_of)).await.is_err() {
                // The caller is gone: nothing more to read.
                return Ok(outcome);
            }
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        outcome.listed.push(name);
    }
    Ok(outcome)
}

/// One list request: at most `limit` items, after `token`.
async fn list_page(
    api: &Api<DynamicObject>,
    limit: u32,
    selector: Option<&str>,
    token: Option<&str>,
) -> Result<kube::core::ObjectList<DynamicObject>, kube::Error> {
    let mut params = ListParams::default().limit(limit.max(1));
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    if let Some(token) = token {
        params = params.continue_token(token);
    }
    api.list(&params).await
}

/// The server's version and every CRD it holds. A CRD list the server
/// refuses (403) or does not serve (404) is a problem noted, not an error;
/// an unreachable server or refused credentials are errors.
async fn read_definitions(
    client: &kube::Client,
    server: &str,
    page_size: u32,
) -> Result<Definitions, ClusterError> {
    let mut definitions = Definitions::default();
    match client.apiserver_version().await {
        Ok(info) => definitions.server_version = Some(info.git_version),
        Err(kube::Error::Api(status)) if status.code != 401 => definitions.problems.push(format!(
            "{server}/version: {} ({})",
            status.code, status.message
        )),
        Err(error) => return Err(ClusterError(describe(server, "reading /version", &error))),
    }
    let resource = ApiResource {
        group: "apiextensions.k8s.io".to_owned(),
        version: "v1".to_owned(),
        api_version: "apiextensions.k8s.io/v1".to_owned(),
        kind: "CustomResourceDefinition".to_owned(),
        plural: "customresourcedefinitions".to_owned(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut token: Option<String> = None;
    loop {
        let page = match list_page(&api, page_size, None, token.as_deref()).await {
            Ok(page) => page,
            Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404) => {
                definitions.problems.push(format!(
                    "customresourcedefinitions.apiextensions.k8s.io: {} {} ({}): custom resources have no schema",
                    status.code, status.reason, status.message
                ));
                break;
            }
            Err(error) => {
                return Err(ClusterError(describe(
                    server,
                    "listing customresourcedefinitions.apiextensions.k8s.io",
                    &error,
                )));
            }
        };
        for item in page.items {
            let mut object = serde_json::to_value(&item).expect("an object encodes");
            object["apiVersion"] = resource.api_version.clone().into();
            object["kind"] = resource.kind.clone().into();
            definitions.crds.push(object);
        }
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(definitions)
}
