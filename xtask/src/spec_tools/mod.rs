//! The spec as a product for other languages: the checks that show a TypeScript, Python or Go
//! team can take `spec/openapi.yaml` and generate a working client.
//!
//! - [`lint`]: Spectral (`spectral:oas`) and Redocly (`recommended-strict`) report zero findings.
//! - [`clients`]: openapi-typescript + `tsc --strict`, and openapi-python-client + imports.
//! - [`api_docs`]: a self-contained HTML reference, rendered in headless Chromium and checked
//!   for every operation.
//! - [`contract`]: the Rust client's operation tests against a Prism mock of the spec.
//! - [`official_clients`]: Feishu's Node and Python SDKs call every operation against
//!   `vc-mock`; the Node SDK's request types agree with the spec field for field.
//!
//! The tools are pinned in `tools/` (package.json + package-lock.json, requirements.txt) and
//! installed by [`install`] into the gitignored `.tools/`; everything they produce goes to
//! `target/spec-tools/`.

pub mod api_docs;
pub mod clients;
pub mod contract;
pub mod install;
pub mod lint;
pub mod official_clients;
pub mod process;
pub mod spec;

use std::path::Path;

/// The committed tool pins and configurations, relative to the workspace root.
pub const TOOLS_SOURCE: &str = "tools";
/// Where the tools are installed (gitignored), relative to the workspace root.
pub const TOOLS_DIR: &str = ".tools";
/// Where generated clients, the HTML reference and logs go, relative to the workspace root.
pub const OUTPUT_DIR: &str = "target/spec-tools";

/// `cargo xtask spec-gate`: every check of this module, installing the tools first.
pub fn gate(root: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let operations = spec::operations(root)?;
    let node = install::node_tools(root)?;
    let python = install::python_tools(root)?;
    let chromium = install::chromium()?;
    lint::run(root, &node)?;
    clients::typescript(root, &node, &operations)?;
    let python_client = clients::python(root, &python, &operations)?;
    let html = api_docs::build(root, &node)?;
    api_docs::check(root, &html, &chromium, &operations)?;
    contract::run(root, &node, Some((&python, python_client.as_path())), &operations)?;
    official_clients::run(root, &node, &python, &operations)?;
    println!("\nspec gate passed in {:.0?}", started.elapsed());
    Ok(())
}
