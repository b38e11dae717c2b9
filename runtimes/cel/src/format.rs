//! The Kubernetes format library
//! (https://kubernetes.io/docs/reference/using-api/cel/#format-library):
//! `format.named(name)` (an optional format: none for a name it does not
//! know), the constructors `format.dns1123Label()`,
//! `format.dns1123Subdomain()`, `format.dns1035Label()`,
//! `format.qualifiedName()`, `format.dns1123LabelPrefix()`,
//! `format.dns1123SubdomainPrefix()`, `format.dns1035LabelPrefix()`,
//! `format.labelValue()`, `format.uri()`, `format.uuid()`, `format.byte()`,
//! `format.date()` and `format.datetime()`, and `<format>.validate(string)`:
//! `optional.none()` when the string has the format, else an optional list
//! of the reasons it does not.
//!
//! The reasons are the API server's own messages (apimachinery's
//! `validation` package: `IsDNS1123Label`, `IsQualifiedName`,
//! `IsValidLabelValue`, ... and `maskTrailingDash` for the prefix formats;
//! go-openapi's `strfmt` for `uuid`, `byte`, `date` and `datetime`). Two
//! approximations, documented in docs/cel.md: `uri` says `parse "TEXT":
//! invalid URI for request` (Go's `url.ParseRequestURI` has a few more
//! messages), and `datetime` accepts strfmt's layouts listed in
//! [`is_datetime`].
//!
//! A format is a map with a key CEL source cannot write (`@format`), like
//! the other Kubernetes types here, so two formats are equal when they are
//! the same format.

use std::sync::Arc;

use cel::objects::OptionalValue;
use cel::{ExecutionError, Value};

use crate::net::{marked, text_of};

/// The format marker.
pub const FORMAT: &str = "@format";

/// The formats, by the name `format.named` takes.
pub const NAMES: [&str; 13] = [
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

const DNS1123_LABEL: (&str, &str, &[&str]) = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?",
    &["my-name", "123-abc"],
);
const DNS1123_SUBDOMAIN: (&str, &str, &[&str]) = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
    &["example.com"],
);
const DNS1035_LABEL: (&str, &str, &[&str]) = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
    "[a-z]([-a-z0-9]*[a-z0-9])?",
    &["my-name", "abc-123"],
);
const QUALIFIED_NAME: (&str, &str, &[&str]) = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]",
    &["MyName", "my.name", "123-abc"],
);
const LABEL_VALUE: (&str, &str, &[&str]) = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
    &["MyValue", "my_value", "12345"],
);

/// apimachinery's `RegexError`: the message, the examples and the regex.
fn regex_error((message, pattern, examples): (&str, &str, &[&str])) -> String {
    let mut out = message.to_owned();
    out.push_str(" (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{pattern}')"));
    out
}

/// Whether all of `text` matches `pattern`.
fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(text))
}

/// A length limit and a pattern: apimachinery's checks of names.
fn check(text: &str, max: usize, rule: (&str, &str, &[&str])) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > max {
        errors.push(format!("must be no more than {max} characters"));
    }
    if !matches(rule.1, text) {
        errors.push(regex_error(rule));
    }
    errors
}

/// apimachinery's `maskTrailingDash`, for the prefix formats (a name
/// prefix may end with `-`, which the generated suffix follows).
fn mask_trailing_dash(text: &str) -> String {
    if text.len() > 1 && text.ends_with('-') {
        format!("{}a", &text[..text.len() - 2])
    } else {
        text.to_owned()
    }
}

/// apimachinery's `IsQualifiedName`: an optional DNS subdomain prefix and
/// `/`, then a name of at most 63 characters.
fn qualified_name(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split('/').collect();
    let mut errors = Vec::new();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                errors.extend(
                    check(prefix, 253, DNS1123_SUBDOMAIN)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME)
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_owned());
    }
    if !matches(QUALIFIED_NAME.1, name) {
        errors.push(format!("name part {}", regex_error(QUALIFIED_NAME)));
    }
    errors
}

/// go-openapi strfmt's `datetime`: RFC 3339 with an optional fraction and
/// an offset with or without its colon, or without an offset; minutes
/// precision (`2006-01-02T15:04Z`, `2006-01-02T15:04`); and
/// `2006-01-02 15:04:05`.
fn is_datetime(text: &str) -> bool {
    use chrono::{DateTime, NaiveDateTime};
    DateTime::parse_from_rfc3339(text).is_ok()
        || DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok()
}

/// The reasons `text` does not have the format `name` (empty: it has it).
pub fn validate(name: &str, text: &str) -> Vec<String> {
    let fails = |ok: bool, message: &str| {
        if ok {
            Vec::new()
        } else {
            vec![message.to_owned()]
        }
    };
    match name {
        "dns1123Label" => check(text, 63, DNS1123_LABEL),
        "dns1123Subdomain" => check(text, 253, DNS1123_SUBDOMAIN),
        "dns1035Label" => check(text, 63, DNS1035_LABEL),
        "qualifiedName" => qualified_name(text),
        "dns1123LabelPrefix" => check(&mask_trailing_dash(text), 63, DNS1123_LABEL),
        "dns1123SubdomainPrefix" => check(&mask_trailing_dash(text), 253, DNS1123_SUBDOMAIN),
        "dns1035LabelPrefix" => check(&mask_trailing_dash(text), 63, DNS1035_LABEL),
        "labelValue" => check(text, 63, LABEL_VALUE),
        "uri" if text.is_empty() => vec![r#"parse "": empty url"#.to_owned()],
        "uri" => fails(
            crate::net::parse_url(text).is_some(),
            &format!("parse {text:?}: invalid URI for request"),
        ),
        "uuid" => fails(
            matches(
                "(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}",
                text,
            ),
            "does not match the UUID format",
        ),
        "byte" => fails(
            {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_ok()
            },
            "invalid base64",
        ),
        "date" => fails(
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() && text.len() == 10,
            "invalid date",
        ),
        "datetime" => fails(is_datetime(text), "invalid datetime"),
        _ => Vec::new(),
    }
}

fn optional(value: Option<Value>) -> Value {
    Value::Opaque(Arc::new(match value {
        Some(value) => OptionalValue::of(value),
        None => OptionalValue::none(),
    }))
}

/// `format.named(string)`.
pub fn named(args: &[Value]) -> Result<Value, ExecutionError> {
    let Some(Value::String(name)) = args.first() else {
        return Err(ExecutionError::function_error(
            "format.named",
            "the name must be a string",
        ));
    };
    Ok(optional(
        NAMES
            .contains(&name.as_str())
            .then(|| marked(FORMAT, name.to_string())),
    ))
}

/// `format.NAME()`: the format `name`.
pub fn constant(name: &str) -> Value {
    marked(FORMAT, name.to_owned())
}

/// `<format>.validate(string)`.
pub fn validate_member(args: &[Value]) -> Result<Value, ExecutionError> {
    let (Some(name), Some(Value::String(text))) =
        (args.first().and_then(|f| text_of(f, FORMAT)), args.get(1))
    else {
        return Err(ExecutionError::function_error(
            "validate",
            "validate is called on a format with a string",
        ));
    };
    let errors = validate(name, text);
    Ok(optional((!errors.is_empty()).then(|| {
        Value::List(Arc::new(
            errors
                .into_iter()
                .map(|e| Value::String(Arc::new(e)))
                .collect(),
        ))
    })))
}
