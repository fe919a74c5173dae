//! `cargo xtask deny`: cargo-deny's offline checks of the dependency tree (licenses, bans with
//! the duplicate-version policy, sources), as configured in `deny.toml`. The pinned cargo-deny is
//! installed into `.tools/cargo/` with `cargo install --locked` when missing.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The cargo-deny release CI uses.
pub const CARGO_DENY_VERSION: &str = "0.20.2";

/// Installs the pinned cargo-deny if needed and runs the offline checks for the workspace at
/// `root`.
pub fn deny_task(root: &Path, cargo: &str) -> anyhow::Result<()> {
    let deny = ensure_installed(root, cargo)?;
    let args = [
        "deny",
        "--offline",
        "--locked",
        "--workspace",
        "--config",
        "deny.toml",
        "check",
        "licenses",
        "bans",
        "sources",
    ];
    println!("\n== cargo-deny {CARGO_DENY_VERSION}: {}", args.join(" "));
    let status = crate::nested_cargo(deny.to_str().context("tool path is not UTF-8")?)
        .args(&args[1..])
        .current_dir(root)
        .status()
        .context("cannot start cargo-deny")?;
    anyhow::ensure!(status.success(), "cargo-deny found problems ({status})");
    Ok(())
}

/// `.tools/cargo/bin/cargo-deny` at the pinned version, installed when missing or different.
fn ensure_installed(root: &Path, cargo: &str) -> anyhow::Result<PathBuf> {
    let install_root = root.join(".tools/cargo");
    let binary = install_root.join("bin/cargo-deny");
    let installed = std::process::Command::new(&binary)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.as_deref().is_some_and(|v| v.split_whitespace().any(|word| word == CARGO_DENY_VERSION)) {
        return Ok(binary);
    }
    println!("\n== installing cargo-deny {CARGO_DENY_VERSION} into .tools/cargo/");
    let status = crate::nested_cargo(cargo)
        .args(["install", "--locked", &format!("cargo-deny@{CARGO_DENY_VERSION}"), "--root"])
        .arg(&install_root)
        .arg("--target-dir")
        .arg(root.join("target/tools-build"))
        .current_dir(root)
        .status()
        .context("cannot start cargo install")?;
    anyhow::ensure!(status.success(), "cargo install cargo-deny@{CARGO_DENY_VERSION} failed ({status})");
    Ok(binary)
}
