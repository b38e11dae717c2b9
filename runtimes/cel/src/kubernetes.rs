//! The Kubernetes CEL libraries the API server adds to CEL, as far as this
//! runtime has them (https://kubernetes.io/docs/reference/using-api/cel/):
//!
//! - lists: `isSorted()`, `sum()`, `min()`, `max()`, `indexOf(x)`,
//!   `lastIndexOf(x)` on lists;
//! - regex: `find(re)`, `findAll(re)`, `findAll(re, n)` on strings (RE2
//!   syntax, as Go's `regexp`).
//!
//! - quantity ([`crate::quantity`]), IP, CIDR and URL ([`crate::net`]),
//!   semver ([`crate::semver_lib`]) and named formats ([`crate::format`]);
//! - cel-go's sets extension ([`crate::sets`]).
//!
//! Not here (a policy calling it is refused when it is prepared): the
//! authorizer, which needs the API server. See docs/cel.md.

use cel::common::ast::{CallExpr, Expr};
use cel::common::functions::Function;
use cel::common::types::{
    BOOL_TYPE, CelOptional, DYN_TYPE, INT_TYPE, LIST_TYPE, MAP_TYPE, STRING_TYPE, Type,
};
use cel::common::value::CowVal;
use cel::parser::Macro;
use cel::{Env, ExecutionError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// A library function written over [`Value`]s.
pub(crate) type Body = fn(&[Value]) -> Result<Value, ExecutionError>;

/// Declares `$name` as a CEL overload that converts its arguments to
/// [`Value`]s, runs `$body` and converts the result back (also used by
/// `two_var`).
macro_rules! over_values {
    ($name:ident, $body:expr) => {
        fn $name<'b, 'v>(
            args: Vec<cel::common::value::CowVal<'b, 'v>>,
        ) -> Result<cel::common::value::CowVal<'b, 'v>, cel::ExecutionError> {
            let values = args
                .iter()
                .map(|a| cel::Value::try_from(a.as_ref()))
                .collect::<Result<Vec<_>, _>>()?;
            let body: $crate::kubernetes::Body = $body;
            let boxed: Box<dyn cel::common::value::Val> = body(&values)?.try_into()?;
            Ok(cel::common::value::CowVal::Owned(boxed))
        }
    };
}
pub(crate) use over_values;

over_values!(is_sorted, |a| Ok(Value::Bool(
    list(a)?
        .windows(2)
        .all(|w| compare(&w[0], &w[1]) != Some(Ordering::Greater))
)));
over_values!(sum, |a| sum_of(list(a)?));
over_values!(min, |a| extreme(list(a)?, "min", Ordering::Less));
over_values!(max, |a| extreme(list(a)?, "max", Ordering::Greater));
over_values!(index_of, |a| Ok(Value::Int(
    list(a)?
        .iter()
        .position(|v| *v == a[1])
        .map_or(-1, |i| i as i64)
)));
over_values!(last_index_of, |a| Ok(Value::Int(
    list(a)?
        .iter()
        .rposition(|v| *v == a[1])
        .map_or(-1, |i| i as i64)
)));
over_values!(find, |a| {
    let text = string(&a[0])?;
    Ok(Value::String(Arc::new(with_regex(&a[1], |re| {
        re.find(text)
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default()
    })?)))
});
over_values!(find_all, |a| find_all_of(a, -1));
over_values!(find_all_n, |a| {
    let Value::Int(n) = a[2] else {
        return Err(ExecutionError::function_error(
            "findAll",
            "the limit must be an int",
        ));
    };
    find_all_of(a, n)
});

over_values!(is_quantity, crate::quantity::is_quantity);
over_values!(quantity, crate::quantity::quantity);
over_values!(q_add, |a| crate::quantity::add_or_sub(a, false));
over_values!(q_sub, |a| crate::quantity::add_or_sub(a, true));
over_values!(q_is_integer, |a| Ok(Value::Bool(
    crate::quantity::argument(a, 0, "isInteger")?.is_integer()
)));
over_values!(q_as_integer, |a| crate::quantity::argument(
    a,
    0,
    "asInteger"
)?
.as_integer()
.map(Value::Int)
.ok_or_else(|| ExecutionError::function_error(
    "asInteger",
    "the quantity is not an integer or does not fit an int"
)));
over_values!(q_as_float, |a| Ok(Value::Float(
    crate::quantity::argument(a, 0, "asApproximateFloat")?.as_float()
)));
over_values!(q_sign, |a| Ok(Value::Int(
    crate::quantity::argument(a, 0, "sign")?.mantissa.signum() as i64
)));
over_values!(compare_to, |a| Ok(Value::Int(
    match ordering(a, "compareTo")? {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
)));
over_values!(is_less_than, |a| Ok(Value::Bool(
    ordering(a, "isLessThan")? == Ordering::Less
)));
over_values!(is_greater_than, |a| Ok(Value::Bool(
    ordering(a, "isGreaterThan")? == Ordering::Greater
)));
over_values!(is_ip, crate::net::is_ip);
over_values!(ip, crate::net::ip);
over_values!(ip_is_canonical, crate::net::ip_is_canonical);
over_values!(ip_family, |a| crate::net::ip_property(a, "family"));
over_values!(ip_is_unspecified, |a| crate::net::ip_property(
    a,
    "isUnspecified"
));
over_values!(ip_is_loopback, |a| crate::net::ip_property(a, "isLoopback"));
over_values!(ip_is_link_local_multicast, |a| crate::net::ip_property(
    a,
    "isLinkLocalMulticast"
));
over_values!(ip_is_link_local_unicast, |a| crate::net::ip_property(
    a,
    "isLinkLocalUnicast"
));
over_values!(ip_is_global_unicast, |a| crate::net::ip_property(
    a,
    "isGlobalUnicast"
));
over_values!(is_cidr, crate::net::is_cidr);
over_values!(cidr, crate::net::cidr);
over_values!(cidr_contains_ip, |a| crate::net::cidr_function(
    a,
    "containsIP"
));
over_values!(cidr_contains_cidr, |a| crate::net::cidr_function(
    a,
    "containsCIDR"
));
over_values!(cidr_ip, |a| crate::net::cidr_function(a, "ip"));
over_values!(cidr_masked, |a| crate::net::cidr_function(a, "masked"));
over_values!(cidr_prefix_length, |a| crate::net::cidr_function(
    a,
    "prefixLength"
));
over_values!(is_url, crate::net::is_url);
over_values!(url, crate::net::url);
over_values!(url_scheme, |a| crate::net::url_part(a, "getScheme"));
over_values!(url_host, |a| crate::net::url_part(a, "getHost"));
over_values!(url_hostname, |a| crate::net::url_part(a, "getHostname"));
over_values!(url_port, |a| crate::net::url_part(a, "getPort"));
over_values!(url_path, |a| crate::net::url_part(a, "getEscapedPath"));
over_values!(url_query, |a| crate::net::url_part(a, "getQuery"));
over_values!(is_semver, crate::semver_lib::is_semver);
over_values!(semver, crate::semver_lib::semver);
over_values!(semver_major, |a| crate::semver_lib::part(a, "major"));
over_values!(semver_minor, |a| crate::semver_lib::part(a, "minor"));
over_values!(semver_patch, |a| crate::semver_lib::part(a, "patch"));
over_values!(sets_contains, crate::sets::contains);
over_values!(sets_equivalent, crate::sets::equivalent);
over_values!(sets_intersects, crate::sets::intersects);
over_values!(format_named, crate::format::named);
over_values!(format_validate, crate::format::validate_member);

/// Declares `format.NAME()` for each format: `$function => "NAME"`.
macro_rules! format_constants {
    ($($function:ident => $name:literal),* $(,)?) => {
        $(over_values!($function, |_| Ok(crate::format::constant($name)));)*
        /// The constructors `format.NAME()`, by name.
        const FORMAT_CONSTANTS: [(&str, Function); crate::format::NAMES.len()] =
            [$(($name, $function)),*];
    };
}
format_constants!(
    format_dns1123_label => "dns1123Label",
    format_dns1123_subdomain => "dns1123Subdomain",
    format_dns1035_label => "dns1035Label",
    format_qualified_name => "qualifiedName",
    format_dns1123_label_prefix => "dns1123LabelPrefix",
    format_dns1123_subdomain_prefix => "dns1123SubdomainPrefix",
    format_dns1035_label_prefix => "dns1035LabelPrefix",
    format_label_value => "labelValue",
    format_uri => "uri",
    format_uuid => "uuid",
    format_byte => "byte",
    format_date => "date",
    format_datetime => "datetime",
);

over_values!(marked_string, |a| {
    let text = a.first().and_then(|v| {
        [
            crate::net::IP,
            crate::net::CIDR,
            crate::net::URL,
            crate::semver_lib::SEMVER,
        ]
        .iter()
        .find_map(|m| crate::net::text_of(v, m))
    });
    text.map(|t| Value::String(Arc::new(t.to_owned())))
        .ok_or_else(|| ExecutionError::function_error("string", "a map is not a string"))
});

/// The order of two quantities or two semantic versions (the receiver and
/// the argument).
fn ordering(args: &[Value], function: &str) -> Result<Ordering, ExecutionError> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return Err(ExecutionError::function_error(function, "two arguments"));
    };
    if let (Some(a), Some(b)) = (
        crate::quantity::Quantity::of(a),
        crate::quantity::Quantity::of(b),
    ) {
        return Ok(a.compare(b));
    }
    if let (Some(a), Some(b)) = (crate::semver_lib::of(a), crate::semver_lib::of(b)) {
        return Ok(a.cmp(&b));
    }
    Err(ExecutionError::function_error(
        function,
        "both values must be quantities, or both semantic versions",
    ))
}

