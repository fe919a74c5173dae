//! Checks the conventions of `spec/README.md` that OpenAPI validity alone does not enforce.

use openapiv3::OpenAPI;
use serde_yaml::Value;

use crate::error::{CodegenError, Result};
use crate::model::envelope_schema;

/// Returns every broken convention, or `Ok` when there is none.
pub fn check(doc: &Value, api: &OpenAPI) -> Result<()> {
    let mut problems = Vec::new();
    check_operations(doc, api, &mut problems);
    check_refs(doc, doc, "", &mut problems);
    check_enums_are_named(doc, &mut problems);
    check_english(doc, "", &mut problems);
    check_doc_versions_are_strings(doc, "", &mut problems);
    if problems.is_empty() { Ok(()) } else { Err(CodegenError::Lint(problems)) }
}

/// A malformed `x-feishu-rate-limit` would otherwise mean "no limit" without a word.
fn check_rate_limit(op: &openapiv3::Operation, at: &str, problems: &mut Vec<String>) {
    if let Some(value) = op.extensions.get("x-feishu-rate-limit")
        && let Err(problem) = crate::model::rate_limits(value)
    {
        problems.push(format!("{at}: malformed x-feishu-rate-limit: {problem}"));
    }
}

fn check_operations(doc: &Value, api: &OpenAPI, problems: &mut Vec<String>) {
    let schemas = doc.get("components").and_then(|c| c.get("schemas"));
    let mut seen_ids = std::collections::BTreeSet::new();
    for (path, item) in api.paths.iter() {
        let Some(item) = item.as_item() else { continue };
        for (method, op) in item.iter() {
            let at = format!("{} {path}", method.to_uppercase());
            let Some(id) = op.operation_id.as_deref() else {
                problems.push(format!("{at}: no operationId"));
                continue;
            };
            let at = format!("{at} ({id})");
            if !seen_ids.insert(id.to_owned()) {
                problems.push(format!("{at}: operationId used twice"));
            }
            if !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                problems.push(format!("{at}: operationId is not snake_case"));
            }
            match op.tags.as_slice() {
                [tag] if id.starts_with(&format!("{tag}_")) => {}
                [tag] => problems.push(format!("{at}: operationId does not start with its tag `{tag}_`")),
                _ => problems.push(format!("{at}: needs exactly one tag")),
            }
            if op.summary.as_deref().unwrap_or("").is_empty() {
                problems.push(format!("{at}: no summary"));
            }
            if op.description.as_deref().unwrap_or("").is_empty() {
                problems.push(format!("{at}: no description"));
            }
            if op.external_docs.is_none() {
                problems.push(format!("{at}: no externalDocs.url (the doc page)"));
            }
            if !op.extensions.contains_key("x-feishu-doc") {
                problems.push(format!("{at}: no x-feishu-doc"));
            }
            check_rate_limit(op, &at, problems);
            let raw_op = doc.get("paths").and_then(|p| p.get(path.as_str())).and_then(|i| i.get(method));
            if is_file_download(op) {
                // A file download answers with raw bytes: no envelope and no JSON example.
                check_parameter_examples(raw_op, &at, problems);
                continue;
            }
            if let Err(problem) = crate::model::pagination(api, op) {
                problems.push(format!("{at}: {problem}"));
            }
            match envelope_schema(op) {
                None => problems.push(format!("{at}: the 200 response is not a $ref to an envelope schema")),
                Some(name) => {
                    let marked = schemas
                        .and_then(|s| s.get(name.as_str()))
                        .and_then(|s| s.get("x-feishu-envelope"))
                        .and_then(Value::as_bool);
                    if marked != Some(true) {
                        problems.push(format!("{at}: envelope schema {name} lacks x-feishu-envelope: true"));
                    }
                }
            }
            let response_example = raw_op
                .and_then(|o| o.get("responses"))
                .and_then(|r| r.get("200"))
                .and_then(|r| r.get("content"))
                .and_then(|c| c.get("application/json"))
                .and_then(|m| m.get("example"));
            if response_example.is_none() {
                problems.push(format!("{at}: no response example"));
            }
            if let Some(body) = raw_op.and_then(|o| o.get("requestBody")) {
                let example =
                    body.get("content").and_then(|c| c.get("application/json")).and_then(|m| m.get("example"));
                if example.is_none() {
                    problems.push(format!("{at}: no request body example"));
                }
            }
            check_parameter_examples(raw_op, &at, problems);
        }
    }
}

/// Whether the 200 response is a file (`application/octet-stream`) rather than a JSON envelope.
pub fn is_file_download(op: &openapiv3::Operation) -> bool {
    let Some(openapiv3::ReferenceOr::Item(ok)) = op.responses.responses.get(&openapiv3::StatusCode::Code(200)) else {
        return false;
    };
    ok.content.len() == 1 && ok.content.contains_key("application/octet-stream")
}

