//! A typed view of the bundled spec: the facts the generators need about each operation.

use openapiv3::{OpenAPI, Operation, ReferenceOr};
use serde_json::Value as Json;

use crate::error::{CodegenError, Result};

/// What the generators need to know about one operation.
#[derive(Debug, Clone)]
pub struct OperationModel {
    /// `operationId`, e.g. `reserve_get`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/open-apis/vc/v1/reserves/{reserve_id}`.
    pub path: String,
    /// The single tag (resource) of the operation.
    pub tag: String,
    /// One-line summary.
    pub summary: String,
    /// Name of the `data` schema inside the 200 envelope.
    pub data_schema: Option<String>,
    /// Whether the operation has a JSON request body.
    pub has_body: bool,
    /// `x-feishu-read-only`: a POST that only reads.
    pub read_only: bool,
    /// `x-feishu-pagination.items`: the data field holding the page's items.
    pub pagination_items: Option<String>,
    /// How the operation pages, when it does.
    pub pagination: Option<PaginationModel>,
    /// Whether the 200 response is a file (raw bytes) instead of a JSON envelope.
    pub file_download: bool,
    /// `x-feishu-rate-limit` as `(requests, window in seconds)`, the main limit first, then the
    /// `additional` ones; empty when none is documented.
    pub rate_limits: Vec<(u32, u32)>,
    /// Token types from `security` (`tenant_access_token`, `user_access_token`).
    pub token_types: Vec<String>,
    /// Integer parameters with a documented range, checked before sending.
    pub ranges: Vec<crate::ranges::ParamRange>,
}

/// How a paginated operation pages: where the items are and where the next token goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginationModel {
    /// The field of `data` holding the page's items.
    pub items: String,
    /// The schema of one item.
    pub item_schema: String,
    /// Where the request carries `page_token`.
    pub token_in: TokenLocation,
}

/// Where a paginated request carries its `page_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLocation {
    /// A query parameter.
    Query,
    /// A field of the JSON request body.
    Body,
}

/// Parses the bundled document as OpenAPI 3.0.
pub fn parse(doc: &serde_yaml::Value) -> Result<OpenAPI> {
    serde_yaml::from_value(doc.clone()).map_err(|e| CodegenError::OpenApi(e.to_string()))
}

/// Every operation of the document, in path order then method order.
pub fn operations(api: &OpenAPI) -> Result<Vec<OperationModel>> {
    let mut out = Vec::new();
    for (path, item) in api.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            return Err(CodegenError::OpenApi(format!("path {path} is a $ref; paths must be inline")));
        };
        for (method, op) in item.iter() {
            out.push(operation_model(api, path, method, op)?);
        }
    }
    Ok(out)
}

fn operation_model(api: &OpenAPI, path: &str, method: &str, op: &Operation) -> Result<OperationModel> {
    let id = op
        .operation_id
        .clone()
        .ok_or_else(|| CodegenError::OpenApi(format!("{} {path} has no operationId", method.to_uppercase())))?;
    let ext = |name: &str| op.extensions.get(name);
    // A malformed value is a lint error (`lint::check` runs first); here it counts as none.
    let rate_limits = ext("x-feishu-rate-limit").map(rate_limits).and_then(std::result::Result::ok).unwrap_or_default();
    let token_types = op
        .security
        .as_ref()
        .or(api.security.as_ref())
        .map(|reqs| reqs.iter().flat_map(|req| req.keys().cloned()).collect())
        .unwrap_or_default();
    let pagination = pagination(api, op).map_err(|problem| CodegenError::OpenApi(format!("{id}: {problem}")))?;
    Ok(OperationModel {
        pagination,
        file_download: crate::lint::is_file_download(op),
        data_schema: envelope_data_schema(api, op),
        has_body: op.request_body.is_some(),
        read_only: ext("x-feishu-read-only").and_then(Json::as_bool).unwrap_or(false),
        pagination_items: ext("x-feishu-pagination")
            .and_then(|v| v.get("items"))
            .and_then(Json::as_str)
            .map(str::to_owned),
        rate_limits,
        token_types,
        ranges: crate::ranges::param_ranges(api, op),
        tag: op.tags.first().cloned().unwrap_or_default(),
        summary: op.summary.clone().unwrap_or_default(),
        method: method.to_uppercase(),
        path: path.to_owned(),
        id,
    })
}

/// The envelope schema name of the 200 response, if it is a `$ref`.
pub fn envelope_schema(op: &Operation) -> Option<String> {
    let response = op.responses.responses.get(&openapiv3::StatusCode::Code(200))?;
    let ReferenceOr::Item(response) = response else { return None };
    let media = response.content.get("application/json")?;
    match media.schema.as_ref()? {
        ReferenceOr::Reference { reference } => ref_name(reference).map(str::to_owned),
        ReferenceOr::Item(_) => None,
    }
}

