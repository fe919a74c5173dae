//! Cargo subcommands the tasks need (cargo-deny, cargo-semver-checks), installed at a pinned
//! version into `.tools/cargo/` with `cargo install --locked` when missing or different. Their
//! build goes to `target/tools-build/`, so a second tool reuses what the first one built, with
//! the release profile's LTO turned off (build time over run time).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// `.tools/cargo/bin/<package>` at `version`, installed when missing or different.
/// `version_args` are the arguments that make the binary print its version (a cargo subcommand
/// run directly may need its subcommand name first).
pub fn ensure_installed(
    root: &Path,
    cargo: &str,
    package: &str,
    version: &str,
    version_args: &[&str],
) -> anyhow::Result<PathBuf> {
    let install_root = root.join(".tools/cargo");
    let binary = install_root.join("bin").join(package);
    let installed = std::process::Command::new(&binary)
        .args(version_args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.as_deref().is_some_and(|v| v.split_whitespace().any(|word| word == version)) {
        return Ok(binary);
    }
    println!("\n== installing {package} {version} into .tools/cargo/");
    let status = crate::nested_cargo(cargo)
        .args(["install", "--locked", &format!("{package}@{version}"), "--root"])
        // A tool runs for seconds: its build time matters more than its speed. Without the
        // crates' own fat LTO and single codegen unit, cargo-semver-checks links in a fraction
        // of the time on two cores.
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .arg(&install_root)
        .arg("--target-dir")
        .arg(root.join("target/tools-build"))
        .current_dir(root)
        .status()
        .context("cannot start cargo install")?;
    anyhow::ensure!(status.success(), "cargo install {package}@{version} failed ({status})");
    Ok(binary)
}
