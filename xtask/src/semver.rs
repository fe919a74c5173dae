//! `cargo xtask semver [--baseline <git ref>]`: the version bump `vc-api` needs since a baseline,
//! and whether its version carries it.
//!
//! Two verdicts are combined: cargo-semver-checks (pinned, installed into `.tools/cargo/` when
//! missing) compares the public API of `vc-api` at the baseline with the working tree's, and
//! `cargo xtask spec-diff` classifies the spec changes (it sees what the Rust API cannot show,
//! such as a new required parameter, which only fails at run time). The required bump is the
//! larger of the two.
//!
//! The default baseline is the last release tag (`vc-api-v*` or `v*`, by `git describe`). With
//! no release tag the baseline is the merge base with `main` when on another branch, else the
//! previous commit; without any of these (a fresh single-commit clone) there is nothing to
//! compare and the task says so and succeeds.
//!
//! The task fails when the bump the working tree's version makes over the baseline's version is
//! smaller than the required one. A baseline version that was never released (no tag names it)
//! has no users: changes since then accumulate in that version, so an unchanged version passes.

use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use crate::spec_diff::{self, Bump};

/// The cargo-semver-checks release the task installs.
pub const CARGO_SEMVER_CHECKS_VERSION: &str = "0.51.0";

/// The crate whose API is checked.
pub const CRATE: &str = "vc-api";

/// The features whose API is checked: all of vc-api's public surface, with the `ring` TLS
/// provider (the API does not depend on the provider; `ring` builds faster than aws-lc-rs).
pub const FEATURES: &str = "webhook,axum,redis,mock,rustls-ring";

/// A `major.minor.patch` version (pre-release and build parts are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
}

impl Version {
    /// Parses `x.y.z` (anything after `-` or `+` is ignored).
    pub fn parse(text: &str) -> anyhow::Result<Version> {
        let core = text.trim().split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<u64> = core
            .split('.')
            .map(|p| p.parse::<u64>().with_context(|| format!("`{text}` is not a version")))
            .collect::<anyhow::Result<_>>()?;
        let [major, minor, patch] = parts[..] else { anyhow::bail!("`{text}` is not a major.minor.patch version") };
        Ok(Version { major, minor, patch })
    }

    /// The bump from `self` to `next` in Cargo's terms: below 1.0 a new minor number is a major
    /// (breaking) bump and a new patch number a minor (compatible) one. `None` when `next` is
    /// not newer.
    pub fn bump_to(self, next: Version) -> Bump {
        if next <= self {
            Bump::None
        } else if next.major != self.major || (self.major == 0 && next.minor != self.minor) {
            Bump::Major
        } else if self.major == 0 || next.minor != self.minor {
            Bump::Minor
        } else {
            Bump::Patch
        }
    }

