//! `vc-spec`: the one reader of the bundled spec (`spec/openapi.yaml`): every operation with its method,
//! path template, parameters, request body schema, response example, pagination, accepted
//! token types and error statuses. The mock server routes and validates with it, the `vc`
//! command line builds its commands from it, `cargo xtask` lists the operations it checks
//! ([`Spec::parse`] on the file as it is on disk) and the integration tests take their examples
//! from it ([`Spec::embedded`], the copy compiled in).

#![deny(missing_docs)]

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The bundled spec, as committed.
pub const SPEC_YAML: &str = include_str!("../openapi.yaml");

/// The operations of a spec document, in spec order (path order, then method order).
#[derive(Debug, Clone)]
pub struct Spec {
    doc: Value,
    operations: Vec<Operation>,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A `{name}` segment of the path.
    Path,
    /// The query string.
    Query,
}

/// One path or query parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// The parameter's name.
    pub name: String,
    /// Path or query.
    pub location: Location,
    /// Whether it must be present.
    pub required: bool,
    /// Its schema (possibly a `$ref`; see [`Spec::resolve`]).
    pub schema: Value,
    /// Its description.
    pub description: String,
    /// Its example value, if the spec gives one.
    pub example: Option<Value>,
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// The operation's tag (resource).
    pub tag: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/open-apis/vc/v1/reserves/{reserve_id}`.
    pub path: String,
    /// One-line summary.
    pub summary: String,
    /// Longer description.
    pub description: String,
    /// Path and query parameters, in spec order.
    pub params: Vec<Param>,
    /// The JSON request body's schema, if the operation takes one.
    pub body: Option<Value>,
    /// Whether the request body is required.
    pub body_required: bool,
    /// The request body example.
    pub body_example: Option<Value>,
    /// The 200 response example (the whole envelope), for JSON answers.
    pub response_example: Option<Value>,
    /// The media type of a 200 answer that is a file rather than JSON.
    pub file_media_type: Option<String>,
    /// `x-feishu-pagination.items`: the `data` field holding a page's items.
    pub pagination_items: Option<String>,
    /// The security schemes (token types) the operation accepts, by name
    /// (`tenant_access_token`, `user_access_token`): its own `security`, else the document's.
    pub token_types: Vec<String>,
    /// `x-feishu-error-codes` as `(code, HTTP status)` pairs (vc-api's
    /// `mock::error_status` turns a code into its status).
    pub error_statuses: Vec<(i64, u16)>,
    /// The operation object as the spec writes it (`$ref`s unresolved), for anything the
    /// fields above do not cover.
    pub raw: Value,
}

impl Operation {
    /// The parameter `name`, if the operation has it.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether the operation accepts the security scheme (token type) `scheme`
    /// (`tenant_access_token`, ...). An operation that names none accepts any.
    pub fn accepts_token_type(&self, scheme: &str) -> bool {
        self.token_types.is_empty() || self.token_types.iter().any(|t| t == scheme)
    }

    /// Whether the operation pages with a `page_token` query parameter (otherwise, when it
    /// pages, the token goes in the body).
    pub fn page_token_in_query(&self) -> bool {
        self.params.iter().any(|p| p.name == "page_token" && p.location == Location::Query)
    }
}

impl Spec {
    /// The embedded spec, parsed once.
    ///
    /// # Panics
    ///
    /// If the embedded spec is not valid YAML: `cargo xtask check` and this crate's tests
    /// guarantee that it is.
    pub fn embedded() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| Spec::parse(SPEC_YAML).expect("the embedded spec/openapi.yaml is valid"))
    }

    /// Indexes a bundled spec document given as YAML.
    pub fn parse(yaml: &str) -> Result<Spec, String> {
        let doc: Value = serde_yaml::from_str(yaml).map_err(|e| format!("the spec is not valid YAML: {e}"))?;
        Ok(Spec::from_value(doc))
    }

    /// Indexes a bundled spec document.
    pub fn from_value(doc: Value) -> Spec {
        let mut operations = Vec::new();
        for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
            let shared: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for (method, op) in item.as_object().into_iter().flatten() {
                if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch" | "head" | "options") {
                    continue;
                }
                let Some(id) = op.get("operationId").and_then(Value::as_str) else { continue };
                operations.push(operation(&doc, id, method, path, op, &shared));
            }
        }
        Spec { doc, operations }
    }

    /// Every operation, in spec order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with this `operationId`.
    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// The whole document.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// Follows a local `$ref` (`#/components/schemas/X`) to what it names; anything else is
    /// returned as is. A chain of references longer than 32 ends at `Value::Null`.
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => match reference.strip_prefix('#').and_then(|pointer| self.doc.pointer(pointer)) {
                    Some(target) => value = target,
                    None => return &Value::Null,
                },
                None => return value,
            }
        }
        &Value::Null
    }

    /// The name of the schema a `$ref` points to (`#/components/schemas/UserIdType` ->
    /// `UserIdType`).
    pub fn ref_name(value: &Value) -> Option<&str> {
        value.get("$ref")?.as_str()?.rsplit('/').next()
    }

    /// The documented values of an enum schema as `(wire value, variant name)` pairs; empty
    /// when the schema is not an enum.
    pub fn enum_values(&self, schema: &Value) -> Vec<(Value, String)> {
        let schema = self.resolve(schema);
        let values = schema.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
        let names = schema.get("x-enum-varnames").and_then(Value::as_array).cloned().unwrap_or_default();
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let name = names.get(i).and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| value.to_string());
                (value, name)
            })
            .collect()
    }
}