/// The `data` schema referenced by the operation's envelope.
fn envelope_data_schema(api: &OpenAPI, op: &Operation) -> Option<String> {
    let envelope = envelope_schema(op)?;
    let schema = api.components.as_ref()?.schemas.get(&envelope)?.as_item()?;
    let openapiv3::SchemaKind::Type(openapiv3::Type::Object(object)) = &schema.schema_kind else {
        return None;
    };
    match object.properties.get("data")? {
        ReferenceOr::Reference { reference } => ref_name(reference).map(str::to_owned),
        ReferenceOr::Item(_) => None,
    }
}

/// `#/components/schemas/Foo` -> `Foo`.
pub fn ref_name(reference: &str) -> Option<&str> {
    reference.rsplit_once('/').map(|(_, name)| name)
}

/// The field names a schema (as YAML) lists under `required`; none when it has no such list.
pub fn required_fields(schema: &serde_yaml::Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(serde_yaml::Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(serde_yaml::Value::as_str)
        .collect()
}

/// The pagination of an operation marked `x-feishu-pagination`: its `data` must have the items
/// array (of a `$ref` schema), `has_more` and `page_token`, and the request must take
/// `page_token` as a query parameter or a body field.
pub fn pagination(api: &OpenAPI, op: &Operation) -> std::result::Result<Option<PaginationModel>, String> {
    let Some(items) = op.extensions.get("x-feishu-pagination").map(|p| p.get("items").and_then(Json::as_str)) else {
        return Ok(None);
    };
    let items = items.ok_or("x-feishu-pagination has no `items` field name")?.to_owned();
    let schemas = api.components.as_ref().map(|c| &c.schemas);
    let object = |name: &str| -> Option<&openapiv3::ObjectType> {
        match &schemas?.get(name)?.as_item()?.schema_kind {
            openapiv3::SchemaKind::Type(openapiv3::Type::Object(object)) => Some(object),
            _ => None,
        }
    };
    let data_name = envelope_data_schema(api, op).ok_or("a paginated operation needs an envelope `data` schema")?;
    let data = object(&data_name).ok_or_else(|| format!("data schema {data_name} is not an object"))?;
    for field in ["has_more", "page_token"] {
        if !data.properties.contains_key(field) {
            return Err(format!("paginated data {data_name} has no `{field}`"));
        }
    }
    let item_schema = match data.properties.get(&items).and_then(ReferenceOr::as_item).map(|s| &s.schema_kind) {
        Some(openapiv3::SchemaKind::Type(openapiv3::Type::Array(array))) => match &array.items {
            Some(ReferenceOr::Reference { reference }) => ref_name(reference).map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| format!("`{items}` of {data_name} is not an array of a $ref schema"))?;
    let in_query = op.parameters.iter().any(|p| match p {
        ReferenceOr::Item(p) => {
            let data = p.parameter_data_ref();
            data.name == "page_token" && matches!(p, openapiv3::Parameter::Query { .. })
        }
        ReferenceOr::Reference { .. } => false,
    });
    let in_body = || {
        let ReferenceOr::Item(body) = op.request_body.as_ref()? else { return None };
        match body.content.get("application/json")?.schema.as_ref()? {
            ReferenceOr::Reference { reference } => {
                object(ref_name(reference)?).map(|o| o.properties.contains_key("page_token"))
            }
            ReferenceOr::Item(_) => None,
        }
    };
    let token_in = if in_query {
        TokenLocation::Query
    } else if in_body() == Some(true) {
        TokenLocation::Body
    } else {
        return Err("a paginated operation needs a `page_token` query parameter or body field".to_owned());
    };
    Ok(Some(PaginationModel { items, item_schema, token_in }))
}

/// The limits of an `x-feishu-rate-limit` value as `(requests, window in seconds)`:
/// `{requests, window, additional: [{requests, window}]}`, or none for `{tier: special}`.
/// Anything else is described in the error.
pub fn rate_limits(value: &Json) -> std::result::Result<Vec<(u32, u32)>, String> {
    fn one(value: &Json) -> std::result::Result<(u32, u32), String> {
        let requests = value
            .get("requests")
            .and_then(Json::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`requests` must be a positive integer in {value}"))?;
        let window = match value.get("window").and_then(Json::as_str) {
            Some("second") => 1,
            Some("minute") => 60,
            Some("hour") => 3600,
            Some("day") => 86_400,
            _ => return Err(format!("`window` must be second, minute, hour or day in {value}")),
        };
        Ok((requests, window))
    }
    let Some(object) = value.as_object() else { return Err(format!("not a mapping: {value}")) };
    if object.get("tier").and_then(Json::as_str) == Some("special") && object.len() == 1 {
        return Ok(Vec::new());
    }
    if let Some(key) = object.keys().find(|k| !matches!(k.as_str(), "requests" | "window" | "additional")) {
        return Err(format!("unknown key `{key}` in {value}"));
    }
    let mut limits = vec![one(value)?];
    match object.get("additional") {
        None => {}
        Some(Json::Array(more)) => {
            for limit in more {
                limits.push(one(limit)?);
            }
        }
        Some(other) => return Err(format!("`additional` must be a list, not {other}")),
    }
    Ok(limits)
}
