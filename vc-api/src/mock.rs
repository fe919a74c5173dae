//! Typed mocks for your tests (feature `mock`): one function per operation, generated from the
//! spec, returning a builder with a typed matcher per path and query parameter, a typed `body`
//! matcher and a typed answer. It yields a [`wiremock::Mock`], so `.expect(n)`, `.named(..)`
//! and `.mount(&server)` work as usual.
//!
//! ```toml
//! [dev-dependencies]
//! vc-api = { git = "<this repository>", features = ["mock"] }
//! wiremock = "0.6"
//! ```
//!
//! ```
//! use vc_api::{mock, types};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vc_api::Error> {
//! let server = wiremock::MockServer::start().await;
//! // Generated types are `#[non_exhaustive]`: `Default` plus field assignment, or a builder.
//! let mut room = types::Room::default();
//! room.room_id = Some("omm_1".into());
//! room.name = Some("Atlas".into());
//!
//! // One line per stub: the operation, typed matchers, a typed answer (a value or a builder).
//! mock::room_get().room_id("omm_1").user_id_type(types::UserIdType::OpenId)
//!     .respond(types::RoomGetData::builder().room(room.clone())).expect(1).mount(&server).await;
//! mock::meeting_end().meeting_id("6911188411932033028").fail(121005, "no permission").mount(&server).await;
//! mock::report_get_top_user().order_by(types::ReportTopUserOrderBy::from(1)).limit(10)
//!     .respond(types::ReportGetTopUserData::default()).mount(&server).await;
//!
//! let client = vc_api::Client::builder().base_url(server.uri()).access_token("t-test").build()?;
//! let data = client.room_get().room_id("omm_1").user_id_type(types::UserIdType::OpenId).data().await?;
//! assert_eq!(data.room, Some(room));
//!
//! let error = client.meeting_end().meeting_id("6911188411932033028").data().await.unwrap_err();
//! assert_eq!((error.code(), error.http_status()), (Some(121005), Some(403)));
//! # Ok(()) }
//! ```
//!
//! A request that no mock matches gets wiremock's 404, which the client reports as
//! [`Error::Http`](crate::Error::Http). Matching is by method and path; each typed setter adds
//! one condition (a path parameter, a query parameter, the whole JSON body); anything not set
//! matches any value. [`OperationMock`], reached with `into_inner()`, has the untyped
//! matchers and answers.

use std::fmt;

use serde_json::{Value, json};
use wiremock::{Match, Mock, MockBuilder, Request, ResponseTemplate};

pub use crate::generated::mocks::*;
use crate::operation::Operation;
use crate::response::LOG_ID_HEADER;

/// The HTTP status of an error code not in an operation's table.
pub const DEFAULT_ERROR_STATUS: u16 = 400;

/// The HTTP status that comes with Feishu code `code` on an operation whose error table
/// (`x-feishu-error-codes`: `(code, HTTP status)` pairs) is `table`: the listed status, else
/// [`DEFAULT_ERROR_STATUS`]. The one place this rule lives: [`OperationMock::fail`] and the
/// `vc-mock` server both answer errors with it.
pub fn error_status(table: &[(i64, u16)], code: i64) -> u16 {
    table.iter().find(|(listed, _)| *listed == code).map_or(DEFAULT_ERROR_STATUS, |(_, status)| *status)
}

/// A mock of one operation, untyped: what every generated mock builder holds.
#[derive(Clone)]
#[must_use = "a mock does nothing until it answers and is mounted on a server"]
pub struct OperationMock {
    operation: &'static Operation,
    error_statuses: &'static [(i64, u16)],
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    log_id: Option<String>,
}

impl fmt::Debug for OperationMock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationMock")
            .field("operation", &self.operation.id)
            .field("path_params", &self.path_params)
            .field("query", &self.query)
            .field("body", &self.body)
            .field("log_id", &self.log_id)
            .finish()
    }
}

impl OperationMock {
    /// A mock of `operation` that matches its method and path; `error_statuses` maps Feishu
    /// codes to the HTTP status [`fail`](Self::fail) answers with.
    pub fn new(operation: &'static Operation, error_statuses: &'static [(i64, u16)]) -> Self {
        OperationMock {
            operation,
            error_statuses,
            path_params: Vec::new(),
            query: Vec::new(),
            body: None,
            log_id: None,
        }
    }

