//! `--output`: the report formats and rendering a report in one.

use wasm_validate_report::CheckReport;

/// Report formats of `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, grouped by resource, with a summary line.
    Text,
    /// The stable JSON schema of `docs/json-report.md`.
    Json,
    /// SARIF 2.1.0, for code-scanning tools (one rule per policy).
    Sarif,
    /// JUnit XML: a test suite per policy, a test case per resource.
    Junit,
    /// GitHub Actions annotations (`::error file=...,line=...::...`).
    Github,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReports (one per namespace) and a
    /// ClusterPolicyReport, as YAML for `kubectl apply -f -`.
    Policyreport,
}

/// One `-o FORMAT[=PATH]`: a report format and where to write it (stdout
/// when no path is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The format.
    pub format: OutputFormat,
    /// The file to write, or `None` for stdout.
    pub path: Option<std::path::PathBuf>,
}

impl std::str::FromStr for OutputSpec {
    type Err = String;

    /// Parses a format name (`text`, `json`, `sarif`, `junit`, `github`,
    /// `policyreport`), optionally followed by `=PATH`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (name, path) = match value.split_once('=') {
            Some((name, path)) if !path.is_empty() => (name, Some(path.into())),
            Some((name, _)) => return Err(format!("{name}=: the file name is missing")),
            None => (value, None),
        };
        let format = <OutputFormat as clap::ValueEnum>::from_str(name, true).map_err(|_| {
            format!(
                "unknown format {name:?} (expected text, json, sarif, junit, github or policyreport, optionally =PATH)"
            )
        })?;
        Ok(OutputSpec { format, path })
    }
}

/// The report in `format` (`color` only matters for text).
pub fn render(report: &CheckReport, format: OutputFormat, color: bool) -> String {
    match format {
        OutputFormat::Text => report.text(color),
        OutputFormat::Json => report.json(),
        OutputFormat::Sarif => report.sarif(),
        OutputFormat::Junit => report.junit(),
        OutputFormat::Github => report.github(),
        OutputFormat::Policyreport => report.policy_report_yaml(),
    }
}
