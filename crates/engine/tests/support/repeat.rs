//! Expands a `.wat` text whose sections between `;; REPEAT name` and
//! `;; END name` are to be repeated (`testdata/wat/slow-compile.wat`).
//! Shared by `crates/engine/tests/hostile.rs` and `cargo xtask hostile`.

/// `text` with each section repeated `times(name)` times.
pub fn repeat_sections(text: &str, times: impl Fn(&str) -> usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix(";; REPEAT ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let end = format!(";; END {name}");
        let section: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != end).collect();
        for _ in 0..times(name) {
            for l in &section {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}