    /// The smallest version after `self` that carries `bump`.
    pub fn bumped(self, bump: Bump) -> Version {
        let Version { major, minor, patch } = self;
        match (bump, major) {
            (Bump::None, _) => self,
            (Bump::Major, 0) => Version { major: 0, minor: minor + 1, patch: 0 },
            (Bump::Major, _) => Version { major: major + 1, minor: 0, patch: 0 },
            (Bump::Minor, 0) | (Bump::Patch, _) => Version { major, minor, patch: patch + 1 },
            (Bump::Minor, _) => Version { major, minor: minor + 1, patch: 0 },
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The package version in a Cargo.toml (the first `version = "..."` of its `[package]` table).
pub fn manifest_version(manifest: &str) -> anyhow::Result<Version> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("version").map(str::trim_start).and_then(|v| v.strip_prefix('='))
        {
            return Version::parse(value.trim().trim_matches('"'));
        }
    }
    anyhow::bail!("no [package] version")
}

/// Runs git in `root`; its trimmed output, or `None` when it fails.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(root).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The last release tag reachable from HEAD, if any.
pub fn last_release_tag(root: &Path) -> Option<String> {
    git(root, &["describe", "--tags", "--abbrev=0", "--match", "vc-api-v*", "--match", "v[0-9]*"])
}

/// The default baseline and why it was chosen; `None` when there is nothing to compare with.
pub fn default_baseline(root: &Path) -> Option<(String, String)> {
    if let Some(tag) = last_release_tag(root) {
        return Some((tag, "the last release tag".to_owned()));
    }
    let head = git(root, &["rev-parse", "HEAD"])?;
    for main in ["main", "origin/main"] {
        if let Some(base) = git(root, &["merge-base", "HEAD", main])
            && base != head
        {
            return Some((base, format!("no release tag; the merge base with `{main}`")));
        }
    }
    let previous = git(root, &["rev-parse", "--verify", "--quiet", "HEAD~1"])?;
    Some((previous, "no release tag and no branch point from `main`; the previous commit".to_owned()))
}

/// Whether `version` of vc-api was released (a tag `vc-api-v<version>` or `v<version>`).
fn released(root: &Path, version: Version) -> bool {
    ["vc-api-v", "v"].iter().any(|prefix| {
        git(root, &["rev-parse", "--verify", "--quiet", &format!("refs/tags/{prefix}{version}")]).is_some()
    })
}

/// cargo-semver-checks' verdict, with the lines that give its reasons.
#[derive(Debug, Clone)]
pub struct ToolVerdict {
    /// The bump its lints require.
    pub bump: Bump,
    /// Its report (the failed checks with their explanations, then the summary).
    pub report: String,
}

/// Reads the verdict from cargo-semver-checks' output (run with `--release-type patch`, so
/// that every lint, major or minor, is reported).
pub fn parse_tool_output(output: &str) -> Option<Bump> {
    let summary = output.lines().rev().find(|l| l.trim_start().starts_with("Summary"))?;
    if summary.contains("new major version") {
        Some(Bump::Major)
    } else if summary.contains("new minor version") {
        Some(Bump::Minor)
    } else if summary.contains("no semver update required") {
        Some(Bump::None)
    } else {
        None
    }
}

/// Runs the installed cargo-semver-checks on vc-api: the working tree against `baseline_rev`,
/// or two rustdoc JSON files (`rustdoc`: baseline, current) when given.
pub fn run_tool(
    root: &Path,
    tool: &Path,
    baseline_rev: Option<&str>,
    rustdoc: Option<(&Path, &Path)>,
) -> anyhow::Result<ToolVerdict> {
    let mut command = crate::nested_cargo(tool.to_str().context("tool path is not UTF-8")?);
    command.args(["semver-checks", "check-release", "--release-type", "patch", "--color", "never"]);
    match (baseline_rev, rustdoc) {
        (_, Some((baseline, current))) => {
            command.arg("--baseline-rustdoc").arg(baseline).arg("--current-rustdoc").arg(current);
        }
        (Some(rev), None) => {
            command.args(["-p", CRATE, "--baseline-rev", rev, "--only-explicit-features", "--features", FEATURES]);
        }
        (None, None) => anyhow::bail!("run_tool needs a baseline"),
    }
    let (status, report) = run_echoed(command.current_dir(root))?;
    let Some(bump) = parse_tool_output(&report) else {
        anyhow::bail!("cargo-semver-checks gave no verdict ({status})")
    };
    Ok(ToolVerdict { bump, report })
}

/// Runs `command`, echoing its standard output and error line by line as they come (the
/// rustdoc builds take minutes), and returns its status with both outputs.
fn run_echoed(command: &mut Command) -> anyhow::Result<(std::process::ExitStatus, String)> {
    use std::io::BufRead as _;
    use std::process::Stdio;
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("cannot start cargo-semver-checks")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let echo_stderr = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut report = String::new();
    let stdout = child.stdout.take().context("no stdout pipe")?;
    for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        report.push_str(&line);
        report.push('\n');
    }
    report.push_str(&echo_stderr.join().unwrap_or_default());
    let status = child.wait().context("cargo-semver-checks did not finish")?;
    Ok((status, report))
}

/// The pinned cargo-semver-checks, installed when missing.
pub fn tool(root: &Path, cargo: &str) -> anyhow::Result<std::path::PathBuf> {
    crate::cargo_install::ensure_installed(
        root,
        cargo,
        "cargo-semver-checks",
        CARGO_SEMVER_CHECKS_VERSION,
        &["semver-checks", "--version"],
    )
}

