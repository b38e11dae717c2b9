//! Walking a value against a compiled schema, collecting every problem
//! with its field path in the API server's style
//! (`spec.template.spec.containers[0].ports[0].protocol`) and its JSON
//! Pointer, and messages in apimachinery's `field.Error` forms
//! (`Required value`, `Invalid value: ...`, `Unsupported value: ...`,
//! `Duplicate value: ...`, `Too long: ...`, `Too many: ...`) or, for
//! undeclared fields, strict field validation's `unknown field "PATH"`.

use std::collections::HashMap;

use serde_json::Value;

use crate::Finding;
use crate::formats;
use crate::model::*;

/// A map list item's map keys' values, as one comparable text (their
/// JSON); `None` when one is missing.
fn map_key(keys: &[String], item: &Value) -> Option<String> {
    let values: Option<Vec<&Value>> = keys.iter().map(|k| item.get(k)).collect();
    serde_json::to_string(&values?).ok()
}

/// One step of a path: a declared field, a list index, or a map key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'v> {
    Field(&'v str),
    Index(usize),
    Key(&'v str),
}

/// Schema nodes one object may visit (its probes of `anyOf`/`oneOf`/`not`
/// branches included) before the walk stops with a finding. A walk costs
/// the object's size times the depth of its schema, both bounded by the
/// reading limits; a hostile pair (a CRD with a huge `items` schema and a
/// custom resource with a huge list) could still take hours, so it is cut
/// short instead of hanging the run. A real object visits a few thousand
/// nodes; a 32 MiB ConfigMap a few million.
pub(crate) const STEP_LIMIT: u64 = 50_000_000;

/// A walk over one object, with its findings.
pub(crate) struct Walk<'a> {
    arena: &'a Arena,
    dialect: Dialect,
    pub path: Vec<Step<'a>>,
    pub findings: Vec<Finding>,
    /// The nodes with `x-kubernetes-validations` the walk met, each with
    /// a value of the right type.
    pub rule_nodes: Vec<crate::RuleNode>,
    /// The old object's node that correlates with the one being walked
    /// (an UPDATE's, for transition rules; see [`crate::RuleNode::old`]).
    pub old: Option<&'a Value>,
    /// Steps left, shared with the walk's probes.
    steps: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(arena: &'a Arena, dialect: Dialect) -> Self {
        Walk {
            arena,
            dialect,
            path: Vec::new(),
            findings: Vec::new(),
            rule_nodes: Vec::new(),
            old: None,
            steps: std::rc::Rc::new(std::cell::Cell::new(STEP_LIMIT)),
        }
    }

    /// A walk that may take `limit` steps (tests).
    #[cfg(test)]
    fn with_limit(arena: &'a Arena, dialect: Dialect, limit: u64) -> Self {
        let walk = Walk::new(arena, dialect);
        walk.steps.set(limit);
        walk
    }

    /// The findings, with one more when the walk ran out of steps.
    pub(crate) fn finish(mut self) -> Vec<Finding> {
        if self.steps.get() == 0 {
            self.findings.push(Finding {
                pointer: String::new(),
                message: format!(
                    "the schema stage stopped after {STEP_LIMIT} steps on this object (the object and its schema are too large together); the rest was not checked"
                ),
            });
        }
        self.findings
    }

    /// The current path as the API server writes it (`spec.ports[0].name`).
    pub(crate) fn field(&self) -> String {
        field_path(&self.path)
    }

    /// Records a finding at the current path: `message` is what follows
    /// `FIELD: `.
    pub(crate) fn report(&mut self, message: String) {
        let field = self.field();
        let message = if field.is_empty() {
            message
        } else {
            format!("{field}: {message}")
        };
        self.findings.push(Finding {
            pointer: pointer(&self.path),
            message,
        });
    }

    /// Records a finding whose message is complete (not prefixed by the field).
    pub(crate) fn report_whole(&mut self, message: String) {
        self.findings.push(Finding {
            pointer: pointer(&self.path),
            message,
        });
    }

    fn invalid_type(&mut self, value: &Value, types: u8) {
        let field = self.field();
        let expected = type_names(types);
        let actual = type_name(value);
        let shown = match value {
            Value::String(s) => s.clone(),
            other => short(other),
        };
        self.report(format!(
            "Invalid value: \"{actual}\": {field} in body must be of type {expected}: \"{shown}\""
        ));
    }

    /// Validates `value` against node `id`, at the current path.
    pub(crate) fn value(&mut self, id: NodeId, value: &'a Value) {
        let left = self.steps.get();
        if left == 0 {
            return;
        }
        self.steps.set(left - 1);
        let arena = self.arena;
        let node = arena.node(id);
        if value.is_null() {
            let allowed = node.types == 0 && node.special == Special::None
                || node.types & NULL != 0
                || self.dialect == Dialect::Crd && node.has_default;
            if !allowed {
                let types = match node.special {
                    Special::IntOrString => INTEGER | STRING,
                    Special::Quantity => STRING | NUMBER,
                    Special::None => node.types,
                };
                self.invalid_type(value, types);
            }
            return;
        }
        match node.special {
            Special::IntOrString => {
                if !(value.is_string() || value.is_i64() || value.is_u64()) {
                    let field = self.field();
                    self.report(format!(
                        "Invalid value: {}: {field} in body must be of type integer or string",
                        short(value)
                    ));
                }
                if self.dialect == Dialect::BuiltIn {
                    return;
                }
            }
            Special::Quantity => {
                match value {
                    Value::String(s) if !formats::is_quantity(s) => self.report(format!(
                        "Invalid value: {}: quantities must match the regular expression '{}'",
                        short(value),
                        formats::QUANTITY_REGEX
                    )),
                    Value::String(_) | Value::Number(_) => {}
                    other => self.invalid_type(other, STRING | NUMBER),
                }
                return;
            }
            Special::None => {
                if node.types != 0 && !has_type(value, node.types) {
                    self.invalid_type(value, node.types);
                    return;
                }
            }
        }
        if !node.rules.is_empty() {
            self.rule_nodes.push(crate::RuleNode {
                rules: node.rules.clone(),
                value: value.clone(),
                pointer: pointer(&self.path),
                field: self.field(),
                old: self.old.cloned(),
            });
        }
        if !node.enumeration.is_empty() && !node.enumeration.contains(value) {
            let supported: Vec<String> = node.enumeration.iter().map(short).collect();
            self.report(format!(
                "Unsupported value: {}: supported values: {}",
                short(value),
                supported.join(", ")
            ));
        }
        if let Some(format) = &node.format {
            self.format(format, value);
        }
        if let Some(bounds) = &node.bounds {
            self.bounds(bounds, value);
        }
        match value {
            Value::Object(map) => self.object(node, map),
            Value::Array(items) => self.array(node, items),
            _ => {}
        }
        for &branch in &node.all_of {
            self.value(branch, value);
        }
        if !node.any_of.is_empty() && !node.any_of.iter().any(|&b| self.passes(b, value)) {
            let field = self.field();
            self.report(format!(
                "Invalid value: {}: {field} in body must validate at least one schema (anyOf)",
                short(value)
            ));
        }
        if !node.one_of.is_empty()
            && node
                .one_of
                .iter()
                .filter(|&&b| self.passes(b, value))
                .count()
                != 1
        {
            let field = self.field();
            self.report(format!(
                "Invalid value: {}: {field} in body must validate one and only one schema (oneOf)",
                short(value)
            ));
        }
        if let Some(not) = node.not
            && self.passes(not, value)
        {
            let field = self.field();
            self.report(format!(
                    "Invalid value: {}: {field} in body should not be valid against the given schema (not)",
                    short(value)
                ));
        }
    }

    /// Whether `value` satisfies node `id`, without recording anything.
    fn passes(&self, id: NodeId, value: &'a Value) -> bool {
        let mut probe = Walk::new(self.arena, self.dialect);
        probe.steps = self.steps.clone();
        probe.path = self.path.clone();
        probe.value(id, value);
        probe.findings.is_empty()
    }

    fn object(&mut self, node: &'a Node, map: &'a serde_json::Map<String, Value>) {
        let embedded = node.embedded;
        let old = self.old;
        for (key, child) in map {
            // Properties and map keys correlate by name.
            self.old = old.and_then(|o| o.get(key));
            if let Some(&id) = node.properties.get(key) {
                self.path.push(Step::Field(key));
                self.value(id, child);
                self.path.pop();
                continue;
            }
            if embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match node.additional {
                Additional::Any => {}
                Additional::Schema(id) => {
                    self.path.push(Step::Key(key));
                    self.value(id, child);
                    self.path.pop();
                }
                Additional::Forbidden => {
                    self.path.push(Step::Field(key));
                    let field = self.field();
                    self.report_whole(format!("unknown field \"{field}\""));
                    self.path.pop();
                }
            }
        }
        self.old = old;
        for name in &node.required {
            if !map.contains_key(name) {
                self.path.push(Step::Field(name));
                self.report("Required value".to_owned());
                self.path.pop();
            }
        }
        if embedded {
            for name in ["apiVersion", "kind"] {
                if map
                    .get(name)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    self.path.push(Step::Field(name));
                    self.report("Required value: must not be empty".to_owned());
                    self.path.pop();
                }
            }
        }
    }

    fn array(&mut self, node: &'a Node, items: &'a [Value]) {
        if let Some(id) = node.items {
            let old = self.old;
            // Only a map list's items correlate, by their map keys: the old
            // items indexed by them once (the first of equal keys wins), so
            // that a long list costs its length, not its square.
            let index: Option<(&[String], HashMap<String, &'a Value>)> =
                match (&node.list, old.and_then(Value::as_array)) {
                    (ListType::Map(keys), Some(old_items)) => {
                        let mut index = HashMap::with_capacity(old_items.len());
                        for item in old_items {
                            if let Some(key) = map_key(keys, item) {
                                index.entry(key).or_insert(item);
                            }
                        }
                        Some((keys.as_slice(), index))
                    }
                    _ => None,
                };
            for (i, item) in items.iter().enumerate() {
                self.old = index.as_ref().and_then(|(keys, index)| {
                    map_key(keys, item).and_then(|key| index.get(&key).copied())
                });
                self.path.push(Step::Index(i));
                self.value(id, item);
                self.path.pop();
            }
            self.old = old;
        }
        // The API server enforces list types on custom resources; for
        // built-in types its Go validation decides (crate::builtin).
        if self.dialect != Dialect::Crd && !node.go_unique {
            return;
        }
        match &node.list {
            ListType::Atomic => {}
            ListType::Set => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        self.path.push(Step::Index(i));
                        self.report(format!("Duplicate value: {}", short(item)));
                        self.path.pop();
                    }
                }
            }
            ListType::Map(keys) => {
                let key_of = |item: &'a Value| -> Vec<Option<&'a Value>> {
                    keys.iter().map(|k| item.get(k)).collect()
                };
                for (i, item) in items.iter().enumerate() {
                    let key = key_of(item);
                    if node.go_unique && key.iter().any(Option::is_none) {
                        continue;
                    }
                    if items[..i].iter().any(|other| key_of(other) == key) {
                        if let (true, [name], [Some(value)]) =
                            (node.go_unique, keys.as_slice(), key.as_slice())
                        {
                            self.path.push(Step::Index(i));
                            self.path.push(Step::Field(name));
                            self.report(format!("Duplicate value: {}", short(value)));
                            self.path.truncate(self.path.len() - 2);
                            continue;
                        }
                        let shown: serde_json::Map<String, Value> = keys
                            .iter()
                            .zip(&key)
                            .filter_map(|(k, v)| v.map(|v| (k.clone(), v.clone())))
                            .collect();
                        self.path.push(Step::Index(i));
                        self.report(format!("Duplicate value: {}", Value::Object(shown)));
                        self.path.pop();
                    }
                }
            }
        }
    }

    fn format(&mut self, format: &str, value: &Value) {
        let ok = match value {
            Value::String(s) => formats::string_format(format, s),
            Value::Number(n) if n.is_i64() || n.is_u64() => formats::integer_format(format, n),
            _ => None,
        };
        if ok == Some(false) {
            let field = self.field();
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            self.report(format!(
                "Invalid value: {}: {field} in body must be of type {format}: \"{shown}\"",
                short(value)
            ));
        }
    }

    fn bounds(&mut self, b: &Bounds, value: &Value) {
        let field = self.field();
        match value {
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or_default();
                let shown = n.to_string();
                if let Some(min) = b.minimum {
                    if b.exclusive_minimum && x <= min {
                        self.report(format!(
                            "Invalid value: {shown}: {field} in body should be greater than {min}"
                        ));
                    } else if x < min {
                        self.report(format!(
                            "Invalid value: {shown}: {field} in body should be greater than or equal to {min}"
                        ));
                    }
                }
                if let Some(max) = b.maximum {
                    if b.exclusive_maximum && x >= max {
                        self.report(format!(
                            "Invalid value: {shown}: {field} in body should be less than {max}"
                        ));
                    } else if x > max {
                        self.report(format!(
                            "Invalid value: {shown}: {field} in body should be less than or equal to {max}"
                        ));
                    }
                }
                if let Some(m) = b.multiple_of
                    && m > 0.0
                    && (x / m).fract() != 0.0
                {
                    self.report(format!(
                        "Invalid value: {shown}: {field} in body should be a multiple of {m}"
                    ));
                }
            }
            Value::String(s) => {
                // Lengths count characters (Unicode code points), as the API
                // server's OpenAPI validation does.
                let length = s.chars().count() as u64;
                if let Some(max) = b.max_length
                    && length > max
                {
                    self.report(format!("Too long: may not be more than {max} bytes"));
                }
                if let Some(min) = b.min_length
                    && length < min
                {
                    self.report(format!(
                        "Invalid value: {}: {field} in body should be at least {min} chars long",
                        short(value)
                    ));
                }
                if let Some((source, re)) = &b.pattern
                    && !re.is_match(s)
                {
                    self.report(format!(
                        "Invalid value: {}: {field} in body should match '{source}'",
                        short(value)
                    ));
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if let Some(max) = b.max_items
                    && n > max
                {
                    self.report(format!("Too many: {n}: must have at most {max} items"));
                }
                if let Some(min) = b.min_items
                    && n < min
                {
                    self.report(format!(
                        "Invalid value: {n}: {field} in body should have at least {min} items"
                    ));
                }
                if b.unique_items {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            self.report(format!("Duplicate value: {}", short(item)));
                        }
                    }
                }
            }
            Value::Object(map) => {
                let n = map.len() as u64;
                if let Some(max) = b.max_properties
                    && n > max
                {
                    self.report(format!("Too many: {n}: must have at most {max} items"));
                }
                if let Some(min) = b.min_properties
                    && n < min
                {
                    self.report(format!(
                        "Invalid value: {n}: {field} in body should have at least {min} properties"
                    ));
                }
            }
            _ => {}
        }
    }
}

