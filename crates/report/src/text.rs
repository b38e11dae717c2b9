//! The text report's lines: each resource with a noteworthy result under
//! a line naming it, coloured when asked.

use std::fmt::Write as _;

use wasm_validate_pipeline::patch_op_name as op_name;

use crate::{Action, ResultEntry, ResultKind, ViolationEntry};

/// `text` in ANSI colour `code` when `color`.
pub(crate) fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// The text report's lines for `results`: each resource with a noteworthy
/// result (failed, warned, audited, errored, exempted findings, warnings,
/// patches) under a line naming it.
pub(crate) fn text_results(results: &[ResultEntry], color: bool, out: &mut String) {
    let at = |violation: &ViolationEntry| match (violation.path.is_empty(), violation.line) {
        (true, _) => String::new(),
        (false, None) => format!(" (at {})", violation.path),
        (false, Some(line)) => format!(" (at {}, line {line})", violation.path),
    };
    let mut current: Option<(&str, usize, Option<usize>)> = None;
    for entry in results {
        let noteworthy =
            entry.result != ResultKind::Pass || !entry.warnings.is_empty() || entry.patch.is_some();
        if !noteworthy {
            continue;
        }
        let r = &entry.resource;
        let key = (r.file.as_str(), r.document, r.item);
        if current != Some(key) {
            let namespace = r
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default();
            let item = r.item.map(|i| format!(" (item {i})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{}:{}{item} {} {namespace}{}",
                r.file, r.line, r.kind, r.name
            );
            current = Some(key);
        }
        let control = entry
            .control
            .as_deref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let label = match (entry.result, entry.action) {
            (ResultKind::Warn, _) => paint(color, "33", "WARN"),
            (_, Action::Audit) => paint(color, "35", "AUDIT"),
            _ => paint(color, "31", "FAIL"),
        };
        for violation in &entry.violations {
            let _ = writeln!(
                out,
                "  {label} {}{control}: {}{}",
                entry.policy,
                violation.message,
                at(violation)
            );
        }
        for exempted in &entry.exempted {
            let why = &exempted.exemption;
            let by = why.source.as_deref().unwrap_or("annotation");
            let _ = writeln!(
                out,
                "  {} {}{control}: {}{} -- exempted by {by}: {}",
                paint(color, "2", "EXEMPT"),
                entry.policy,
                exempted.violation.message,
                at(&exempted.violation),
                why.reason
            );
        }
        if let Some(error) = &entry.error {
            let _ = writeln!(
                out,
                "  {} {}: {error}",
                paint(color, "1;31", "ERROR"),
                entry.policy
            );
        }
        for warning in &entry.warnings {
            let _ = writeln!(
                out,
                "  {} {}: {warning}",
                paint(color, "33", "WARN"),
                entry.policy
            );
        }
        if let Some(patch) = &entry.patch {
            let paths: Vec<String> = patch
                .0
                .iter()
                .map(|op| format!("{} {}", op_name(op), op.path()))
                .collect();
            let not_applied = match (&entry.exemption, entry.patch_applied) {
                (Some(why), _) => format!(" -- not applied, exempted: {}", why.reason),
                (None, Some(false)) => " -- not applied (audit)".to_owned(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} {}: {}{not_applied}",
                paint(color, "36", "MUTATE"),
                entry.policy,
                paths.join(", ")
            );
        }
    }
}
