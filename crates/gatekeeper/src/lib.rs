//! OPA Gatekeeper's policy formats, turned into the pipeline's policies:
//! the one home of everything Gatekeeper-specific.
//!
//! - [`Template`]: a ConstraintTemplate (its constraint kind, parameters
//!   schema and Rego).
//! - [`Constraint`]: an instance of a template's kind, with `match`,
//!   `parameters` and `enforcementAction`.
//! - [`Library`]: templates and constraints read from files, paired and
//!   checked (each constraint's parameters against its template's schema).
//! - [`Library::policies`]: one [`ConfiguredPolicy`] per constraint. Each
//!   runs the built-in Rego runtime (regorus compiled to Wasm,
//!   `runtimes/rego`) prepared with the template's Rego, the constraint's
//!   parameters and, for templates that read it, `data.inventory`
//!   ([`inventory`]). The host never evaluates Rego itself.
//! - [`suite`]: gator's `Suite` test files (`gator verify`).
//!
//! Gatekeeper's `input`: `{"review": {kind, name, namespace, operation,
//! object, oldObject, userInfo, dryRun}, "parameters": ...}`, built by the
//! runtime from the request; a violation is one result of the template's
//! `violation` rule, its `msg` the message.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};
use wasm_validate_abi::{Metadata, Rule, Severity};
use wasm_validate_engine::{Engine, Policy};
use wasm_validate_manifest::Parsed;
use wasm_validate_pipeline::{ConfiguredPolicy, RunObjects, Selector};

mod constraint;
pub mod inventory;
mod matching;
pub mod suite;
mod template;

pub use constraint::{
    CONSTRAINT_GROUP, Constraint, Enforcement, EnforcementAction, EnforcementPoint, ScopedAction,
};
pub use inventory::inventory;
pub use matching::{KindMatch, Match, MatchSelector, Namespaces, namespaces_of};
pub use template::{TARGET, TEMPLATE_GROUP, Template};

/// Where an object was read: the file, its 1-based document and line, and
/// the parsed file to find the line of a field in.
#[derive(Clone)]
pub struct Location {
    /// The file as the user named it.
    pub file: Arc<str>,
    /// 1-based document in the file.
    pub document: usize,
    /// Index in a `List` document's items.
    pub item: Option<usize>,
    /// 1-based line of the document's start.
    pub line: usize,
    /// The parsed file, for [`Location::line_of`].
    pub parsed: Option<Arc<Parsed>>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: document {}", self.file, self.line, self.document)
    }
}

impl Location {
    /// The line of the field at `pointer` (RFC 6901) in the object, or of
    /// the document's start when it cannot be found.
    pub fn line_of(&self, pointer: &str) -> usize {
        self.parsed
            .as_ref()
            .and_then(|p| p.line_of(self.document, self.item, pointer))
            .unwrap_or(self.line)
    }

    /// This location at the line of `pointer`.
    pub fn at(&self, pointer: &str) -> Location {
        Location {
            line: self.line_of(pointer),
            ..self.clone()
        }
    }
}

/// A Gatekeeper object that cannot be used: `file:line: document N:
/// message`. The CLIs exit 2 on it (bad input).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {message}")]
pub struct GatekeeperError {
    /// Where.
    pub location: Location,
    /// What is wrong.
    pub message: String,
}

impl GatekeeperError {
    /// An error at `location`.
    pub fn new(location: &Location, message: impl Into<String>) -> Self {
        GatekeeperError {
            location: location.clone(),
            message: message.into(),
        }
    }
}

/// Templates and constraints, as read.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// The templates, in reading order.
    pub templates: Vec<Template>,
    /// The constraints, in reading order.
    pub constraints: Vec<Constraint>,
    /// Where [`Library::policies`] enforces them: a `scoped` constraint
    /// takes its action at this point, and is left out where it has none.
    pub point: EnforcementPoint,
}

impl Library {
    /// Adds the Gatekeeper objects of a parsed file; returns how many it
    /// took. Objects of other kinds are left alone.
    pub fn add_parsed(&mut self, parsed: Arc<Parsed>) -> Result<usize, GatekeeperError> {
        let mut taken = 0;
        for resource in &parsed.resources {
            let location = Location {
                file: resource.source.file.clone(),
                document: resource.source.document,
                item: resource.source.item,
                line: resource.source.line,
                parsed: Some(parsed.clone()),
            };
            if Template::is_template(&resource.object) {
                self.templates
                    .push(Template::from_object(&resource.object, location)?);
                taken += 1;
            } else if Constraint::is_constraint(&resource.object) {
                self.constraints
                    .push(Constraint::from_object(&resource.object, location)?);
                taken += 1;
            }
        }
        Ok(taken)
    }

