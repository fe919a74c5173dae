//! `cargo xtask spec-diff <git ref>`: what changed in the spec between a git ref and the working
//! tree, as a markdown list for the changelog. Every change is classified twice, following
//! COMPATIBILITY.md:
//!
//! - **Rust users**: does code written against the previous `vc-api` release stop compiling, or
//!   behave incompatibly, after upgrading? (A new optional field, enum value, event type,
//!   operation, error code or token type does not; removing or retyping anything does.)
//! - **strict clients**: a client in another language generated from the spec by a strict
//!   generator (closed enums, unknown properties rejected, required fields enforced). Breaking
//!   when either an old client fails against the API as the new spec describes it (a new
//!   response field or response enum value is an unknown one to it), or regenerating it breaks
//!   code that used what was removed or retyped.
//!
//! The old side is `git show <ref>:spec/openapi.yaml`; the new side is the spec bundled from
//! `spec/src` as it is in the working tree. Both are read with [`vc_spec::Spec`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;
use vc_spec::{Location, Spec};

/// What a change is about; the markdown groups changes by it, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// An operation (a `Client` method).
    Operation,
    /// A path or query parameter of an operation.
    Parameter,
    /// A field of a schema that requests use.
    RequestField,
    /// A field of a schema that responses or event payloads use.
    ResponseField,
    /// A value of an enum schema.
    EnumValue,
    /// A webhook event type.
    Event,
    /// A named schema (a Rust type).
    Type,
    /// An operation's error-code table.
    ErrorCode,
    /// An operation's documented rate limit.
    RateLimit,
    /// The access-token types (security schemes) an operation accepts.
    TokenType,
}

impl Area {
    fn heading(self) -> &'static str {
        match self {
            Area::Operation => "Operations",
            Area::Parameter => "Parameters",
            Area::RequestField => "Request fields",
            Area::ResponseField => "Response and event fields",
            Area::EnumValue => "Enum values",
            Area::Event => "Events",
            Area::Type => "Types",
            Area::ErrorCode => "Error codes",
            Area::RateLimit => "Rate limits",
            Area::TokenType => "Token types",
        }
    }
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Present only in the new spec.
    Added,
    /// Present only in the old spec.
    Removed,
    /// Present in both, different.
    Changed,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
        }
    }
}

/// One classified difference between two specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What it is about.
    pub area: Area,
    /// Added, removed or changed.
    pub kind: Kind,
    /// Which item, in markdown (`` `room_get` query `user_id_type` ``).
    pub subject: String,
    /// What changed, in words (may be empty).
    pub detail: String,
    /// Breaking for users of the Rust crate.
    pub rust_breaking: bool,
    /// Breaking for strict clients in other languages.
    pub strict_breaking: bool,
}

/// The version bump a set of changes needs (in semver terms: for a 0.y.z crate, "major" is a `y`
/// bump and "minor" a `z` bump, as Cargo treats them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Nothing a user can see changed.
    None,
    /// Fixes only.
    Patch,
    /// Compatible additions.
    Minor,
    /// Breaking changes.
    Major,
}

impl Bump {
    /// The word for it.
    pub fn word(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// Every difference between two specs.
#[derive(Debug, Clone, Default)]
pub struct SpecDiff {
    /// The changes, sorted by area, then subject.
    pub changes: Vec<Change>,
}

impl SpecDiff {
    /// The bump Rust users need: major when anything is breaking for them, minor for any other
    /// change of the API surface (additions), none when the specs agree on everything classified.
    pub fn rust_bump(&self) -> Bump {
        if self.changes.iter().any(|c| c.rust_breaking) {
            Bump::Major
        } else if self.changes.is_empty() {
            Bump::None
        } else {
            Bump::Minor
        }
    }

    /// The changes of one area.
    #[cfg(test)]
    pub fn of(&self, area: Area) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.area == area)
    }

    /// The markdown list, grouped by area under `####` headings, each entry marked breaking or
    /// compatible for Rust users and for strict clients.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("No changes to the spec.\n");
            return out;
        }
        let rust = self.changes.iter().filter(|c| c.rust_breaking).count();
        let strict = self.changes.iter().filter(|c| c.strict_breaking).count();
        let _ = writeln!(
            out,
            "{} change(s) to the spec: {rust} breaking for Rust users, {strict} breaking for strict clients \
             in other languages. Required `vc-api` bump from the spec: **{}**.",
            self.changes.len(),
            self.rust_bump().word()
        );
        let mut current = None;
        for change in &self.changes {
            if current != Some(change.area) {
                current = Some(change.area);
                let _ = write!(out, "\n#### {}\n\n", change.area.heading());
            }
            let verdict = |breaking: bool| if breaking { "**breaking**" } else { "compatible" };
            let detail = if change.detail.is_empty() { String::new() } else { format!(": {}", change.detail) };
            let _ = writeln!(
                out,
                "- {} {}{detail} (Rust: {}; strict clients: {})",
                change.subject,
                change.kind.word(),
                verdict(change.rust_breaking),
                verdict(change.strict_breaking)
            );
        }
        out
    }
}

