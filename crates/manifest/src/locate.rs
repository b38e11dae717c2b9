//! Maps a JSON Pointer (RFC 6901) into a document back to the line of its
//! YAML or JSON text: from the [`LineTable`] that decoding a YAML document
//! records, or else by walking the events of `yaml-rust2`'s parser again
//! (JSON inputs, and documents only serde_yaml could decode).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// What the walker is inside of.
enum Frame {
    /// A mapping: the key whose value comes next, if a key was read.
    Map { key: Option<String> },
    /// A sequence: the index of the next item.
    Seq { next: usize },
}

/// Walks the parser's events once, keeping the path of the current node,
/// and remembers for each target pointer the line of the deepest node on its
/// path.
struct Walker {
    targets: Vec<Vec<String>>,
    stack: Vec<Frame>,
    path: Vec<String>,
    /// Per target: (depth, 1-based line) of the deepest match so far.
    best: Vec<Option<(usize, usize)>>,
    /// Per target: whether a node on its path has ended, so that no later
    /// node can match it better (keys are unique in a mapping).
    finished: Vec<bool>,
    /// Targets not finished yet; the walk stops at 0.
    left: usize,
    documents: usize,
}

impl Walker {
    fn record(&mut self, path_len: usize, line: usize) {
        let path = &self.path[..path_len];
        for (target, best) in self.targets.iter().zip(&mut self.best) {
            let on_path = path_len <= target.len() && *path == target[..path_len];
            if on_path && best.is_none_or(|(depth, _)| path_len > depth) {
                *best = Some((path_len, line));
            }
        }
    }

    /// A node starts at `line`: returns whether it is a mapping key.
    fn node_starts(&mut self, line: usize) -> Option<bool> {
        match self.stack.last_mut() {
            None => {
                self.path.clear();
                self.record(0, line);
                Some(false)
            }
            Some(Frame::Map { key: None }) => Some(true),
            Some(Frame::Map { key: Some(key) }) => {
                let key = key.clone();
                self.path.push(key);
                Some(false)
            }
            Some(Frame::Seq { next }) => {
                let index = next.to_string();
                *next += 1;
                self.path.push(index);
                let len = self.path.len();
                self.record(len, line);
                Some(false)
            }
        }
    }