    /// The operation mocked.
    pub fn operation(&self) -> &'static Operation {
        self.operation
    }

    /// Matches only requests whose path parameter `name` is `value` (compared decoded).
    pub fn path_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.path_params.retain(|(n, _)| n != name);
        self.path_params.push((name.to_owned(), value.into()));
        self
    }

    /// Matches only requests carrying query parameter `name` with `value` (other query
    /// parameters are allowed).
    pub fn query_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.retain(|(n, _)| n != name);
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Matches only requests whose body is JSON equal to `body`.
    pub fn body_json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends this log id in the `X-Tt-Logid` header of the answer.
    pub fn log_id(mut self, log_id: impl Into<String>) -> Self {
        self.log_id = Some(log_id.into());
        self
    }

    /// The wiremock builder with every matcher of this mock, to add more or answer freely.
    pub fn matchers(&self) -> MockBuilder {
        let mut builder = Mock::given(wiremock::matchers::method(self.operation.method))
            .and(PathMatcher::new(self.operation.path, &self.path_params));
        if !self.query.is_empty() {
            builder = builder.and(QueryMatcher(self.query.clone()));
        }
        if let Some(body) = &self.body {
            builder = builder.and(wiremock::matchers::body_json(body));
        }
        builder
    }

    /// Answers with any response (the log id header is added when set).
    pub fn respond_with(self, response: ResponseTemplate) -> Mock {
        let response = match &self.log_id {
            Some(log_id) => response.insert_header(LOG_ID_HEADER, log_id.as_str()),
            None => response,
        };
        self.matchers().respond_with(response).named(self.operation.id)
    }

    /// Answers `{"code": 0, "msg": "success", "data": data}` with HTTP 200.
    pub fn respond_data(self, data: Value) -> Mock {
        self.respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "success", "data": data})))
    }

    /// Answers with a file: these bytes as `application/octet-stream`, HTTP 200.
    pub fn respond_file(self, bytes: Vec<u8>) -> Mock {
        self.respond_with(ResponseTemplate::new(200).set_body_raw(bytes, "application/octet-stream"))
    }

    /// Answers `{"code": code, "msg": msg}` with the HTTP status the operation's error-code
    /// table gives for `code`, or 400 for a code it does not list.
    pub fn fail(self, code: i64, msg: impl Into<String>) -> Mock {
        let status = error_status(self.error_statuses, code);
        self.fail_with_status(status, code, msg)
    }

    /// Answers `{"code": code, "msg": msg}` with this HTTP status.
    pub fn fail_with_status(self, status: u16, code: i64, msg: impl Into<String>) -> Mock {
        let mut body = json!({"code": code, "msg": msg.into()});
        if let Some(log_id) = &self.log_id {
            body["error"] = json!({"log_id": log_id});
        }
        self.respond_with(ResponseTemplate::new(status).set_body_json(body))
    }
}

/// Turns a typed value (or a builder of one) into JSON for a mock; a builder that cannot
/// produce the value is a mistake in the test, reported by a panic naming `what`.
pub(crate) fn typed_json<T, V>(what: &str, value: V) -> Value
where
    T: serde::Serialize,
    V: TryInto<T>,
    V::Error: fmt::Display,
{
    let typed: T = match value.try_into() {
        Ok(typed) => typed,
        Err(e) => panic!("vc_api::mock: {what} is invalid: {e}"),
    };
    match serde_json::to_value(&typed) {
        Ok(json) => json,
        Err(e) => panic!("vc_api::mock: {what} does not serialize: {e}"),
    }
}

/// Matches the request path against the operation's template: literal segments exactly,
/// `{name}` segments any non-empty value unless one was given (compared percent-decoded).
struct PathMatcher {
    segments: Vec<Segment>,
}

enum Segment {
    Literal(String),
    Param(Option<String>),
}

impl PathMatcher {
    fn new(template: &str, given: &[(String, String)]) -> Self {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(given.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())),
                None => Segment::Literal(segment.to_owned()),
            })
            .collect();
        PathMatcher { segments }
    }
}

impl Match for PathMatcher {
    fn matches(&self, request: &Request) -> bool {
        let Some(actual) = request.url.path_segments() else { return false };
        let actual: Vec<_> = actual.collect();
        actual.len() == self.segments.len()
            && self.segments.iter().zip(actual).all(|(expected, actual)| {
                let decoded = percent_decode(actual);
                match expected {
                    Segment::Literal(literal) => *literal == decoded,
                    Segment::Param(None) => !decoded.is_empty(),
                    Segment::Param(Some(value)) => *value == decoded,
                }
            })
    }
}

/// Matches when every expected pair is among the request's query parameters.
struct QueryMatcher(Vec<(String, String)>);

impl Match for QueryMatcher {
    fn matches(&self, request: &Request) -> bool {
        let actual: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        self.0.iter().all(|pair| actual.contains(pair))
    }
}

/// Decodes `%XX` escapes (the `percent-encoding` crate): malformed escapes stay as they are,
/// invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
