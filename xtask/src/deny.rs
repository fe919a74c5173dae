//! `cargo xtask deny`: cargo-deny's offline checks of the dependency tree (licenses, bans with
//! the duplicate-version policy, sources), as configured in `deny.toml`. The pinned cargo-deny is
//! installed into `.tools/cargo/` when missing ([`crate::cargo_install`]).

use std::path::Path;

use anyhow::Context as _;

/// The cargo-deny release CI uses.
pub const CARGO_DENY_VERSION: &str = "0.20.2";

/// Installs the pinned cargo-deny if needed and runs the offline checks for the workspace at
/// `root`.
pub fn deny_task(root: &Path, cargo: &str) -> anyhow::Result<()> {
    let deny = crate::cargo_install::ensure_installed(root, cargo, "cargo-deny", CARGO_DENY_VERSION, &["--version"])?;
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
