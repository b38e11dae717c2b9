//! What a program reads of `input`, found in its source before anything is
//! evaluated, so that only those parts of the object are converted into
//! regorus values (converting the typical Pod whole cost about a third of
//! a k8srequiredlabels evaluation, which reads only the labels:
//! docs/performance.md).
//!
//! Every occurrence of the identifier `input` in every module (a template's
//! `rego` and its `libs`, a Conftest directory's files) is followed through
//! its static path: `.name` and `["name"]` steps. Where the path stops (at a
//! variable index, a call argument, an assignment, the end of the
//! expression) the whole subtree at that point is read. A bare `input`, a
//! `with input` modifier or a module that does not lex reads everything.
//! The parts of `input` no path reaches cannot be observed by the
//! program: nothing in Rego enumerates a value's members without naming
//! the value itself, which makes the whole value read.

use std::collections::BTreeMap;

use regorus::unstable::{Token, TokenKind};

use crate::compat;

/// The part of a value a program reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// The value and everything under it.
    Whole,
    /// Only these members of an object (any other value is read whole).
    Members(BTreeMap<String, Reads>),
}

impl Reads {
    /// Nothing read yet.
    pub fn none() -> Reads {
        Reads::Members(BTreeMap::new())
    }

    /// What is read of member `key`: `None` when nothing.
    pub fn member(&self, key: &str) -> Option<&Reads> {
        match self {
            Reads::Whole => Some(&Reads::Whole),
            Reads::Members(members) => members.get(key),
        }
    }

    /// Adds a read of the whole subtree at `path`.
    pub fn add(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            *self = Reads::Whole;
            return;
        };
        if let Reads::Members(members) = self {
            members
                .entry(first.clone())
                .or_insert_with(Reads::none)
                .add(rest);
        }
    }

    /// What the modules (`(path, source)` pairs) read of `input`.
    pub fn of_input<'a>(modules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Reads {
        let mut reads = Reads::none();
        for (path, rego) in modules {
            let Some(tokens) = compat::tokens(path, rego) else {
                return Reads::Whole;
            };
            for index in 0..tokens.len() {
                if let Some(path) = input_path(&tokens, index) {
                    reads.add(&path);
                }
                if reads == Reads::Whole {
                    return reads;
                }
            }
        }
        reads
    }
}

/// When token `index` is the root `input`, its static path (empty for
/// everything).
fn input_path(tokens: &[Token], index: usize) -> Option<Vec<String>> {
    let symbol = |at: usize, s: &str| {
        tokens
            .get(at)
            .is_some_and(|t| t.0 == TokenKind::Symbol && t.1.text() == s)
    };
    let token = &tokens[index];
    if token.0 != TokenKind::Ident || token.1.text() != "input" {
        return None;
    }
    // `x.input` is a member named input; `with input ...` replaces it.
    if index > 0 && symbol(index - 1, ".") {
        return None;
    }
    if index > 0 && tokens[index - 1].1.text() == "with" {
        return Some(Vec::new());
    }
    let mut path = Vec::new();
    let mut at = index + 1;
    loop {
        if symbol(at, ".")
            && let Some(name) = tokens.get(at + 1).filter(|t| t.0 == TokenKind::Ident)
        {
            path.push(name.1.text().to_owned());
            at += 2;
        } else if symbol(at, "[")
            && symbol(at + 2, "]")
            && let Some(key) = tokens.get(at + 1).and_then(string_literal)
        {
            path.push(key);
            at += 3;
        } else {
            return Some(path);
        }
    }
}

/// The value of a string token, unescaped.
pub(crate) fn string_literal(token: &Token) -> Option<String> {
    let text = token.1.text();
    match token.0 {
        TokenKind::RawString => Some(text.trim_matches('`').to_owned()),
        TokenKind::String => {
            let quoted = if text.starts_with('"') {
                text.to_owned()
            } else {
                format!("\"{text}\"")
            };
            serde_json::from_str::<String>(&quoted).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(rego: &str) -> Reads {
        Reads::of_input([("p.rego", rego)])
    }

    fn paths(reads: &Reads, prefix: &str, out: &mut Vec<String>) {
        match reads {
            Reads::Whole => out.push(prefix.to_owned()),
            Reads::Members(members) => {
                for (key, inner) in members {
                    paths(inner, &format!("{prefix}/{key}"), out);
                }
            }
        }
    }

    fn listed(rego: &str) -> Vec<String> {
        let mut out = Vec::new();
        paths(&reads(rego), "", &mut out);
        out
    }

    #[test]
    fn follows_static_paths_and_stops_at_dynamic_steps() {
        let rego = "package p\n\
            violation[{\"msg\": m}] {\n\
              provided := {l | input.review.object.metadata.labels[l]}\n\
              c := input.review.object.spec[\"containers\"][_]\n\
              input.parameters.x.input\n\
              m := sprintf(\"%v\", [input.review.kind.kind])\n\
            }\n";
        assert_eq!(
            listed(rego),
            [
                "/parameters/x/input",
                "/review/kind/kind",
                "/review/object/metadata/labels",
                "/review/object/spec/containers",
            ]
        );
    }

    #[test]
    fn a_shorter_path_reads_the_whole_subtree() {
        let rego = "package p\n\
            a { input.review.object.metadata.name }\n\
            b { obj := input.review.object; obj.spec }\n";
        assert_eq!(listed(rego), ["/review/object"]);
    }

    #[test]
    fn bare_input_and_with_read_everything() {
        assert_eq!(
            reads("package p\na { walk(input, [p, v]) }\n"),
            Reads::Whole
        );
        assert_eq!(
            reads("package p\na { b with input.x as 1 }\nb { input.y }\n"),
            Reads::Whole
        );
        assert_eq!(reads("package p\na { input[k] }\n"), Reads::Whole);
        assert_eq!(reads("package p\na { \"unterminated }\n"), Reads::Whole);
    }

    #[test]
    fn no_reference_reads_nothing() {
        assert_eq!(reads("package p\na { data.x.input }\n"), Reads::none());
    }
}