/// The function `x.orValue(d)` is rewritten to call (a name CEL source
/// cannot spell).
pub(crate) const OR_VALUE: &str = "@orValue";

/// `x.orValue(d)`: an optional's value, or `d` when it has none; and, on a
/// value that is not an optional, the value itself, as cel-go evaluates it
/// for Kyverno (its pod-security policies call `capabilities.add.orValue([])`
/// on a plain list and expect the list).
pub(crate) fn or_value<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (Some(default), Some(this)) = (args.pop(), args.pop()) else {
        return Err(ExecutionError::MissingArgumentOrTarget);
    };
    match this.downcast_ref::<CelOptional>() {
        Some(optional) => Ok(match optional.option() {
            Some(value) => CowVal::Owned(value.clone_as_boxed()),
            None => default,
        }),
        None => Ok(this),
    }
}

/// Registers the libraries on `env`.
pub fn extension(env: &mut Env) -> Result<(), cel::DeclarationError> {
    env.add_overload(
        OR_VALUE,
        "k8s.orValue(dyn,dyn)",
        vec![DYN_TYPE, DYN_TYPE],
        or_value,
    )?;
    let globals: [(&str, Vec<Type>, Function); 11] = [
        ("isQuantity", vec![STRING_TYPE], is_quantity),
        ("quantity", vec![STRING_TYPE], quantity),
        ("isIP", vec![STRING_TYPE], is_ip),
        ("ip", vec![STRING_TYPE], ip),
        ("ip.isCanonical", vec![STRING_TYPE], ip_is_canonical),
        ("isCIDR", vec![STRING_TYPE], is_cidr),
        ("cidr", vec![STRING_TYPE], cidr),
        ("isURL", vec![STRING_TYPE], is_url),
        ("url", vec![STRING_TYPE], url),
        ("isSemver", vec![STRING_TYPE], is_semver),
        ("semver", vec![STRING_TYPE], semver),
    ];
    for (name, args, function) in globals {
        env.add_overload(name, &format!("k8s.{name}"), args, function)?;
    }
    env.add_overload(
        "isSemver",
        "k8s.isSemver(string,bool)",
        vec![STRING_TYPE, BOOL_TYPE],
        is_semver,
    )?;
    env.add_overload(
        "semver",
        "k8s.semver(string,bool)",
        vec![STRING_TYPE, BOOL_TYPE],
        semver,
    )?;
    env.add_overload("string", "k8s.string(map)", vec![MAP_TYPE], marked_string)?;
    for (name, function) in [
        ("sets.contains", sets_contains as Function),
        ("sets.equivalent", sets_equivalent),
        ("sets.intersects", sets_intersects),
    ] {
        env.add_overload(
            name,
            &format!("k8s.{name}(list,list)"),
            vec![LIST_TYPE, LIST_TYPE],
            function,
        )?;
    }
    env.add_overload(
        "format.named",
        "k8s.format.named(string)",
        vec![STRING_TYPE],
        format_named,
    )?;
    for (name, function) in FORMAT_CONSTANTS {
        env.add_overload(
            &format!("format.{name}"),
            &format!("k8s.format.{name}()"),
            vec![],
            function,
        )?;
    }
    env.add_member_overload(
        "validate",
        "k8s.format.validate(string)",
        MAP_TYPE,
        vec![STRING_TYPE],
        format_validate,
    )?;
    let members: [(&str, Vec<Type>, Function); 29] = [
        ("add", vec![DYN_TYPE], q_add),
        ("sub", vec![DYN_TYPE], q_sub),
        ("isInteger", vec![], q_is_integer),
        ("asInteger", vec![], q_as_integer),
        ("asApproximateFloat", vec![], q_as_float),
        ("sign", vec![], q_sign),
        ("compareTo", vec![MAP_TYPE], compare_to),
        ("isLessThan", vec![MAP_TYPE], is_less_than),
        ("isGreaterThan", vec![MAP_TYPE], is_greater_than),
        ("family", vec![], ip_family),
        ("isUnspecified", vec![], ip_is_unspecified),
        ("isLoopback", vec![], ip_is_loopback),
        ("isLinkLocalMulticast", vec![], ip_is_link_local_multicast),
        ("isLinkLocalUnicast", vec![], ip_is_link_local_unicast),
        ("isGlobalUnicast", vec![], ip_is_global_unicast),
        ("containsIP", vec![DYN_TYPE], cidr_contains_ip),
        ("containsCIDR", vec![DYN_TYPE], cidr_contains_cidr),
        ("ip", vec![], cidr_ip),
        ("masked", vec![], cidr_masked),
        ("prefixLength", vec![], cidr_prefix_length),
        ("getScheme", vec![], url_scheme),
        ("getHost", vec![], url_host),
        ("getHostname", vec![], url_hostname),
        ("getPort", vec![], url_port),
        ("getEscapedPath", vec![], url_path),
        ("getQuery", vec![], url_query),
        ("major", vec![], semver_major),
        ("minor", vec![], semver_minor),
        ("patch", vec![], semver_patch),
    ];
    for (name, args, function) in members {
        let id = format!("k8s.map.{name}({})", args.len());
        env.add_member_overload(name, &id, MAP_TYPE, args, function)?;
    }
    env.add_macro(Macro::receiver("orValue", 1, |helper, target, args| {
        let (Some(target), Some(default)) = (target.take(), args.pop()) else {
            return Ok(None);
        };
        Ok(Some(helper.next_expr(Expr::Call(CallExpr {
            func_name: OR_VALUE.to_owned(),
            target: None,
            args: vec![target, default],
        }))))
    }))?;
    env.add_member_overload(
        "isSorted",
        "k8s.list.isSorted()",
        LIST_TYPE,
        vec![],
        is_sorted,
    )?;
    env.add_member_overload("sum", "k8s.list.sum()", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "k8s.list.min()", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "k8s.list.max()", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "k8s.list.indexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "k8s.list.lastIndexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    env.add_member_overload(
        "find",
        "k8s.string.find(string)",
        STRING_TYPE,
        vec![STRING_TYPE],
        find,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s.string.findAll(string)",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s.string.findAll(string,int)",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_n,
    )?;
    Ok(())
}

fn list(args: &[Value]) -> Result<&[Value], ExecutionError> {
    match args.first() {
        Some(Value::List(items)) => Ok(items),
        other => Err(ExecutionError::UnexpectedType {
            got: format!("{other:?}"),
            want: "list".to_owned(),
        }),
    }
}

fn string(value: &Value) -> Result<&str, ExecutionError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(ExecutionError::UnexpectedType {
            got: format!("{other:?}"),
            want: "string".to_owned(),
        }),
    }
}

