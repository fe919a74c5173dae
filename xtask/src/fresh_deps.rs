//! `cargo xtask fresh-deps`: vc-api as a user resolves it. CI builds with `Cargo.lock`, which
//! hides what the newest compatible releases of our dependencies do (new deprecations, lints,
//! breakage). This copies the workspace to `target/fresh-deps/workspace`, runs `cargo update`
//! there, prints which versions moved, then lints (warnings denied, all features and the
//! defaults) and tests vc-api in the copy. It builds into the workspace's `target/`, where
//! every crate whose version did not move is already built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Directories never copied: build output, git data, installed tools.
const SKIPPED: [&str; 4] = ["target", ".git", ".tools", "node_modules"];

/// Runs the fresh-dependency check for the workspace at `root`.
pub fn fresh_deps_task(root: &Path, cargo: &str) -> anyhow::Result<()> {
    let base = root.join("target/fresh-deps");
    let copy = base.join("workspace");
    if copy.exists() {
        std::fs::remove_dir_all(&copy).with_context(|| format!("cannot remove {}", copy.display()))?;
    }
    copy_tree(root, &copy)?;
    // The workspace's own target directory: crates whose version did not move are reused, so
    // only the updated ones and their dependents build again.
    let target = root.join("target");
    let target = target.to_str().context("target path is not UTF-8")?;
    let env = [("CARGO_TARGET_DIR", target)];
    step(&copy, "update every dependency to its newest compatible release", cargo, &["update"], &env)?;
    let moved = changed_versions(&root.join("Cargo.lock"), &copy.join("Cargo.lock"))?;
    if moved.is_empty() {
        println!("Cargo.lock already holds the newest compatible releases");
    } else {
        println!("{} package(s) resolve differently for users than in Cargo.lock:", moved.len());
        for line in &moved {
            println!("  {line}");
        }
    }
    let clippy_all = ["clippy", "-p", "vc-api", "--all-targets", "--all-features", "--", "-D", "warnings"];
    step(&copy, "lint vc-api, all features, fresh dependencies", cargo, &clippy_all, &env)?;
    let clippy_default = ["clippy", "-p", "vc-api", "--lib", "--", "-D", "warnings"];
    step(&copy, "lint vc-api, default features, fresh dependencies", cargo, &clippy_default, &env)?;
    step(&copy, "test vc-api, fresh dependencies", cargo, &["test", "-p", "vc-api", "--all-features"], &env)?;
    Ok(())
}

fn step(dir: &Path, name: &str, program: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    println!("\n== {name}: {program} {} (in {})", args.join(" "), dir.display());
    let mut command = crate::nested_cargo(program);
    command.args(args).current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status().with_context(|| format!("cannot start {program}"))?;
    anyhow::ensure!(status.success(), "step `{name}` failed ({status})");
    Ok(())
}

/// Copies the workspace sources (everything but [`SKIPPED`]) from `from` to `to`. The repository
/// has no symbolic links; one in a working tree is copied as what it points to.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if SKIPPED.iter().any(|skip| name == *skip) {
            continue;
        }
        let (source, dest): (PathBuf, PathBuf) = (entry.path(), to.join(&name));
        let kind = std::fs::metadata(&source).with_context(|| format!("cannot read {}", source.display()))?.file_type();
        if kind.is_dir() {
            copy_tree(&source, &dest)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &dest).with_context(|| format!("cannot copy {}", source.display()))?;
        }
    }
    Ok(())
}

/// `name old -> new` for every package whose resolved versions differ between two lock files.
fn changed_versions(old: &Path, new: &Path) -> anyhow::Result<Vec<String>> {
    let (old, new) = (lock_versions(old)?, lock_versions(new)?);
    let mut out = Vec::new();
    for name in old.keys().chain(new.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (before, after) = (old.get(name).cloned().unwrap_or_default(), new.get(name).cloned().unwrap_or_default());
        if before != after {
            let show = |v: &[String]| if v.is_empty() { "(none)".to_owned() } else { v.join(", ") };
            out.push(format!("{name} {} -> {}", show(&before), show(&after)));
        }
    }
    Ok(out)
}

/// Package name -> its resolved versions, read from the `name = ` / `version = ` lines of a
/// lock file.
fn lock_versions(path: &Path) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let (Some(value), Some(current)) = (line.strip_prefix("version = "), name.take()) {
            out.entry(current).or_default().push(value.trim_matches('"').to_owned());
        }
    }
    Ok(out)
}
