//! Regular expressions as Kubernetes evaluates them: Go's `regexp` (RE2
//! syntax), on the regex crate.
//!
//! The two agree on syntax for what both accept, and on meaning but for
//! one thing: in Go the Perl classes and word boundaries are ASCII-only
//! (`\d` is `[0-9]`, `\s` is `[\t\n\f\r ]`, `\w` is `[0-9A-Za-z_]`, `\b`
//! an ASCII word boundary; Go's `regexp/syntax` documentation), while the
//! regex crate's are Unicode-aware by default (`\d` matches `١`, `\w`
//! matches `é`, `\s` matches a no-break space). [`translate`] rewrites a
//! pattern so that the regex crate matches as Go does. Every place that
//! compiles a pattern a user wrote for Kubernetes semantics goes through
//! it: CEL's `matches`, `find` and `findAll` and Rego's `regex.match` and
//! `re_match` (the SDK's kept regexes), and CRD schemas' `pattern` (the
//! schema stage).
#![forbid(unsafe_code)]

use std::borrow::Cow;

use regex_syntax::ast::{
    self, Ast, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet, ClassSetItem, ClassSetRange,
    ClassSetUnion, Flag, Flags, FlagsItem, FlagsItemKind, Group, GroupKind, Literal, LiteralKind,
    Span, SpecialLiteralKind,
};

/// `pattern` rewritten for the regex crate with Go's meaning: each Perl
/// class (`\d`, `\D`, `\s`, `\S`, `\w`, `\W`, inside a bracketed class or
/// not) becomes its ASCII set, and `\b` and `\B` become ASCII word
/// boundaries (`(?-u:\b)`). A pattern without them, or one the regex
/// crate's parser refuses (compiling it then reports the error), is
/// returned as it is.
pub fn translate(pattern: &str) -> Cow<'_, str> {
    // Perl classes and boundaries are all written with a backslash.
    if !pattern.contains('\\') {
        return Cow::Borrowed(pattern);
    }
    let Ok(mut tree) = ast::parse::Parser::new().parse(pattern) else {
        return Cow::Borrowed(pattern);
    };
    if !rewrite(&mut tree) {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    match ast::print::Printer::new().print(&tree, &mut out) {
        Ok(()) => Cow::Owned(out),
        Err(_) => Cow::Borrowed(pattern),
    }
}

/// Rewrites `tree` in place; whether anything changed.
fn rewrite(tree: &mut Ast) -> bool {
    match tree {
        Ast::ClassPerl(class) => {
            let span = class.span;
            *tree = Ast::class_bracketed(ClassBracketed {
                span,
                negated: class.negated,
                kind: ClassSet::Item(ClassSetItem::Union(ClassSetUnion {
                    span,
                    items: ascii_items(&class.kind, span),
                })),
            });
            true
        }
        Ast::Assertion(assertion)
            if matches!(
                assertion.kind,
                ast::AssertionKind::WordBoundary | ast::AssertionKind::NotWordBoundary
            ) =>
        {
            let span = assertion.span;
            let item = |kind| FlagsItem { span, kind };
            *tree = Ast::group(Group {
                span,
                kind: GroupKind::NonCapturing(Flags {
                    span,
                    items: vec![
                        item(FlagsItemKind::Negation),
                        item(FlagsItemKind::Flag(Flag::Unicode)),
                    ],
                }),
                ast: Box::new(tree.clone()),
            });
            true
        }
        Ast::ClassBracketed(class) => rewrite_set(&mut class.kind),
        Ast::Repetition(repetition) => rewrite(&mut repetition.ast),
        Ast::Group(group) => rewrite(&mut group.ast),
        Ast::Alternation(alternation) => alternation
            .asts
            .iter_mut()
            .fold(false, |changed, ast| rewrite(ast) | changed),
        Ast::Concat(concat) => concat
            .asts
            .iter_mut()
            .fold(false, |changed, ast| rewrite(ast) | changed),
        _ => false,
    }
}

fn rewrite_set(set: &mut ClassSet) -> bool {
    match set {
        ClassSet::Item(item) => rewrite_item(item),
        ClassSet::BinaryOp(op) => rewrite_set(&mut op.lhs) | rewrite_set(&mut op.rhs),
    }
}

fn rewrite_item(item: &mut ClassSetItem) -> bool {
    match item {
        ClassSetItem::Perl(ClassPerl {
            span,
            kind,
            negated,
        }) => {
            let (span, negated) = (*span, *negated);
            let items = ascii_items(kind, span);
            *item = if negated {
                ClassSetItem::Bracketed(Box::new(ClassBracketed {
                    span,
                    negated: true,
                    kind: ClassSet::Item(ClassSetItem::Union(ClassSetUnion { span, items })),
                }))
            } else {
                ClassSetItem::Union(ClassSetUnion { span, items })
            };
            true
        }
        ClassSetItem::Bracketed(class) => rewrite_set(&mut class.kind),
        ClassSetItem::Union(union) => union
            .items
            .iter_mut()
            .fold(false, |changed, item| rewrite_item(item) | changed),
        _ => false,
    }
}

/// The members of Go's ASCII set for a Perl class, written with escapes
/// (so that verbose mode, which ignores literal whitespace, keeps them).
fn ascii_items(kind: &ClassPerlKind, span: Span) -> Vec<ClassSetItem> {
    let verbatim = |c| Literal {
        span,
        kind: LiteralKind::Verbatim,
        c,
    };
    let range = |start, end| {
        ClassSetItem::Range(ClassSetRange {
            span,
            start: verbatim(start),
            end: verbatim(end),
        })
    };
    let special = |kind, c| {
        ClassSetItem::Literal(Literal {
            span,
            kind: LiteralKind::Special(kind),
            c,
        })
    };
    match kind {
        ClassPerlKind::Digit => vec![range('0', '9')],
        ClassPerlKind::Word => vec![
            range('0', '9'),
            range('A', 'Z'),
            range('a', 'z'),
            ClassSetItem::Literal(verbatim('_')),
        ],
        ClassPerlKind::Space => vec![
            special(SpecialLiteralKind::Tab, '\t'),
            special(SpecialLiteralKind::LineFeed, '\n'),
            special(SpecialLiteralKind::FormFeed, '\x0C'),
            special(SpecialLiteralKind::CarriageReturn, '\r'),
            special(SpecialLiteralKind::Space, ' '),
        ],
    }
}

#[cfg(test)]
mod tests;
