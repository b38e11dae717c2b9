use proptest::prelude::*;

use super::*;

fn go_matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(&translate(pattern))
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .is_match(text)
}

/// Go's answers (`regexp.MatchString`, whose Perl classes and `\b` are
/// ASCII-only) where the regex crate's Unicode defaults differ.
#[test]
fn perl_classes_and_word_boundaries_are_ascii_as_in_go() {
    let cases: &[(&str, &str, bool)] = &[
        (r"^\d+$", "123", true),
        (r"^\d+$", "١٢٣", false),
        (r"^\D$", "١", true),
        (r"^\w+$", "hello_9", true),
        (r"^\w+$", "héllo", false),
        (r"^\W$", "é", true),
        (r"^\s$", "\u{a0}", false),
        (r"^\s$", "\u{0b}", false),
        (r"^\s{5}$", "\t\n\x0c\r ", true),
        (r"^\S$", "\u{a0}", true),
        (r"^[\d_]+$", "1_2", true),
        (r"^[\d_]+$", "١", false),
        (r"^[^\d]$", "١", true),
        (r"^[\D]$", "١", true),
        (r"^[\D]$", "1", false),
        (r"^[\w&&[^\d]]+$", "abc", true),
        (r"^[\w&&[^\d]]+$", "ab1", false),
        (r"\bé", "é", false),
        (r"\bx", "éx", true),
        (r"\Bx", "éx", false),
        (r"(?x) ^ \s $ ", " ", true),
        (r"(?i)^\w+$", "ABC", true),
        (r"^(\d)(?:\w)+|\s$", "1a", true),
        (r"\pL", "é", true),
        (r"^.$", "é", true),
    ];
    for &(pattern, text, expected) in cases {
        assert_eq!(
            go_matches(pattern, text),
            expected,
            "{pattern:?} on {text:?}"
        );
    }
}

#[test]
fn patterns_without_perl_classes_are_left_as_they_are() {
    for pattern in [
        "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        r"^a\.b$",
        r"\pL+",
        r"x\z",
        "([",
    ] {
        assert_eq!(translate(pattern), pattern);
        assert!(matches!(translate(pattern), Cow::Borrowed(_)));
    }
}

proptest! {
    /// On ASCII text, which the two semantics read alike, the rewritten
    /// pattern matches exactly where the original does.
    #[test]
    fn ascii_text_matches_as_before(
        pattern in r"\^?((\\[dDsSwWb]|[a-c_ 1-3]|\[\^?(\\[dDsSw]|[a-c1])+\])[*+?]?){1,6}\$?",
        text in "[a-c1-3_ \t\u{0b}é]{0,8}",
    ) {
        let original = regex::Regex::new(&pattern).unwrap();
        let rewritten = regex::Regex::new(&translate(&pattern)).unwrap();
        if text.is_ascii() && !text.contains('\u{0b}') {
            prop_assert_eq!(original.is_match(&text), rewritten.is_match(&text));
        }
    }
}
