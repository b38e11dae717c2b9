//! The API server's runtime cost of CEL, as the fast evaluation counts it.
//!
//! The API server stops an expression whose runtime cost passes a limit
//! (`operation cancelled: actual cost limit exceeded`), and a policy whose
//! expressions together pass a budget. The cost is cel-go's
//! (`interpreter/runtimecost.go`, with Kubernetes' estimator for its own
//! library and `has()` free): 1 for each identifier, each field selection
//! or index and each call of a function of constant cost; a traversal
//! factor of the sizes of the strings and lists a function reads (string
//! equality and ordering, `+` on strings, `in` on lists, `startsWith`,
//! `contains`, `matches`, `upperAscii`); 10 for each list built from
//! values that are not all literals; nothing for literals, `&&`, `||`,
//! `?:`, `orValue` (which cel-go plans to short-circuit), an optional
//! selection that finds nothing, a comprehension's own machinery or a
//! branch of `?:` that is a bare identifier. Kubernetes pins these figures in its cost stability test
//! (`celcoststability_test.go` of `apiextensions-apiserver`), whose cases
//! of the fast subset `cost_is_the_api_servers_on_its_stability_cases`
//! reproduces.

use super::eval::V;
use super::{Foreign, Plan};
use wasm_validate_abi::tape::Node;

/// The cost limit of one expression's evaluation (`PerCallLimit` of
/// `k8s.io/apiserver/pkg/apis/cel`: "roughly 0.1 second").
pub(crate) const PER_CALL_LIMIT: u64 = 1_000_000;

/// The cost budget of a policy's validations for one request
/// (`RuntimeCELCostBudget`: per ValidatingAdmissionPolicyBinding, or per
/// custom resource).
pub(crate) const RUNTIME_BUDGET: u64 = 10_000_000;

/// The cost budget of a policy's match conditions for one request
/// (`RuntimeCELCostBudgetMatchConditions`).
pub(crate) const MATCH_CONDITIONS_BUDGET: u64 = 2_500_000;

/// The cost of building a map from values that are not all literals
/// (`common.MapCreateBaseCost`).
pub(crate) const MAP_CREATE: u64 = 30;

/// cel-go's error when an expression passes [`PER_CALL_LIMIT`].
pub(crate) const LIMIT_EXCEEDED: &str = "operation cancelled: actual cost limit exceeded";

/// The API server's error when a policy's expressions pass their budget.
pub(crate) const OUT_OF_BUDGET: &str =
    "validation failed due to running out of cost budget, no further validation rules will be run";

/// The cost of building a list from values that are not all literals
/// (`common.ListCreateBaseCost`).
pub(crate) const LIST_CREATE: u64 = 10;

/// cel-go's `actualSize`: a string's length in code points, a list's or a
/// map's length, 1 for anything else.
pub(crate) fn size(value: &V<'_>) -> u64 {
    match value {
        V::Str(text) => text.chars().count() as u64,
        V::List(items) => items.len() as u64,
        V::Node(tape, index, _) => match tape.node(*index) {
            Ok(Node::Array { len, .. } | Node::Object { len, .. }) => len.into(),
            _ => 1,
        },
        V::Cel(value) => match &**value {
            cel::Value::Map(map) => map.map.len() as u64,
            cel::Value::Bytes(bytes) => bytes.len() as u64,
            _ => 1,
        },
        _ => 1,
    }
}

