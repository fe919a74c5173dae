//! Compares a parsed [`DocPage`] with the bundled spec and lists every difference.
//!
//! Operation pages are matched to their operation by HTTP method and path (falling back to the
//! page address, `externalDocs.url`, then the path alone, which reports the method or path that
//! changed). The overview page is checked against every operation, `x-feishu-overview`
//! acknowledgements and the top-level `x-feishu-events` list.

use serde_yaml::Value;

use super::page::{DocField, DocPage, OperationPage, OverviewPage, PageBody, RateLimit, Window};
use super::report::{Drift, Finding, Location, PageReport, Subject};
use crate::error::Result;
use crate::model::{self, OperationModel};

/// The bundled spec, indexed for comparison with doc pages.
pub struct SpecIndex<'a> {
    doc: &'a Value,
    operations: Vec<SpecOperation<'a>>,
}

struct SpecOperation<'a> {
    model: OperationModel,
    /// The operation object in the document.
    raw: &'a Value,
    /// The path item holding it (for path-level parameters).
    item: &'a Value,
    /// Name of the 200 envelope schema.
    envelope: Option<String>,
}

/// A parameter of a spec operation, `$ref` resolved.
struct SpecParam<'a> {
    name: &'a str,
    location: &'a str,
    required: bool,
    schema: &'a Value,
}

/// The type of a field, as far as page and spec can both say it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    String,
    Int,
    Int64,
    Float,
    Boolean,
    Object,
    Array(Box<Kind>),
    Other(String),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::String => f.write_str("string"),
            Kind::Int => f.write_str("int"),
            Kind::Int64 => f.write_str("int64"),
            Kind::Float => f.write_str("float"),
            Kind::Boolean => f.write_str("boolean"),
            Kind::Object => f.write_str("object"),
            Kind::Array(item) => write!(f, "{item}[]"),
            Kind::Other(name) => f.write_str(name),
        }
    }
}

impl Kind {
    /// The kind of a page type (`string`, `int`, `int64`, `float`, `boolean`, `xxx[]`, `-` or an
    /// object type's name).
    fn from_page(type_name: &str) -> Kind {
        let t = type_name.trim();
        if let Some(item) = t.strip_suffix("[]") {
            return Kind::Array(Box::new(Kind::from_page(item)));
        }
        match t.to_ascii_lowercase().as_str() {
            "string" => Kind::String,
            "int" | "int32" | "integer" => Kind::Int,
            "int64" | "long" => Kind::Int64,
            "float" | "number" | "double" | "float64" => Kind::Float,
            "boolean" | "bool" => Kind::Boolean,
            "-" | "" | "object" => Kind::Object,
            other if other.starts_with("map<") => Kind::Object,
            other if other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => Kind::Object,
            _ => Kind::Other(t.to_owned()),
        }
    }
}

