//! Planted changes: proof that the two verdicts of a release agree with COMPATIBILITY.md.
//!
//! Each [`Plant`] copies the spec sources, applies one change a doc update could bring (an
//! optional response field, an enum value, an event type or an operation added; a field
//! removed or retyped; a required parameter added) and regenerates with the codegen library.
//! The unit tests check that `spec-diff` classifies each change as expected (fast: no build).
//!
//! `cargo xtask semver-planted` does the heavy half: in a copy of `vc-api` under
//! `target/semver-planted/` (one shared target directory), it builds the rustdoc JSON of the
//! baseline once and of each planted variant, runs the pinned cargo-semver-checks on each pair,
//! and checks a small user crate written against the baseline's types ([`USER_CRATE`]) against
//! each additive variant, unchanged. It fails on any verdict other than the expected one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde_yaml::{Mapping, Value};

use crate::semver;
use crate::spec_diff::{self, Area, Bump, Kind};

/// The spec sources by file name (`room_level.yaml`), parsed.
pub type Sources = BTreeMap<String, Value>;

/// One planted change and the verdicts it must get.
pub struct Plant {
    /// Short name (`enum-value-added`).
    pub name: &'static str,
    /// Applies the change to the spec sources.
    pub apply: fn(&mut Sources) -> anyhow::Result<()>,
    /// The spec-diff entry that must appear: area, kind, subject.
    pub entry: (Area, Kind, &'static str),
    /// Whether that entry is breaking for Rust users and for strict clients.
    pub breaking: (bool, bool),
    /// Whether the change is an addition (minor; the user crate must still compile).
    pub additive: bool,
    /// Whether cargo-semver-checks can see the break in the Rust API. Two planted breaks it
    /// cannot: a new required parameter adds a setter (an addition to the API) and fails only at
    /// run time, when a call is sent without it; and a field's new type, since cargo-semver-checks
    /// (0.51) has no lint comparing field types (the field keeps its name). spec-diff sees both,
    /// so `cargo xtask semver`, which takes the larger verdict, still requires a major bump.
    pub api_visible: bool,
}

fn at<'a>(value: &'a mut Value, path: &[&str]) -> anyhow::Result<&'a mut Value> {
    let mut current = value;
    for key in path {
        current = current.get_mut(*key).with_context(|| format!("no `{key}` in {}", path.join(".")))?;
    }
    Ok(current)
}

fn file<'a>(sources: &'a mut Sources, name: &str) -> anyhow::Result<&'a mut Value> {
    sources.get_mut(name).with_context(|| format!("no spec/src/{name}"))
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("a planted snippet is valid YAML")
}

fn push(value: &mut Value, item: Value) -> anyhow::Result<()> {
    value.as_sequence_mut().context("not a list")?.push(item);
    Ok(())
}

fn insert(value: &mut Value, key: &str, item: Value) -> anyhow::Result<()> {
    value.as_mapping_mut().context("not a mapping")?.insert(Value::from(key), item);
    Ok(())
}

fn room_level_properties(sources: &mut Sources) -> anyhow::Result<&mut Mapping> {
    at(file(sources, "room_level.yaml")?, &["components", "schemas", "RoomLevel", "properties"])?
        .as_mapping_mut()
        .context("RoomLevel.properties is not a mapping")
}

