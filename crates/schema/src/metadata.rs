//! The rules the API server applies to every object's `metadata` besides
//! its schema, as apimachinery's `ValidateObjectMeta` does: the name (or
//! `generateName` prefix) in the format the kind requires, the namespace as
//! a DNS label, label keys and values, annotation keys and their total
//! size. Messages are apimachinery's (`k8s.io/apimachinery/pkg/util/validation`).

use serde_json::Value;

use crate::validate::{Step, Walk};

/// How a kind's names are validated (the name function of its REST strategy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// `NameIsDNSSubdomain`: most kinds, and custom resources.
    Subdomain,
    /// `NameIsDNSLabel` (RFC 1123): Namespace.
    Label,
    /// `NameIsDNS1035Label`: Service.
    Label1035,
    /// `ValidatePathSegmentName`: the RBAC kinds.
    PathSegment,
}

/// The name rule of a built-in kind, and an extra length limit where the
/// API server has one (CronJob: 52, so that its Jobs' names fit).
pub(crate) fn name_rule(group: &str, kind: &str) -> (NameRule, Option<usize>) {
    match (group, kind) {
        ("", "Namespace") => (NameRule::Label, None),
        ("", "Service") => (NameRule::Label1035, None),
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => (NameRule::PathSegment, None),
        ("batch", "CronJob") => (NameRule::Subdomain, Some(52)),
        _ => (NameRule::Subdomain, None),
    }
}

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
/// `TotalAnnotationSizeLimitB`: keys and values together, 256 KiB.
pub(crate) const ANNOTATIONS_MAX: usize = 256 * 1024;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn max_len(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && edge(&b[0]) && edge(&b[b.len() - 1]) && b.iter().all(|c| edge(c) || *c == b'-')
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`
fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` (and the empty string when `empty_ok`).
fn is_qualified_part(s: &str, empty_ok: bool) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return empty_ok;
    }
    let edge = |c: &u8| c.is_ascii_alphanumeric();
    edge(&b[0])
        && edge(&b[b.len() - 1])
        && b.iter().all(|c| edge(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsDNS1123Subdomain`.
pub(crate) fn subdomain_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(max_len(DNS1123_SUBDOMAIN_MAX));
    }
    if !is_subdomain(s) {
        errors.push(SUBDOMAIN_MESSAGE.to_owned());
    }
    errors
}

/// `IsDNS1123Label`.
pub(crate) fn label_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errors.push(max_len(DNS1123_LABEL_MAX));
    }
    if !is_label(s) {
        errors.push(LABEL_MESSAGE.to_owned());
    }
    errors
}

fn label_1035_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        errors.push(max_len(DNS1123_LABEL_MAX));
    }
    if !(is_label(s) && s.as_bytes()[0].is_ascii_lowercase()) {
        errors.push(LABEL_1035_MESSAGE.to_owned());
    }
    errors
}

fn path_segment_errors(s: &str, prefix: bool) -> Vec<String> {
    let mut errors = Vec::new();
    if !prefix && (s == "." || s == "..") {
        errors.push(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errors.push(format!("may not contain '{bad}'"));
        }
    }
    errors
}

/// `IsQualifiedName`: a label key or an annotation key.
pub(crate) fn qualified_name_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                errors.extend(
                    subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            name
        }
        _ => {
            errors.push(format!(
                "a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errors;
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX {
        errors.push(format!("name part {}", max_len(QUALIFIED_NAME_MAX)));
    }
    if !name.is_empty() && !is_qualified_part(name, false) {
        errors.push(format!("name part {QUALIFIED_NAME_MESSAGE}"));
    }
    errors
}

/// `IsValidLabelValue`.
fn label_value_errors(s: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        errors.push(max_len(LABEL_VALUE_MAX));
    }
    if !is_qualified_part(s, true) {
        errors.push(LABEL_VALUE_MESSAGE.to_owned());
    }
    errors
}

fn name_errors(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    // A generateName prefix may end with '-' (`maskTrailingDash`).
    let masked;
    let name = if prefix && name.len() > 1 && name.ends_with('-') {
        masked = format!("{}a", &name[..name.len() - 1]);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => subdomain_errors(name),
        NameRule::Label => label_errors(name),
        NameRule::Label1035 => label_1035_errors(name),
        NameRule::PathSegment => path_segment_errors(name, prefix),
    }
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Checks `object`'s metadata with the kind's name rule, recording findings
/// on `walk` (whose path is the object's root).
pub(crate) fn check<'a>(
    walk: &mut Walk<'a>,
    object: &'a Value,
    rule: NameRule,
    name_max: Option<usize>,
) {
    let Some(metadata) = object.get("metadata").and_then(Value::as_object) else {
        walk.path.push(Step::Field("metadata"));
        walk.path.push(Step::Field("name"));
        walk.report("Required value: name or generateName is required".to_owned());
        walk.path.truncate(0);
        return;
    };
    walk.path.push(Step::Field("metadata"));
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let generate = metadata
        .get("generateName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if name.is_none() && generate.is_none() {
        walk.path.push(Step::Field("name"));
        walk.report("Required value: name or generateName is required".to_owned());
        walk.path.pop();
    }
    for (key, value, prefix) in [("generateName", generate, true), ("name", name, false)] {
        let Some(value) = value else { continue };
        walk.path.push(Step::Field(key));
        let mut errors = name_errors(rule, value, prefix);
        if let Some(max) = name_max.filter(|&max| !prefix && value.len() > max) {
            errors.push(max_len(max));
        }
        for message in errors {
            walk.report(format!("Invalid value: {}: {message}", quoted(value)));
        }
        walk.path.pop();
    }
    if let Some(namespace) = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        walk.path.push(Step::Field("namespace"));
        for message in label_errors(namespace) {
            walk.report(format!("Invalid value: {}: {message}", quoted(namespace)));
        }
        walk.path.pop();
    }
    if let Some(labels) = metadata.get("labels").and_then(Value::as_object) {
        walk.path.push(Step::Field("labels"));
        for (key, value) in labels {
            let mut messages: Vec<(String, String)> = qualified_name_errors(key)
                .into_iter()
                .map(|m| (key.clone(), m))
                .collect();
            if let Some(value) = value.as_str() {
                messages.extend(
                    label_value_errors(value)
                        .into_iter()
                        .map(|m| (value.to_owned(), m)),
                );
            }
            if messages.is_empty() {
                continue;
            }
            // The field is `metadata.labels`; the pointer goes to the entry,
            // so that the report gives its line.
            let field = walk.field();
            walk.path.push(Step::Key(key));
            for (shown, message) in messages {
                walk.report_whole(format!(
                    "{field}: Invalid value: {}: {message}",
                    quoted(&shown)
                ));
            }
            walk.path.pop();
        }
        walk.path.pop();
    }
    if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object) {
        walk.path.push(Step::Field("annotations"));
        let field = walk.field();
        let mut total = 0;
        for (key, value) in annotations {
            total += key.len() + value.as_str().map_or(0, str::len);
            let messages = qualified_name_errors(&key.to_lowercase());
            if messages.is_empty() {
                continue;
            }
            walk.path.push(Step::Key(key));
            for message in messages {
                walk.report_whole(format!(
                    "{field}: Invalid value: {}: {message}",
                    quoted(key)
                ));
            }
            walk.path.pop();
        }
        if total > ANNOTATIONS_MAX {
            walk.report(format!(
                "Too long: may not be more than {ANNOTATIONS_MAX} bytes"
            ));
        }
        walk.path.pop();
    }
    walk.path.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_apimachinery() {
        assert!(subdomain_errors("my-app.example").is_empty());
        assert_eq!(
            subdomain_errors("My_App"),
            vec![SUBDOMAIN_MESSAGE.to_owned()]
        );
        assert_eq!(subdomain_errors(&"a".repeat(254)).len(), 1);
        assert!(label_errors("kube-system").is_empty());
        assert!(!label_errors("a.b").is_empty());
        assert!(!label_1035_errors("1abc").is_empty());
        assert!(label_1035_errors("abc-1").is_empty());
        assert_eq!(
            path_segment_errors("system:controller/x", false),
            vec!["may not contain '/'".to_owned()]
        );
        assert!(name_errors(NameRule::Subdomain, "web-", true).is_empty());
    }

    #[test]
    fn qualified_names_follow_apimachinery() {
        assert!(qualified_name_errors("app.kubernetes.io/name").is_empty());
        assert!(qualified_name_errors("Name_1.x").is_empty());
        assert_eq!(
            qualified_name_errors("/x"),
            vec!["prefix part must be non-empty".to_owned()]
        );
        assert_eq!(qualified_name_errors("a/b/c").len(), 1);
        assert!(
            qualified_name_errors("-bad")
                .iter()
                .any(|m| m.starts_with("name part must consist"))
        );
        assert!(label_value_errors("").is_empty());
        assert!(!label_value_errors("has space").is_empty());
    }
}
