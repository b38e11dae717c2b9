//! A schema compiled for validation: an arena of nodes with `$ref`s
//! resolved to node indices, from either dialect the stage reads.
//!
//! - [`Dialect::BuiltIn`]: the JSON Schema form of Kubernetes' OpenAPI
//!   definitions (`kubernetes-json-schema`'s `local-strict`): optional
//!   fields allow `null` through their `type` list, and objects whose
//!   fields are declared say `additionalProperties: false`.
//! - [`Dialect::Crd`]: a CustomResourceDefinition's `openAPIV3Schema`
//!   (OpenAPI v3.0 with Kubernetes' structural rules, per
//!   <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>):
//!   `null` only where `nullable: true` (or pruned when a `default`
//!   exists), and a field not declared is unknown unless
//!   `x-kubernetes-preserve-unknown-fields: true`.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Index of a node in its [`Arena`].
pub(crate) type NodeId = u32;

/// Type bits of [`Node::types`]; 0 means any type.
pub(crate) const OBJECT: u8 = 1;
pub(crate) const ARRAY: u8 = 2;
pub(crate) const STRING: u8 = 4;
pub(crate) const INTEGER: u8 = 8;
pub(crate) const NUMBER: u8 = 16;
pub(crate) const BOOLEAN: u8 = 32;
pub(crate) const NULL: u8 = 64;

/// Which schema language a node was compiled from (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    BuiltIn,
    Crd,
}

/// What an object's undeclared fields may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Additional {
    /// Anything (a free-form object, or `x-kubernetes-preserve-unknown-fields`).
    #[default]
    Any,
    /// Nothing: an undeclared field is an unknown field.
    Forbidden,
    /// Each value follows this schema (a map).
    Schema(NodeId),
}

/// Kubernetes' own value types, checked by their Go decoders rather than by
/// their schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Special {
    #[default]
    None,
    /// `intstr.IntOrString` or `x-kubernetes-int-or-string`: an integer or a string.
    IntOrString,
    /// `resource.Quantity`: a number, or a string in the quantity syntax.
    Quantity,
}

/// `x-kubernetes-list-type`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum ListType {
    /// `atomic`, or not given.
    #[default]
    Atomic,
    /// `set`: scalar items, each unique.
    Set,
    /// `map`: object items, unique by these keys (`x-kubernetes-list-map-keys`).
    Map(Vec<String>),
}

/// Numeric, length and count bounds (OpenAPI v3.0: exclusive bounds are
/// booleans beside `minimum`/`maximum`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Bounds {
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<(String, regex::Regex)>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
}

/// One compiled schema node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Allowed JSON types (bits above); 0 is any.
    pub types: u8,
    pub properties: HashMap<String, NodeId>,
    pub additional: Additional,
    pub items: Option<NodeId>,
    pub required: Vec<String>,
    /// `enum`, or an enumeration Kubernetes validates in Go ([`crate::builtin`]).
    pub enumeration: Vec<Value>,
    /// `format` (`int32`, `byte`, `date-time`, ...), when the stage checks it.
    pub format: Option<String>,
    pub special: Special,
    pub all_of: Vec<NodeId>,
    pub any_of: Vec<NodeId>,
    pub one_of: Vec<NodeId>,
    pub not: Option<NodeId>,
    pub bounds: Option<Box<Bounds>>,
    pub list: ListType,
    /// `x-kubernetes-embedded-resource`: an object with `apiVersion`,
    /// `kind` and `metadata` of its own.
    pub embedded: bool,
    /// A `default` is given: a CRD's `null` here is pruned, not an error.
    pub has_default: bool,
    /// A built-in list whose items Go validation requires unique by its
    /// single [`ListType::Map`] key ([`crate::builtin`]).
    pub go_unique: bool,
    /// A CRD node's `x-kubernetes-validations`: indexes into
    /// [`Arena::rules`].
    pub rules: Vec<u32>,
}

/// The nodes of one schema (a Kubernetes version's definitions, or one
/// served version of a CRD).
#[derive(Debug, Clone, Default)]
pub(crate) struct Arena {
    pub nodes: Vec<Node>,
    /// The `x-kubernetes-validations` rules of a CRD's nodes, in the order
    /// they were compiled (`{rule, message, messageExpression, fieldPath,
    /// reason}` as written).
    pub rules: Vec<Value>,
}

impl Arena {
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }
}

