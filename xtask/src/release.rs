//! `cargo xtask release <version>`: prepares a release of the published crates (`vc-spec`,
//! `vc-api`, `vc-mock`, `vc-cli`, one version for all) in the working tree, for review:
//!
//! 1. `cargo xtask check`: generated files and doc snapshots agree with the spec;
//! 2. the semver verdict since the last release tag (`cargo xtask semver`, judged for the new
//!    version): the release stops when `<version>` does not carry the required bump;
//! 3. the versions: each published crate's `[package] version` and the `version` of the path
//!    dependencies between them, then `Cargo.lock`;
//! 4. `CHANGELOG.md`: the notes under `## Unreleased` become the section `## <version> - <date>`,
//!    with `### Spec changes` written from spec-diff since the last release tag and `### Semver`;
//! 5. `cargo package` of the four crates in dependency order (each built from its package, the
//!    unpublished ones through cargo's local overlay of the workspace).
//!
//! It neither commits, tags nor publishes: the steps after review are printed (README,
//! "Releasing").

use std::path::Path;

use anyhow::Context as _;

use crate::semver::{self, Version};

/// The published crates, in dependency order (each only depends on earlier ones).
pub const PUBLISHED: [&str; 4] = ["vc-spec", "vc-api", "vc-mock", "vc-cli"];

/// `cargo xtask release <version>`.
pub fn release_task(root: &Path, cargo: &str, args: &[String]) -> anyhow::Result<()> {
    let [version] = args else { anyhow::bail!("usage: cargo xtask release <version>") };
    let version = Version::parse(version)?;
    let current = semver::manifest_version(&read(root, "vc-api/Cargo.toml")?)?;
    anyhow::ensure!(version > current, "{version} is not newer than the current version {current}");

    println!("\n== release {version}: cargo xtask check");
    crate::check_task()?;
    // The verdicts of COMPATIBILITY.md on planted changes still hold with this codegen.
    crate::planted::semver_planted_task(root, cargo)?;

    let baseline = semver::last_release_tag(root);
    let (spec_section, semver_section) = match &baseline {
        Some(tag) => {
            let outcome = semver::check(root, cargo, tag, "the last release tag", Some(version))?;
            anyhow::ensure!(
                outcome.ok,
                "{version} does not carry the {} bump required since {tag}: release at least {}",
                outcome.required.word(),
                outcome.needed
            );
            let spec = outcome.spec.as_ref().map_or_else(|| "No spec at the baseline.\n".to_owned(), |d| d.markdown());
            let semver = format!(
                "Required since `{tag}`: **{}** (cargo-semver-checks: {}; spec: {}).\n",
                outcome.required.word(),
                outcome.api.word(),
                outcome.spec.as_ref().map_or("-", |d| d.rust_bump().word())
            );
            (spec, semver)
        }
        None => {
            println!("\n== no release tag (vc-api-v* or v*): the first release, nothing to compare with");
            ("The first release: no earlier spec to compare with.\n".to_owned(), "The first release.\n".to_owned())
        }
    };

    println!("\n== versions {current} → {version}");
    for krate in PUBLISHED {
        let path = format!("{krate}/Cargo.toml");
        let text = read(root, &path)?;
        std::fs::write(root.join(&path), set_versions(&text, version))
            .with_context(|| format!("cannot write {path}"))?;
    }
    let status = crate::nested_cargo(cargo)
        .args(["update", "--workspace", "--offline"])
        .current_dir(root)
        .status()
        .context("cannot start cargo update")?;
    anyhow::ensure!(status.success(), "cargo update --workspace failed ({status})");

    println!("\n== CHANGELOG.md");
    let changelog = read(root, "CHANGELOG.md")?;
    let section = Section { version, date: today(), spec: spec_section, semver: semver_section };
    std::fs::write(root.join("CHANGELOG.md"), add_section(&changelog, &section)?)
        .context("cannot write CHANGELOG.md")?;

    println!("\n== cargo package {}", PUBLISHED.join(", "));
    let mut package = crate::nested_cargo(cargo);
    package.args(["package", "--locked", "--allow-dirty"]);
    for krate in PUBLISHED {
        package.args(["-p", krate]);
    }
    let status = package.current_dir(root).status().context("cannot start cargo package")?;
    anyhow::ensure!(status.success(), "cargo package failed ({status})");

    let tag = format!("vc-api-v{version}");
    println!(
        "\nrelease {version} prepared. Review the diff and CHANGELOG.md, then:\n  \
         git commit -am \"release {version}\" && git tag {tag}\n  \
         cargo xtask semver --baseline {tag}   # from now on the baseline of CI\n  \
         {}\n  git push --follow-tags",
        PUBLISHED.map(|k| format!("cargo publish -p {k}")).join(" && ")
    );
    Ok(())
}

fn read(root: &Path, path: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))
}

