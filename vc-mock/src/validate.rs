//! Request validation against the spec: path and query parameters (presence, type, enum,
//! range, length) and JSON bodies (required fields, types, enums, ranges, lengths, item
//! counts). Fields a schema does not declare are rejected, so a misspelt field is reported
//! instead of silently ignored.
//!
//! Every check returns the first problem found as a sentence naming where it is
//! (`body.meeting_settings.topic: ...`); the server sends it as the `msg` of a 121003 answer.

use serde_json::Value;

use crate::spec::{Location, Operation, Spec};

/// Checks the path parameters (`(name, decoded value)` as routed) and the query string
/// (`(name, value)` pairs, decoded) of a request to `operation`.
pub fn check_params(
    spec: &Spec,
    operation: &Operation,
    path_params: &[(String, String)],
    query: &[(String, String)],
) -> Result<(), String> {
    for param in &operation.params {
        let values: Vec<&str> = match param.location {
            Location::Path => path_params.iter().filter(|(n, _)| *n == param.name).map(|(_, v)| v.as_str()).collect(),
            Location::Query => query.iter().filter(|(n, _)| *n == param.name).map(|(_, v)| v.as_str()).collect(),
        };
        let what = match param.location {
            Location::Path => format!("path parameter {}", param.name),
            Location::Query => format!("query parameter {}", param.name),
        };
        if values.is_empty() || (param.location == Location::Path && values.iter().all(|v| v.is_empty())) {
            if param.required {
                return Err(format!("{what} is required"));
            }
            continue;
        }
        let schema = spec.resolve(&param.schema);
        let repeatable = schema.get("type").and_then(Value::as_str) == Some("array");
        if values.len() > 1 && !repeatable {
            return Err(format!("{what} is given {} times", values.len()));
        }
        let item_schema = if repeatable { schema.get("items").unwrap_or(&Value::Null) } else { schema };
        for value in &values {
            let typed = parse_scalar(spec, item_schema, value).map_err(|problem| format!("{what}: {problem}"))?;
            check_value(spec, item_schema, &typed, &what)?;
        }
        if repeatable {
            let items: Vec<Value> = values.iter().map(|v| Value::String((*v).to_owned())).collect();
            check_counts(schema, items.len(), &what)?;
        }
    }
    if let Some((name, _)) =
        query.iter().find(|(name, _)| operation.param(name).is_none_or(|p| p.location != Location::Query))
    {
        return Err(format!("unknown query parameter {name}"));
    }
    Ok(())
}

