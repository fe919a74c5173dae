//! The copy of the spec that progenitor sees.
//!
//! The spec stays exact; this view adapts it to what progenitor and typify handle well:
//! - only 2xx responses remain, so every failure reaches the runtime as the raw HTTP response
//!   and is decoded in one place (and operations with several error schemas cannot panic it);
//! - integer `minimum`/`maximum` are dropped (typify turns `minimum: 1` into `NonZeroU32`,
//!   which a user cannot pass a plain integer to; `ranges` checks parameter bounds instead);
//! - schemas reachable from a response or an event payload (`x-feishu-events`) lose their
//!   validation keywords, so a value outside a documented range never fails the decoding of a
//!   whole response or event.

use std::collections::BTreeSet;

use serde_yaml::{Mapping, Value};

const INTEGER_BOUNDS: [&str; 5] = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];
const VALIDATION: [&str; 9] =
    ["minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "multipleOf"];

/// Returns the adapted document.
pub fn progenitor_view(doc: &Value) -> Value {
    let mut doc = doc.clone();
    keep_only_success_responses(&mut doc);
    let reachable = schemas_reachable_from_responses(&doc);
    if let Some(schemas) = get_mut(&mut doc, &["components", "schemas"]) {
        for (name, schema) in schemas.iter_mut() {
            if name.as_str().is_some_and(|n| reachable.contains(n)) {
                strip_keys(schema, &VALIDATION);
            }
        }
    }
    strip_integer_bounds(&mut doc);
    doc
}

fn get_mut<'a>(value: &'a mut Value, keys: &[&str]) -> Option<&'a mut Mapping> {
    let mut current = value;
    for key in keys {
        current = current.get_mut(*key)?;
    }
    current.as_mapping_mut()
}

fn keep_only_success_responses(doc: &mut Value) {
    let Some(paths) = get_mut(doc, &["paths"]) else { return };
    for (_, item) in paths.iter_mut() {
        let Some(item) = item.as_mapping_mut() else { continue };
        for (_, op) in item.iter_mut() {
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_mapping_mut) {
                responses.retain(|status, _| {
                    let status = match status {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return true,
                    };
                    status.starts_with('2')
                });
            }
        }
    }
}

/// Names of component schemas used, directly or through other schemas, by any response or event
/// payload: everything the client decodes rather than sends.
fn schemas_reachable_from_responses(doc: &Value) -> BTreeSet<String> {
    let mut pending = Vec::new();
    if let Some(events) = doc.get("x-feishu-events") {
        collect_refs(events, &mut pending);
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_mapping) {
        for (_, item) in paths {
            for (_, op) in item.as_mapping().into_iter().flatten() {
                if let Some(responses) = op.get("responses") {
                    collect_refs(responses, &mut pending);
                }
            }
        }
    }
    let schemas = doc.get("components").and_then(|c| c.get("schemas"));
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone())
            && let Some(schema) = schemas.and_then(|s| s.get(name.as_str()))
        {
            collect_refs(schema, &mut pending);
        }
    }
    seen
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("$ref") {
                    if let Some(name) = child.as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
                        out.push(name.to_owned());
                    }
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

fn strip_keys(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Mapping(map) => {
            for key in keys {
                map.remove(*key);
            }
            // Keys under `properties` are field names, not keywords: only their values recurse.
            for (key, child) in map.iter_mut() {
                if key.as_str() == Some("properties") {
                    if let Some(props) = child.as_mapping_mut() {
                        props.iter_mut().for_each(|(_, prop)| strip_keys(prop, keys));
                    }
                } else if !matches!(key.as_str(), Some("example" | "default" | "enum")) {
                    strip_keys(child, keys);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(|item| strip_keys(item, keys)),
        _ => {}
    }
}

fn strip_integer_bounds(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            if map.get("type").and_then(Value::as_str) == Some("integer") {
                for key in INTEGER_BOUNDS {
                    map.remove(key);
                }
            }
            for (key, child) in map.iter_mut() {
                if !matches!(key.as_str(), Some("example" | "examples" | "default" | "enum")) {
                    strip_integer_bounds(child);
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(strip_integer_bounds),
        _ => {}
    }
}