fn str_of<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `<resource>/<action>` tail of a doc address (`.../vc-v1/export/get` -> `export/get`),
/// shared by the old `reference/vc-v1/...` and the new `server-docs/vc-v1/...` addresses.
fn doc_key(url: &str) -> Option<&str> {
    let start = url.find("/vc-v1/")? + "/vc-v1/".len();
    Some(url[start..].trim_end_matches('/'))
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn finding(line: Option<usize>, drift: Drift) -> Finding {
    Finding { line, drift }
}

impl<'a> SpecIndex<'a> {
    /// Indexes the bundled document `doc`.
    pub fn new(doc: &'a Value) -> Result<SpecIndex<'a>> {
        let api = model::parse(doc)?;
        let mut operations = Vec::new();
        for op in model::operations(&api)? {
            let method = op.method.to_ascii_lowercase();
            let envelope = api
                .paths
                .paths
                .get(&op.path)
                .and_then(|item| item.as_item())
                .and_then(|item| item.iter().find(|(m, _)| *m == method))
                .and_then(|(_, operation)| model::envelope_schema(operation));
            let item = doc.get("paths").and_then(|p| p.get(op.path.as_str()));
            let raw = item.and_then(|i| i.get(method.as_str()));
            if let (Some(item), Some(raw)) = (item, raw) {
                operations.push(SpecOperation { model: op, raw, item, envelope });
            }
        }
        Ok(SpecIndex { doc, operations })
    }

    /// Compares one page with the spec.
    pub fn compare(&self, page: &DocPage) -> PageReport {
        let (subject, mut findings) = match &page.body {
            PageBody::Operation(op) => self.compare_operation(page, op),
            PageBody::Overview(overview) => self.compare_overview(page, overview),
        };
        findings.sort_by_key(|f| f.line.unwrap_or(usize::MAX));
        PageReport { file: page.file.clone(), subject, findings }
    }

    /// Follows `$ref`s (local ones) to the schema or parameter they name.
    fn resolve(&self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = str_of(value, "$ref") else { return value };
            let target = reference
                .strip_prefix("#/")
                .and_then(|pointer| pointer.split('/').try_fold(self.doc, |v, part| v.get(part)));
            match target {
                Some(target) => value = target,
                None => return value,
            }
        }
        value
    }

    fn kind(&self, schema: &'a Value) -> Kind {
        let schema = self.resolve(schema);
        match str_of(schema, "type") {
            Some("string") => Kind::String,
            Some("integer") if str_of(schema, "format") == Some("int64") => Kind::Int64,
            Some("integer") => Kind::Int,
            Some("number") => Kind::Float,
            Some("boolean") => Kind::Boolean,
            Some("object") => Kind::Object,
            Some("array") => {
                Kind::Array(Box::new(schema.get("items").map_or(Kind::Other("untyped".into()), |i| self.kind(i))))
            }
            Some(other) => Kind::Other(other.to_owned()),
            None if schema.get("properties").is_some() => Kind::Object,
            None => Kind::Other("untyped".into()),
        }
    }

    /// The enum values of a schema (or of its array items), as text.
    fn enum_values(&self, schema: &'a Value) -> Vec<String> {
        let schema = self.resolve(schema);
        let schema = match str_of(schema, "type") {
            Some("array") => schema.get("items").map_or(schema, |i| self.resolve(i)),
            _ => schema,
        };
        schema.get("enum").and_then(Value::as_sequence).into_iter().flatten().filter_map(scalar_text).collect()
    }

    /// The object schema whose properties are a field's children (the field's own, or its items').
    fn object_schema(&self, schema: &'a Value) -> Option<&'a Value> {
        let schema = self.resolve(schema);
        let schema = match str_of(schema, "type") {
            Some("array") => self.resolve(schema.get("items")?),
            _ => schema,
        };
        (str_of(schema, "type") == Some("object") || schema.get("properties").is_some()).then_some(schema)
    }

    /// Whether a schema (or what it references) comes from a source other than the doc page.
    fn sourced(&self, schema: &'a Value) -> bool {
        schema.get("x-feishu-source").is_some() || self.resolve(schema).get("x-feishu-source").is_some()
    }

    fn compare_operation(&self, page: &DocPage, op_page: &OperationPage) -> (Subject, Vec<Finding>) {
        let mut out = Vec::new();
        let (method, path) = (&op_page.method.value, &op_page.path.value);
        let exact = self.operations.iter().find(|o| &o.model.method == method && &o.model.path == path);
        let fallback = || {
            self.operations
                .iter()
                .find(|o| {
                    o.raw
                        .get("externalDocs")
                        .and_then(|d| str_of(d, "url"))
                        .is_some_and(|url| same_url(url, &page.source_url.value))
                })
                .or_else(|| self.operations.iter().find(|o| &o.model.path == path))
        };
        let Some(op) = exact.or_else(fallback) else {
            let drift = Drift::OperationNotInSpec { method: method.clone(), path: path.clone() };
            return (
                Subject::UnknownOperation { method: method.clone(), path: path.clone() },
                vec![finding(Some(op_page.path.line), drift)],
            );
        };
        let id = &op.model.id;
        if &op.model.method != method {
            let drift = Drift::Method { id: id.clone(), page: method.clone(), spec: op.model.method.clone() };
            out.push(finding(Some(op_page.method.line), drift));
        }
        if &op.model.path != path {
            let drift = Drift::Path { id: id.clone(), page: path.clone(), spec: op.model.path.clone() };
            out.push(finding(Some(op_page.path.line), drift));
        }
        self.compare_page_head(page, op.raw, &mut out);
        if let Some(tokens) = &op_page.token_types {
            let mut spec = op.model.token_types.clone();
            spec.sort();
            spec.dedup();
            if tokens.value != spec {
                out.push(finding(Some(tokens.line), Drift::TokenTypes { page: tokens.value.clone(), spec }));
            }
        }
        let spec_limit = spec_rate_limit(op.raw);
        let page_limit = op_page.rate_limit.as_ref().map(|l| &l.value);
        if page_limit != spec_limit.as_ref() {
            let drift =
                Drift::RateLimit { page: page_limit.map(ToString::to_string), spec: spec_limit.map(|l| l.to_string()) };
            out.push(finding(op_page.rate_limit.as_ref().map(|l| l.line), drift));
        }
        let params = self.parameters(op);
        for (location, place, fields) in [
            (Location::Header, "header", &op_page.headers),
            (Location::PathParameter, "path", &op_page.path_params),
            (Location::QueryParameter, "query", &op_page.query_params),
        ] {
            let spec: Vec<&SpecParam<'_>> = params.iter().filter(|p| p.location == place).collect();
            self.compare_params(location, fields, &spec, &mut out);
        }
        let body_schema = op
            .raw
            .get("requestBody")
            .map(|b| self.resolve(b))
            .and_then(|b| b.get("content"))
            .and_then(|c| c.get("application/json"))
            .and_then(|m| m.get("schema"));
        match body_schema.and_then(|s| self.object_schema(s)) {
            Some(object) => {
                self.compare_fields(Location::RequestBody, "", None, &op_page.request_body, object, &mut out)
            }
            None => self.all_missing(Location::RequestBody, "", &op_page.request_body, &mut out),
        }
        let envelope = op
            .envelope
            .as_deref()
            .and_then(|name| self.doc.get("components").and_then(|c| c.get("schemas")).and_then(|s| s.get(name)));
        match envelope.and_then(|e| self.object_schema(e)) {
            Some(object) => {
                self.compare_fields(Location::ResponseBody, "", None, &op_page.response_body, object, &mut out)
            }
            None => self.all_missing(Location::ResponseBody, "", &op_page.response_body, &mut out),
        }
        self.compare_error_codes(op_page, op.raw, &mut out);
        let subject =
            Subject::Operation { id: id.clone(), method: op.model.method.clone(), path: op.model.path.clone() };
        (subject, out)
    }

    /// Page version and address against `x-feishu-doc` and `externalDocs` of `holder` (an
    /// operation, or the document itself for the overview).
    fn compare_page_head(&self, page: &DocPage, holder: &Value, out: &mut Vec<Finding>) {
        let spec_version = holder.get("x-feishu-doc").and_then(|d| str_of(d, "last_remote_update"));
        if let Some(version) = &page.last_remote_update
            && spec_version != Some(version.value.as_str())
        {
            let drift = Drift::PageVersion { page: version.value.clone(), spec: spec_version.map(str::to_owned) };
            out.push(finding(Some(version.line), drift));
        }
        let spec_url = holder.get("externalDocs").and_then(|d| str_of(d, "url"));
        if !spec_url.is_some_and(|url| same_url(url, &page.source_url.value)) {
            let drift = Drift::DocUrl { page: page.source_url.value.clone(), spec: spec_url.map(str::to_owned) };
            out.push(finding(Some(page.source_url.line), drift));
        }
    }

    /// Path-level and operation-level parameters, `$ref`s resolved.
    fn parameters(&self, op: &SpecOperation<'a>) -> Vec<SpecParam<'a>> {
        let lists = [op.item.get("parameters"), op.raw.get("parameters")];
        lists
            .into_iter()
            .flatten()
            .filter_map(Value::as_sequence)
            .flatten()
            .map(|p| self.resolve(p))
            .filter_map(|p| {
                Some(SpecParam {
                    name: str_of(p, "name")?,
                    location: str_of(p, "in")?,
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema: p.get("schema")?,
                })
            })
            .collect()
    }

    fn compare_params(&self, location: Location, fields: &[DocField], spec: &[&SpecParam<'a>], out: &mut Vec<Finding>) {
        for field in fields {
            match spec.iter().find(|p| p.name == field.name) {
                Some(param) => {
                    self.compare_field(location, &field.name, field, param.schema, Some(param.required), out)
                }
                None => out.push(finding(
                    Some(field.line),
                    Drift::MissingFromSpec { location, field: field.name.clone(), page_type: field.type_name.clone() },
                )),
            }
        }
        for param in spec {
            if !fields.iter().any(|f| f.name == param.name) {
                let drift = Drift::ExtraInSpec {
                    location,
                    field: param.name.to_owned(),
                    spec_type: self.kind(param.schema).to_string(),
                };
                out.push(finding(None, drift));
            }
        }
    }

    /// Compares a page field with its spec schema: type, required flag (`spec_required` is
    /// `None` where the spec has none, as in responses), enum values and nested fields.
    fn compare_field(
        &self,
        location: Location,
        path: &str,
        field: &DocField,
        schema: &'a Value,
        spec_required: Option<bool>,
        out: &mut Vec<Finding>,
    ) {
        let line = Some(field.line);
        let page_kind = Kind::from_page(&field.type_name);
        let spec_kind = self.kind(schema);
        if page_kind != spec_kind {
            let drift = Drift::Type {
                location,
                field: path.to_owned(),
                page: field.type_name.clone(),
                spec: spec_kind.to_string(),
            };
            out.push(finding(line, drift));
        }
        if let (Some(page), Some(spec)) = (field.required, spec_required)
            && page != spec
        {
            out.push(finding(line, Drift::Required { location, field: path.to_owned(), page, spec }));
        }
        if page_kind != Kind::Boolean {
            let spec_values = self.enum_values(schema);
            let page_only: Vec<String> =
                field.enum_values.iter().filter(|v| !spec_values.contains(v)).cloned().collect();
            let spec_only: Vec<String> =
                spec_values.iter().filter(|v| !field.enum_values.contains(v)).cloned().collect();
            if !page_only.is_empty() || !spec_only.is_empty() {
                let drift = Drift::EnumValues { location, field: path.to_owned(), page_only, spec_only };
                out.push(finding(line, drift));
            }
        }
        match self.object_schema(schema) {
            Some(object) => self.compare_fields(location, path, line, &field.children, object, out),
            None => self.all_missing(location, path, &field.children, out),
        }
    }

    /// Compares the page's fields of one object with the properties of `object`.
    fn compare_fields(
        &self,
        location: Location,
        prefix: &str,
        parent_line: Option<usize>,
        fields: &[DocField],
        object: &'a Value,
        out: &mut Vec<Finding>,
    ) {
        let properties = object.get("properties").and_then(Value::as_mapping);
        let required = crate::model::required_fields(object);
        let compare_required = location != Location::ResponseBody;
        let join = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
        for field in fields {
            let path = join(&field.name);
            match properties.and_then(|p| p.get(field.name.as_str())) {
                Some(schema) => {
                    let spec_required = compare_required.then(|| required.contains(&field.name.as_str()));
                    self.compare_field(location, &path, field, schema, spec_required, out);
                }
                None => out.push(finding(
                    Some(field.line),
                    Drift::MissingFromSpec { location, field: path, page_type: field.type_name.clone() },
                )),
            }
        }
        if object.get("x-feishu-source").is_some() {
            return; // the field list comes from an SDK, not from the page
        }
        for (name, schema) in properties.into_iter().flatten() {
            let Some(name) = name.as_str() else { continue };
            if fields.iter().any(|f| f.name == name) || self.sourced(schema) {
                continue;
            }
            // Operations that return nothing list no `data` children, or no `data` row at all.
            let empty_data = location == Location::ResponseBody
                && prefix.is_empty()
                && name == "data"
                && self
                    .object_schema(schema)
                    .is_some_and(|o| o.get("properties").and_then(Value::as_mapping).is_none_or(|p| p.is_empty()));
            if empty_data {
                continue;
            }
            let drift = Drift::ExtraInSpec { location, field: join(name), spec_type: self.kind(schema).to_string() };
            out.push(finding(parent_line, drift));
        }
    }

    /// Page fields (and their children) where the spec has no object to compare with.
    fn all_missing(&self, location: Location, prefix: &str, fields: &[DocField], out: &mut Vec<Finding>) {
        for field in fields {
            let field_path = if prefix.is_empty() { field.name.clone() } else { format!("{prefix}.{}", field.name) };
            out.push(finding(
                Some(field.line),
                Drift::MissingFromSpec { location, field: field_path, page_type: field.type_name.clone() },
            ));
        }
    }

    fn compare_error_codes(&self, op_page: &OperationPage, raw: &Value, out: &mut Vec<Finding>) {
        let spec: Vec<(u16, i64, String)> = raw
            .get("x-feishu-error-codes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let status = u16::try_from(e.get("http_status")?.as_u64()?).ok()?;
                let code = e.get("code")?.as_i64()?;
                Some((status, code, str_of(e, "msg").unwrap_or_default().to_owned()))
            })
            .collect();
        for page in &op_page.error_codes {
            match spec.iter().find(|(status, code, _)| *status == page.http_status && *code == page.code) {
                None => out.push(finding(
                    Some(page.line),
                    Drift::ErrorCodeNotInSpec { http_status: page.http_status, code: page.code, msg: page.msg.clone() },
                )),
                Some((_, _, msg)) if msg.trim() != page.msg.trim() => out.push(finding(
                    Some(page.line),
                    Drift::ErrorMessage {
                        http_status: page.http_status,
                        code: page.code,
                        page: page.msg.clone(),
                        spec: msg.clone(),
                    },
                )),
                Some(_) => {}
            }
        }
        for (http_status, code, msg) in &spec {
            if !op_page.error_codes.iter().any(|p| p.http_status == *http_status && p.code == *code) {
                let drift = Drift::ErrorCodeNotOnPage { http_status: *http_status, code: *code, msg: msg.clone() };
                out.push(finding(None, drift));
            }
        }
    }

    fn compare_overview(&self, page: &DocPage, overview: &OverviewPage) -> (Subject, Vec<Finding>) {
        let mut out = Vec::new();
        self.compare_page_head(page, self.doc, &mut out);
        let mut listed = vec![false; self.operations.len()];
        for entry in &overview.operations {
            let line = Some(entry.line);
            let by_doc = entry.doc_url.as_deref().and_then(doc_key).and_then(|key| {
                self.operations.iter().position(|o| {
                    o.raw.get("externalDocs").and_then(|d| str_of(d, "url")).and_then(doc_key) == Some(key)
                })
            });
            let found = by_doc
                .or_else(|| {
                    self.operations.iter().position(|o| o.model.method == entry.method && o.model.path == entry.path)
                })
                .or_else(|| self.operations.iter().position(|o| o.model.path == entry.path));
            let Some(index) = found else {
                let drift = Drift::OperationNotInSpec { method: entry.method.clone(), path: entry.path.clone() };
                out.push(finding(line, drift));
                continue;
            };
            listed[index] = true;
            let op = &self.operations[index];
            let acknowledged = op.raw.get("x-feishu-overview");
            if acknowledged.and_then(|a| a.get("listed")).and_then(Value::as_bool) == Some(false) {
                let drift = Drift::StaleAcknowledgement {
                    id: op.model.id.clone(),
                    key: "listed".to_owned(),
                    acknowledged: "false".to_owned(),
                };
                out.push(finding(line, drift));
            }
            for (key, page_value, spec_value) in
                [("method", &entry.method, &op.model.method), ("path", &entry.path, &op.model.path)]
            {
                let id = op.model.id.clone();
                match acknowledged.and_then(|a| str_of(a, key)) {
                    Some(ack) if ack == page_value.as_str() => {}
                    Some(ack) if page_value == spec_value => out.push(finding(
                        line,
                        Drift::StaleAcknowledgement { id, key: key.to_owned(), acknowledged: ack.to_owned() },
                    )),
                    expected => {
                        let expected = expected.unwrap_or(spec_value.as_str());
                        if page_value != expected {
                            let (page, spec) = (page_value.clone(), expected.to_owned());
                            let drift = if key == "method" {
                                Drift::Method { id, page, spec }
                            } else {
                                Drift::Path { id, page, spec }
                            };
                            out.push(finding(line, drift));
                        }
                    }
                }
            }
        }
        for (op, listed) in self.operations.iter().zip(&listed) {
            let acknowledged_absent =
                op.raw.get("x-feishu-overview").and_then(|a| a.get("listed")).and_then(Value::as_bool) == Some(false);
            if !listed && !acknowledged_absent {
                let drift = Drift::OperationNotOnOverview {
                    id: op.model.id.clone(),
                    method: op.model.method.clone(),
                    path: op.model.path.clone(),
                };
                out.push(finding(None, drift));
            }
        }
        let spec_events: Vec<(&str, Option<&str>, Option<bool>)> = self
            .doc
            .get("x-feishu-events")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((str_of(e, "event_type")?, str_of(e, "doc_url"), e.get("overview").and_then(Value::as_bool)))
            })
            .collect();
        for event in &overview.events {
            let line = Some(event.line);
            match spec_events.iter().find(|(t, _, _)| *t == event.event_type) {
                None => out.push(finding(line, Drift::EventNotInSpec { event_type: event.event_type.clone() })),
                Some((event_type, _, Some(false))) => out.push(finding(
                    line,
                    Drift::StaleAcknowledgement {
                        id: (*event_type).to_owned(),
                        key: "listed".to_owned(),
                        acknowledged: "false".to_owned(),
                    },
                )),
                Some((_, spec_url, _)) => {
                    if let Some(page_url) = &event.doc_url
                        && !spec_url.is_some_and(|u| same_url(u, page_url))
                    {
                        let drift = Drift::EventDocUrl {
                            event_type: event.event_type.clone(),
                            page: page_url.clone(),
                            spec: spec_url.map(str::to_owned),
                        };
                        out.push(finding(line, drift));
                    }
                }
            }
        }
        for (event_type, _, on_overview) in &spec_events {
            if *on_overview != Some(false) && !overview.events.iter().any(|e| e.event_type == *event_type) {
                out.push(finding(None, Drift::EventNotOnOverview { event_type: (*event_type).to_owned() }));
            }
        }
        let subject = Subject::Overview { operations: overview.operations.len(), events: overview.events.len() };
        (subject, out)
    }
}

/// `x-feishu-rate-limit` of an operation: `{requests, window, additional}` or `{tier: special}`.
fn spec_rate_limit(raw: &Value) -> Option<RateLimit> {
    let limit = raw.get("x-feishu-rate-limit")?;
    if str_of(limit, "tier") == Some("special") {
        return Some(RateLimit::Special);
    }
    let one = |v: &Value| Some((v.get("requests")?.as_u64()?, Window::from_spec(str_of(v, "window")?)?));
    let mut limits = vec![one(limit)?];
    for extra in limit.get("additional").and_then(Value::as_sequence).into_iter().flatten() {
        limits.push(one(extra)?);
    }
    limits.sort();
    Some(RateLimit::Limits(limits))
}