/// Checks a request body (raw bytes) of `operation`; returns the parsed JSON.
///
/// An operation without a request body also accepts an empty JSON object (`{}`, whatever the
/// `Content-Type`): the official SDKs send one on every call, GET and DELETE included, and the
/// real gateway takes it as no body. Anything else is rejected.
pub fn check_body(spec: &Spec, operation: &Operation, body: &[u8]) -> Result<Option<Value>, String> {
    let Some(schema) = &operation.body else {
        return if is_blank_or_empty_object(body) {
            Ok(None)
        } else {
            Err(format!("{} takes no request body", operation.id))
        };
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return if operation.body_required { Err("the request body is required".to_owned()) } else { Ok(None) };
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    check_value(spec, schema, &value, "body")?;
    Ok(Some(value))
}

/// Whether `body` is blank or an empty JSON object (whitespace allowed around and inside).
fn is_blank_or_empty_object(body: &[u8]) -> bool {
    let mut rest = body.iter().filter(|b| !b.is_ascii_whitespace());
    match rest.next() {
        None => true,
        Some(b'{') => rest.next() == Some(&b'}') && rest.next().is_none(),
        Some(_) => false,
    }
}

/// Reads a query or path value as the JSON value its schema describes.
fn parse_scalar(spec: &Spec, schema: &Value, text: &str) -> Result<Value, String> {
    let schema = spec.resolve(schema);
    Ok(match schema.get("type").and_then(Value::as_str) {
        Some("integer") => Value::from(text.trim().parse::<i64>().map_err(|_| format!("{text:?} is not an integer"))?),
        Some("number") => {
            let number: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
            serde_json::Number::from_f64(number).map(Value::Number).ok_or_else(|| format!("{text:?} is not finite"))?
        }
        // The official Python SDK spells query booleans `True` / `False` (Python's `str`).
        Some("boolean") => match text {
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ => return Err(format!("{text:?} is not true or false")),
        },
        _ => Value::String(text.to_owned()),
    })
}

/// Checks `value` against `schema`; `at` names where the value is.
pub fn check_value(spec: &Spec, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = spec.resolve(schema);
    if value.is_null() {
        return if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            Ok(())
        } else {
            Err(format!("{at}: null is not allowed"))
        };
    }
    let expected = schema.get("type").and_then(Value::as_str);
    match expected {
        Some("object") => check_object(spec, schema, value, at)?,
        Some("array") => {
            let Some(items) = value.as_array() else { return Err(type_error(at, "an array", value)) };
            check_counts(schema, items.len(), at)?;
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_value(spec, item_schema, item, &format!("{at}[{i}]"))?;
                }
            }
            if schema.get("uniqueItems").and_then(Value::as_bool) == Some(true)
                && items.iter().enumerate().any(|(i, item)| items[..i].contains(item))
            {
                return Err(format!("{at}: items must be unique"));
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else { return Err(type_error(at, "a string", value)) };
            let chars = text.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64).filter(|min| chars < *min) {
                return Err(format!("{at}: {text:?} is shorter than {min} characters"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64).filter(|max| chars > *max) {
                return Err(format!("{at}: {text:?} is longer than {max} characters"));
            }
        }
        Some("integer") => {
            let Some(number) = value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX)) else {
                return Err(type_error(at, "an integer", value));
            };
            let int32 = schema.get("format").and_then(Value::as_str) == Some("int32");
            if int32 && i32::try_from(number).is_err() {
                return Err(format!("{at}: {value} does not fit in 32 bits"));
            }
            check_range(schema, number as f64, value, at)?;
        }
        Some("number") => {
            let Some(number) = value.as_f64() else { return Err(type_error(at, "a number", value)) };
            check_range(schema, number, value, at)?;
        }
        Some("boolean") if !value.is_boolean() => return Err(type_error(at, "true or false", value)),
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let listed: Vec<String> = spec
            .enum_values(schema)
            .into_iter()
            .map(|(wire, name)| if wire.is_string() { wire.to_string() } else { format!("{wire} ({name})") })
            .collect();
        return Err(format!("{at}: {value} is not one of {}", listed.join(", ")));
    }
    Ok(())
}

fn check_object(spec: &Spec, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(object) = value.as_object() else { return Err(type_error(at, "an object", value)) };
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if object.get(required).is_none_or(Value::is_null) {
            return Err(format!("{at}.{required} is required"));
        }
    }
    let additional = schema.get("additionalProperties");
    for (name, field) in object {
        let at = format!("{at}.{name}");
        match properties.and_then(|p| p.get(name)) {
            // An optional field sent as null counts as absent.
            Some(_) if field.is_null() => {}
            Some(field_schema) => check_value(spec, field_schema, field, &at)?,
            None => match additional {
                Some(Value::Bool(true)) => {}
                Some(extra) if extra.is_object() => check_value(spec, extra, field, &at)?,
                _ => return Err(format!("{at} is not a field of {}", schema_name(properties))),
            },
        }
    }
    Ok(())
}

/// A short name for an object schema in messages: its property list.
fn schema_name(properties: Option<&serde_json::Map<String, Value>>) -> String {
    match properties {
        Some(p) if !p.is_empty() => {
            format!("the object (fields: {})", p.keys().cloned().collect::<Vec<_>>().join(", "))
        }
        _ => "the object (it has no fields)".to_owned(),
    }
}

fn check_counts(schema: &Value, count: usize, at: &str) -> Result<(), String> {
    let count = count as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64).filter(|min| count < *min) {
        return Err(format!("{at}: {count} item(s), at least {min} needed"));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64).filter(|max| count > *max) {
        return Err(format!("{at}: {count} item(s), at most {max} allowed"));
    }
    Ok(())
}