fn check_parameter_examples(raw_op: Option<&Value>, at: &str, problems: &mut Vec<String>) {
    for param in raw_op.and_then(|o| o.get("parameters")).and_then(Value::as_sequence).into_iter().flatten() {
        if param.get("$ref").is_none() && param.get("example").is_none() {
            let name = param.get("name").and_then(Value::as_str).unwrap_or("?");
            problems.push(format!("{at}: parameter {name} has no example"));
        }
    }
}

/// Every local `$ref` must resolve.
fn check_refs(root: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or("?");
                if key == "$ref" {
                    let target = child.as_str().unwrap_or("");
                    let resolved = target
                        .strip_prefix("#/")
                        .map(|p| p.split('/').try_fold(root, |v, part| v.get(part)).is_some())
                        .unwrap_or(false);
                    if !resolved {
                        problems.push(format!("{at}: $ref {target} does not resolve"));
                    }
                } else if !matches!(key, "example" | "examples") {
                    check_refs(root, child, &format!("{at}/{key}"), problems);
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_refs(root, item, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// Enums must be named component schemas (so they become open Rust enums).
fn check_enums_are_named(doc: &Value, problems: &mut Vec<String>) {
    fn walk(value: &Value, at: &str, top_level: bool, problems: &mut Vec<String>) {
        match value {
            Value::Mapping(map) => {
                if map.contains_key("enum") && !top_level {
                    problems.push(format!("{at}: inline enum; make it a named schema and $ref it"));
                }
                let varnames = map.get("x-enum-varnames").and_then(Value::as_sequence).into_iter().flatten();
                if varnames.filter_map(Value::as_str).any(|name| name == "Unknown") {
                    problems.push(format!(
                        "{at}: x-enum-varnames has `Unknown`, which the generator reserves for undocumented values"
                    ));
                }
                for (key, child) in map {
                    let key = key.as_str().unwrap_or("?");
                    if !matches!(key, "example" | "examples" | "default" | "enum") {
                        walk(child, &format!("{at}/{key}"), false, problems);
                    }
                }
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}/{i}"), false, problems);
                }
            }
            _ => {}
        }
    }
    if let Some(paths) = doc.get("paths") {
        walk(paths, "paths", false, problems);
    }
    if let Some(Value::Mapping(components)) = doc.get("components") {
        for (kind, entries) in components {
            let kind = kind.as_str().unwrap_or("?");
            for (name, schema) in entries.as_mapping().into_iter().flatten() {
                let at = format!("components/{kind}/{}", name.as_str().unwrap_or("?"));
                walk(schema, &at, kind == "schemas", problems);
            }
        }
    }
}

/// Descriptions are English: no CJK text in summaries and descriptions.
fn check_english(value: &Value, at: &str, problems: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or("?");
                let is_text = matches!(key, "summary" | "description" | "x-enum-descriptions" | "hint");
                // Under `properties` the keys are field names (a field may be called `description`).
                if is_text && !at.ends_with("/properties") {
                    let text = serde_yaml::to_string(child).unwrap_or_default();
                    if text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
                        problems.push(format!("{at}/{key}: not English"));
                    }
                }
                if !matches!(key, "example" | "examples") {
                    check_english(child, &format!("{at}/{key}"), problems);
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_english(item, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// `last_remote_update` (in every `x-feishu-doc`) is a string such as `"2024-07-23"`, never a
/// number or another non-string value.
fn check_doc_versions_are_strings(value: &Value, at: &str, problems: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or("?");
                if key == "last_remote_update" && !child.is_string() {
                    let shown = serde_yaml::to_string(child).unwrap_or_default();
                    problems.push(format!("{at}/{key}: {} is not a string; quote it", shown.trim()));
                }
                if !matches!(key, "example" | "examples") {
                    check_doc_versions_are_strings(child, &format!("{at}/{key}"), problems);
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_doc_versions_are_strings(item, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// Checks the text of one spec source file for what the parsed document no longer shows: every
/// `last_remote_update` value must be quoted. Unquoted, `2024-07-23` is a string to our YAML 1.2
/// parser but a date to YAML 1.1 parsers (PyYAML, js-yaml's default schema, many generators).
/// Each problem names `file:line`.
pub fn check_source_text(file: &str, text: &str) -> Vec<String> {
    const KEY: &str = "last_remote_update:";
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        if code.trim_start().starts_with('#') {
            continue;
        }
        for (position, _) in code.match_indices(KEY) {
            let value = code[position + KEY.len()..].trim_start();
            let value = value.split([',', '}']).next().unwrap_or(value).trim_end();
            if !value.starts_with(['"', '\'']) {
                problems.push(format!(
                    "{file}:{}: last_remote_update {value} is not quoted (YAML 1.1 parsers read an unquoted date as a date): write \"{value}\"",
                    index + 1
                ));
            }
        }
    }
    problems
}
