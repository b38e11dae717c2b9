//! Splitting a YAML stream into documents at its document markers.
//!
//! YAML 1.2 (section 9.1, "c-forbidden") makes a line that starts with `---`
//! or `...` followed by white space or the end of the line a document
//! boundary wherever it stands: no scalar may contain one at column 0. So the
//! boundaries can be found line by line, and each document's exact bytes kept
//! for byte-identical output; each piece is then decoded on its own
//! (`crate::yaml`).

use std::ops::Range;

/// One document's piece of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Byte range in the stream; the pieces of a stream cover it exactly, in order.
    pub range: Range<usize>,
    /// Byte range of the leading marker, directive, comment and blank lines.
    pub prefix: Range<usize>,
    /// 1-based line of the first content line, or of the piece's first line
    /// when it has no content.
    pub line: usize,
    /// Whether any line is content (not blank, comment, marker or directive).
    pub has_content: bool,
}

fn marker(line: &str, mark: &str) -> bool {
    line.strip_prefix(mark)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line starts a document (`---`).
pub fn is_start_marker(line: &str) -> bool {
    marker(line, "---")
}

fn is_end_marker(line: &str) -> bool {
    marker(line, "...")
}

fn is_trivia(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty()
        || trimmed.starts_with('#')
        || line.starts_with('%')
        || is_end_marker(line)
        || (is_start_marker(line) && {
            let rest = line[3..].trim();
            rest.is_empty() || rest.starts_with('#')
        })
}

/// Lines of `text` with their byte offsets, keeping line ends.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line))
    })
}

/// Splits a YAML stream into document pieces. A piece starts at a `---` line
/// or after a `...` line; a piece with no content that is not opened by
/// `---` (leading comments, directives) joins the document that follows it.
pub fn split(text: &str) -> Vec<Piece> {
    // Boundaries: (offset, opened_by_start_marker)
    let mut starts: Vec<(usize, bool)> = vec![(0, false)];
    for (offset, line) in lines(text) {
        if is_start_marker(line) && offset != 0 {
            starts.push((offset, true));
        } else if is_start_marker(line) {
            starts[0].1 = true;
        } else if is_end_marker(line) && offset + line.len() < text.len() {
            starts.push((offset + line.len(), false));
        }
    }
    let mut pieces: Vec<Piece> = Vec::with_capacity(starts.len());
    let mut pending: Option<usize> = None;
    // Lines before the piece being described, counted once over the stream.
    let mut lines_before = Lines::default();
    for (i, &(start, opened)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |next| next.0);
        let start = pending.take().filter(|_| opened).unwrap_or(start);
        let piece = describe(text, start..end, lines_before.up_to(text, start));
        let next_opened = starts.get(i + 1).is_some_and(|next| next.1);
        if !piece.has_content && !opened && next_opened {
            pending = Some(start);
            continue;
        }
        pieces.push(piece);
    }
    pieces
}

/// Counts the lines before an offset, moving forward only (offsets asked
/// for never decrease by more than the last step), so that a stream is
/// scanned about once however many documents it holds.
#[derive(Default)]
struct Lines {
    offset: usize,
    count: usize,
}

impl Lines {
    fn up_to(&mut self, text: &str, offset: usize) -> usize {
        if offset < self.offset {
            self.offset = 0;
            self.count = 0;
        }
        self.count += text[self.offset..offset].matches('\n').count();
        self.offset = offset;
        self.count
    }
}

fn describe(text: &str, range: Range<usize>, line_before: usize) -> Piece {
    let body = &text[range.clone()];
    let mut prefix_end = range.end;
    let mut content_line = None;
    for (index, (offset, line)) in lines(body).enumerate() {
        if !is_trivia(line) {
            prefix_end = range.start + offset;
            content_line = Some(line_before + index + 1);
            break;
        }
    }
    Piece {
        prefix: range.start..prefix_end,
        line: content_line.unwrap_or(line_before + 1),
        has_content: content_line.is_some(),
        range,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(text: &'a str, pieces: &[Piece]) -> Vec<&'a str> {
        pieces.iter().map(|p| &text[p.range.clone()]).collect()
    }

    #[test]
    fn splits_at_markers_and_keeps_every_byte() {
        let text =
            "# header\n---\na: 1\n---\n# Source: x\nb: 2\n...\n---\nc: |\n  ---not a marker\n";
        let pieces = split(text);
        assert_eq!(
            texts(text, &pieces),
            [
                "# header\n---\na: 1\n",
                "---\n# Source: x\nb: 2\n...\n",
                "---\nc: |\n  ---not a marker\n"
            ]
        );
        assert_eq!(pieces[0].line, 3);
        assert_eq!(pieces[1].line, 6);
        assert_eq!(&text[pieces[1].prefix.clone()], "---\n# Source: x\n");
        assert_eq!(pieces[2].line, 9);
    }

    #[test]
    fn empty_documents_are_pieces_without_content() {
        let text = "---\n---\na: 1\n---\n";
        let pieces = split(text);
        assert_eq!(texts(text, &pieces), ["---\n", "---\na: 1\n", "---\n"]);
        assert_eq!(
            pieces.iter().map(|p| p.has_content).collect::<Vec<_>>(),
            [false, true, false]
        );
    }

    #[test]
    fn markers_need_white_space_after_them() {
        let text = "a: 1\n----\n---x\n";
        assert_eq!(split(text).len(), 1);
    }
}
