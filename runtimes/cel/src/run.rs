//! Evaluating a request against the prepared program: the variables, the
//! match conditions, the validations and the audit annotations, in the
//! API server's order, each expression by the fast evaluation when it has
//! a plan and gives a value ([`crate::fast`]), else by cel-rust.

use super::*;
use fast::eval::{Run, Stop, V};
use wasm_validate_abi::tape;

/// Why an evaluation failed, naming the expression.
fn failure(
    compiled: &Compiled,
    error: &ExecutionError,
    failed: &HashMap<String, String>,
) -> String {
    // A failed variable is missing from the `variables` map, and its own
    // name (`select::VARIABLE`) is not bound.
    let missing = match error {
        ExecutionError::NoSuchKey(key) => Some(key.as_str()),
        ExecutionError::UndeclaredReference(name) => name.strip_prefix(select::VARIABLE),
        _ => None,
    };
    if let Some(key) = missing
        && let Some(cause) = failed.get(key)
    {
        return format!("{}: variables.{key}: {cause}", compiled.name);
    }
    format!("{} ({}): {error}", compiled.name, compiled.source)
}

/// Evaluates a version 2 request against the prepared program: what
/// `wv_evaluate` runs.
pub fn evaluate(request: &[u8]) -> Response {
    let view = match RequestView::parse(request) {
        Ok(view) => view,
        Err(error) => return Response::error(format!("cannot decode the request: {error}")),
    };
    PREPARED.with(|prepared| {
        let prepared = prepared.borrow();
        let Some(prepared) = prepared.as_ref() else {
            return Response::error("the CEL runtime was not prepared with a program");
        };
        match run(prepared, &view) {
            Ok(response) => response,
            Err(error) => Response::error(error),
        }
    })
}