/// `cargo xtask spec-diff <git ref>`: prints the markdown comparing the spec at `git_ref` with
/// the working tree's.
pub fn spec_diff_task(root: &Path, git_ref: &str) -> anyhow::Result<()> {
    let diff = diff_against(root, git_ref)?;
    println!("### Spec changes since `{git_ref}`\n");
    print!("{}", diff.markdown());
    Ok(())
}

/// The spec at `git_ref` compared with the one bundled from the working tree's `spec/src`.
pub fn diff_against(root: &Path, git_ref: &str) -> anyhow::Result<SpecDiff> {
    let old = spec_at(root, git_ref)?;
    let new = working_tree_spec(root)?;
    Ok(diff(&old, &new))
}

/// The bundled spec as committed at `git_ref`.
pub fn spec_at(root: &Path, git_ref: &str) -> anyhow::Result<Spec> {
    let output = std::process::Command::new("git")
        .args(["show", &format!("{git_ref}:{}", codegen::paths::BUNDLED_SPEC)])
        .current_dir(root)
        .output()
        .context("cannot start git")?;
    anyhow::ensure!(
        output.status.success(),
        "git show {git_ref}:{} failed: {}",
        codegen::paths::BUNDLED_SPEC,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let text = String::from_utf8(output.stdout).context("the spec is not UTF-8")?;
    Spec::parse(&text).map_err(|e| anyhow::anyhow!("{git_ref}:{}: {e}", codegen::paths::BUNDLED_SPEC))
}

/// The spec bundled from `<root>/spec/src` (what `cargo xtask codegen` would write).
pub fn working_tree_spec(root: &Path) -> anyhow::Result<Spec> {
    let doc = codegen::bundle::bundle_dir(&root.join(codegen::paths::SPEC_SOURCES))?;
    Spec::parse(&codegen::bundle::render(&doc)).map_err(|e| anyhow::anyhow!("the bundled spec: {e}"))
}

/// Every classified difference from `old` to `new`.
pub fn diff(old: &Spec, new: &Spec) -> SpecDiff {
    let mut changes = Vec::new();
    operations(old, new, &mut changes);
    schemas(old, new, &mut changes);
    events(old, new, &mut changes);
    security_schemes(old, new, &mut changes);
    changes.sort_by(|a, b| (a.area, &a.subject, a.kind).cmp(&(b.area, &b.subject, b.kind)));
    changes.dedup();
    SpecDiff { changes }
}

fn change(area: Area, kind: Kind, subject: String, detail: String, rust: bool, strict: bool) -> Change {
    Change { area, kind, subject, detail, rust_breaking: rust, strict_breaking: strict }
}

fn operations(old: &Spec, new: &Spec, out: &mut Vec<Change>) {
    let old_ops: BTreeMap<&str, &vc_spec::Operation> = old.operations().iter().map(|o| (o.id.as_str(), o)).collect();
    let new_ops: BTreeMap<&str, &vc_spec::Operation> = new.operations().iter().map(|o| (o.id.as_str(), o)).collect();
    for (id, op) in &new_ops {
        if !old_ops.contains_key(id) {
            let subject = format!("`{id}`");
            out.push(change(Area::Operation, Kind::Added, subject, format!("{} {}", op.method, op.path), false, false));
        }
    }
    for (id, op) in &old_ops {
        let Some(now) = new_ops.get(id) else {
            let subject = format!("`{id}`");
            out.push(change(Area::Operation, Kind::Removed, subject, format!("{} {}", op.method, op.path), true, true));
            continue;
        };
        operation(old, new, op, now, out);
    }
}

fn operation(old: &Spec, new: &Spec, before: &vc_spec::Operation, after: &vc_spec::Operation, out: &mut Vec<Change>) {
    let id = &before.id;
    let subject = format!("`{id}`");
    if (before.method.as_str(), before.path.as_str()) != (after.method.as_str(), after.path.as_str()) {
        // The same builder method sends the new request: nothing changes for Rust code, but a
        // client generated from the old spec calls what is no longer there.
        let detail = format!("{} {} → {} {}", before.method, before.path, after.method, after.path);
        out.push(change(Area::Operation, Kind::Changed, subject.clone(), detail, false, true));
    }
    // What the operation takes and returns, by type.
    let body_before = before.body.as_ref().map(describe);
    let body_after = after.body.as_ref().map(describe);
    if body_before != body_after {
        let (kind, rust) = match (&body_before, &body_after) {
            (None, Some(_)) => (Kind::Added, after.body_required),
            (Some(_), None) => (Kind::Removed, true),
            _ => (Kind::Changed, true),
        };
        let detail = format!(
            "request body {} → {}",
            body_before.as_deref().unwrap_or("none"),
            body_after.as_deref().unwrap_or("none")
        );
        out.push(change(Area::Operation, kind, subject.clone(), detail, rust, true));
    } else if before.body_required != after.body_required && after.body.is_some() {
        let detail = format!("request body {}", if after.body_required { "now required" } else { "now optional" });
        out.push(change(
            Area::Operation,
            Kind::Changed,
            subject.clone(),
            detail,
            after.body_required,
            after.body_required,
        ));
    }
    let returns_before = response_schema(&before.raw);
    let returns_after = response_schema(&after.raw);
    if returns_before != returns_after {
        let detail = format!(
            "returns {} → {}",
            returns_before.as_deref().unwrap_or("nothing"),
            returns_after.as_deref().unwrap_or("nothing")
        );
        out.push(change(Area::Operation, Kind::Changed, subject.clone(), detail, true, true));
    }
    parameters(old, new, before, after, out);
    token_types(before, after, out);
    error_codes(before, after, out);
    rate_limit(before, after, out);
}

/// The 200 response's schema: a `$ref` name, a media type for files, or a type description.
fn response_schema(raw: &Value) -> Option<String> {
    let content = raw.pointer("/responses/200/content")?.as_object()?;
    if let Some(schema) = content.get("application/json").and_then(|c| c.get("schema")) {
        return Some(describe(schema));
    }
    content.keys().next().map(|media| format!("a file ({media})"))
}

fn location(location: Location) -> &'static str {
    match location {
        Location::Path => "path",
        Location::Query => "query",
    }
}