/// The seven planted changes.
pub fn plants() -> Vec<Plant> {
    vec![
        Plant {
            name: "optional-response-field-added",
            apply: |s| {
                let floor = yaml("{type: string, description: Floor the level is on., example: \"3\"}");
                room_level_properties(s)?.insert(Value::from("floor"), floor);
                Ok(())
            },
            entry: (Area::ResponseField, Kind::Added, "`RoomLevel.floor`"),
            breaking: (false, true),
            additive: true,
            api_visible: true,
        },
        Plant {
            name: "enum-value-added",
            apply: |s| {
                let status = at(file(s, "meeting.yaml")?, &["components", "schemas", "MeetingStatus"])?;
                push(at(status, &["enum"])?, Value::from(4))?;
                push(at(status, &["x-enum-varnames"])?, Value::from("Cancelled"))?;
                if let Some(descriptions) = status.get_mut("x-enum-descriptions") {
                    push(descriptions, Value::from("The meeting was cancelled."))?;
                }
                Ok(())
            },
            entry: (Area::EnumValue, Kind::Added, "`MeetingStatus` value `4`"),
            breaking: (false, true),
            additive: true,
            api_visible: true,
        },
        Plant {
            name: "event-type-added",
            apply: |s| {
                let schemas = at(file(s, "event.yaml")?, &["components", "schemas"])?;
                let mut payload = schemas.get("RoomDeletedV1Event").context("no RoomDeletedV1Event")?.clone();
                insert(
                    &mut payload,
                    "description",
                    Value::from("Payload of vc.room.moved_v1: a room moved to another level."),
                )?;
                insert(schemas, "RoomMovedV1Event", payload)?;
                let event = yaml(
                    "{event_type: vc.room.moved_v1, summary: A meeting room was moved to another level., \
                     schema: {$ref: \"#/components/schemas/RoomMovedV1Event\"}, overview: false}",
                );
                push(at(file(s, "common.yaml")?, &["x-feishu-events"])?, event)
            },
            entry: (Area::Event, Kind::Added, "`vc.room.moved_v1`"),
            breaking: (false, false),
            additive: true,
            api_visible: true,
        },
        Plant {
            name: "operation-added",
            apply: |s| {
                let paths = at(file(s, "room_level.yaml")?, &["paths"])?;
                let get = paths
                    .get("/open-apis/vc/v1/room_levels/{room_level_id}")
                    .and_then(|item| item.get("get"))
                    .context("no room_level_get")?;
                let mut op = get.clone();
                insert(&mut op, "operationId", Value::from("room_level_ancestors"))?;
                insert(&mut op, "summary", Value::from("List the levels above a room level"))?;
                let mut item = Mapping::new();
                item.insert(Value::from("get"), op);
                insert(paths, "/open-apis/vc/v1/room_levels/{room_level_id}/ancestors", Value::Mapping(item))
            },
            entry: (Area::Operation, Kind::Added, "`room_level_ancestors`"),
            breaking: (false, false),
            additive: true,
            api_visible: true,
        },
        Plant {
            name: "field-removed",
            apply: |s| {
                room_level_properties(s)?.remove("custom_group_id").context("no RoomLevel.custom_group_id")?;
                Ok(())
            },
            entry: (Area::ResponseField, Kind::Removed, "`RoomLevel.custom_group_id`"),
            breaking: (true, true),
            additive: false,
            api_visible: true,
        },
        Plant {
            name: "field-type-changed",
            apply: |s| {
                let has_child = room_level_properties(s)?.get_mut("has_child").context("no RoomLevel.has_child")?;
                insert(has_child, "type", Value::from("integer"))?;
                insert(has_child, "format", Value::from("int32"))?;
                Ok(())
            },
            entry: (Area::ResponseField, Kind::Changed, "`RoomLevel.has_child`"),
            breaking: (true, true),
            additive: false,
            api_visible: false,
        },
        Plant {
            name: "required-parameter-added",
            apply: |s| {
                let paths = at(file(s, "room_level.yaml")?, &["paths"])?;
                let params = paths
                    .get_mut("/open-apis/vc/v1/room_levels/{room_level_id}")
                    .and_then(|item| item.get_mut("get"))
                    .and_then(|op| op.get_mut("parameters"))
                    .context("no room_level_get parameters")?;
                let param = yaml(
                    "{name: tenant_region, in: query, required: true, description: Region the tenant's data lives in., \
                     schema: {type: string}, example: cn}",
                );
                push(params, param)
            },
            entry: (Area::Parameter, Kind::Added, "`room_level_get` query `tenant_region`"),
            breaking: (true, true),
            additive: false,
            api_visible: false,
        },
    ]
}

/// Reads every `*.yaml` of a spec source directory.
pub fn read_sources(dir: &Path) -> anyhow::Result<Sources> {
    let mut sources = Sources::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| n.ends_with(".yaml")) else { continue };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let value = serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
        sources.insert(name.to_owned(), value);
    }
    Ok(sources)
}

/// Writes `sources` into a fresh directory `dir` (the temporary copy a plant is applied to).
pub fn write_sources(dir: &Path, sources: &Sources) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, value) in sources {
        let text = serde_yaml::to_string(value).with_context(|| format!("cannot write {name}"))?;
        std::fs::write(dir.join(name), quote_doc_versions(&text)).with_context(|| format!("cannot write {name}"))?;
    }
    Ok(())
}

