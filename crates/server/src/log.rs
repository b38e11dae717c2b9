//! The server's log on stderr: one line per event, as text or as JSON
//! objects (`--logging-format json`, the flag of Kubernetes components),
//! each with `ts` (seconds since the Unix epoch), `level` and `msg`, then
//! the event's fields; a request's line carries its `uid`.
//!
//! A connection thread (`lanes.rs`) keeps its lines and writes them
//! together ([`buffer_this_thread`]): when it has nothing else to do, when
//! [`BUFFER_BYTES`] are waiting or when the oldest has waited
//! [`BUFFER_DELAY`]. Under load a denied review's line then costs no
//! `write` of its own, nor a wake-up of the process reading the log (the
//! container runtime's), which shared the server's cores: at 10,000
//! requests/s that was a write and a wake-up every 0.1 ms. When idle, a
//! line goes out as soon as its request is answered. Other threads write
//! each line at once. A stop by SIGTERM writes every kept line; a process
//! killed outright (SIGKILL, a crash) loses what its connection threads
//! kept, at most 32 KiB or 100 ms of lines each.

use std::cell::RefCell;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `wasm-validate serve: msg (key=value, ...)`.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Writes one event to stderr in `format`. A log that cannot be written
/// (stderr closed, a full disk behind it) loses the line and nothing else:
/// the request is answered as if it had been written.
pub fn event(format: LogFormat, level: &str, msg: &str, fields: &[(&str, Value)]) {
    write_line(&line(format, level, msg, fields));
}

/// Bytes of lines a connection thread keeps before it writes them.
pub const BUFFER_BYTES: usize = 32 << 10;

/// The longest a kept line waits while its thread stays busy.
pub const BUFFER_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Lines kept by a thread, waiting to be written together.
#[derive(Debug, Default)]
struct Kept {
    text: Vec<u8>,
    /// When the oldest kept line was kept.
    since: Option<Instant>,
}

impl Kept {
    /// Keeps `line` (with its newline) at `now`; returns the lines to write
    /// now, if the kept bytes or the oldest line's wait reached their limit.
    fn keep(&mut self, line: &str, now: Instant) -> Option<Vec<u8>> {
        self.text.extend_from_slice(line.as_bytes());
        self.text.push(b'\n');
        let since = *self.since.get_or_insert(now);
        (self.text.len() >= BUFFER_BYTES || now.duration_since(since) >= BUFFER_DELAY)
            .then(|| self.take())
    }

    /// Every kept line, kept no longer.
    fn take(&mut self) -> Vec<u8> {
        self.since = None;
        std::mem::take(&mut self.text)
    }
}

thread_local! {
    /// This thread's kept lines; `None` on a thread that writes at once.
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// From now on this thread keeps its log lines and writes them together
/// (see the module docs); it must call [`flush`] when it has nothing else
/// to do and before it ends.
pub(crate) fn buffer_this_thread() {
    KEPT.with(|kept| *kept.borrow_mut() = Some(Kept::default()));
}

/// Writes the lines this thread kept, if any.
pub(crate) fn flush() {
    let text = KEPT.with(|kept| kept.borrow_mut().as_mut().map(Kept::take));
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        write_all(&text);
    }
}

/// Writes `text` and a newline to stderr, ignoring a failed write (unlike
/// `eprintln!`, which panics and would drop the connection it served);
/// on a connection thread, keeps it to write with others (module docs).
/// A line and its newline go out in one write (stderr is unbuffered:
/// `writeln!` made two system calls of each line).
pub fn write_line(text: &str) {
    let kept = KEPT.with(|kept| {
        kept.borrow_mut()
            .as_mut()
            .map(|kept| kept.keep(text, Instant::now()))
    });
    match kept {
        Some(Some(due)) => write_all(&due),
        Some(None) => {}
        None => {
            let mut line = String::with_capacity(text.len() + 1);
            line.push_str(text);
            line.push('\n');
            write_all(line.as_bytes());
        }
    }
}

/// One write of `bytes` to stderr, a failure ignored.
fn write_all(bytes: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(bytes);
}

/// The line [`event`] writes.
pub fn line(format: LogFormat, level: &str, msg: &str, fields: &[(&str, Value)]) -> String {
    match format {
        LogFormat::Text => {
            let mut text = format!("wasm-validate serve: {msg}");
            if !fields.is_empty() {
                let pairs: Vec<String> = fields
                    .iter()
                    .map(|(key, value)| match value {
                        Value::String(text) => format!("{key}={text}"),
                        other => format!("{key}={other}"),
                    })
                    .collect();
                text.push_str(&format!(" ({})", pairs.join(", ")));
            }
            text
        }
        LogFormat::Json => {
            let mut object = Map::new();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            object.insert("ts".to_owned(), Value::from(now));
            object.insert("level".to_owned(), Value::from(level));
            object.insert("msg".to_owned(), Value::from(msg));
            for (key, value) in fields {
                object.insert((*key).to_owned(), value.clone());
            }
            Value::Object(object).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{BUFFER_BYTES, BUFFER_DELAY, Kept};

    #[test]
    fn kept_lines_go_out_together_when_enough_bytes_or_time_have_gathered() {
        let start = Instant::now();
        let mut kept = Kept::default();
        assert_eq!(kept.keep("one", start), None);
        assert_eq!(kept.keep("two", start + Duration::from_millis(10)), None);
        // The oldest line has waited long enough: everything goes.
        assert_eq!(
            kept.keep("three", start + BUFFER_DELAY).as_deref(),
            Some(&b"one\ntwo\nthree\n"[..])
        );
        // The wait counts from the oldest line kept since.
        let later = start + BUFFER_DELAY * 3;
        assert_eq!(kept.keep("four", later), None);
        assert_eq!(kept.take(), b"four\n");
        assert_eq!(kept.take(), b"");
        // Enough bytes go at once, whatever the time.
        let line = "x".repeat(1000);
        let mut written = 0;
        for _ in 0..BUFFER_BYTES / 1001 + 1 {
            if let Some(text) = kept.keep(&line, later) {
                written += text.len();
            }
        }
        assert_eq!(written, (BUFFER_BYTES / 1001 + 1) * 1001);
        assert_eq!(kept.take(), b"");
    }
}