fn parameters(old: &Spec, new: &Spec, before: &vc_spec::Operation, after: &vc_spec::Operation, out: &mut Vec<Change>) {
    let id = &before.id;
    for param in &after.params {
        let subject = format!("`{id}` {} `{}`", location(param.location), param.name);
        match before.param(&param.name) {
            None => {
                let detail =
                    format!("{}, {}", describe(&param.schema), if param.required { "required" } else { "optional" });
                out.push(change(Area::Parameter, Kind::Added, subject, detail, param.required, param.required));
            }
            Some(was) => {
                let (type_before, type_after) = (describe(&was.schema), describe(&param.schema));
                if type_before != type_after || enum_kind(old, &was.schema) != enum_kind(new, &param.schema) {
                    out.push(change(
                        Area::Parameter,
                        Kind::Changed,
                        subject.clone(),
                        format!("type {type_before} → {type_after}"),
                        true,
                        true,
                    ));
                }
                if was.required != param.required {
                    // A setter exists either way; a parameter that becomes required fails calls
                    // that leave it out.
                    let detail = if param.required { "optional → required" } else { "required → optional" };
                    out.push(change(
                        Area::Parameter,
                        Kind::Changed,
                        subject.clone(),
                        detail.to_owned(),
                        param.required,
                        param.required,
                    ));
                }
                if was.location != param.location {
                    let detail = format!("moved from {} to {}", location(was.location), location(param.location));
                    out.push(change(Area::Parameter, Kind::Changed, subject, detail, false, true));
                }
            }
        }
    }
    for was in &before.params {
        if after.param(&was.name).is_none() {
            let subject = format!("`{id}` {} `{}`", location(was.location), was.name);
            out.push(change(Area::Parameter, Kind::Removed, subject, String::new(), true, true));
        }
    }
}

/// An enum's schema type (`string`/`integer`), to notice a parameter switching between an enum
/// and a plain value of the same name.
fn enum_kind(spec: &Spec, schema: &Value) -> bool {
    spec.resolve(schema).get("enum").is_some()
}

fn token_types(before: &vc_spec::Operation, after: &vc_spec::Operation, out: &mut Vec<Change>) {
    let id = &before.id;
    for token in &after.token_types {
        if !before.token_types.contains(token) {
            let subject = format!("`{id}` accepts `{token}`");
            out.push(change(Area::TokenType, Kind::Added, subject, String::new(), false, false));
        }
    }
    for token in &before.token_types {
        if !after.token_types.contains(token) {
            // Callers that use this token type are refused from now on.
            let subject = format!("`{id}` accepts `{token}`");
            out.push(change(Area::TokenType, Kind::Removed, subject, String::new(), true, true));
        }
    }
}

fn error_table(op: &vc_spec::Operation) -> BTreeMap<i64, (u64, String)> {
    op.raw
        .get("x-feishu-error-codes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let msg = e.get("msg").and_then(Value::as_str).unwrap_or_default().to_owned();
            Some((e.get("code")?.as_i64()?, (e.get("http_status").and_then(Value::as_u64).unwrap_or(0), msg)))
        })
        .collect()
}