fn check_range(schema: &Value, number: f64, shown: &Value, at: &str) -> Result<(), String> {
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let exclusive = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
    if let Some(min) = bound("minimum")
        && (number < min || (exclusive("exclusiveMinimum") && number == min))
    {
        return Err(format!("{at}: {shown} is below the minimum {}", schema["minimum"]));
    }
    if let Some(max) = bound("maximum")
        && (number > max || (exclusive("exclusiveMaximum") && number == max))
    {
        return Err(format!("{at}: {shown} is above the maximum {}", schema["maximum"]));
    }
    Ok(())
}

fn type_error(at: &str, expected: &str, value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("{at}: expected {expected}, got {kind}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> &'static Spec {
        Spec::embedded()
    }

    fn op(id: &str) -> &'static Operation {
        spec().operation(id).unwrap()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn body(id: &str, value: Value) -> Result<Option<Value>, String> {
        check_body(spec(), op(id), value.to_string().as_bytes())
    }

    #[test]
    fn every_spec_example_passes() {
        for op in spec().operations() {
            let mut path = Vec::new();
            let mut query = Vec::new();
            for param in &op.params {
                let Some(value) = &param.example else { continue };
                let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
                match param.location {
                    Location::Path => path.push((param.name.clone(), text)),
                    Location::Query => query.push((param.name.clone(), text)),
                }
            }
            check_params(spec(), op, &path, &query).unwrap_or_else(|e| panic!("{}: {e}", op.id));
            if op.body.is_some() {
                let example = op.body_example.clone().unwrap_or_else(|| panic!("{}: no body example", op.id));
                body(&op.id, example).unwrap_or_else(|e| panic!("{}: {e}", op.id));
            }
        }
    }

    #[test]
    fn required_path_and_query_parameters() {
        let get_top_user = op("report_get_top_user");
        let err =
            check_params(spec(), get_top_user, &[], &pairs(&[("start_time", "1"), ("end_time", "2")])).unwrap_err();
        assert_eq!(err, "query parameter limit is required");
        let err = check_params(spec(), op("reserve_get"), &pairs(&[("reserve_id", "")]), &[]).unwrap_err();
        assert_eq!(err, "path parameter reserve_id is required");
    }

    #[test]
    fn query_types_enums_and_ranges() {
        let base = [("start_time", "1"), ("end_time", "2"), ("order_by", "1")];
        let check = |extra: &[(&str, &str)]| {
            let mut query = pairs(&base);
            query.extend(pairs(extra));
            check_params(spec(), op("report_get_top_user"), &[], &query)
        };
        assert!(check(&[("limit", "10")]).is_ok());
        assert_eq!(check(&[("limit", "ten")]).unwrap_err(), "query parameter limit: \"ten\" is not an integer");
        assert_eq!(check(&[("limit", "500")]).unwrap_err(), "query parameter limit: 500 is above the maximum 100");
        assert!(check(&[("limit", "1"), ("unit", "9")]).unwrap_err().contains("9 is not one of 0 ("));
        assert!(check(&[("limit", "1"), ("user_id_type", "email")]).unwrap_err().contains("\"email\" is not one of"));
        assert_eq!(check(&[("limit", "1"), ("limit", "2")]).unwrap_err(), "query parameter limit is given 2 times");
        assert_eq!(check(&[("limit", "1"), ("colour", "red")]).unwrap_err(), "unknown query parameter colour");
        let booleans = check_params(
            spec(),
            op("reserve_get_active_meeting"),
            &pairs(&[("reserve_id", "1")]),
            &pairs(&[("with_participants", "yes")]),
        );
        assert_eq!(booleans.unwrap_err(), "query parameter with_participants: \"yes\" is not true or false");
        for spelling in ["true", "False", "TRUE"] {
            let query = pairs(&[("with_participants", spelling)]);
            assert!(
                check_params(spec(), op("reserve_get_active_meeting"), &pairs(&[("reserve_id", "1")]), &query).is_ok()
            );
        }
    }

    #[test]
    fn bodies_are_checked_field_by_field() {
        let ok = json!({"meeting_start_time": "1", "meeting_end_time": "2", "meeting_no": "123456789"});
        assert!(body("export_participant_list", ok.clone()).unwrap().is_some());
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("meeting_no");
        assert_eq!(body("export_participant_list", missing).unwrap_err(), "body.meeting_no is required");
        let mut wrong_type = ok.clone();
        wrong_type["meeting_no"] = json!(123456789);
        assert_eq!(
            body("export_participant_list", wrong_type).unwrap_err(),
            "body.meeting_no: expected a string, got a number"
        );
        let mut wrong_enum = ok.clone();
        wrong_enum["meeting_status"] = json!(9);
        assert!(
            body("export_participant_list", wrong_enum)
                .unwrap_err()
                .starts_with("body.meeting_status: 9 is not one of 1 (")
        );
        let mut unknown = ok.clone();
        unknown["meeting_nos"] = json!("1");
        assert!(
            body("export_participant_list", unknown)
                .unwrap_err()
                .starts_with("body.meeting_nos is not a field of the object (fields: ")
        );
        let mut null = ok;
        null["user_id"] = Value::Null;
        assert!(body("export_participant_list", null).is_ok(), "an optional field sent as null is absent");
    }

    #[test]
    fn nested_objects_arrays_and_lengths() {
        let err = body("room_level_mget", json!({"level_ids": "x"})).unwrap_err();
        assert_eq!(err, "body.level_ids: expected an array, got a string");
        let err = body("room_level_mget", json!({"level_ids": [1]})).unwrap_err();
        assert_eq!(err, "body.level_ids[0]: expected a string, got a number");
        let err = body("room_level_del", json!({"room_level_id": ""})).unwrap_err();
        assert_eq!(err, "body.room_level_id: \"\" is shorter than 1 characters");
        let invitees: Vec<Value> = (0..11).map(|i| json!({"id": i.to_string()})).collect();
        let err = body("meeting_invite", json!({"invitees": invitees})).unwrap_err();
        assert_eq!(err, "body.invitees: 11 item(s), at most 10 allowed");
    }

    #[test]
    fn malformed_and_missing_bodies() {
        assert!(
            check_body(spec(), op("room_level_mget"), b"{not json")
                .unwrap_err()
                .starts_with("the request body is not valid JSON")
        );
        assert_eq!(check_body(spec(), op("room_level_mget"), b"").unwrap_err(), "the request body is required");
        assert_eq!(
            check_body(spec(), op("room_level_mget"), b"[]").unwrap_err(),
            "body: expected an object, got an array"
        );
        assert_eq!(check_body(spec(), op("reserve_get"), b"  ").unwrap(), None);
    }

    #[test]
    fn operations_without_a_body_take_an_empty_object_and_nothing_else() {
        // What the official SDKs send on every call, GET, DELETE and body-less PATCH included.
        for id in ["reserve_get", "reserve_delete", "meeting_end", "meeting_recording_stop"] {
            assert!(op(id).body.is_none(), "{id} has no request body in the spec");
            for empty in [&b""[..], b"{}", b" { }\n", b"\r\n"] {
                assert_eq!(check_body(spec(), op(id), empty).unwrap(), None, "{id}: {empty:?}");
            }
            for other in [&b"{\"a\":1}"[..], b"[]", b"null", b"{}{}", b"{}}", b"{", b"\"\""] {
                assert_eq!(
                    check_body(spec(), op(id), other).unwrap_err(),
                    format!("{id} takes no request body"),
                    "{other:?}"
                );
            }
        }
    }

    #[test]
    fn integers_must_be_whole_and_fit() {
        let schema = json!({"type": "integer", "format": "int32", "minimum": 1});
        assert!(check_value(spec(), &schema, &json!(1), "x").is_ok());
        assert_eq!(
            check_value(spec(), &schema, &json!(1.5), "x").unwrap_err(),
            "x: expected an integer, got a fractional number"
        );
        assert_eq!(check_value(spec(), &schema, &json!(0), "x").unwrap_err(), "x: 0 is below the minimum 1");
        assert_eq!(
            check_value(spec(), &schema, &json!(4_000_000_000u64), "x").unwrap_err(),
            "x: 4000000000 does not fit in 32 bits"
        );
        assert!(check_value(spec(), &schema, &json!(u64::MAX), "x").unwrap_err().contains("does not fit"));
        assert_eq!(check_value(spec(), &schema, &Value::Null, "x").unwrap_err(), "x: null is not allowed");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // serde_json stops at 128 levels; the validator recurses only as deep as the schema.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(check_body(spec(), op("room_level_mget"), deep.as_bytes()).is_err());
    }
}