/// The cost of a call cel-rust evaluates ([`Foreign`]), given its
/// operands (the receiver first) and its result: Kubernetes' estimator for
/// its library (`CallCost` in `k8s.io/apiserver/pkg/cel/library/cost.go`),
/// cel-go's for the standard functions it prices by size (`string` of
/// bytes and `bytes` of a string), 1 for any other function, nothing for a
/// conversion of literals (folded by cel-go) or a name.
pub(crate) fn call(foreign: &Foreign, operands: &[V<'_>], result: &V<'_>) -> u64 {
    let first = operands.first().map_or(0, size);
    let second = operands.get(1).map_or(0, size);
    match foreign.function.as_str() {
        "" => 0,
        super::MAP_LITERAL if foreign.literals => 0,
        super::MAP_LITERAL => MAP_CREATE,
        "int" | "uint" | "double" | "string" | "bytes" | "bool" | "duration" | "timestamp"
            if foreign.literals =>
        {
            0
        }
        "string" if matches!(operands.first(), Some(V::Cel(value)) if matches!(**value, cel::Value::Bytes(_))) => {
            traversal(first)
        }
        "bytes" if matches!(operands.first(), Some(V::Str(_))) => traversal(first),
        "isSorted" | "sum" | "max" | "min" | "indexOf" | "lastIndexOf" => {
            operands.first().map_or(0, data_traversal)
        }
        "url"
        | "lowerAscii"
        | "upperAscii"
        | "substring"
        | "trim"
        | "jsonpatch.escapeKey"
        | "cidr"
        | "isIP"
        | "isCIDR"
        | "quantity"
        | "isQuantity"
        | "semver"
        | "isSemver" => traversal(first),
        // `cidr.ip()` reads a field; `ip(string)` parses.
        "ip" if foreign.member => 1,
        "ip" => traversal(first),
        "replace" | "split" | "isCanonical" => traversal(2 * first),
        "join" => traversal(2 * size(result)),
        "find" | "findAll" => traversal(1 + first) * regex_length(second),
        "containsIP" | "containsCIDR" => {
            let mut cost = traversal(2 * first);
            if foreign.function == "containsCIDR" {
                cost += traversal(first) + 1;
            }
            if matches!(operands.get(1), Some(V::Str(_))) {
                cost += traversal(second);
            }
            cost
        }
        _ => 1,
    }
}

/// Kubernetes' `traversalCost`: a string's bytes × 0.1 (rounded down),
/// the sum over a list's items or a map's keys and values, 1 for
/// anything else.
fn data_traversal(value: &V<'_>) -> u64 {
    match value {
        V::Str(text) => text.len() as u64 / 10,
        V::List(items) => items.iter().map(data_traversal).sum(),
        V::Node(tape, index, is_map) => {
            let Ok(
                wasm_validate_abi::tape::Node::Array { end, .. }
                | wasm_validate_abi::tape::Node::Object { end, .. },
            ) = tape.node(*index)
            else {
                return 1;
            };
            let mut cost = 0;
            let mut at = index + 1;
            while at < end {
                if *is_map {
                    cost += tape.key(at).map_or(0, |k| k.len() as u64 / 10);
                }
                cost += data_traversal(&V::at(*tape, at));
                at = tape.next(at).unwrap_or(end).max(at + 1);
            }
            cost
        }
        _ => 1,
    }
}

/// `ceil(size * 0.1)` (`common.StringTraversalCostFactor`).
pub(crate) fn traversal(size: u64) -> u64 {
    size.div_ceil(10)
}

/// `ceil(size * 0.25)` (`common.RegexStringLengthCostFactor`).
pub(crate) fn regex_length(size: u64) -> u64 {
    size.div_ceil(4)
}

/// The cost of `==` or `!=` (cel-go's O(min(m, n)) case): the traversal
/// of the smaller operand, 1 for two scalars.
pub(crate) fn equality(a: &V<'_>, b: &V<'_>) -> u64 {
    traversal(size(a).min(size(b)))
}

/// The cost of an ordering: traversal of the smaller of two strings, 1
/// otherwise.
pub(crate) fn ordering(a: &V<'_>, b: &V<'_>) -> u64 {
    match (a, b) {
        (V::Str(_), V::Str(_)) => equality(a, b),
        _ => 1,
    }
}

/// The cost of `+`: traversal of both strings, 1 otherwise (a list
/// concatenation is counted as constant, as cel-go does).
pub(crate) fn addition(a: &V<'_>, b: &V<'_>) -> u64 {
    match (a, b) {
        (V::Str(_), V::Str(_)) => traversal(size(a) + size(b)),
        _ => 1,
    }
}

/// Whether `plan` is a literal.
pub(crate) fn is_literal(plan: &Plan) -> bool {
    matches!(plan, Plan::Lit(_))
}

/// Whether `plan` is what cel-go plans as an attribute: a name with
/// selections and indexes. Its name costs 1, each selection or index 1;
/// on anything else, a selection is on a relative attribute, which costs
/// 1 more. Decided when planning (the plans keep the answer).
pub(crate) fn is_attribute(plan: &Plan) -> bool {
    matches!(
        plan,
        Plan::Slot(_)
            | Plan::Chain {
                default: None,
                relative: false,
                ..
            }
            | Plan::Index(_, false)
    )
}
