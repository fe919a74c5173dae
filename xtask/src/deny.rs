//! `cargo xtask deny`: cargo-deny's offline checks of the dependency tree (licenses, bans with
//! the duplicate-version policy, sources), as configured in `deny.toml`. The pinned cargo-deny is
//! installed into `.tools/cargo/` when missing ([`crate::cargo_install`]), and every platform's
//! dependencies are fetched first (the checks themselves run offline).

use std::path::Path;

use anyhow::Context as _;

/// The cargo-deny release CI uses.
pub const CARGO_DENY_VERSION: &str = "0.20.2";

/// Installs the pinned cargo-deny if needed and runs the offline checks for the workspace at
/// `root`.
pub fn deny_task(root: &Path, cargo: &str) -> anyhow::Result<()> {
    let deny = crate::cargo_install::ensure_installed(root, cargo, "cargo-deny", CARGO_DENY_VERSION, &["--version"])?;
    // cargo-deny reads the metadata of every platform's dependencies offline; a build fetches
    // only this platform's (windows-sys and the like are missing on a fresh machine).
    println!("\n== fetching every platform's dependencies: cargo fetch --locked");
    let status = crate::nested_cargo(cargo)
        .args(["fetch", "--locked"])
        .current_dir(root)
        .status()
        .context("cannot run cargo fetch")?;
    anyhow::ensure!(status.success(), "cargo fetch failed ({status})");
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
