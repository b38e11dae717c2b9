//! Compiled regular expressions kept and searched in place, for the
//! runtimes' regex builtins (Rego's `regex.match` and `re_match`, CEL's
//! `matches`, `find` and `findAll`); the `regexes` feature.
//!
//! Compiling a pattern costs about 100–300 µs in wasmi, and a clone of a
//! compiled `Regex` starts without the search cache its first search
//! builds (about 30–60 µs), so a pattern is compiled once and its `Regex`
//! used where it is kept. A policy calls these builtins in loops, with a
//! few patterns. Patterns compiled while a runtime is prepared (its
//! `warm`ing of the literal patterns its program spells out) are in the
//! snapshot every evaluation starts from, with their search caches; others
//! are compiled on first use and last one evaluation, since an instance's
//! memory is written back after each.

use std::cell::RefCell;

/// Patterns kept at most (regorus keeps 256); past it the oldest goes.
pub const MAX_PATTERNS: usize = 256;

thread_local! {
    static PATTERNS: RefCell<Vec<(String, usize, regex::Regex)>> = const { RefCell::new(Vec::new()) };
}

/// `search` run on `pattern` compiled with the regex crate's defaults and
/// `size_limit` (bytes of compiled program), from the kept ones or
/// compiled now and kept. The pattern means what it means in Go's
/// `regexp`, which Kubernetes' CEL and OPA use: its Perl classes and word
/// boundaries are ASCII-only ([`wasm_validate_re2::translate`]). Errors:
/// the regex crate's, for a pattern that is not one or compiles larger than
/// `size_limit`.
pub fn with_regex<T>(
    pattern: &str,
    size_limit: usize,
    search: impl FnOnce(&regex::Regex) -> T,
) -> Result<T, regex::Error> {
    PATTERNS.with(|kept| {
        let mut kept = kept.borrow_mut();
        if let Some((_, _, regex)) = kept
            .iter()
            .find(|(p, limit, _)| p == pattern && *limit == size_limit)
        {
            return Ok(search(regex));
        }
        let regex = regex::RegexBuilder::new(&wasm_validate_re2::translate(pattern))
            .size_limit(size_limit)
            .build()?;
        let found = search(&regex);
        if kept.len() == MAX_PATTERNS {
            kept.remove(0);
        }
        kept.push((pattern.to_owned(), size_limit, regex));
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pattern is searched with its own regex, from the kept ones or
    /// compiled anew after it was dropped, and no more are kept than the
    /// bound.
    #[test]
    fn each_pattern_is_searched_with_its_regex_and_the_cache_stays_bounded() {
        let limit = 1 << 20;
        let patterns: Vec<String> = (0..MAX_PATTERNS + 10)
            .map(|i| format!("^a{{{i}}}$"))
            .collect();
        let is_match = |pattern: &str, text: &str| with_regex(pattern, limit, |r| r.is_match(text));
        let a3 = "a".repeat(3);
        for pattern in &patterns {
            assert_eq!(is_match(pattern, &a3).ok(), Some(pattern == "^a{3}$"));
        }
        PATTERNS.with(|kept| assert_eq!(kept.borrow().len(), MAX_PATTERNS));
        // The first ones were dropped and are compiled again; the last ones
        // are kept.
        for pattern in patterns
            .iter()
            .take(20)
            .chain(patterns.iter().rev().take(20))
        {
            for (i, text) in ["", "a", "aa", "aaa", "aaaa"].iter().enumerate() {
                let expected = *pattern == format!("^a{{{i}}}$");
                assert_eq!(
                    is_match(pattern, text).ok(),
                    Some(expected),
                    "{pattern} {text}"
                );
            }
        }
        PATTERNS.with(|kept| {
            let kept = kept.borrow();
            assert_eq!(kept.len(), MAX_PATTERNS);
            assert!(kept.iter().all(|(p, _, regex)| regex.as_str() == p));
        });
        assert!(is_match("(", "").is_err());
        // The same pattern under a smaller bound is compiled under it.
        assert!(with_regex("[a-z]{5000}", limit, |_| ()).is_ok());
        assert!(matches!(
            with_regex("[a-z]{5000}", 100 * 1024, |_| ()),
            Err(regex::Error::CompiledTooBig(_))
        ));
    }
}