fn security_names(security: &Value) -> Option<Vec<String>> {
    let requirements = security.as_array()?;
    let mut names: Vec<String> = Vec::new();
    for name in requirements.iter().filter_map(Value::as_object).flat_map(|r| r.keys()) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Some(names)
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_owned()
}

fn operation(doc: &Value, id: &str, method: &str, path: &str, op: &Value, shared: &[Value]) -> Operation {
    let resolve = |value: &Value| -> Value {
        match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => doc.pointer(pointer).cloned().unwrap_or(Value::Null),
            None => value.clone(),
        }
    };
    let mut params: Vec<Param> = Vec::new();
    let own = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    for raw in shared.iter().chain(&own) {
        let param = resolve(raw);
        let location = match param.get("in").and_then(Value::as_str) {
            Some("path") => Location::Path,
            Some("query") => Location::Query,
            _ => continue,
        };
        let name = text(&param, "name");
        params.retain(|p| p.name != name);
        params.push(Param {
            required: location == Location::Path || param.get("required").and_then(Value::as_bool).unwrap_or(false),
            schema: param.get("schema").cloned().unwrap_or(Value::Object(Map::new())),
            description: text(&param, "description"),
            example: param.get("example").cloned(),
            name,
            location,
        });
    }
    let request_body = op.get("requestBody").map(resolve);
    let body = request_body.as_ref().and_then(|b| b.pointer("/content/application~1json/schema")).cloned();
    let ok = op.pointer("/responses/200").map(resolve).unwrap_or(Value::Null);
    let content = ok.get("content").and_then(Value::as_object);
    let file_media_type = content
        .filter(|c| !c.contains_key("application/json"))
        .and_then(|c| c.keys().next())
        .map(|media| media.to_owned());
    Operation {
        id: id.to_owned(),
        tag: op.pointer("/tags/0").and_then(Value::as_str).unwrap_or_default().to_owned(),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: text(op, "summary"),
        description: text(op, "description"),
        params,
        body_required: request_body.as_ref().and_then(|b| b.get("required")).and_then(Value::as_bool).unwrap_or(false),
        body_example: request_body.as_ref().and_then(|b| b.pointer("/content/application~1json/example")).cloned(),
        body,
        response_example: ok.pointer("/content/application~1json/example").cloned(),
        file_media_type,
        pagination_items: op.pointer("/x-feishu-pagination/items").and_then(Value::as_str).map(str::to_owned),
        token_types: op
            .get("security")
            .and_then(security_names)
            .or_else(|| doc.get("security").and_then(security_names))
            .unwrap_or_default(),
        error_statuses: op
            .get("x-feishu-error-codes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                Some((entry.get("code")?.as_i64()?, u16::try_from(entry.get("http_status")?.as_u64()?).ok()?))
            })
            .collect(),
        raw: op.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_is_indexed() {
        let spec = Spec::embedded();
        assert!(spec.operations().len() >= 39);
        let get = spec.operation("reserve_get").unwrap();
        assert_eq!((get.method.as_str(), get.tag.as_str()), ("GET", "reserve"));
        assert_eq!(get.param("reserve_id").unwrap().location, Location::Path);
        assert!(!get.param("user_id_type").unwrap().required, "a shared $ref parameter is resolved");
        let download = spec.operation("export_download").unwrap();
        assert_eq!(download.file_media_type.as_deref(), Some("application/octet-stream"));
        assert!(download.response_example.is_none());
        let search = spec.operation("room_search").unwrap();
        assert_eq!(search.pagination_items.as_deref(), Some("rooms"));
        assert!(!search.page_token_in_query() && search.body_required);
        assert!(spec.operation("room_list").unwrap().page_token_in_query());
        let end = spec.operation("meeting_end").unwrap();
        assert_eq!(end.token_types, ["user_access_token"]);
        assert!(end.accepts_token_type("user_access_token") && !end.accepts_token_type("tenant_access_token"));
        let get = spec.operation("meeting_get").unwrap();
        assert!(get.accepts_token_type("tenant_access_token") && get.accepts_token_type("user_access_token"));
    }

    #[test]
    fn error_statuses_come_from_the_operation_table() {
        let get = Spec::embedded().operation("meeting_get").unwrap();
        assert!(get.error_statuses.contains(&(121005, 403)) && get.error_statuses.contains(&(121003, 400)));
    }

    #[test]
    fn enum_values_come_with_their_variant_names() {
        let spec = Spec::embedded();
        let schema = &spec.operation("reserve_get").unwrap().param("user_id_type").unwrap().schema;
        let values = spec.enum_values(schema);
        assert_eq!(values[0], (Value::from("open_id"), "OpenId".to_owned()));
    }

    #[test]
    fn reference_cycles_end() {
        let spec =
            Spec::from_value(serde_json::json!({"components": {"schemas": {"A": {"$ref": "#/components/schemas/A"}}}}));
        assert_eq!(spec.resolve(&serde_json::json!({"$ref": "#/components/schemas/A"})), &Value::Null);
        assert_eq!(spec.resolve(&serde_json::json!({"$ref": "#/nowhere"})), &Value::Null);
    }
}