/// Whether going from `old` (released or not) to `new` is enough for a `required` bump. An
/// unreleased `old` has no users: the changes may go into that same version.
pub fn carries(required: Bump, old: Version, new: Version, old_released: bool) -> bool {
    required <= Bump::Patch || old.bump_to(new) >= required || (new == old && !old_released)
}

/// The outcome of [`check`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The bump required by the API and the spec.
    pub required: Bump,
    /// cargo-semver-checks' part.
    pub api: Bump,
    /// The spec changes since the baseline, when the baseline has a spec.
    pub spec: Option<spec_diff::SpecDiff>,
    /// The smallest version that carries the required bump.
    pub needed: Version,
    /// Whether the working tree's version is acceptable.
    pub ok: bool,
}

/// `cargo xtask semver [--baseline <ref>]`.
pub fn semver_task(root: &Path, cargo: &str, args: &[String]) -> anyhow::Result<()> {
    let baseline = match args {
        [] => default_baseline(root),
        [flag, git_ref] if flag == "--baseline" => Some((git_ref.clone(), "given".to_owned())),
        _ => anyhow::bail!("usage: cargo xtask semver [--baseline <git ref>]"),
    };
    let Some((baseline, why)) = baseline else {
        println!(
            "semver: no baseline (no release tag, no branch point from main, no previous commit): \
             nothing was released before this commit, so no bump can be required; skipped"
        );
        return Ok(());
    };
    let outcome = check(root, cargo, &baseline, &why, None)?;
    anyhow::ensure!(
        outcome.ok,
        "vc-api needs a {} bump since {baseline} (at least {}); raise the version with `cargo xtask release <version>`",
        outcome.required.word(),
        outcome.needed
    );
    Ok(())
}

