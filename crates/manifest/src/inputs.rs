//! Finding the inputs a command names (files, directories, `-` for stdin),
//! reading them under the limits, and grouping them into batches.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Format, ManifestError, Parsed, ReadLimits, parse_with, too_large_input};

/// One input to read: a path, or stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (given directly or found in a directory).
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl Input {
    /// The name used in sources and messages: the path as given, or `-`.
    pub fn name(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Stdin => "-".to_owned(),
        }
    }
}

/// Expands the paths a user gave into inputs: `-` is stdin; a directory
/// yields its `.yaml`, `.yml` and `.json` files in file-name order, from
/// sub-directories too when `recursive` (kubectl's `-R`); any other path is
/// read as given. A path that does not exist, or a
/// directory that cannot be read, is an error naming it.
pub fn collect_inputs<P: AsRef<Path>>(
    paths: &[P],
    recursive: bool,
) -> Result<Vec<Input>, ManifestError> {
    let mut inputs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path == Path::new("-") {
            inputs.push(Input::Stdin);
            continue;
        }
        let fail = |message: String| ManifestError {
            file: Arc::from(path.display().to_string()),
            document: None,
            line: None,
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !meta.is_dir() {
            inputs.push(Input::File(path.to_path_buf()));
            continue;
        }
        let depth = if recursive { usize::MAX } else { 1 };
        for entry in walkdir::WalkDir::new(path)
            .max_depth(depth)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| fail(format!("cannot read directory: {e}")))?;
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            let wanted = [".yaml", ".yml", ".json"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if entry.file_type().is_file() && wanted {
                inputs.push(Input::File(entry.into_path()));
            }
        }
    }
    Ok(inputs)
}

/// Reads an input's bytes, at most `limits.input_bytes` of them: a larger
/// input is an error, found from a file's size before reading it, and for
/// stdin after reading one byte past the limit (what is read is dropped).
pub fn read_input(input: &Input, limits: &ReadLimits) -> Result<Vec<u8>, ManifestError> {
    use std::io::Read;
    let fail = |message: String| ManifestError {
        file: Arc::from(input.name()),
        document: None,
        line: None,
        message,
    };
    let cannot = |e: std::io::Error| fail(format!("cannot read: {e}"));
    let mut bytes = Vec::new();
    match input {
        Input::File(path) => {
            let file = std::fs::File::open(path).map_err(cannot)?;
            let len = file.metadata().map_err(cannot)?.len();
            if len > limits.input_bytes {
                return Err(fail(too_large_input(Some(len), limits)));
            }
            file.take(limits.input_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(cannot)?;
        }
        Input::Stdin => {
            std::io::stdin()
                .lock()
                .take(limits.input_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(cannot)?;
        }
    }
    if bytes.len() as u64 > limits.input_bytes {
        return Err(fail(too_large_input(None, limits)));
    }
    Ok(bytes)
}

/// Reads every input named by `paths` (files, directories, `-` for stdin).
/// Returns the parsed inputs and every error met; nothing is dropped silently.
pub fn read_all<P: AsRef<Path>>(
    paths: &[P],
    recursive: bool,
    limits: &ReadLimits,
) -> (Vec<Parsed>, Vec<ManifestError>) {
    match collect_inputs(paths, recursive) {
        Ok(inputs) => read_inputs(&inputs, limits),
        Err(error) => (Vec::new(), vec![error]),
    }
}

/// Reads and parses `inputs`, several at a time on the current rayon pool,
/// and returns them in the order given with every error met (an unreadable
/// input is an error and has no [`Parsed`]), under `limits`.
pub fn read_inputs(inputs: &[Input], limits: &ReadLimits) -> (Vec<Parsed>, Vec<ManifestError>) {
    use rayon::prelude::*;
    let results: Vec<Result<Parsed, ManifestError>> = inputs
        .par_iter()
        .map(|input| {
            let bytes = read_input(input, limits)?;
            let name = input.name();
            let format = match input {
                Input::Stdin => Format::Yaml,
                Input::File(_) => Format::for_name(&name),
            };
            Ok(parse_with(&name, bytes, format, limits))
        })
        .collect();
    let mut parsed = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(mut one) => {
                errors.append(&mut one.errors);
                parsed.push(one);
            }
            Err(error) => errors.push(error),
        }
    }
    (parsed, errors)
}

/// Groups `inputs`, in order, into batches of at most `max_bytes` bytes of
/// files each (a larger file is a batch of its own; stdin, of unknown size,
/// too), so that a long list of inputs can be checked a batch at a time in
/// bounded memory.
pub fn batches(inputs: Vec<Input>, max_bytes: u64) -> Vec<Vec<Input>> {
    let mut batches: Vec<Vec<Input>> = Vec::new();
    let mut current: Vec<Input> = Vec::new();
    let mut size = 0;
    for input in inputs {
        let bytes = match &input {
            Input::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Input::Stdin => max_bytes,
        };
        if !current.is_empty() && size + bytes > max_bytes {
            batches.push(std::mem::take(&mut current));
            size = 0;
        }
        size += bytes;
        current.push(input);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}
