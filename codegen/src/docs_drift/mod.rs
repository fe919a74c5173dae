//! Doc drift: where the spec and a (changed) Feishu doc page snapshot differ.
//!
//! [`page`] parses a snapshot (`spec/docs/*.txt`) into a typed [`DocPage`]; [`compare`] maps it
//! to its spec operation by HTTP method and path (or, for the overview page, checks every listed
//! operation and event) and lists each difference; [`report`] renders the findings for a person.
//! `cargo xtask docs-drift <files…>` and `cargo xtask check` are thin wrappers around
//! [`check_files`] and [`check_workspace`].

pub mod compare;
pub mod page;
pub mod report;

use std::path::{Path, PathBuf};

pub use compare::SpecIndex;
pub use page::{DocPage, parse_file, parse_page};
pub use report::{Drift, Finding, Location, PageReport, Report, Subject};

/// The committed doc page snapshots, relative to the workspace root.
pub const SNAPSHOT_DIR: &str = "spec/docs";

/// Why docs-drift could not compare at all (as opposed to finding drift).
#[derive(Debug, thiserror::Error)]
pub enum DocsDriftError {
    /// A page (or the snapshot folder) could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O failure.
        source: std::io::Error,
    },
    /// A page does not have the expected layout.
    #[error("{}:{line}: cannot parse the doc page: {message}", file.display())]
    Parse {
        /// The page file.
        file: PathBuf,
        /// 1-based line where parsing failed.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// The spec could not be bundled or read.
    #[error(transparent)]
    Spec(#[from] crate::CodegenError),
}

/// Parses each page file and compares it with the bundled spec `doc`.
pub fn check_files(doc: &serde_yaml::Value, files: &[PathBuf]) -> Result<Report, DocsDriftError> {
    let spec = compare::SpecIndex::new(doc)?;
    let pages =
        files.iter().map(|file| parse_file(file).map(|page| spec.compare(&page))).collect::<Result<Vec<_>, _>>()?;
    Ok(Report { pages })
}

/// Compares the committed snapshots (`spec/docs/*.txt`, by name) with the spec bundled from
/// `spec/src` under the workspace `root`. Pages are named relative to `root`.
pub fn check_workspace(root: &Path) -> Result<Report, DocsDriftError> {
    let doc = crate::bundle::bundle_dir(&root.join(crate::paths::SPEC_SOURCES))?;
    let spec = compare::SpecIndex::new(&doc)?;
    let mut pages = Vec::new();
    for name in snapshot_names(root)? {
        let relative = Path::new(SNAPSHOT_DIR).join(&name);
        let path = root.join(&relative);
        let text = std::fs::read_to_string(&path).map_err(|source| DocsDriftError::Io { path, source })?;
        pages.push(spec.compare(&parse_page(&relative, &text)?));
    }
    Ok(Report { pages })
}

/// File names of the committed snapshots (`*.txt` in [`SNAPSHOT_DIR`]), sorted.
pub fn snapshot_names(root: &Path) -> Result<Vec<String>, DocsDriftError> {
    let dir = root.join(SNAPSHOT_DIR);
    let entries = std::fs::read_dir(&dir).map_err(|source| DocsDriftError::Io { path: dir.clone(), source })?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".txt"))
        .collect();
    names.sort();
    Ok(names)
}