/// Compares the working tree with `baseline` and prints the verdict with its reasons. The
/// version judged is the working tree's, or `proposed` (what `cargo xtask release` is about to
/// write).
pub fn check(
    root: &Path,
    cargo: &str,
    baseline: &str,
    why: &str,
    proposed: Option<Version>,
) -> anyhow::Result<Outcome> {
    let rev = git(root, &["rev-parse", "--verify", &format!("{baseline}^{{commit}}")])
        .with_context(|| format!("`{baseline}` is not a commit"))?;
    let old_manifest = git(root, &["show", &format!("{rev}:vc-api/Cargo.toml")])
        .with_context(|| format!("{baseline} has no vc-api/Cargo.toml"))?;
    let old_version = manifest_version(&old_manifest).context("vc-api/Cargo.toml at the baseline")?;
    let new_manifest =
        std::fs::read_to_string(root.join("vc-api/Cargo.toml")).context("cannot read vc-api/Cargo.toml")?;
    let new_version = match proposed {
        Some(version) => version,
        None => manifest_version(&new_manifest).context("vc-api/Cargo.toml")?,
    };
    let was_released = released(root, old_version);
    println!(
        "\n== semver: {CRATE} {old_version} at {baseline} ({why}; {}) → {new_version} in the working tree",
        if was_released { "released" } else { "never released" }
    );

    let tool = tool(root, cargo)?;
    println!("\n== cargo-semver-checks {CARGO_SEMVER_CHECKS_VERSION} (features {FEATURES})");
    let api = run_tool(root, &tool, Some(&rev), None)?;

    let spec = match spec_diff::spec_at(root, &rev) {
        Ok(old) => Some(spec_diff::diff(&old, &spec_diff::working_tree_spec(root)?)),
        Err(e) => {
            println!("\nspec-diff: no spec at the baseline ({e}); the API verdict alone decides");
            None
        }
    };
    let spec_bump = spec.as_ref().map_or(Bump::None, spec_diff::SpecDiff::rust_bump);
    if let Some(spec) = &spec {
        println!("\n== spec-diff {baseline}\n");
        print!("{}", spec.markdown());
    }

    let required = api.bump.max(spec_bump);
    let carried = old_version.bump_to(new_version);
    let needed = old_version.bumped(required);
    let ok = carries(required, old_version, new_version, was_released);
    println!(
        "\n== verdict: cargo-semver-checks requires {}, the spec {}: {} bump required; {old_version} → \
         {new_version} is a {} bump{}",
        api.bump.word(),
        spec_bump.word(),
        required.word(),
        carried.word(),
        if ok {
            if carried < required {
                format!(" ({old_version} was never released: the changes go into it) — ok")
            } else {
                " — ok".to_owned()
            }
        } else {
            format!(" — not enough: at least {needed}")
        }
    );
    Ok(Outcome { required, api: api.bump, spec, needed, ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn versions_below_one_bump_like_cargo() {
        assert_eq!(v("0.1.0").bump_to(v("0.2.0")), Bump::Major);
        assert_eq!(v("0.1.0").bump_to(v("0.1.1")), Bump::Minor);
        assert_eq!(v("0.1.0").bump_to(v("0.1.0")), Bump::None);
        assert_eq!(v("0.1.0").bump_to(v("1.0.0")), Bump::Major);
        assert_eq!(v("1.2.3").bump_to(v("1.2.4")), Bump::Patch);
        assert_eq!(v("1.2.3").bump_to(v("1.3.0")), Bump::Minor);
        assert_eq!(v("1.2.3").bump_to(v("2.0.0")), Bump::Major);
        assert_eq!(v("0.2.0").bump_to(v("0.1.9")), Bump::None);
        assert_eq!(v("0.1.0").bumped(Bump::Major), v("0.2.0"));
        assert_eq!(v("0.1.0").bumped(Bump::Minor), v("0.1.1"));
        assert_eq!(v("1.2.3").bumped(Bump::Minor), v("1.3.0"));
        assert_eq!(v("1.2.3").bumped(Bump::Major), v("2.0.0"));
        assert_eq!(v("1.2.3-rc.1"), v("1.2.3"));
        assert!(Version::parse("1.2").is_err() && Version::parse("x.y.z").is_err());
    }

    #[test]
    fn a_version_carries_a_bump_or_takes_changes_while_unreleased() {
        // Since a release, a breaking change needs a new minor number below 1.0.
        assert!(!carries(Bump::Major, v("0.1.0"), v("0.1.0"), true));
        assert!(!carries(Bump::Major, v("0.1.0"), v("0.1.1"), true));
        assert!(carries(Bump::Major, v("0.1.0"), v("0.2.0"), true));
        // An addition needs at least a new patch number; fixes need nothing.
        assert!(!carries(Bump::Minor, v("0.1.0"), v("0.1.0"), true));
        assert!(carries(Bump::Minor, v("0.1.0"), v("0.1.1"), true));
        assert!(carries(Bump::None, v("0.1.0"), v("0.1.0"), true));
        // Never released: the same version takes any change; a new one must still carry it.
        assert!(carries(Bump::Major, v("0.1.0"), v("0.1.0"), false));
        assert!(!carries(Bump::Major, v("0.1.0"), v("0.1.1"), false));
    }

    #[test]
    fn the_package_version_is_read_from_its_table() {
        let manifest = "[workspace]\nversion = \"9.9.9\"\n[package]\nname = \"vc-api\"\nversion = \"0.3.1\"\n[dependencies]\nversion = \"1\"\n";
        assert_eq!(manifest_version(manifest).unwrap(), v("0.3.1"));
        assert!(manifest_version("[package]\nname = \"x\"\n").is_err());
    }

    #[test]
    fn the_tool_verdict_comes_from_its_summary() {
        let major = "--- failure struct_pub_field_missing ---\n     Summary semver requires new major version: 1 major and 0 minor checks failed\n";
        assert_eq!(parse_tool_output(major), Some(Bump::Major));
        let minor = "     Summary semver requires new minor version: 0 major and 1 minor checks failed\n";
        assert_eq!(parse_tool_output(minor), Some(Bump::Minor));
        assert_eq!(parse_tool_output("     Summary no semver update required\n"), Some(Bump::None));
        assert_eq!(parse_tool_output("error: could not compile\n"), None);
    }
}