/// Compiles schemas into an [`Arena`], each named definition once.
pub(crate) struct Compiler<'a> {
    pub arena: Arena,
    /// A named definition's schema (`$ref` targets).
    definitions: &'a dyn Fn(&str) -> Option<Value>,
    by_name: HashMap<String, NodeId>,
    dialect: Dialect,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(dialect: Dialect, definitions: &'a dyn Fn(&str) -> Option<Value>) -> Self {
        Compiler {
            arena: Arena::default(),
            definitions,
            by_name: HashMap::new(),
            dialect,
        }
    }

    /// The node of the named definition, compiled on first use (a
    /// definition may refer to itself, as `JSONSchemaProps` does).
    pub(crate) fn definition(&mut self, name: &str) -> Option<NodeId> {
        if let Some(&id) = self.by_name.get(name) {
            return Some(id);
        }
        let schema = (self.definitions)(name)?;
        let id = self.alloc();
        self.by_name.insert(name.to_owned(), id);
        let mut node = self.build(&schema);
        match name {
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
                node.special = Special::IntOrString;
                node.one_of.clear();
            }
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
                node.special = Special::Quantity;
                node.one_of.clear();
            }
            _ => {}
        }
        self.arena.nodes[id as usize] = node;
        Some(id)
    }

    /// The node of a named definition already compiled, if it is.
    pub(crate) fn compiled(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// Compiles an anonymous schema.
    pub(crate) fn compile(&mut self, schema: &Value) -> NodeId {
        if let Some(name) = schema.get("$ref").and_then(Value::as_str)
            && let Some(id) = self.definition(name)
        {
            return id;
        }
        let node = self.build(schema);
        let id = self.alloc();
        self.arena.nodes[id as usize] = node;
        id
    }

    fn alloc(&mut self) -> NodeId {
        self.arena.nodes.push(Node::default());
        (self.arena.nodes.len() - 1) as NodeId
    }

    fn build(&mut self, schema: &Value) -> Node {
        let mut node = Node::default();
        let Value::Object(schema) = schema else {
            return node;
        };
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
        node.types = match schema.get("type") {
            Some(Value::String(t)) => type_bit(t),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .map(type_bit)
                .fold(0, |a, b| a | b),
            _ => 0,
        };
        if self.dialect == Dialect::Crd && node.types != 0 && flag("nullable") {
            node.types |= NULL;
        }
        // `number` accepts integers, as in JSON Schema.
        if node.types & NUMBER != 0 {
            node.types |= INTEGER;
        }
        if flag("x-kubernetes-int-or-string") {
            node.special = Special::IntOrString;
        }
        node.embedded = flag("x-kubernetes-embedded-resource");
        if self.dialect == Dialect::Crd
            && let Some(Value::Array(rules)) = schema.get("x-kubernetes-validations")
        {
            for rule in rules {
                node.rules.push(self.arena.rules.len() as u32);
                self.arena.rules.push(rule.clone());
            }
        }
        node.has_default = schema.contains_key("default");
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                let id = self.compile(property);
                node.properties.insert(name.clone(), id);
            }
        }
        node.additional = match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => Additional::Forbidden,
            Some(Value::Bool(true)) => Additional::Any,
            Some(s @ Value::Object(_)) => Additional::Schema(self.compile(s)),
            _ => match self.dialect {
                Dialect::BuiltIn => Additional::Any,
                // Structural schemas: what is not declared is pruned, and
                // strict field validation reports it.
                Dialect::Crd if preserve || node.types == 0 && !node.embedded => Additional::Any,
                Dialect::Crd => Additional::Forbidden,
            },
        };
        if preserve && node.additional == Additional::Forbidden {
            node.additional = Additional::Any;
        }
        if let Some(items) = schema.get("items") {
            node.items = Some(self.compile(items));
        }
        if let Some(Value::Array(required)) = schema.get("required") {
            node.required = required
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            node.enumeration = values.clone();
        }
        node.format = schema
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_owned);
        for (key, list) in [
            ("allOf", &mut node.all_of),
            ("anyOf", &mut node.any_of),
            ("oneOf", &mut node.one_of),
        ] {
            if let Some(Value::Array(schemas)) = schema.get(key) {
                for s in schemas {
                    list.push(self.compile(s));
                }
            }
        }
        if let Some(not) = schema.get("not") {
            node.not = Some(self.compile(not));
        }
        node.list = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        };
        node.bounds = self.bounds(schema);
        node
    }

    fn bounds(&self, schema: &Map<String, Value>) -> Option<Box<Bounds>> {
        let number = |key: &str| schema.get(key).and_then(Value::as_f64);
        let count = |key: &str| schema.get(key).and_then(Value::as_u64);
        let pattern = match schema.get("pattern").and_then(Value::as_str) {
            Some(p) => match regex::Regex::new(&wasm_validate_re2::translate(p)) {
                Ok(re) => Some((p.to_owned(), re)),
                // The CRD's own check reports it (`pattern_problem`).
                Err(_) => None,
            },
            None => None,
        };
        let bounds = Bounds {
            minimum: number("minimum"),
            maximum: number("maximum"),
            exclusive_minimum: schema.get("exclusiveMinimum").and_then(Value::as_bool)
                == Some(true),
            exclusive_maximum: schema.get("exclusiveMaximum").and_then(Value::as_bool)
                == Some(true),
            multiple_of: number("multipleOf"),
            min_length: count("minLength"),
            max_length: count("maxLength"),
            pattern,
            min_items: count("minItems"),
            max_items: count("maxItems"),
            unique_items: schema.get("uniqueItems").and_then(Value::as_bool) == Some(true),
            min_properties: count("minProperties"),
            max_properties: count("maxProperties"),
        };
        let any = bounds.minimum.is_some()
            || bounds.maximum.is_some()
            || bounds.multiple_of.is_some()
            || bounds.min_length.is_some()
            || bounds.max_length.is_some()
            || bounds.pattern.is_some()
            || bounds.min_items.is_some()
            || bounds.max_items.is_some()
            || bounds.unique_items
            || bounds.min_properties.is_some()
            || bounds.max_properties.is_some();
        any.then(|| Box::new(bounds))
    }
}

fn type_bit(name: &str) -> u8 {
    match name {
        "object" => OBJECT,
        "array" => ARRAY,
        "string" => STRING,
        "integer" => INTEGER,
        "number" => NUMBER,
        "boolean" => BOOLEAN,
        "null" => NULL,
        _ => 0,
    }
}

/// Why `pattern` is not a regular expression the API server accepts (Go's
/// RE2 syntax, which the regex crate's follows), as the CRD's validation
/// says it: `"([a-z]": must be a valid regular expression, but isn't: ...`.
pub(crate) fn pattern_problem(pattern: &str) -> Option<String> {
    let error = regex::Regex::new(pattern).err()?;
    let cause = error
        .to_string()
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned();
    Some(format!(
        "{}: must be a valid regular expression, but isn't: {cause}",
        Value::String(pattern.to_owned())
    ))
}

/// A JSON Pointer reference token (RFC 6901: `~` as `~0`, `/` as `~1`).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