/// `search` run on the pattern `value` (a string), compiled once and kept
/// (`wasm_validate_sdk::regexes`).
fn with_regex<T>(
    value: &Value,
    search: impl FnOnce(&regex::Regex) -> T,
) -> Result<T, ExecutionError> {
    let pattern = string(value)?;
    wasm_validate_sdk::regexes::with_regex(pattern, crate::regexes::SIZE_LIMIT, search)
        .map_err(|e| ExecutionError::function_error("regex", e))
}

/// Orders two values of the same type (numbers across int, uint and
/// double, as CEL compares them).
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    a.partial_cmp(b)
}

fn sum_of(items: &[Value]) -> Result<Value, ExecutionError> {
    let overflow = || ExecutionError::function_error("sum", "integer overflow");
    let mut total = match items.first() {
        None => return Ok(Value::Int(0)),
        Some(first) => first.clone(),
    };
    for item in &items[1..] {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => Value::Int(a.checked_add(*b).ok_or_else(overflow)?),
            (Value::UInt(a), Value::UInt(b)) => {
                Value::UInt(a.checked_add(*b).ok_or_else(overflow)?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (a, b) => {
                return Err(ExecutionError::function_error(
                    "sum",
                    format!("cannot add {b:?} to {a:?}"),
                ));
            }
        };
    }
    Ok(total)
}

fn extreme(items: &[Value], name: &str, wanted: Ordering) -> Result<Value, ExecutionError> {
    let mut best = items
        .first()
        .ok_or_else(|| ExecutionError::function_error(name, "the list is empty"))?;
    for item in &items[1..] {
        match compare(item, best) {
            Some(order) if order == wanted => best = item,
            Some(_) => {}
            None => {
                return Err(ExecutionError::function_error(
                    name,
                    format!("{item:?} and {best:?} cannot be compared"),
                ));
            }
        }
    }
    Ok(best.clone())
}

fn find_all_of(args: &[Value], limit: i64) -> Result<Value, ExecutionError> {
    let text = string(&args[0])?;
    let found = with_regex(&args[1], |re| {
        let found = re
            .find_iter(text)
            .map(|m| Value::String(Arc::new(m.as_str().to_owned())));
        match usize::try_from(limit) {
            Ok(limit) => found.take(limit).collect::<Vec<Value>>(),
            Err(_) => found.collect(),
        }
    })?;
    Ok(Value::List(Arc::new(found)))
}