/// Error codes are documentation and `i64` constants: adding or removing one breaks no code.
fn error_codes(before: &vc_spec::Operation, after: &vc_spec::Operation, out: &mut Vec<Change>) {
    let id = &before.id;
    let (was, now) = (error_table(before), error_table(after));
    for (code, (status, msg)) in &now {
        let subject = format!("`{id}` code {code}");
        match was.get(code) {
            None => out.push(change(
                Area::ErrorCode,
                Kind::Added,
                subject,
                format!("HTTP {status}, \"{msg}\""),
                false,
                false,
            )),
            Some((old_status, old_msg)) if (old_status, old_msg) != (status, msg) => out.push(change(
                Area::ErrorCode,
                Kind::Changed,
                subject,
                format!("HTTP {old_status} \"{old_msg}\" → HTTP {status} \"{msg}\""),
                false,
                false,
            )),
            Some(_) => {}
        }
    }
    for code in was.keys().filter(|code| !now.contains_key(code)) {
        out.push(change(Area::ErrorCode, Kind::Removed, format!("`{id}` code {code}"), String::new(), false, false));
    }
}

fn rate_limit_text(limit: Option<&Value>) -> String {
    let Some(limit) = limit else { return "none stated".to_owned() };
    let one = |l: &Value| match (l.get("requests").and_then(Value::as_u64), l.get("window").and_then(Value::as_str)) {
        (Some(requests), Some(window)) => format!("{requests}/{window}"),
        _ => match l.get("tier").and_then(Value::as_str) {
            Some(tier) => format!("{tier} tier"),
            None => l.to_string(),
        },
    };
    let mut text = one(limit);
    for extra in limit.get("additional").and_then(Value::as_array).into_iter().flatten() {
        text.push_str(" and ");
        text.push_str(&one(extra));
    }
    text
}

/// Documented rate limits: information, never breaking (a lower limit throttles sooner).
fn rate_limit(before: &vc_spec::Operation, after: &vc_spec::Operation, out: &mut Vec<Change>) {
    let (was, now) = (before.raw.get("x-feishu-rate-limit"), after.raw.get("x-feishu-rate-limit"));
    if was == now {
        return;
    }
    let kind = match (was, now) {
        (None, Some(_)) => Kind::Added,
        (Some(_), None) => Kind::Removed,
        _ => Kind::Changed,
    };
    let detail = format!("{} → {}", rate_limit_text(was), rate_limit_text(now));
    out.push(change(Area::RateLimit, kind, format!("`{}`", before.id), detail, false, false));
}

/// How a schema is used: by requests, by responses, by event payloads.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    request: bool,
    incoming: bool,
}

/// Every named schema reachable from requests (parameters, bodies) and from responses and event
/// payloads.
fn usage(spec: &Spec) -> BTreeMap<String, Usage> {
    let mut uses: BTreeMap<String, Usage> = BTreeMap::new();
    let mut mark = |schema: &Value, incoming: bool| {
        let mut seen = BTreeSet::new();
        reachable(spec, schema, &mut seen);
        for name in seen {
            let entry = uses.entry(name).or_default();
            if incoming {
                entry.incoming = true;
            } else {
                entry.request = true;
            }
        }
    };
    for op in spec.operations() {
        for param in &op.params {
            mark(&param.schema, false);
        }
        if let Some(body) = &op.body {
            mark(body, false);
        }
        if let Some(schema) = op.raw.pointer("/responses/200/content/application~1json/schema") {
            mark(schema, true);
        }
    }
    for event in event_list(spec).values() {
        if let Some(schema) = event.get("schema") {
            mark(schema, true);
        }
    }
    if let Some(header) = spec.document().get("x-feishu-event-header") {
        mark(header, true);
    }
    uses
}

/// Collects the names of the schemas `schema` refers to, transitively.
fn reachable(spec: &Spec, schema: &Value, seen: &mut BTreeSet<String>) {
    if let Some(name) = Spec::ref_name(schema) {
        if !seen.insert(name.to_owned()) {
            return;
        }
        reachable(spec, spec.resolve(schema), seen);
        return;
    }
    let Some(object) = schema.as_object() else { return };
    for (key, value) in object {
        match key.as_str() {
            "properties" => {
                for property in value.as_object().into_iter().flat_map(|p| p.values()) {
                    reachable(spec, property, seen);
                }
            }
            "items" | "additionalProperties" | "not" => reachable(spec, value, seen),
            "allOf" | "oneOf" | "anyOf" => {
                for part in value.as_array().into_iter().flatten() {
                    reachable(spec, part, seen);
                }
            }
            _ => {}
        }
    }
}