fn run(prepared: &Prepared, view: &RequestView<'_>) -> Result<Response, String> {
    let decode = |e: wasm_validate_abi::tape::TapeError| format!("cannot decode the request: {e}");
    if !prepared.crd_rules.is_empty() {
        view.object.node(0).map_err(decode)?;
        return crd_rules::run_crd_rules(prepared, view.object);
    }
    let settings = value::from_tape(&view.settings).map_err(decode)?;
    // DELETE requests carry the object as the old object. The objects are
    // bound as views of the request's bytes (strings are not copied).
    let (object, old) = match (view.operation, view.old_object) {
        (Operation::Delete, Some(old)) => (None, Some(old)),
        (Operation::Delete, None) => (None, Some(view.object)),
        (_, old) => (Some(view.object), old),
    };
    let subject = object.or(old).unwrap_or(view.object);
    // What no expression reads is not built.
    let binds = |name: &str| prepared.binds.iter().any(|b| b == name);
    let text = |path: &[&str]| value::tape_text(&subject, path).unwrap_or_default();
    let identity = if binds("request") || binds("namespaceObject") || !prepared.variants.is_empty()
    {
        value::Identity {
            api_version: text(&["apiVersion"]),
            kind: text(&["kind"]),
            name: text(&["metadata", "name"]),
            namespace: text(&["metadata", "namespace"]),
        }
    } else {
        value::Identity::default()
    };
    let request = binds("request")
        .then(|| request_of(&identity, view.operation, field(&settings, &["review"])));
    let namespace_object =
        binds("namespaceObject").then(|| match field(&settings, &["namespaceObject"]) {
            Some(given) => given.clone(),
            None => namespace_object(prepared, &identity),
        });
    let rules = prepared
        .variants
        .iter()
        .find(|(targets, _)| {
            targets
                .iter()
                .any(|t| t.api_version == identity.api_version && t.kind == identity.kind)
        })
        .map_or(&prepared.rules, |(_, rules)| rules);
    // The roots must decode; what lies under them is read when used.
    for tape in object.iter().chain(&old) {
        tape.node(0).map_err(decode)?;
    }
    let binding = Binding {
        prepared,
        rules,
        object,
        old,
        request,
        namespace_object,
    };
    // Expressions with a plan are evaluated by `fast` first; cel-rust's
    // context is built only when an expression needs cel-rust. The fast
    // evaluation reads `request` and `namespaceObject` (when read at all)
    // from tapes of the values cel-rust is given: built twice, but only
    // for a policy that reads them.
    let request_tape = binding
        .request
        .as_ref()
        .map(|r| tape::encode(&value::to_json(r)));
    let namespace_tape = binding
        .namespace_object
        .as_ref()
        .map(|n| tape::encode(&value::to_json(n)));
    fn root(bytes: Option<&Vec<u8>>) -> Option<V<'_>> {
        let tape = Tape::parse(bytes?).ok()?;
        Some(V::at(tape, 0))
    }
    let mut slots: fast::eval::Slots<'_> = Vec::with_capacity(rules.slots);
    slots.push(Some(object.map_or(V::Null, |t| V::at(t, 0))));
    slots.push(Some(old.map_or(V::Null, |t| V::at(t, 0))));
    slots.push(
        binds("params")
            .then(|| root(Some(&prepared.params_tape)))
            .flatten(),
    );
    slots.push(root(request_tape.as_ref()));
    slots.push(root(namespace_tape.as_ref()));
    slots.resize(fast::FIRST_VARIABLE + rules.variables.len(), None);
    let mut run = Run::new(prepared.env.clone(), slots, rules.variables.len());
    let mut costs = Costs::new(rules.variables.len());
    let mut slow: Option<Context<'_, '_>> = None;
    // Variables in order; one that fails is reported by the expressions
    // that read it, as the API server evaluates them lazily. Each is kept
    // as CEL holds it (no conversion) and bound to its own name, which
    // `variables.NAME` was rewritten to (`select::VARIABLE`). When an
    // expression reads `variables` otherwise, the map is built too: before
    // a variable that reads it, and once at the end.
    let mut variables: Vec<(String, Box<dyn Val + '_>)> = Vec::new();
    let mut failed: HashMap<String, String> = HashMap::new();
    for (i, ((variable, name), ident)) in rules
        .variables
        .iter()
        .zip(&rules.variable_names)
        .zip(&rules.variable_idents)
        .enumerate()
    {
        match fast_value(variable, &mut run) {
            Fast::Value(value) => {
                if let Some(context) = slow.as_mut() {
                    context.add_variable_as_val(ident.as_str(), value.to_val());
                }
                run.slots[fast::FIRST_VARIABLE + i] = Some(value);
                costs.variables[i] = Some((run.cost, std::mem::take(&mut run.read)));
                continue;
            }
            Fast::CostLimit => {
                failed.insert(name.clone(), fast::cost::LIMIT_EXCEEDED.to_owned());
                costs.variables[i] = Some((run.cost, run.read.clone()));
                continue;
            }
            Fast::NoAnswer => {}
        }
        let context = binding.context(&mut slow, &run.slots);
        if rules.builds_map && i > 0 && variable.reads_variables {
            context.add_variable_as_val("variables", variables_map(&variables));
        }
        let result = Value::resolve_val(&variable.expression, context).map(|cow| cow.into_owned());
        match result {
            Ok(value) if rules.builds_map => {
                context.add_variable_as_val(ident.as_str(), value.clone_as_boxed());
                variables.push((name.clone(), value));
            }
            Ok(value) => context.add_variable_as_val(ident.as_str(), value),
            Err(error) => {
                failed.insert(name.clone(), error.to_string());
            }
        }
    }
    if !variables.is_empty() {
        let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = variables
            .into_iter()
            .map(|(k, v)| (CelMapKey::from(k), v))
            .collect();
        binding
            .context(&mut slow, &run.slots)
            .add_variable_as_val("variables", Box::new(CelMap::from(map)));
    }
    let mut budget = fast::cost::MATCH_CONDITIONS_BUDGET;
    for condition in &rules.match_conditions {
        let answer = match fast_value(condition, &mut run) {
            Fast::Value(V::Bool(b)) => Ok(Value::Bool(b)),
            Fast::CostLimit => return Err(cost_limit(condition)),
            _ => Value::resolve(
                &condition.expression,
                binding.context(&mut slow, &run.slots),
            ),
        };
        costs.spend(&run, &mut budget)?;
        match answer {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                return Ok(Response {
                    not_applicable: true,
                    ..Response::allow()
                });
            }
            Ok(other) => {
                return Err(format!(
                    "{}: evaluated to {other:?}, not a bool",
                    condition.name
                ));
            }
            Err(error) => return Err(failure(condition, &error, &failed)),
        }
    }
    let mut budget = fast::cost::RUNTIME_BUDGET;
    let mut violations = Vec::new();
    for validation in &rules.validations {
        let compiled = &validation.expression;
        let answer = match fast_value(compiled, &mut run) {
            Fast::Value(V::Bool(b)) => Ok(Value::Bool(b)),
            Fast::CostLimit => return Err(cost_limit(compiled)),
            _ => Value::resolve(&compiled.expression, binding.context(&mut slow, &run.slots)),
        };
        costs.spend(&run, &mut budget)?;
        match answer {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                let fast = match &validation.message_expression {
                    Some(expression) => fast_value(expression, &mut run),
                    None => Fast::NoAnswer,
                };
                let message = match fast {
                    Fast::Value(V::Str(text)) if !text.trim().is_empty() => text.into_owned(),
                    Fast::Value(_) | Fast::CostLimit => static_message(validation),
                    Fast::NoAnswer => {
                        message_of(validation, binding.context(&mut slow, &run.slots))
                    }
                };
                costs.spend(&run, &mut budget)?;
                violations.push(Violation {
                    message,
                    path: validation.pointer.clone(),
                });
            }
            Ok(other) => {
                return Err(format!(
                    "{}: evaluated to {other:?}, not a bool",
                    compiled.name
                ));
            }
            Err(error) => return Err(failure(compiled, &error, &failed)),
        }
    }
    let mut response = Response::from_violations(violations);
    response.audit_annotations = audit::evaluate(&prepared.audit_annotations, |compiled| {
        let answer = match fast_value(compiled, &mut run) {
            Fast::Value(V::Str(text)) => Ok(Value::String(Arc::new(text.into_owned()))),
            Fast::Value(V::Null) => Ok(Value::Null),
            Fast::CostLimit => Err(fast::cost::LIMIT_EXCEEDED.to_owned()),
            _ => Value::resolve(&compiled.expression, binding.context(&mut slow, &run.slots))
                .map_err(|error| error.to_string()),
        };
        costs.spend(&run, &mut budget)?;
        answer
    })?;
    Ok(response)
}

