//! Generated files and the two ways of handling them: write them, or check that the committed
//! copies are up to date (regular files, byte for byte) and print a unified diff when they are
//! not.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{CodegenError, Result};

/// The command that rewrites every generated file.
pub const FIX_COMMAND: &str = "cargo xtask codegen";

/// One output file, with its path relative to the workspace root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// Full contents, LF line endings.
    pub contents: String,
}

/// What to do with generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write files whose contents changed.
    Write,
    /// Only compare; report files that differ.
    Check,
}

/// A generated file whose committed copy differs from what the spec produces.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The file concerned.
    pub path: String,
    /// Unified diff from the committed copy to the expected contents.
    pub diff: String,
}

/// Writes (mode `Write`) or compares (mode `Check`) `files` under `root`. Returns the files
/// that differed (in `Write` mode they have been rewritten).
pub fn ensure(root: &Path, files: &[GeneratedFile], mode: Mode) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for file in files {
        let path: PathBuf = root.join(&file.path);
        // A symbolic link reads like its target here but is a one-line text file in a checkout
        // without symlink support: every generated file must be a regular file.
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink());
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(CodegenError::Io { path, source }),
        };
        if !is_link && current.as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        let diff = if is_link {
            format!("{} is a symbolic link; it must be a regular file with the expected contents\n", file.path)
        } else {
            unified_diff(&file.path, current.as_deref().unwrap_or(""), &file.contents)
        };
        drift.push(Drift { path: file.path.clone(), diff });
        if mode == Mode::Write {
            if is_link {
                std::fs::remove_file(&path).map_err(|source| CodegenError::Io { path: path.clone(), source })?;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|source| CodegenError::Io { path: parent.to_owned(), source })?;
            }
            std::fs::write(&path, &file.contents).map_err(|source| CodegenError::Io { path, source })?;
        }
    }
    Ok(drift)
}

/// A readable report of drift, ending with the command that fixes it.
pub fn drift_report(drift: &[Drift]) -> String {
    let mut out = String::new();
    for d in drift {
        let _ = writeln!(out, "{}", d.diff);
    }
    let _ = writeln!(
        out,
        "{} generated file(s) are out of date with their sources (spec/src/, README.md): {}\nRun `{FIX_COMMAND}` and commit the result.",
        drift.len(),
        drift.iter().map(|d| d.path.as_str()).collect::<Vec<_>>().join(", ")
    );
    out
}

fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path} (committed)"), &format!("b/{path} (generated)"))
        .to_string()
}