/// Quotes every `last_remote_update` value, as the spec sources must (serde_yaml writes
/// `2023-07-14` plain).
fn quote_doc_versions(yaml: &str) -> String {
    const KEY: &str = "last_remote_update: ";
    let mut out = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        match line.find(KEY) {
            Some(position) if !line[position + KEY.len()..].starts_with(['"', '\'']) => {
                let (head, value) = line.split_at(position + KEY.len());
                out.push_str(&format!("{head}'{value}'"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A planted variant: the spec sources copied to `dir` with `plant` applied, and bundled.
pub fn planted_spec(root: &Path, dir: &Path, plant: Option<&Plant>) -> anyhow::Result<serde_yaml::Value> {
    let mut sources = read_sources(&root.join(codegen::paths::SPEC_SOURCES))?;
    if let Some(plant) = plant {
        (plant.apply)(&mut sources).with_context(|| format!("planting {}", plant.name))?;
    }
    write_sources(dir, &sources)?;
    Ok(codegen::bundle::bundle_dir(dir)?)
}

/// The bundled document read with the spec reader.
pub fn spec_of(doc: &serde_yaml::Value) -> anyhow::Result<vc_spec::Spec> {
    vc_spec::Spec::parse(&codegen::bundle::render(doc)).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A planted variant bundled ([`planted_spec`]) and regenerated with the codegen library, as
/// `cargo xtask codegen` would: the spec and the generated files.
pub fn regenerate(
    root: &Path,
    dir: &Path,
    plant: Option<&Plant>,
) -> anyhow::Result<(vc_spec::Spec, Vec<codegen::GeneratedFile>)> {
    let doc = planted_spec(root, dir, plant)?;
    let generated = codegen::generate(&doc)
        .with_context(|| format!("regenerating {}", plant.map_or("the baseline", |p| p.name)))?;
    Ok((spec_of(&doc)?, generated))
}

/// Checks spec-diff's verdict on one plant; `Err` says what differs.
pub fn check_classification(plant: &Plant, diff: &spec_diff::SpecDiff) -> anyhow::Result<()> {
    let (area, kind, subject) = plant.entry;
    let found =
        diff.changes.iter().find(|c| (c.area, c.kind, c.subject.as_str()) == (area, kind, subject)).with_context(
            || format!("{}: spec-diff lacks {area:?} {kind:?} {subject}:\n{}", plant.name, diff.markdown()),
        )?;
    anyhow::ensure!(
        (found.rust_breaking, found.strict_breaking) == plant.breaking,
        "{}: {subject} is (Rust breaking, strict breaking) = {:?}, expected {:?}",
        plant.name,
        (found.rust_breaking, found.strict_breaking),
        plant.breaking
    );
    let expected = if plant.additive { Bump::Minor } else { Bump::Major };
    anyhow::ensure!(
        diff.rust_bump() == expected,
        "{}: spec-diff requires a {} bump, expected {}:\n{}",
        plant.name,
        diff.rust_bump().word(),
        expected.word(),
        diff.markdown()
    );
    Ok(())
}

/// A crate written against the baseline's types the way COMPATIBILITY.md asks (builders,
/// `Default`, `_` arms), touching every item the additive plants change: it must compile
/// unchanged against each of them.
pub const USER_CRATE: &str = r#"//! Written against the baseline vc-api.
#![allow(dead_code)]

use vc_api::types::{MeetingStatus, RoomLevel};

/// Mock data built the compatible way, read field by field.
pub fn level() -> RoomLevel {
    let mut level = RoomLevel::default();
    level.name = Some("Building A".to_owned());
    level.custom_group_id = Some("10000".to_owned());
    level
}

pub fn from_builder() -> Result<RoomLevel, String> {
    RoomLevel::try_from(RoomLevel::builder().name("Floor 3".to_owned()).has_child(false)).map_err(|e| e.to_string())
}

pub fn describe(level: &RoomLevel) -> String {
    format!("{:?} {:?} {}", level.name, level.has_child, level.path.len())
}

pub fn status(status: MeetingStatus) -> &'static str {
    match status {
        MeetingStatus::Calling => "calling",
        MeetingStatus::InProgress => "in progress",
        MeetingStatus::Ended => "ended",
        _ => "other",
    }
}

pub fn event(event: &vc_api::events::Event) -> &'static str {
    match event {
        vc_api::events::Event::RoomDeletedV1(_) => "room deleted",
        _ => "other",
    }
}

pub fn calls(client: &vc_api::Client) {
    let _get = client.room_level_get().room_level_id("omb_1");
    let _list = client.room_level_list().page_size(10);
}
"#;

/// `cargo xtask semver-planted`.
pub fn semver_planted_task(root: &Path, cargo: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let work = root.join("target/semver-planted");
    let workspace = work.join("workspace");
    let target = work.join("target");
    prepare_workspace(root, &workspace)?;
    let old_spec = spec_diff::working_tree_spec(root)?;

    // The baseline: the committed spec regenerated, and the user crate against it.
    let (_, generated) = regenerate(root, &work.join("spec-src"), None)?;
    write_generated(&workspace, &generated)?;
    let baseline_json = rustdoc(cargo, &workspace, &target, &work.join("baseline.json"))?;
    check_user_crate(cargo, &workspace, &target).context("the user crate against the baseline")?;
    println!("baseline built ({:.0?} so far)", started.elapsed());

    // Every variant is built first (one after the other in the same copy, so only vc-api
    // rebuilds), then compared.
    let mut built = Vec::new();
    for plant in plants() {
        let (spec, generated) = regenerate(root, &work.join("spec-src"), Some(&plant))?;
        let diff = spec_diff::diff(&old_spec, &spec);
        write_generated(&workspace, &generated)?;
        let json = rustdoc(cargo, &workspace, &target, &work.join(format!("{}.json", plant.name)))?;
        let user = plant.additive.then(|| check_user_crate(cargo, &workspace, &target));
        println!("{} built ({:.0?} so far)", plant.name, started.elapsed());
        built.push((plant, diff, json, user));
    }

    let tool = semver::tool(root, cargo)?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (plant, diff, json, user) in built {
        let api = semver::run_tool(root, &tool, None, Some((&baseline_json, &json)))?;
        let mut problems = Vec::new();
        if let Err(e) = check_classification(&plant, &diff) {
            problems.push(format!("{e:#}"));
        }
        // An addition needs at most a minor bump (the tool has few lints for additions and may
        // say "none"); a visible break needs a major one.
        let api_expected = if plant.additive || !plant.api_visible { "none or minor" } else { "major" };
        let api_ok =
            if plant.additive || !plant.api_visible { api.bump <= Bump::Minor } else { api.bump == Bump::Major };
        if !api_ok {
            problems.push(format!(
                "cargo-semver-checks requires {}, expected {api_expected}:\n{}",
                api.bump.word(),
                api.report
            ));
        }
        let combined = api.bump.max(diff.rust_bump());
        let expected = if plant.additive { Bump::Minor } else { Bump::Major };
        if combined != expected {
            problems.push(format!("xtask semver requires {}, expected {}", combined.word(), expected.word()));
        }
        if let Some(Err(e)) = &user {
            problems.push(format!("the user crate no longer compiles: {e:#}"));
        }
        rows.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            plant.name,
            diff.rust_bump().word(),
            api.bump.word(),
            combined.word(),
            match &user {
                Some(Ok(())) => "compiles",
                Some(Err(_)) => "FAILS",
                None => "-",
            },
            if problems.is_empty() { "ok" } else { "WRONG" }
        ));
        failures.extend(problems.into_iter().map(|p| format!("{}: {p}", plant.name)));
    }
    println!("\n| planted change | spec-diff | cargo-semver-checks | xtask semver | user crate | verdict |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in &rows {
        println!("{row}");
    }
    println!("\n{} planted changes in {:.0?}", rows.len(), started.elapsed());
    anyhow::ensure!(failures.is_empty(), "planted changes with a wrong verdict:\n{}", failures.join("\n"));
    Ok(())
}

/// A workspace holding a copy of `vc-api` (without its dev-dependencies, which name other
/// workspace crates) and the user crate, with the workspace's lock file.
fn prepare_workspace(root: &Path, workspace: &Path) -> anyhow::Result<()> {
    if workspace.exists() {
        std::fs::remove_dir_all(workspace).with_context(|| format!("cannot remove {}", workspace.display()))?;
    }
    crate::fresh_deps::copy_tree(&root.join("vc-api"), &workspace.join("vc-api"))?;
    let manifest_path = workspace.join("vc-api/Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)?;
    std::fs::write(&manifest_path, without_table(&manifest, "[dev-dependencies]"))?;
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    let mut lines: Vec<String> = Vec::new();
    for line in root_manifest.lines() {
        if line.starts_with("members") {
            lines.push("members = [\"vc-api\", \"user\"]".to_owned());
        } else if !line.starts_with("default-members") && !line.starts_with("exclude") {
            lines.push(line.to_owned());
        }
    }
    std::fs::write(workspace.join("Cargo.toml"), lines.join("\n") + "\n")?;
    std::fs::copy(root.join("Cargo.lock"), workspace.join("Cargo.lock")).context("cannot copy Cargo.lock")?;
    let user = workspace.join("user");
    std::fs::create_dir_all(user.join("src"))?;
    std::fs::write(
        user.join("Cargo.toml"),
        format!(
            "[package]\nname = \"user\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\n\
             vc-api = {{ path = \"../vc-api\", default-features = false, features = [{}] }}\n",
            semver::FEATURES.split(',').map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ")
        ),
    )?;
    std::fs::write(user.join("src/lib.rs"), USER_CRATE)?;
    Ok(())
}

/// `manifest` without the table `header` (up to the next table header).
fn without_table(manifest: &str, header: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        if line.trim_start().starts_with('[') {
            skipping = line.trim() == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn write_generated(workspace: &Path, generated: &[codegen::GeneratedFile]) -> anyhow::Result<()> {
    for file in generated.iter().filter(|f| f.path.starts_with("vc-api/")) {
        let path = workspace.join(&file.path);
        // Unchanged files keep their timestamps: cargo then rebuilds only what changed.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(file.contents.as_str()) {
            std::fs::write(&path, &file.contents).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Builds vc-api's rustdoc JSON in `workspace` and copies it to `out`.
fn rustdoc(cargo: &str, workspace: &Path, target: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let status = crate::nested_cargo(cargo)
        .args(["rustdoc", "-p", "vc-api", "--lib", "--no-default-features", "--features", semver::FEATURES])
        .args(["--", "-Zunstable-options", "--output-format", "json"])
        // cargo-semver-checks builds its rustdoc JSON on a stable toolchain the same way.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace)
        .status()
        .context("cannot start cargo rustdoc")?;
    anyhow::ensure!(status.success(), "cargo rustdoc of vc-api failed ({status})");
    std::fs::copy(target.join("doc/vc_api.json"), out).context("cannot copy the rustdoc JSON")?;
    Ok(out.to_owned())
}

fn check_user_crate(cargo: &str, workspace: &Path, target: &Path) -> anyhow::Result<()> {
    let status = crate::nested_cargo(cargo)
        .args(["check", "-p", "user"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace)
        .status()
        .context("cannot start cargo check")?;
    anyhow::ensure!(status.success(), "cargo check of the user crate failed ({status})");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// spec-diff classifies every planted change as COMPATIBILITY.md says (the regeneration and
    /// build of each are `cargo xtask semver-planted`'s part).
    #[test]
    fn planted_changes_are_classified_by_spec_diff() {
        let root = crate::workspace_root();
        let old = spec_diff::working_tree_spec(&root).unwrap();
        let temp = std::env::temp_dir().join(format!("vc-planted-{}", std::process::id()));
        let plants = plants();
        let failures: Vec<String> = plants
            .iter()
            .filter_map(|plant| {
                let outcome = planted_spec(&root, &temp.join(plant.name), Some(plant))
                    .and_then(|doc| spec_of(&doc))
                    .and_then(|spec| check_classification(plant, &spec_diff::diff(&old, &spec)));
                outcome.err().map(|e| format!("{e:#}"))
            })
            .collect();
        let _ = std::fs::remove_dir_all(&temp);
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
        assert_eq!(plants.len(), 7);
        assert_eq!(plants.iter().filter(|p| p.additive).count(), 4);
    }

    #[test]
    fn dev_dependencies_are_cut_from_the_copy() {
        let manifest = "[package]\nname = \"a\"\n[dev-dependencies]\nvc-mock = { path = \"../vc-mock\" }\n[[example]]\nname = \"x\"\n";
        assert_eq!(
            without_table(manifest, "[dev-dependencies]"),
            "[package]\nname = \"a\"\n[[example]]\nname = \"x\"\n"
        );
    }
}
