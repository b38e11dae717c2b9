//! Kubernetes' semver library for CEL (Kubernetes 1.33,
//! https://kubernetes.io/docs/reference/using-api/cel/): `isSemver(string)`
//! (and `isSemver(string, normalize)`), `semver(string)` (and
//! `semver(string, normalize)`), and on a version `major()`, `minor()`,
//! `patch()`, `isLessThan`, `isGreaterThan`, `compareTo`. Parsed with the
//! `semver` crate (Semantic Versioning 2.0.0); `normalize` accepts a `v`
//! prefix and missing minor or patch numbers, as Kubernetes does.
//!
//! A version is a map with one key no CEL source can write (`@semver`).

use cel::{ExecutionError, Value};

use crate::net::{marked, text_of};

/// The marker key.
pub const SEMVER: &str = "@semver";

/// Parses `text`, normalized first when asked.
pub fn parse(text: &str, normalize: bool) -> Option<semver::Version> {
    if !normalize {
        return semver::Version::parse(text).ok();
    }
    let text = text.strip_prefix('v').unwrap_or(text);
    let (core, rest) = match text.find(['-', '+']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let mut parts: Vec<String> = core
        .split('.')
        .map(|p| p.trim_start_matches('0'))
        .map(|p| {
            if p.is_empty() {
                "0".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    while parts.len() < 3 {
        parts.push("0".to_owned());
    }
    semver::Version::parse(&format!("{}{rest}", parts.join("."))).ok()
}

fn arguments(args: &[Value]) -> (Option<&str>, bool) {
    let text = match args.first() {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    (text, matches!(args.get(1), Some(Value::Bool(true))))
}

/// `isSemver(string[, normalize])`.
pub fn is_semver(args: &[Value]) -> Result<Value, ExecutionError> {
    let (text, normalize) = arguments(args);
    Ok(Value::Bool(
        text.and_then(|t| parse(t, normalize)).is_some(),
    ))
}

/// `semver(string[, normalize])`.
pub fn semver(args: &[Value]) -> Result<Value, ExecutionError> {
    let (text, normalize) = arguments(args);
    let text = text.unwrap_or_default();
    let version = parse(text, normalize).ok_or_else(|| {
        ExecutionError::function_error(
            "semver",
            format!("{text:?} is not a valid semantic version"),
        )
    })?;
    Ok(marked(SEMVER, version.to_string()))
}

/// The version a CEL value holds, if it is one.
pub fn of(value: &Value) -> Option<semver::Version> {
    text_of(value, SEMVER).and_then(|t| semver::Version::parse(t).ok())
}

/// `major()`, `minor()`, `patch()`.
pub fn part(args: &[Value], name: &str) -> Result<Value, ExecutionError> {
    let version = args
        .first()
        .and_then(of)
        .ok_or_else(|| ExecutionError::function_error(name, "the receiver is not a version"))?;
    let number = match name {
        "major" => version.major,
        "minor" => version.minor,
        _ => version.patch,
    };
    Ok(Value::Int(i64::try_from(number).unwrap_or(i64::MAX)))
}