fn named_schemas(spec: &Spec) -> BTreeMap<String, Value> {
    spec.document()
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A schema's type in a few words: a `$ref` is its name, arrays show their items
/// (`array<RoomLevel>`), integers and numbers their format.
fn describe(schema: &Value) -> String {
    if let Some(name) = Spec::ref_name(schema) {
        return name.to_owned();
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
    match ty {
        "array" => format!("array<{}>", schema.get("items").map(describe).unwrap_or_else(|| "any".to_owned())),
        _ => match schema.get("format").and_then(Value::as_str) {
            // A string's format (date-time, binary) does not change its Rust type here.
            Some(format) if ty != "string" => format!("{ty}({format})"),
            _ => ty.to_owned(),
        },
    }
}

fn required_fields(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn properties(schema: &Value) -> BTreeMap<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Named schemas: types added or removed, their fields and enum values.
fn schemas(old: &Spec, new: &Spec, out: &mut Vec<Change>) {
    let (old_schemas, new_schemas) = (named_schemas(old), named_schemas(new));
    let (old_use, new_use) = (usage(old), usage(new));
    for name in new_schemas.keys().filter(|n| !old_schemas.contains_key(*n)) {
        out.push(change(Area::Type, Kind::Added, format!("`{name}`"), String::new(), false, false));
    }
    for name in old_schemas.keys().filter(|n| !new_schemas.contains_key(*n)) {
        // Nothing in the new spec refers to it (or a change elsewhere says so): the Rust type
        // is gone, the wire is unaffected by the name.
        out.push(change(Area::Type, Kind::Removed, format!("`{name}`"), String::new(), true, false));
    }
    for (name, before) in &old_schemas {
        let Some(after) = new_schemas.get(name) else { continue };
        let used = {
            let (a, b) =
                (old_use.get(name).copied().unwrap_or_default(), new_use.get(name).copied().unwrap_or_default());
            Usage { request: a.request || b.request, incoming: a.incoming || b.incoming }
        };
        fields(name, before, after, used, out);
        enum_values(name, before, after, used, out);
        let (was, now) = (describe(before), describe(after));
        if was != now {
            out.push(change(Area::Type, Kind::Changed, format!("`{name}`"), format!("{was} → {now}"), true, true));
        }
    }
}

fn fields(schema: &str, before: &Value, after: &Value, used: Usage, out: &mut Vec<Change>) {
    let (was, now) = (properties(before), properties(after));
    let (was_required, now_required) = (required_fields(before), required_fields(after));
    // A schema only responses and events use is reported with them; one both sides use, with
    // requests (where the stricter rules apply).
    let area = if used.request { Area::RequestField } else { Area::ResponseField };
    for (field, property) in &now {
        let subject = format!("`{schema}.{field}`");
        let required = now_required.contains(field);
        match was.get(field) {
            None => {
                let detail = format!("{}, {}", describe(property), if required { "required" } else { "optional" });
                // A required field a request must carry breaks every caller; any new field is an
                // unknown property to an old strict client reading a response.
                let rust = required && used.request;
                let strict = (required && used.request) || used.incoming;
                out.push(change(area, Kind::Added, subject, detail, rust, strict));
            }
            Some(old_property) => {
                let (type_before, type_after) = (describe(old_property), describe(property));
                if type_before != type_after {
                    let detail = format!("type {type_before} → {type_after}");
                    out.push(change(area, Kind::Changed, subject.clone(), detail, true, true));
                }
                let was_req = was_required.contains(field);
                if was_req != required {
                    // The Rust field switches between `T` and `Option<T>`.
                    let detail = if required { "optional → required" } else { "required → optional" };
                    let strict = (required && used.request) || (!required && used.incoming);
                    out.push(change(area, Kind::Changed, subject, detail.to_owned(), true, strict));
                }
            }
        }
    }
    for field in was.keys().filter(|f| !now.contains_key(*f)) {
        out.push(change(area, Kind::Removed, format!("`{schema}.{field}`"), String::new(), true, true));
    }
}

fn enum_values(schema: &str, before: &Value, after: &Value, used: Usage, out: &mut Vec<Change>) {
    let values = |s: &Value| -> Vec<(Value, Option<String>)> {
        let names = s.get("x-enum-varnames").and_then(Value::as_array).cloned().unwrap_or_default();
        s.get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, v)| (v.clone(), names.get(i).and_then(Value::as_str).map(str::to_owned)))
            .collect()
    };
    let (was, now) = (values(before), values(after));
    if was.is_empty() && now.is_empty() {
        return;
    }
    for (value, name) in &now {
        let subject = format!("`{schema}` value `{value}`");
        match was.iter().find(|(v, _)| v == value) {
            // Rust: the enum is non_exhaustive with an `Unknown(..)` fallback. A strict client
            // with a closed enum rejects a value it does not know when it reads one.
            None => {
                let detail = name.as_deref().map(|n| format!("variant `{n}`")).unwrap_or_default();
                out.push(change(Area::EnumValue, Kind::Added, subject, detail, false, used.incoming));
            }
            Some((_, old_name)) if old_name != name => {
                let detail =
                    format!("variant `{}` → `{}`", old_name.as_deref().unwrap_or("?"), name.as_deref().unwrap_or("?"));
                out.push(change(Area::EnumValue, Kind::Changed, subject, detail, true, true));
            }
            Some(_) => {}
        }
    }
    for (value, name) in &was {
        if !now.iter().any(|(v, _)| v == value) {
            let detail = name.as_deref().map(|n| format!("variant `{n}`")).unwrap_or_default();
            out.push(change(Area::EnumValue, Kind::Removed, format!("`{schema}` value `{value}`"), detail, true, true));
        }
    }
}

fn event_list(spec: &Spec) -> BTreeMap<String, Value> {
    spec.document()
        .get("x-feishu-events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("event_type")?.as_str()?.to_owned(), e.clone())))
        .collect()
}

/// Event types (their payload fields are compared with the schemas).
fn events(old: &Spec, new: &Spec, out: &mut Vec<Change>) {
    let (was, now) = (event_list(old), event_list(new));
    for (event_type, event) in &now {
        let payload = event.get("schema").map(describe).unwrap_or_default();
        match was.get(event_type) {
            // Delivered only to apps that subscribe to it: nothing changes for anyone else.
            None => out.push(change(
                Area::Event,
                Kind::Added,
                format!("`{event_type}`"),
                format!("payload {payload}"),
                false,
                false,
            )),
            Some(before) => {
                let old_payload = before.get("schema").map(describe).unwrap_or_default();
                if old_payload != payload {
                    let detail = format!("payload {old_payload} → {payload}");
                    out.push(change(Area::Event, Kind::Changed, format!("`{event_type}`"), detail, true, true));
                }
            }
        }
    }
    for event_type in was.keys().filter(|e| !now.contains_key(*e)) {
        out.push(change(Area::Event, Kind::Removed, format!("`{event_type}`"), String::new(), true, true));
    }
}

/// Token types the document knows (`components.securitySchemes`).
fn security_schemes(old: &Spec, new: &Spec, out: &mut Vec<Change>) {
    let names = |spec: &Spec| -> BTreeSet<String> {
        spec.document()
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (was, now) = (names(old), names(new));
    for name in now.difference(&was) {
        out.push(change(Area::TokenType, Kind::Added, format!("scheme `{name}`"), String::new(), false, false));
    }
    for name in was.difference(&now) {
        out.push(change(Area::TokenType, Kind::Removed, format!("scheme `{name}`"), String::new(), true, true));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A small spec: one operation with a query parameter, a request body, a response with an
    /// enum field, one event.
    fn base() -> Value {
        json!({
            "openapi": "3.0.3",
            "security": [{"tenant_access_token": []}],
            "x-feishu-events": [
                {"event_type": "vc.room.created_v1", "schema": {"$ref": "#/components/schemas/RoomCreated"}}
            ],
            "paths": {"/rooms/{room_id}": {"post": {
                "operationId": "room_update",
                "x-feishu-rate-limit": {"requests": 100, "window": "minute"},
                "x-feishu-error-codes": [{"http_status": 400, "code": 121003, "msg": "param error"}],
                "parameters": [
                    {"name": "room_id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "user_id_type", "in": "query", "schema": {"$ref": "#/components/schemas/UserIdType"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RoomUpdateRequest"}}}},
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/RoomUpdateResponse"}}}}}
            }}},
            "components": {
                "securitySchemes": {"tenant_access_token": {"type": "http", "scheme": "bearer"}},
                "schemas": {
                    "UserIdType": {"type": "string", "enum": ["open_id", "user_id"], "x-enum-varnames": ["OpenId", "UserId"]},
                    "RoomStatus": {"type": "integer", "enum": [1, 2], "x-enum-varnames": ["Free", "Busy"]},
                    "RoomUpdateRequest": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"}
                    }},
                    "RoomUpdateResponse": {"type": "object", "required": ["code", "msg"], "properties": {
                        "code": {"type": "integer", "format": "int32"},
                        "msg": {"type": "string"},
                        "data": {"$ref": "#/components/schemas/Room"}
                    }},
                    "Room": {"type": "object", "properties": {
                        "room_id": {"type": "string"},
                        "capacity": {"type": "integer", "format": "int32"},
                        "status": {"$ref": "#/components/schemas/RoomStatus"}
                    }},
                    "RoomCreated": {"type": "object", "properties": {"room": {"$ref": "#/components/schemas/Room"}}}
                }
            }
        })
    }

    fn diff_of(edit: impl FnOnce(&mut Value)) -> SpecDiff {
        let mut changed = base();
        edit(&mut changed);
        diff(&Spec::from_value(base()), &Spec::from_value(changed))
    }

    /// The single change of a diff, as (area, kind, subject, Rust breaking, strict breaking).
    fn only(diff: &SpecDiff) -> (Area, Kind, &str, bool, bool) {
        assert_eq!(diff.changes.len(), 1, "expected one change: {:#?}", diff.changes);
        let c = &diff.changes[0];
        (c.area, c.kind, c.subject.as_str(), c.rust_breaking, c.strict_breaking)
    }

    fn op(doc: &mut Value) -> &mut Value {
        doc.pointer_mut("/paths/~1rooms~1{room_id}/post").unwrap()
    }

    fn schema<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
        doc.pointer_mut(&format!("/components/schemas/{name}")).unwrap()
    }

    #[test]
    fn identical_specs_have_no_changes() {
        let d = diff_of(|_| {});
        assert!(d.changes.is_empty());
        assert_eq!(d.rust_bump(), Bump::None);
        assert_eq!(d.markdown(), "No changes to the spec.\n");
    }

    #[test]
    fn a_new_optional_response_field_is_compatible_for_rust_and_breaks_strict_clients() {
        let d = diff_of(|doc| {
            schema(doc, "Room")["properties"]["floor"] = json!({"type": "string"});
        });
        assert_eq!(only(&d), (Area::ResponseField, Kind::Added, "`Room.floor`", false, true));
        assert_eq!(d.rust_bump(), Bump::Minor);
    }

    #[test]
    fn request_fields_optional_is_compatible_required_breaks() {
        let d = diff_of(|doc| {
            schema(doc, "RoomUpdateRequest")["properties"]["note"] = json!({"type": "string"});
        });
        assert_eq!(only(&d), (Area::RequestField, Kind::Added, "`RoomUpdateRequest.note`", false, false));
        let d = diff_of(|doc| {
            let s = schema(doc, "RoomUpdateRequest");
            s["properties"]["note"] = json!({"type": "string"});
            s["required"] = json!(["name", "note"]);
        });
        assert_eq!(only(&d), (Area::RequestField, Kind::Added, "`RoomUpdateRequest.note`", true, true));
        assert_eq!(d.rust_bump(), Bump::Major);
    }

    #[test]
    fn removed_and_retyped_fields_break_both() {
        let d = diff_of(|doc| {
            schema(doc, "Room")["properties"].as_object_mut().unwrap().remove("capacity");
        });
        assert_eq!(only(&d), (Area::ResponseField, Kind::Removed, "`Room.capacity`", true, true));
        let d = diff_of(|doc| {
            schema(doc, "Room")["properties"]["capacity"] = json!({"type": "string"});
        });
        assert_eq!(only(&d), (Area::ResponseField, Kind::Changed, "`Room.capacity`", true, true));
        assert!(d.changes[0].detail.contains("integer(int32) → string"), "{}", d.changes[0].detail);
        let d = diff_of(|doc| {
            schema(doc, "RoomUpdateRequest")["required"] = json!([]);
        });
        assert_eq!(only(&d), (Area::RequestField, Kind::Changed, "`RoomUpdateRequest.name`", true, false));
    }

    #[test]
    fn enum_values_added_to_a_response_enum_break_only_strict_clients() {
        let d = diff_of(|doc| {
            let s = schema(doc, "RoomStatus");
            s["enum"] = json!([1, 2, 3]);
            s["x-enum-varnames"] = json!(["Free", "Busy", "Broken"]);
        });
        assert_eq!(only(&d), (Area::EnumValue, Kind::Added, "`RoomStatus` value `3`", false, true));
        // A request-only enum: an old client never reads the new value.
        let d = diff_of(|doc| {
            let s = schema(doc, "UserIdType");
            s["enum"] = json!(["open_id", "user_id", "union_id"]);
            s["x-enum-varnames"] = json!(["OpenId", "UserId", "UnionId"]);
        });
        assert_eq!(only(&d), (Area::EnumValue, Kind::Added, "`UserIdType` value `\"union_id\"`", false, false));
        let d = diff_of(|doc| {
            let s = schema(doc, "RoomStatus");
            s["enum"] = json!([1]);
            s["x-enum-varnames"] = json!(["Free"]);
        });
        assert_eq!(only(&d), (Area::EnumValue, Kind::Removed, "`RoomStatus` value `2`", true, true));
        let d = diff_of(|doc| {
            schema(doc, "RoomStatus")["x-enum-varnames"] = json!(["Free", "Occupied"]);
        });
        assert_eq!(only(&d), (Area::EnumValue, Kind::Changed, "`RoomStatus` value `2`", true, true));
    }

    #[test]
    fn parameters_added_optional_is_compatible_required_breaks() {
        let d = diff_of(|doc| {
            op(doc)["parameters"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "page_size", "in": "query", "schema": {"type": "integer"}}));
        });
        assert_eq!(only(&d), (Area::Parameter, Kind::Added, "`room_update` query `page_size`", false, false));
        let d = diff_of(|doc| {
            op(doc)["parameters"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "tenant", "in": "query", "required": true, "schema": {"type": "string"}}));
        });
        assert_eq!(only(&d), (Area::Parameter, Kind::Added, "`room_update` query `tenant`", true, true));
        let d = diff_of(|doc| {
            op(doc)["parameters"].as_array_mut().unwrap().pop();
        });
        assert_eq!(only(&d), (Area::Parameter, Kind::Removed, "`room_update` query `user_id_type`", true, true));
        let d = diff_of(|doc| {
            op(doc)["parameters"][1]["required"] = json!(true);
        });
        assert_eq!(only(&d), (Area::Parameter, Kind::Changed, "`room_update` query `user_id_type`", true, true));
    }

    #[test]
    fn operations_added_removed_moved_and_retyped() {
        let d = diff_of(|doc| {
            let copy = op(doc).clone();
            let mut copy = copy;
            copy["operationId"] = json!("room_patch");
            doc["paths"]["/rooms/{room_id}"]["patch"] = copy;
        });
        assert_eq!(only(&d), (Area::Operation, Kind::Added, "`room_patch`", false, false));
        assert_eq!(d.rust_bump(), Bump::Minor);
        let d = diff_of(|doc| {
            doc["paths"] = json!({});
        });
        let ops: Vec<_> = d.of(Area::Operation).map(|c| (c.kind, c.rust_breaking, c.strict_breaking)).collect();
        assert_eq!(ops, [(Kind::Removed, true, true)]);
        let d = diff_of(|doc| {
            let item = doc["paths"].as_object_mut().unwrap().remove("/rooms/{room_id}").unwrap();
            doc["paths"]["/rooms/{room_id}/update"] = item;
        });
        assert_eq!(only(&d), (Area::Operation, Kind::Changed, "`room_update`", false, true));
        let d = diff_of(|doc| {
            op(doc)["responses"]["200"]["content"]["application/json"]["schema"] =
                json!({"$ref": "#/components/schemas/Room"});
        });
        assert_eq!(only(&d), (Area::Operation, Kind::Changed, "`room_update`", true, true));
    }

    #[test]
    fn events_added_are_compatible_removed_break() {
        let d = diff_of(|doc| {
            doc["x-feishu-events"].as_array_mut().unwrap().push(
                json!({"event_type": "vc.room.deleted_v1", "schema": {"$ref": "#/components/schemas/RoomCreated"}}),
            );
        });
        assert_eq!(only(&d), (Area::Event, Kind::Added, "`vc.room.deleted_v1`", false, false));
        let d = diff_of(|doc| {
            doc["x-feishu-events"] = json!([]);
        });
        assert_eq!(only(&d), (Area::Event, Kind::Removed, "`vc.room.created_v1`", true, true));
        // A field of an event payload is read like a response field.
        let d = diff_of(|doc| {
            schema(doc, "RoomCreated")["properties"]["operator"] = json!({"type": "string"});
        });
        assert_eq!(only(&d), (Area::ResponseField, Kind::Added, "`RoomCreated.operator`", false, true));
    }

    #[test]
    fn error_codes_and_rate_limits_are_never_breaking() {
        let d = diff_of(|doc| {
            op(doc)["x-feishu-error-codes"] = json!([{"http_status": 404, "code": 121004, "msg": "data not exist"}]);
            op(doc)["x-feishu-rate-limit"] =
                json!({"requests": 50, "window": "minute", "additional": [{"requests": 5, "window": "second"}]});
        });
        let seen: Vec<_> = d.changes.iter().map(|c| (c.area, c.kind, c.rust_breaking || c.strict_breaking)).collect();
        assert_eq!(
            seen,
            [
                (Area::ErrorCode, Kind::Removed, false),
                (Area::ErrorCode, Kind::Added, false),
                (Area::RateLimit, Kind::Changed, false)
            ]
        );
        assert_eq!(d.of(Area::RateLimit).next().unwrap().detail, "100/minute → 50/minute and 5/second");
    }

    #[test]
    fn token_types_added_are_compatible_removed_break() {
        let d = diff_of(|doc| {
            op(doc)["security"] = json!([{"tenant_access_token": []}, {"user_access_token": []}]);
        });
        assert_eq!(only(&d), (Area::TokenType, Kind::Added, "`room_update` accepts `user_access_token`", false, false));
        let d = diff_of(|doc| {
            op(doc)["security"] = json!([{"user_access_token": []}]);
        });
        let kinds: Vec<_> = d.changes.iter().map(|c| (c.kind, c.rust_breaking)).collect();
        assert_eq!(kinds, [(Kind::Removed, true), (Kind::Added, false)], "sorted by subject: tenant before user");
    }

    #[test]
    fn the_markdown_groups_by_area_and_marks_each_change() {
        let d = diff_of(|doc| {
            schema(doc, "Room")["properties"]["floor"] = json!({"type": "string"});
            op(doc)["parameters"].as_array_mut().unwrap().pop();
        });
        let text = d.markdown();
        assert!(text.starts_with("2 change(s) to the spec: 1 breaking for Rust users, 2 breaking"), "{text}");
        assert!(text.contains("Required `vc-api` bump from the spec: **major**"), "{text}");
        let params = text.find("#### Parameters").unwrap();
        let fields = text.find("#### Response and event fields").unwrap();
        assert!(params < fields, "areas in a fixed order:\n{text}");
        assert!(
            text.contains(
                "- `room_update` query `user_id_type` removed (Rust: **breaking**; strict clients: **breaking**)"
            ),
            "{text}"
        );
        assert!(
            text.contains("- `Room.floor` added: string, optional (Rust: compatible; strict clients: **breaking**)"),
            "{text}"
        );
    }
}
