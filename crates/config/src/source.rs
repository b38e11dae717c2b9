//! Where a configuration's problems are: a YAML text and its name, turning
//! JSON Pointers into `file:line: key` for error messages.

use crate::{API_VERSION, ConfigError};

/// A YAML text and its name, to turn JSON Pointers into `file:line: key`.
#[derive(Debug, Clone)]
pub struct SourceText {
    /// The file's name as given.
    pub name: String,
    /// Its text.
    pub text: String,
}

impl SourceText {
    /// `file:line: key` for the node at `pointer` (`/policies/1/match`
    /// gives `policies[1].match`).
    pub fn at(&self, pointer: &str) -> String {
        let key = key_path(pointer);
        match wasm_validate_manifest::locate::line_of(&self.text, pointer) {
            Some(line) => format!("{}:{line}: {key}", self.name),
            None => format!("{}: {key}", self.name),
        }
    }

    /// A [`ConfigError`] at `pointer`.
    pub fn error(&self, pointer: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError(format!("{}: {message}", self.at(pointer)))
    }

    /// Checks a document's `apiVersion` (must be [`API_VERSION`]) and
    /// `kind` (must be `expected_kind`); errors name the line.
    pub fn check_header(
        &self,
        api_version: &str,
        kind: &str,
        expected_kind: &str,
    ) -> Result<(), ConfigError> {
        if api_version != API_VERSION {
            return Err(self.error(
                "/apiVersion",
                format!("expected {API_VERSION}, got {api_version:?}"),
            ));
        }
        if kind != expected_kind {
            return Err(self.error("/kind", format!("expected {expected_kind}, got {kind:?}")));
        }
        Ok(())
    }

    /// Deserializes the text as `T`, unknown keys refused; errors give the
    /// line, column and key path.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        if self.text.trim().is_empty() {
            return Err(ConfigError(format!("{}: the file is empty", self.name)));
        }
        // serde_yaml's messages lead with the key path (`policies[0].action:
        // unknown variant ...`) and end with " at line L column C"; the place
        // leads instead.
        serde_yaml::from_str(&self.text).map_err(|e: serde_yaml::Error| {
            let mut message = e.to_string();
            let place = match e.location() {
                Some(l) => {
                    if let Some((text, _)) = message.rsplit_once(" at line ") {
                        message = text.to_owned();
                    }
                    format!("{}:{}:{}", self.name, l.line(), l.column())
                }
                None => self.name.clone(),
            };
            ConfigError(format!("{place}: {message}"))
        })
    }
}

/// `policies[1].match.kinds` for `/policies/1/match/kinds`.
fn key_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in wasm_validate_manifest::locate::pointer_tokens(pointer) {
        if token.parse::<usize>().is_ok() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}
