//! Test support: a wiremock server that expects exactly the request the spec's examples
//! describe for one operation and answers with the spec's response example.
//!
//! Every test builds its call with the typed client from the same examples, so a test passes
//! only when the typed request serializes to what the spec documents and the spec's response
//! example decodes into typed data without losing a field.
//!
//! **Contract mode.** When [`CONTRACT_BASE_URL_VAR`] (`VC_CONTRACT_BASE_URL`) is set, the
//! operation tests run against that server instead: [`MockApi::client`] points there and
//! [`MockApi::expect`] mounts nothing. `cargo xtask contract` sets it to a Prism mock started from
//! `spec/openapi.yaml`, which rejects any request the spec does not allow and answers with the
//! 200 response example, so the same tests check the client against the spec as another tool
//! reads it.

use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub mod counting_alloc;
pub mod loopback;
pub mod redis_server;

/// The token every test client sends.
pub const TEST_TOKEN: &str = "t-test-token";

/// The environment variable that switches the operation tests to contract mode: the base URL
/// of a server that implements the spec (a Prism mock).
pub const CONTRACT_BASE_URL_VAR: &str = "VC_CONTRACT_BASE_URL";

/// The contract server's base URL, when the tests run in contract mode.
pub fn contract_base_url() -> Option<String> {
    std::env::var(CONTRACT_BASE_URL_VAR).ok().filter(|url| !url.is_empty())
}

/// The bundled spec as JSON (read by the workspace's one spec reader, [`vc_spec::Spec`]).
pub fn spec() -> &'static Value {
    vc_spec::Spec::embedded().document()
}

/// One operation of the spec, with its examples.
#[derive(Debug, Clone)]
pub struct SpecOperation {
    /// `operationId`.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// The operation object.
    pub op: Value,
}

/// Every operation of the spec.
pub fn operations() -> Vec<SpecOperation> {
    vc_spec::Spec::embedded()
        .operations()
        .iter()
        .map(|op| SpecOperation {
            id: op.id.clone(),
            method: op.method.clone(),
            path: op.path.clone(),
            op: op.raw.clone(),
        })
        .collect()
}

/// The operation with this id; panics (failing the test) if the spec has none.
pub fn operation(id: &str) -> SpecOperation {
    operations().into_iter().find(|op| op.id == id).unwrap_or_else(|| panic!("no operation {id} in the spec"))
}

fn resolve(value: &Value) -> &Value {
    match vc_spec::Spec::embedded().resolve(value) {
        Value::Null => panic!("unresolved {value}"),
        found => found,
    }
}

impl SpecOperation {
    /// The parameters (path and query), `$ref`s resolved.
    pub fn parameters(&self) -> Vec<Value> {
        self.op
            .get("parameters")
            .and_then(Value::as_array)
            .map(|params| params.iter().map(|p| resolve(p).clone()).collect())
            .unwrap_or_default()
    }

    /// The example of parameter `name`.
    pub fn param(&self, name: &str) -> Value {
        self.parameters()
            .into_iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p.get("example").cloned())
            .unwrap_or_else(|| panic!("{}: parameter {name} has no example", self.id))
    }

    /// The example of parameter `name` as a string.
    pub fn param_str(&self, name: &str) -> String {
        match self.param(name) {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// The example of list parameter `name`, one string per element (a query list is sent as
    /// the parameter repeated once per element).
    pub fn param_strs(&self, name: &str) -> Vec<String> {
        match self.param(name) {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            _ => vec![self.param_str(name)],
        }
    }

    /// The example of integer parameter `name`.
    pub fn param_int(&self, name: &str) -> i64 {
        let value = self.param(name);
        value.as_i64().or_else(|| value.as_str()?.parse().ok()).unwrap_or_else(|| panic!("{name} is not an integer"))
    }

    /// The example of boolean parameter `name`.
    pub fn param_bool(&self, name: &str) -> bool {
        self.param(name).as_bool().unwrap_or_else(|| panic!("{name} is not a boolean"))
    }

    /// The request body example.
    pub fn body_example(&self) -> Value {
        self.op
            .pointer("/requestBody/content/application~1json/example")
            .cloned()
            .unwrap_or_else(|| panic!("{}: no request body example", self.id))
    }

    /// The request body example decoded into the typed body.
    pub fn body<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body_example())
            .unwrap_or_else(|e| panic!("{}: request example does not decode into the typed body: {e}", self.id))
    }

    /// The 200 response example (the whole envelope).
    pub fn response_example(&self) -> Value {
        self.op
            .pointer("/responses/200/content/application~1json/example")
            .cloned()
            .unwrap_or_else(|| panic!("{}: no response example", self.id))
    }

    /// The path with every path parameter replaced by its example.
    pub fn example_path(&self) -> String {
        let mut path = self.path.clone();
        for p in self.parameters().iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().expect("parameter name");
            path = path.replace(&format!("{{{name}}}"), &self.param_str(name));
        }
        path
    }
}

/// A query string matcher that requires exactly these parameters, no more, no fewer (a
/// repeated parameter counts once per occurrence; order does not matter).
struct ExactQuery(Vec<(String, String)>);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        let mut actual: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        actual.sort();
        actual == self.0
    }
}

/// The path of `export_get` for task `T1`, the call the error and runtime tests use.
pub const EXPORT_GET_PATH: &str = "/open-apis/vc/v1/exports/T1";

/// A mock of `GET` [`EXPORT_GET_PATH`]; add matchers and a response, then mount it.
pub fn export_get_mock() -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(EXPORT_GET_PATH))
}

/// A mock VC API for one test.
pub struct MockApi {
    /// The wiremock server; extra mocks may be mounted on it.
    pub server: MockServer,
}