    /// The template that defines `kind`.
    pub fn template_for(&self, kind: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.kind == kind)
    }

    /// Pairs every constraint with its template and checks its parameters.
    /// Errors: a constraint whose kind no template defines; parameters the
    /// template's schema refuses (one error per problem, at the line of
    /// the parameter); two templates for one kind.
    pub fn check(&self) -> Result<(), Vec<GatekeeperError>> {
        let mut errors = Vec::new();
        for (index, template) in self.templates.iter().enumerate() {
            if let Some(first) = self.templates[..index]
                .iter()
                .find(|t| t.kind == template.kind)
            {
                errors.push(GatekeeperError::new(
                    &template.location,
                    format!(
                        "a second ConstraintTemplate for kind {} (the first is at {})",
                        template.kind, first.location
                    ),
                ));
            }
        }
        for constraint in &self.constraints {
            let Some(template) = self.template_for(&constraint.kind) else {
                errors.push(GatekeeperError::new(
                    &constraint.location,
                    format!(
                        "{} {}: no ConstraintTemplate defines the kind {}",
                        constraint.kind, constraint.name, constraint.kind
                    ),
                ));
                continue;
            };
            if let Err(problems) = constraint.check_parameters(template) {
                for (pointer, problem) in problems {
                    errors.push(GatekeeperError::new(
                        &constraint.location.at(&pointer),
                        format!(
                            "{} {}: {pointer}: {problem}",
                            constraint.kind, constraint.name
                        ),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// One policy per constraint enforced at [`Library::point`], in reading
    /// order, each the Rego runtime prepared with its template and
    /// parameters, reported as `Kind/name`, with the constraint's action at
    /// that point ([`Constraint::action_at`]) and `match`. A constraint whose
    /// template reads `data.inventory`, or whose match has a
    /// `namespaceSelector`, is prepared again for each run with the run's
    /// objects ([`wasm_validate_pipeline::RunObjects`]): the inventory, and
    /// the Namespaces among them. Call [`Library::check`] first.
    ///
    /// Errors: a template whose Rego does not parse or compile (regorus's
    /// message, with its line in the template's Rego), at the template.
    pub fn policies(
        &self,
        engine: &Engine,
        runtimes: &Runtimes,
    ) -> Result<Vec<ConfiguredPolicy>, GatekeeperError> {
        self.constraints
            .iter()
            .filter_map(|c| Some((c.action_at(self.point)?, c)))
            .filter_map(|(action, c)| self.template_for(&c.kind).map(|t| (t, c, action)))
            .map(|(template, constraint, action)| {
                let reads_inventory = template.reads_inventory();
                let data = reads_inventory.then(|| json!({"inventory": inventory([])}));
                let policy = prepare(engine, runtimes, template, constraint, data)?;
                let mut configured =
                    ConfiguredPolicy::new(policy, Value::Object(Default::default()));
                configured.id = format!("{}/{}", constraint.kind, constraint.name);
                configured.action = action.action();
                configured.review_in_settings = true;
                configured.selector = Some(Arc::new(MatchSelector {
                    matcher: constraint.matcher.clone(),
                    namespaces: Arc::new(Namespaces::new()),
                }));
                if reads_inventory || constraint.matcher.namespace_selector.is_some() {
                    configured.run_objects = Some(Arc::new(RunPrepared {
                        runtimes: runtimes.clone(),
                        template: template.clone(),
                        constraint: constraint.clone(),
                    }));
                }
                Ok(configured)
            })
            .collect()
    }
}

/// A constraint prepared for each run: its inventory and Namespaces are
/// the run's objects.
#[derive(Debug)]
struct RunPrepared {
    runtimes: Runtimes,
    template: Template,
    constraint: Constraint,
}

impl RunObjects for RunPrepared {
    fn prepare(
        &self,
        engine: &Engine,
        resources: &[&wasm_validate_manifest::Resource],
    ) -> Result<(Policy, Option<Arc<dyn Selector>>), String> {
        let objects: Vec<&Value> = resources.iter().map(|r| &r.object).collect();
        let data = self
            .template
            .reads_inventory()
            .then(|| json!({"inventory": inventory(objects.iter().copied())}));
        let policy = prepare(
            engine,
            &self.runtimes,
            &self.template,
            &self.constraint,
            data,
        )
        .map_err(|e| e.to_string())?;
        let selector = MatchSelector {
            matcher: self.constraint.matcher.clone(),
            namespaces: Arc::new(namespaces_of(objects.iter().copied())),
        };
        Ok((policy, Some(Arc::new(selector))))
    }

    /// The Namespaces, when the constraint's `namespaceSelector` reads
    /// their labels: a cluster audit, and `serve --sync-interval`, list
    /// them even when no policy selects them.
    fn reads(&self) -> Vec<wasm_validate_abi::Rule> {
        if self.constraint.matcher.namespace_selector.is_none() {
            return Vec::new();
        }
        vec![wasm_validate_abi::Rule::namespaces()]
    }
}

impl Template {
    /// `message` (a Rego error naming `MODULE:LINE:COLUMN`, the module
    /// being the template's Rego or one of its `libs`) with each such
    /// position made the file's: `FILE:LINE:COLUMN (ConstraintTemplate
    /// NAME, Rego line N)`, the line counted from the Rego's block in the
    /// YAML file.
    pub fn file_lines(&self, message: &str) -> String {
        let mut out = message.to_owned();
        let modules = std::iter::once((
            format!("{} (ConstraintTemplate {})", self.location.file, self.name),
            format!("{}/rego", self.rego_source),
            &self.rego,
        ))
        .chain(self.libs.iter().enumerate().map(|(j, lib)| {
            (
                format!(
                    "{} (ConstraintTemplate {}, libs[{j}])",
                    self.location.file, self.name
                ),
                format!("{}/libs/{j}", self.rego_source),
                lib,
            )
        }));
        for (module, pointer, source) in modules {
            let prefix = format!("{module}:");
            let Some(at) = out.find(&prefix) else {
                continue;
            };
            let rest = &out[at + prefix.len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let Ok(line) = rest[..digits].parse::<usize>() else {
                continue;
            };
            let column: String = rest[digits..]
                .strip_prefix(':')
                .map(|c| c.chars().take_while(char::is_ascii_digit).collect())
                .unwrap_or_default();
            // A block scalar's text starts on the line after its key, and
            // its columns are shifted by the block's indentation.
            let file_line = self.location.line_of(&pointer) + line;
            let leading = |l: &str| l.len() - l.trim_start_matches(' ').len();
            let in_file = self
                .location
                .parsed
                .as_ref()
                .and_then(|p| p.text.lines().nth(file_line - 1))
                .map_or(0, leading);
            let in_rego = source.lines().nth(line - 1).map_or(0, leading);
            let indent = in_file.saturating_sub(in_rego);
            let column = match column.parse::<usize>() {
                Ok(c) => (c + indent).to_string(),
                Err(_) => column,
            };
            let what = module
                .strip_prefix(&*self.location.file)
                .unwrap_or(&module)
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')');
            let replaced = format!(
                "{}:{file_line}{}{column} ({what}, Rego line {line})",
                self.location.file,
                if column.is_empty() { "" } else { ":" }
            );
            let written_column = rest[digits..]
                .strip_prefix(':')
                .map_or(0, |c| c.chars().take_while(char::is_ascii_digit).count());
            let end = at
                + prefix.len()
                + digits
                + if written_column == 0 {
                    0
                } else {
                    1 + written_column
                };
            out.replace_range(at..end, &replaced);
        }
        out
    }

    /// The CEL runtime's program for `constraint` (`runtimes/cel`'s
    /// `Program`), as Gatekeeper turns a `K8sNativeValidation` source into a
    /// ValidatingAdmissionPolicy: `params` is the constraint, and two
    /// variables come first, `anyObject` (the object, or the old one on
    /// DELETE) and `params` (the constraint's `spec.parameters`).
    pub fn cel_program(&self, constraint: &Constraint) -> Value {
        let source = self.cel.clone().unwrap_or(Value::Null);
        let mut variables = vec![
            json!({"name": "anyObject", "expression": "request.operation == 'DELETE' && object == null ? oldObject : object"}),
            json!({"name": "params", "expression": "!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters"}),
        ];
        variables.extend(source["variables"].as_array().cloned().unwrap_or_default());
        json!({
            "variables": variables,
            "matchConditions": source["matchConditions"].as_array().cloned().unwrap_or_default(),
            "validations": source["validations"].as_array().cloned().unwrap_or_default(),
            "params": {
                "apiVersion": format!("{CONSTRAINT_GROUP}/v1beta1"),
                "kind": constraint.kind,
                "metadata": {"name": constraint.name},
                "spec": {"parameters": constraint.parameters},
            },
        })
    }

    /// Whether the template's Rego reads `data.inventory` (referential
    /// policies); only those are given the run's objects.
    pub fn reads_inventory(&self) -> bool {
        std::iter::once(&self.rego)
            .chain(&self.libs)
            .any(|rego| rego.contains("data.inventory"))
    }

    /// The Rego runtime's program for a constraint of this template
    /// (`runtimes/rego`'s `Program`).
    pub fn program(&self, parameters: &Value, data: Option<Value>) -> Value {
        let mut modules = vec![json!({
            "path": format!("{} (ConstraintTemplate {})", self.location.file, self.name),
            "rego": self.rego,
        })];
        for (index, lib) in self.libs.iter().enumerate() {
            modules.push(json!({
                "path": format!("{} (ConstraintTemplate {}, libs[{index}])", self.location.file, self.name),
                "rego": lib,
            }));
        }
        let mut program = json!({
            "modules": modules,
            "regoVersion": self.rego_version,
            "deny": ["violation"],
            "input": "gatekeeper",
            "parameters": parameters,
        });
        if let Some(data) = data {
            program["data"] = data;
        }
        program
    }

    /// The metadata a constraint of this template is described and matched
    /// by: the template's name, title and description, and rules from the
    /// constraint's `match.kinds` (all kinds when it has none).
    pub fn metadata_for(&self, constraint: &Constraint) -> Metadata {
        let rules = if constraint.matcher.kinds.is_empty() {
            vec![rule(vec!["*".into()], vec!["*".into()])]
        } else {
            constraint
                .matcher
                .kinds
                .iter()
                .map(|k| {
                    let kinds = if k.kinds.is_empty() {
                        vec!["*".into()]
                    } else {
                        k.kinds.clone()
                    };
                    rule(k.api_groups.clone(), kinds)
                })
                .collect()
        };
        let description = match (&self.title, &self.description) {
            (Some(title), Some(description)) => format!("{title}: {description}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => format!("Gatekeeper ConstraintTemplate {}", self.name),
        };
        Metadata {
            abi_version: wasm_validate_abi::ABI_VERSION,
            name: self.name.clone(),
            description,
            severity: Severity::Medium,
            rules,
            mutating: false,
            settings_schema: None,
            references: Vec::new(),
            category: Some("gatekeeper".into()),
            level: None,
            control: None,
            overrides: Vec::new(),
            aliases: Vec::new(),
        }
    }
}

fn rule(api_groups: Vec<String>, kinds: Vec<String>) -> Rule {
    serde_json::from_value(json!({"apiGroups": api_groups, "kinds": kinds}))
        .expect("a rule from groups and kinds")
}

/// The runtime prepared for one constraint, described by its template:
/// the Rego runtime with the template's Rego, or the CEL runtime with its
/// `K8sNativeValidation` source ([`Runtimes::uses_cel`]).
pub fn prepare(
    engine: &Engine,
    runtimes: &Runtimes,
    template: &Template,
    constraint: &Constraint,
    data: Option<Value>,
) -> Result<Policy, GatekeeperError> {
    let (runtime, program) = match runtimes.uses_cel(template) {
        true => (runtimes.cel(engine), template.cel_program(constraint)),
        false => (
            &runtimes.rego,
            template.program(&constraint.parameters, data),
        ),
    };
    let mut policy = engine.prepare(runtime, &program).map_err(|e| {
        let e = match e {
            wasm_validate_engine::EvalError::Policy(message) => message,
            other => other.to_string(),
        };
        GatekeeperError::new(
            &template.location,
            format!(
                "ConstraintTemplate {}: {}",
                template.name,
                template.file_lines(&e)
            ),
        )
    })?;
    policy.set_metadata(template.metadata_for(constraint));
    policy.set_limits(runtimes.rego.limits());
    Ok(policy)
}

/// The runtimes a template's constraints run on: the Rego runtime, and the
/// CEL runtime (loaded on first use) for templates whose engine is
/// `K8sNativeValidation`: those that have no Rego, and, when CEL is
/// preferred ([`Runtimes::preferring_cel`]), those that have both.
#[derive(Debug, Clone)]
pub struct Runtimes {
    /// The Rego runtime.
    pub rego: Policy,
    cel: Arc<std::sync::OnceLock<Policy>>,
    prefer_cel: bool,
}

impl Runtimes {
    /// These runtimes, running a template that has both engines with CEL.
    pub fn preferring_cel(mut self, prefer: bool) -> Self {
        self.prefer_cel = prefer;
        self
    }

    /// Whether `template`'s constraints run on the CEL runtime.
    pub fn uses_cel(&self, template: &Template) -> bool {
        template.cel.is_some() && (template.rego.is_empty() || self.prefer_cel)
    }

    /// The CEL runtime (`wasm_validate_validating_admission_policy`'s).
    fn cel(&self, engine: &Engine) -> &Policy {
        self.cel
            .get_or_init(|| wasm_validate_validating_admission_policy::load_runtime(engine))
    }
}

/// The built-in runtimes, the Rego one loaded with the default limits
/// (once per call; keep the result). A constraint's policy takes other
/// limits with `Policy::set_limits`.
pub fn load_runtime(engine: &Engine) -> Runtimes {
    let wasm = wasm_validate_builtin::runtime("rego").expect("the Rego runtime is built in");
    Runtimes {
        rego: engine
            .load_prevalidated(wasm, Default::default(), "rego")
            .expect("the built-in Rego runtime loads"),
        cel: Arc::default(),
        prefer_cel: false,
    }
}