/// `manifest` with its `[package] version` and the `version` of every dependency on a
/// published crate set to `version`.
pub fn set_versions(manifest: &str, version: Version) -> String {
    let mut out = String::with_capacity(manifest.len());
    let mut table = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            table = trimmed.trim_end().to_owned();
        }
        let is_package_version = table == "[package]" && trimmed.starts_with("version") && trimmed.contains('"');
        let is_published_dependency =
            PUBLISHED.iter().any(|k| trimmed.starts_with(&format!("{k} ")) || trimmed.starts_with(&format!("{k}=")));
        if is_package_version || (is_published_dependency && table.contains("dependencies")) {
            out.push_str(&replace_version(line, version, is_package_version));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Replaces the quoted version in `version = "x"` (a package line) or in the inline table
/// `name = { ..., version = "x", ... }` (a dependency; one without a version is left alone).
fn replace_version(line: &str, version: Version, package: bool) -> String {
    let key = if package { "version" } else { "version = \"" };
    let Some(start) = line.find(key) else { return line.to_owned() };
    let Some(open) = line[start..].find('"').map(|i| start + i + 1) else { return line.to_owned() };
    let Some(close) = line[open..].find('"').map(|i| open + i) else { return line.to_owned() };
    format!("{}{version}{}", &line[..open], &line[close..])
}

/// A new CHANGELOG section.
pub struct Section {
    /// The release.
    pub version: Version,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// spec-diff's markdown.
    pub spec: String,
    /// The semver verdict.
    pub semver: String,
}

/// `changelog` with the notes under `## Unreleased` moved into a new section for the release,
/// followed by its spec changes and semver verdict; `## Unreleased` stays, empty, on top.
pub fn add_section(changelog: &str, section: &Section) -> anyhow::Result<String> {
    const UNRELEASED: &str = "## Unreleased\n";
    let start = changelog.find(UNRELEASED).context("CHANGELOG.md has no `## Unreleased` heading")?;
    let notes_start = start + UNRELEASED.len();
    let notes_end = changelog[notes_start..].find("\n## ").map_or(changelog.len(), |i| notes_start + i + 1);
    let notes = changelog[notes_start..notes_end].trim();
    let heading = format!("## {} - {}", section.version, section.date);
    anyhow::ensure!(!changelog.contains(&format!("\n## {} ", section.version)), "CHANGELOG.md already has {heading}");
    let mut body = format!("{UNRELEASED}\n{heading}\n\n");
    if !notes.is_empty() {
        body.push_str(notes);
        body.push_str("\n\n");
    }
    body.push_str("### Spec changes\n\n");
    body.push_str(section.spec.trim_end());
    body.push_str("\n\n### Semver\n\n");
    body.push_str(section.semver.trim_end());
    body.push_str("\n\n");
    Ok(format!("{}{body}{}", &changelog[..start], &changelog[notes_end..]))
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    civil_date(i64::try_from(seconds / 86_400).unwrap_or(0))
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_set_in_the_package_and_on_published_dependencies_only() {
        let manifest = "[package]\nname = \"vc-mock\"\nversion = \"0.1.0\"\nedition.workspace = true\n\n\
                        [dependencies]\nvc-spec = { path = \"../vc-spec\", version = \"0.1.0\" }\n\
                        vc-api = { path = \"../vc-api\", version = \"0.1.0\", default-features = false }\n\
                        serde_json = { version = \"0.1.0\" }\n\n[dev-dependencies]\nvc-api = { path = \"../vc-api\" }\n";
        let out = set_versions(manifest, Version::parse("0.2.0").unwrap());
        assert_eq!(
            out,
            "[package]\nname = \"vc-mock\"\nversion = \"0.2.0\"\nedition.workspace = true\n\n\
             [dependencies]\nvc-spec = { path = \"../vc-spec\", version = \"0.2.0\" }\n\
             vc-api = { path = \"../vc-api\", version = \"0.2.0\", default-features = false }\n\
             serde_json = { version = \"0.1.0\" }\n\n[dev-dependencies]\nvc-api = { path = \"../vc-api\" }\n"
        );
    }

    #[test]
    fn the_unreleased_notes_move_into_the_new_section() {
        let changelog = "# Changelog\n\n## Unreleased\n\n### Fixed\n\n- a fix\n\n## 0.1.0 - first release\n\nold\n";
        let section = Section {
            version: Version::parse("0.2.0").unwrap(),
            date: "2026-12-07".to_owned(),
            spec: "1 change(s)\n\n#### Events\n\n- `x` added\n".to_owned(),
            semver: "Required: **minor**.".to_owned(),
        };
        let out = add_section(changelog, &section).unwrap();
        assert_eq!(
            out,
            "# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-12-07\n\n### Fixed\n\n- a fix\n\n### Spec changes\n\n\
             1 change(s)\n\n#### Events\n\n- `x` added\n\n### Semver\n\nRequired: **minor**.\n\n## 0.1.0 - first release\n\nold\n"
        );
        assert!(add_section(&out, &section).is_err(), "a version is released once");
        assert!(add_section("# Changelog\n", &section).is_err());
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_794), "2026-12-07");
    }

    #[test]
    fn the_published_crates_and_their_manifests_agree() {
        let root = crate::workspace_root();
        for (i, krate) in PUBLISHED.iter().enumerate() {
            let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).unwrap();
            assert!(!manifest.contains("publish = false"), "{krate} must be publishable");
            for key in ["description", "license", "repository", "documentation", "readme", "keywords", "categories"] {
                assert!(manifest.lines().any(|l| l.starts_with(key)), "{krate}: no `{key}` in Cargo.toml");
            }
            // Path dependencies on published crates carry a version, and only on earlier ones.
            let deps = manifest.split("[dependencies]").nth(1).unwrap_or_default();
            let deps = deps.split("\n[").next().unwrap_or_default();
            for line in deps.lines().filter(|l| l.contains("path = ")) {
                assert!(line.contains("version = \""), "{krate}: `{line}` has no version");
                let name = line.split_whitespace().next().unwrap();
                let position = PUBLISHED.iter().position(|k| *k == name).expect("a path dependency is published");
                assert!(position < i, "{krate} depends on {name}, published later");
            }
        }
    }
}
