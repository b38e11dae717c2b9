//! Runs a command and measures it: wall time and peak resident memory
//! (max RSS), through GNU time (`/usr/bin/time`, Debian package `time`),
//! which reads them from the kernel's `wait4` rusage.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall time from spawn to exit, in seconds.
    pub wall: f64,
    /// Peak resident set size, in KiB.
    pub max_rss_kib: u64,
    /// The command's exit code (`None` if killed by a signal).
    pub code: Option<i32>,
}

/// Runs `program args` with stdout and stdin discarded and stderr captured,
/// under GNU time. Errors if GNU time is missing or its figure cannot be
/// read.
pub fn run(program: &Path, args: &[String]) -> Result<Measured, String> {
    run_with_stdin(program, args, None)
}

/// [`run`], with stdin read from the file `stdin` when given.
pub fn run_with_stdin(
    program: &Path,
    args: &[String],
    stdin: Option<&Path>,
) -> Result<Measured, String> {
    let marker = "wv-maxrss-kib=";
    let input = match stdin {
        Some(path) => {
            Stdio::from(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => Stdio::null(),
    };
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg(format!("{marker}%M"))
        .arg(program)
        .args(args)
        .stdin(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time (apt-get install time): {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let max_rss_kib = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(marker))
        .and_then(|kib| kib.trim().parse().ok())
        .ok_or_else(|| format!("no peak memory figure from GNU time; stderr:\n{stderr}"))?;
    Ok(Measured {
        wall,
        max_rss_kib,
        code: output.status.code(),
    })
}

/// The median of `values` (sorted in place); 0 when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