    /// A value node (not a key) ended: leave its path, and let its mapping
    /// expect the next key.
    fn value_ends(&mut self) {
        if let Some(frame) = self.stack.last_mut() {
            let path = &self.path;
            for (target, finished) in self.targets.iter().zip(&mut self.finished) {
                if !*finished && path.len() <= target.len() && **path == target[..path.len()] {
                    *finished = true;
                    self.left -= 1;
                }
            }
            self.path.pop();
            if let Frame::Map { key } = frame {
                *key = None;
            }
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.documents > 1 {
            return;
        }
        let line = mark.line();
        match event {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(value, ..) => match self.node_starts(line) {
                Some(true) => {
                    if let Some(Frame::Map { key }) = self.stack.last_mut() {
                        *key = Some(value.clone());
                    }
                    self.path.push(value);
                    let len = self.path.len();
                    self.record(len, line);
                    self.path.pop();
                }
                _ => self.value_ends(),
            },
            Event::Alias(_) if self.node_starts(line) == Some(false) => self.value_ends(),
            Event::MappingStart(..) => {
                self.node_starts(line);
                self.stack.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                self.node_starts(line);
                self.stack.push(Frame::Seq { next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_ends();
            }
            _ => {}
        }
    }
}

/// The line of every node of a decoded YAML document, so that violations can
/// be located without parsing the document again.
///
/// Nodes are in document order (pre-order), one per node of the decoded
/// value, except that an alias is one node however large its anchor's value.
/// A node's line is the one [`lines_of`] gives for it: a mapping value's is
/// its key's line, a sequence item's and the root's their own first line.
/// 16 bytes per node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTable {
    nodes: Vec<LineNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineNode {
    /// 1-based line within the document's text.
    line: u32,
    /// Nodes in this subtree, itself included; the top bit marks a mapping.
    size: u32,
    /// For a mapping's value, the FNV-1a hash of its key.
    key: u64,
}

const MAPPING: u32 = 1 << 31;

/// FNV-1a, 64 bits: sibling keys that collide are vanishingly rare, and the
/// cost is a few cycles per byte.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl LineTable {
    /// Adds a node starting at `line`, the value of `key` in a mapping or
    /// else a sequence item or the root; returns its index for [`Self::end`].
    pub(crate) fn start(&mut self, line: usize, key: Option<&str>, mapping: bool) -> usize {
        self.nodes.push(LineNode {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            size: 1 | if mapping { MAPPING } else { 0 },
            key: key.map_or(0, key_hash),
        });
        self.nodes.len() - 1
    }

    /// Ends the collection that [`Self::start`] numbered `index`.
    pub(crate) fn end(&mut self, index: usize) {
        let size = u32::try_from(self.nodes.len() - index).unwrap_or(u32::MAX >> 1);
        let node = &mut self.nodes[index];
        node.size = (node.size & MAPPING) | size;
    }

    fn size(&self, index: usize) -> usize {
        (self.nodes[index].size & !MAPPING) as usize
    }

    /// The child of node `index` that `token` names: a key of a mapping, a
    /// canonical decimal index of a sequence.
    fn child(&self, index: usize, token: &str) -> Option<usize> {
        let end = index + self.size(index);
        let mut child = index + 1;
        if self.nodes[index].size & MAPPING != 0 {
            let hash = key_hash(token);
            while child < end {
                if self.nodes[child].key == hash {
                    return Some(child);
                }
                child += self.size(child);
            }
            return None;
        }
        let canonical = token == "0"
            || (!token.starts_with('0')
                && !token.is_empty()
                && token.bytes().all(|b| b.is_ascii_digit()));
        let position: usize = token.parse().ok().filter(|_| canonical)?;
        for _ in 0..position {
            if child >= end {
                return None;
            }
            child += self.size(child);
        }
        (child < end).then_some(child)
    }

    /// [`lines_of`] from the table: one answer per pointer, in order.
    pub fn lines_of(&self, pointers: &[&str]) -> Vec<Option<usize>> {
        pointers
            .iter()
            .map(|pointer| {
                let mut index = 0;
                self.nodes.first()?;
                for token in pointer_tokens(pointer) {
                    match self.child(index, &token) {
                        Some(child) => index = child,
                        None => break,
                    }
                }
                Some(self.nodes[index].line as usize)
            })
            .collect()
    }
}

/// Splits a JSON Pointer into its unescaped reference tokens (`~1` is `/`,
/// `~0` is `~`); `""` is the whole document.
pub fn pointer_tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The 1-based line, within `text` (one YAML or JSON document), of the node
/// that `pointer` names, or of its deepest ancestor present in the text when
/// the node itself is absent (a violation may be about a missing field).
/// `None` when the text does not parse or has no content.
pub fn line_of(text: &str, pointer: &str) -> Option<usize> {
    lines_of(text, &[pointer]).pop().flatten()
}

/// [`line_of`] for several pointers into the same document, parsing it once;
/// one answer per pointer, in order (all `None` when the text does not parse).
///
/// The walk stops as soon as every pointer's answer is final (a node on its
/// path has ended), so a violation near the top of a large document does
/// not pay for parsing the rest of it.
pub fn lines_of(text: &str, pointers: &[&str]) -> Vec<Option<usize>> {
    let mut walker = Walker {
        targets: pointers.iter().map(|p| pointer_tokens(p)).collect(),
        stack: Vec::new(),
        path: Vec::new(),
        best: vec![None; pointers.len()],
        finished: vec![false; pointers.len()],
        left: pointers.len(),
        documents: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd | Event::DocumentEnd, _)) => break,
            Ok((event, mark)) => {
                walker.on_event(event, mark);
                if walker.left == 0 {
                    break;
                }
            }
            Err(_) => return vec![None; pointers.len()],
        }
    }
    walker
        .best
        .into_iter()
        .map(|best| best.map(|(_, line)| line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "# leading comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    a/b: \"x\"
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        securityContext:
          privileged: true
      - name: sidecar
        ports: [{containerPort: 80, hostPort: 80}]
";

    #[test]
    fn pointers_map_to_the_lines_of_their_nodes() {
        for (pointer, line) in [
            ("", 2),
            ("/kind", 3),
            ("/metadata/annotations/a~1b", 7),
            ("/spec/template/spec/containers/0", 12),
            (
                "/spec/template/spec/containers/0/securityContext/privileged",
                15,
            ),
            ("/spec/template/spec/containers/1/name", 16),
            ("/spec/template/spec/containers/1/ports/0/hostPort", 17),
        ] {
            assert_eq!(line_of(YAML, pointer), Some(line), "{pointer}");
            assert_eq!(table(YAML).lines_of(&[pointer]), [Some(line)], "{pointer}");
        }
    }

    fn table(text: &str) -> LineTable {
        crate::yaml::decode(text, usize::MAX).unwrap().lines
    }

    #[test]
    fn the_table_stops_at_aliases_and_reads_indices_as_rfc_6901_does() {
        let text = "a: &x\n  b: 1\nc: *x\nd:\n- p\n- q\n";
        let lines = table(text);
        // The alias is one node: a pointer into it stops at its key's line.
        assert_eq!(lines.lines_of(&["/c/b", "/a/b"]), [Some(3), Some(2)]);
        assert_eq!(
            lines.lines_of(&["/d/1", "/d/01", "/d/+1", "/d/2", "/d/"]),
            [Some(6), Some(4), Some(4), Some(4), Some(4)]
        );
        assert_eq!(
            lines_of(text, &["/c/b", "/d/1", "/d/01"]),
            [Some(3), Some(6), Some(4)]
        );
    }

    #[test]
    fn the_walk_stops_once_every_answer_is_final() {
        // The text after `metadata` is not YAML; an answer that is final
        // before it is still given, one that needs the rest is not.
        let text = "kind: Pod\nmetadata:\n  name: a\nspec: [unclosed\n";
        assert_eq!(lines_of(text, &["/metadata/name"]), [Some(3)]);
        assert_eq!(lines_of(text, &["/metadata/name", "/spec"]), [None, None]);
    }

    #[test]
    fn a_missing_field_maps_to_its_deepest_present_ancestor() {
        let pointer = "/spec/template/spec/containers/1/securityContext/runAsNonRoot";
        assert_eq!(line_of(YAML, pointer), Some(16));
        assert_eq!(table(YAML).lines_of(&[pointer]), [Some(16)]);
        let missing = "/spec/template/spec/automountServiceAccountToken";
        assert_eq!(line_of(YAML, missing), Some(10));
        assert_eq!(table(YAML).lines_of(&[missing]), [Some(10)]);
    }

    #[test]
    fn json_documents_are_located_too() {
        let json = "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"hostPID\": true\n  }\n}\n";
        assert_eq!(line_of(json, "/spec/hostPID"), Some(4));
    }

    #[test]
    fn unparsable_text_has_no_line() {
        assert_eq!(line_of("a: [unclosed", "/a"), None);
    }
}

#[cfg(test)]
mod stream_tests {
    use crate::{Format, parse};

    #[test]
    fn lines_are_absolute_in_a_multi_document_stream_and_in_lists() {
        let text = "# Source: a.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n# Source: b.yaml\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec:\n    hostPID: true\n";
        let parsed = parse("s.yaml", text.as_bytes().to_vec(), Format::Yaml);
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.line_of(1, None, "/kind"), Some(3));
        assert_eq!(parsed.line_of(2, Some(0), "/spec/hostPID"), Some(14));
        assert_eq!(parsed.line_of(2, Some(0), "/spec/hostNetwork"), Some(13));
        assert_eq!(parsed.line_of(3, None, "/kind"), None);
    }
}