#[cfg(test)]
thread_local! {
    /// Tests compare the runtime's answers with and without the fast
    /// evaluation.
    pub(crate) static FAST_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What the fast evaluation made of an expression.
enum Fast<'a> {
    Value(V<'a>),
    /// Its cost passed the API server's per-expression limit.
    CostLimit,
    /// No plan, or the plan gave up: cel-rust's to evaluate.
    NoAnswer,
}

/// The fast evaluation of `compiled` (`fast`), when it has a plan.
fn fast_value<'a>(compiled: &'a Compiled, run: &mut Run<'a>) -> Fast<'a> {
    run.start();
    #[cfg(test)]
    if FAST_OFF.with(std::cell::Cell::get) {
        return Fast::NoAnswer;
    }
    let Some(plan) = compiled.fast.as_ref() else {
        return Fast::NoAnswer;
    };
    match fast::eval::eval(plan, run) {
        Ok(value) => Fast::Value(value),
        Err(Stop::CostLimit) => Fast::CostLimit,
        Err(Stop::Abandon) => {
            // cel-rust evaluates it again and counts no cost; the
            // variables read so far still count, as cel-rust reads them.
            run.cost = 0;
            Fast::NoAnswer
        }
    }
}

/// The error of an expression whose cost passed its limit, as the API
/// server words it.
fn cost_limit(compiled: &Compiled) -> String {
    format!(
        "{} ({}): {}",
        compiled.name,
        compiled.source,
        fast::cost::LIMIT_EXCEEDED
    )
}

/// The runtime cost the fast evaluation counted for one request, spent
/// against the API server's budgets (`fast::cost`).
struct Costs {
    /// Each variable's cost and the variables its evaluation read, when
    /// the fast evaluation evaluated it.
    variables: Vec<Option<(u64, Vec<usize>)>>,
    /// Whether a variable's cost was spent: once, by the first expression
    /// that reads it, as the API server evaluates a variable when first
    /// read and keeps its value.
    spent: Vec<bool>,
}

impl Costs {
    fn new(variables: usize) -> Costs {
        Costs {
            variables: vec![None; variables],
            spent: vec![false; variables],
        }
    }

    /// Spends the cost of the expression `run` evaluated last, and of the
    /// variables it read for the first time, from `budget`; the API
    /// server's error when it runs out. An expression cel-rust evaluated
    /// costs nothing here (cel-rust counts no cost).
    fn spend(&mut self, run: &Run<'_>, budget: &mut u64) -> Result<(), String> {
        let mut cost = run.cost;
        let mut reads: Vec<usize> = Vec::new();
        let mut next = run.read.iter().copied();
        while let Some(slot) = next.next().or_else(|| reads.pop()) {
            let i = slot - fast::FIRST_VARIABLE;
            if std::mem::replace(&mut self.spent[i], true) {
                continue;
            }
            if let Some((variable, read)) = &self.variables[i] {
                cost = cost.saturating_add(*variable);
                reads.extend(read);
            }
        }
        match budget.checked_sub(cost) {
            Some(left) => {
                *budget = left;
                Ok(())
            }
            None => Err(fast::cost::OUT_OF_BUDGET.to_owned()),
        }
    }
}

/// What an evaluation binds for cel-rust.
struct Binding<'r, 'v> {
    prepared: &'r Prepared,
    rules: &'r Rules,
    object: Option<Tape<'v>>,
    old: Option<Tape<'v>>,
    request: Option<Value>,
    namespace_object: Option<Value>,
}

impl<'r, 'v> Binding<'r, 'v> {
    /// cel-rust's context in `slow`, made now if it is not yet: the
    /// objects, `request`, `params` and `namespaceObject` when some
    /// expression reads them, and the variables the fast evaluation gave
    /// values to so far (`slots`).
    fn context<'c>(
        &self,
        slow: &'c mut Option<Context<'r, 'v>>,
        slots: &fast::eval::Slots<'v>,
    ) -> &'c mut Context<'r, 'v> {
        slow.get_or_insert_with(|| {
            let prepared = self.prepared;
            let binds = |name: &str| prepared.binds.iter().any(|b| b == name);
            let mut context = Context::with_env(prepared.env.clone());
            // The roots were checked to decode.
            for (name, tape) in [("object", self.object), ("oldObject", self.old)] {
                context.add_variable_as_val(name, bind(tape).unwrap_or_else(|_| Box::new(CelNull)));
            }
            for (name, value) in [
                ("request", self.request.clone()),
                ("params", binds("params").then(|| prepared.params.clone())),
                ("namespaceObject", self.namespace_object.clone()),
            ] {
                if let Some(value) = value {
                    context.add_variable_from_value(name, value);
                }
            }
            if self.rules.builds_map {
                context.add_variable_as_val("variables", variables_map(&[]));
            }
            for (ident, value) in self
                .rules
                .variable_idents
                .iter()
                .zip(&slots[fast::FIRST_VARIABLE..])
            {
                if let Some(value) = value {
                    context.add_variable_as_val(ident.as_str(), value.to_val());
                }
            }
            context
        })
    }
}

/// A failed validation's message, as the API server chooses it: the
/// `messageExpression`'s string when it evaluates to a non-empty one, else
/// `message`, else `failed expression: EXPRESSION`.
pub(crate) fn message_of(validation: &CompiledValidation, context: &Context<'_, '_>) -> String {
    if let Some(expression) = &validation.message_expression
        && let Ok(Value::String(text)) = Value::resolve(&expression.expression, context)
        && !text.trim().is_empty()
    {
        return text.to_string();
    }
    static_message(validation)
}

/// A failed validation's message without its `messageExpression`:
/// `message`, else `failed expression: EXPRESSION`.
fn static_message(validation: &CompiledValidation) -> String {
    match &validation.message {
        Some(message) if !message.trim().is_empty() => message.trim().to_owned(),
        _ => format!("failed expression: {}", validation.expression.source.trim()),
    }
}