/// `spec.template.spec.containers[0].name`; map keys in brackets
/// (`metadata.labels[app]`), as apimachinery's `field.Path` prints them.
pub(crate) fn field_path(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            Step::Key(key) => {
                out.push('[');
                out.push_str(key);
                out.push(']');
            }
        }
    }
    out
}

/// The path as a JSON Pointer (RFC 6901).
pub(crate) fn pointer(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        out.push('/');
        match step {
            Step::Field(name) | Step::Key(name) => out.push_str(&escape(name)),
            Step::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

fn has_type(value: &Value, types: u8) -> bool {
    let bit = match value {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Number(n) if n.is_i64() || n.is_u64() => INTEGER,
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
        Value::Array(_) => ARRAY,
        Value::Object(_) => OBJECT,
    };
    types & bit != 0
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `integer`, or `integer,string` for several (null left out).
fn type_names(types: u8) -> String {
    let types = if types & NUMBER != 0 {
        types & !INTEGER
    } else {
        types
    };
    [
        (OBJECT, "object"),
        (ARRAY, "array"),
        (STRING, "string"),
        (INTEGER, "integer"),
        (NUMBER, "number"),
        (BOOLEAN, "boolean"),
    ]
    .iter()
    .filter(|(bit, _)| types & bit != 0)
    .map(|(_, name)| *name)
    .collect::<Vec<_>>()
    .join(",")
}

/// A value as a message shows it: JSON, cut to 80 characters.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 {
        return text;
    }
    let cut: String = text.chars().take(77).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Compiler;

    #[test]
    fn a_walk_stops_at_its_step_limit_with_a_finding() {
        let none = |_: &str| None;
        let mut compiler = Compiler::new(Dialect::Crd, &none);
        let schema = serde_json::json!({
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}], "type": "string"}
        });
        let root = compiler.compile(&schema);
        let list = Value::Array(vec![Value::String("x".into()); 1000]);
        let mut walk = Walk::with_limit(&compiler.arena, Dialect::Crd, 500);
        walk.value(root, &list);
        let findings = walk.finish();
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0]
                .message
                .starts_with("the schema stage stopped after")
        );
        // With the real limit the same list is checked in full.
        let mut walk = Walk::new(&compiler.arena, Dialect::Crd);
        walk.value(root, &list);
        assert!(walk.finish().is_empty());
    }
}
