//! The server's log on stderr: one line per event, as text or as JSON
//! objects (`--logging-format json`, the flag of Kubernetes components),
//! each with `ts` (seconds since the Unix epoch), `level` and `msg`, then
//! the event's fields; a request's line carries its `uid`.

use std::time::{SystemTime, UNIX_EPOCH};

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

/// Writes `text` and a newline to stderr, ignoring a failed write (unlike
/// `eprintln!`, which panics and would drop the connection it served).
/// The line and its newline go out in one write (stderr is unbuffered:
/// `writeln!` made two system calls of each line).
pub fn write_line(text: &str) {
    use std::io::Write;
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