impl MockApi {
    /// Starts a server that answers every unexpected request with HTTP 418 and a body naming
    /// it, so a wrong request fails loudly.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(|req: &Request| {
                ResponseTemplate::new(418).set_body_string(format!(
                    "unexpected request: {} {} body={}",
                    req.method,
                    req.url,
                    String::from_utf8_lossy(&req.body)
                ))
            })
            .with_priority(u8::MAX)
            .named("catch-all: unexpected request")
            .mount(&server)
            .await;
        Self { server }
    }

    /// A client pointed at this server (in contract mode: at the contract server) with the test
    /// token.
    pub fn client(&self) -> vc_api::Client {
        let base_url = contract_base_url().unwrap_or_else(|| self.server.uri());
        vc_api::Client::builder().base_url(base_url).access_token(TEST_TOKEN).build().expect("client builds")
    }

    /// Expects exactly one request of `op` as its examples describe it: method, path with
    /// example path parameters, exactly the given query parameters (a list example once per
    /// element), the body example (if the operation has a body) and the bearer token. Answers
    /// with the response example.
    ///
    /// In contract mode it does nothing: the contract server validates the request against the
    /// spec and answers with the same example.
    pub async fn expect(&self, op: &SpecOperation, query: &[&str]) {
        if contract_base_url().is_some() {
            return;
        }
        let mut expected_query = query
            .iter()
            .flat_map(|name| op.param_strs(name).into_iter().map(move |value| ((*name).to_owned(), value)))
            .collect::<Vec<_>>();
        expected_query.sort();
        let mut mock = Mock::given(method(op.method.as_str()))
            .and(path(op.example_path()))
            .and(ExactQuery(expected_query))
            .and(header("authorization", format!("Bearer {TEST_TOKEN}").as_str()));
        if op.op.get("requestBody").is_some() {
            mock = mock.and(wiremock::matchers::body_json(op.body_example()));
        }
        mock.respond_with(ResponseTemplate::new(200).set_body_json(op.response_example()))
            .expect(1)
            .named(op.id.clone())
            .mount(&self.server)
            .await;
    }
}

/// Asserts that typed `data` re-serializes to the `data` of the operation's response example,
/// so no field of the example was dropped or mistyped (nulls and empty lists ignored).
///
/// In contract mode numbers are compared as floats: the contract server (Prism) is JavaScript,
/// so an integer above 2^53 in an example reaches the client rounded.
pub fn assert_matches_example<T: serde::Serialize>(op: &SpecOperation, data: &T) {
    let mut expected = normalize(op.response_example()["data"].clone());
    let mut actual = normalize(serde_json::to_value(data).expect("typed data serializes"));
    if contract_base_url().is_some() {
        (expected, actual) = (numbers_as_floats(expected), numbers_as_floats(actual));
    }
    assert_eq!(actual, expected, "{}: typed data differs from the spec's response example", op.id);
}

/// Every number as a float (`1` and `1.0` compare equal; big integers compare as JavaScript sees them).
pub fn numbers_as_floats(value: Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers_as_floats(v))).collect()),
        other => other,
    }
}

/// Drops nulls and empty arrays, which typed data does not reproduce.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, v)| (k, normalize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// The `room_list` response envelope of one page: `count` copies of the spec example's room,
/// numbered from `first` (distinct `room_id`, `name` and `display_id`), with `has_more` and
/// `page_token` set from `next_page_token`. Built with serde_json, as a server would.
pub fn room_list_page(first: usize, count: usize, next_page_token: Option<&str>) -> Vec<u8> {
    static ROOM: OnceLock<Value> = OnceLock::new();
    let room = ROOM.get_or_init(|| operation("room_list").response_example()["data"]["rooms"][0].clone());
    let rooms: Vec<Value> = (first..first + count)
        .map(|n| {
            let mut room = room.clone();
            room["room_id"] = Value::String(format!("omm_{n:032x}"));
            room["name"] = Value::String(format!("Room {n}"));
            room["display_id"] = Value::String(format!("LM{n:09}"));
            room
        })
        .collect();
    let envelope = serde_json::json!({
        "code": 0,
        "msg": "success",
        "data": {
            "rooms": rooms,
            "page_token": next_page_token.unwrap_or(""),
            "has_more": next_page_token.is_some(),
        }
    });
    serde_json::to_vec(&envelope).expect("a page serializes")
}

/// The body of the self-built app's tenant token endpoint's answer.
fn tenant_token_body(token: &str, expire_secs: u64) -> Value {
    serde_json::json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire_secs})
}

/// The answer of the self-built app's tenant token endpoint.
pub fn tenant_token_answer(token: &str, expire_secs: u64) -> Vec<u8> {
    serde_json::to_vec(&tenant_token_body(token, expire_secs)).expect("token answer serializes")
}

/// The same answer as a wiremock response (HTTP 200, JSON).
pub fn tenant_token_template(token: &str, expire_secs: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(tenant_token_body(token, expire_secs))
}

/// `export_get`'s answer from the spec's response example: an export task that is done.
pub fn export_done() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(operation("export_get").response_example())
}

/// A retry policy with `max_attempts` and backoffs of a few milliseconds, so that retry tests
/// run quickly.
pub fn fast_retries(max_attempts: u32) -> vc_api::RetryPolicy {
    vc_api::RetryPolicy {
        max_attempts,
        initial_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_millis(20),
        ..vc_api::RetryPolicy::default()
    }
}

/// A `tracing_subscriber` writer that keeps everything written to it, for tests that read the
/// logs back (`.with_writer(move || logs.clone())`). Clones share the same buffer.
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
