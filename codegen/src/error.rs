//! The one error type of the generator: every failure names the file or operation involved.

use std::path::PathBuf;

/// Why generation could not produce its outputs.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O failure.
        source: std::io::Error,
    },
    /// A spec source file is not valid YAML.
    #[error("{path}: invalid YAML: {source}")]
    Yaml {
        /// The file involved.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        source: serde_yaml::Error,
    },
    /// The spec sources could not be merged into one document.
    #[error("cannot bundle the spec: {0}")]
    Bundle(String),
    /// The bundled document is not a valid OpenAPI 3.0 document.
    #[error("the bundled spec is not valid OpenAPI 3.0: {0}")]
    OpenApi(String),
    /// The spec breaks the conventions of spec/README.md.
    #[error("the spec breaks {} convention(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Lint(Vec<String>),
    /// progenitor failed (or panicked) while generating the client.
    #[error("progenitor failed{}: {message}", operation.as_ref().map(|o| format!(" on operation `{o}`")).unwrap_or_default())]
    Progenitor {
        /// The operation whose generation fails, when it could be singled out.
        operation: Option<String>,
        /// progenitor's error or panic message.
        message: String,
    },
    /// Generated tokens are not valid Rust (a bug in the generator).
    #[error("generated code for {file} does not parse: {message}")]
    Syntax {
        /// The output file concerned.
        file: String,
        /// The parser's complaint.
        message: String,
    },
}

/// Result type of the generator.
pub type Result<T, E = CodegenError> = std::result::Result<T, E>;
