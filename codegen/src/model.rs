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
    /// `x-feishu-rate-limit` as `(requests, window in seconds)`.
    pub rate_limit: Option<(u32, u32)>,
    /// Token types from `security` (`tenant_access_token`, `user_access_token`).
    pub token_types: Vec<String>,
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
    let rate_limit = ext("x-feishu-rate-limit").and_then(|v| {
        let requests = v.get("requests")?.as_u64()? as u32;
        let window = match v.get("window")?.as_str()? {
            "second" => 1,
            "minute" => 60,
            "hour" => 3600,
            "day" => 86_400,
            _ => return None,
        };
        Some((requests, window))
    });
    let token_types = op
        .security
        .as_ref()
        .or(api.security.as_ref())
        .map(|reqs| reqs.iter().flat_map(|req| req.keys().cloned()).collect())
        .unwrap_or_default();
    Ok(OperationModel {
        data_schema: envelope_data_schema(api, op),
        has_body: op.request_body.is_some(),
        read_only: ext("x-feishu-read-only").and_then(Json::as_bool).unwrap_or(false),
        pagination_items: ext("x-feishu-pagination")
            .and_then(|v| v.get("items"))
            .and_then(Json::as_str)
            .map(str::to_owned),
        rate_limit,
        token_types,
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
