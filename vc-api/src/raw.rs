//! Untyped calls: any operation of the [operation table](crate::operations), with its path and
//! query parameters as strings and its body as JSON, through the same runtime as the typed
//! builders (access token and its cache, retries, rate limit, envelope and error mapping).
//!
//! This is what a tool that knows operations only by name (the `vc` command line) uses; code
//! that knows the operation at compile time is better served by the typed builders.
//!
//! ```no_run
//! # async fn run(client: vc_api::Client) -> Result<(), vc_api::Error> {
//! use vc_api::{Operation, RawRequest};
//!
//! let operation = Operation::find("reserve_get").expect("an operation of the spec");
//! let request = RawRequest::new().path_param("reserve_id", "6911188411934973028").query("user_id_type", "open_id");
//! let data: serde_json::Value = client.call_json(operation, request).await?;
//! println!("{}", data["reserve"]["meeting_no"]);
//! # Ok(()) }
//! ```

use reqwest::header::{ACCEPT, HeaderValue};

use crate::call::{self, CallOptions};
use crate::download::Download;
use crate::error::Error;
use crate::generated::client::Client;
use crate::operation::Operation;
use crate::response::{File, Json};

/// The parameters and body of one untyped call. Values are sent as given: checking them
/// against the spec is the server's job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawRequest {
    path_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
}

impl RawRequest {
    /// No parameters, no body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets path parameter `name` (the `{name}` of the operation's path), replacing an earlier value.
    pub fn path_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.path_params.retain(|(n, _)| *n != name);
        self.path_params.push((name, value.into()));
        self
    }

    /// Adds query parameter `name`. Adding the same name twice sends it twice.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets query parameter `name`, replacing every earlier value of it.
    pub fn set_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.query.retain(|(n, _)| *n != name);
        self.query.push((name, value.into()));
        self
    }

    /// The JSON request body.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The query parameters, in the order they are sent.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The JSON body, if any.
    pub fn json_body(&self) -> Option<&serde_json::Value> {
        self.body.as_ref()
    }

    /// The body, for changing it in place (for example to set a `page_token`).
    pub fn json_body_mut(&mut self) -> Option<&mut serde_json::Value> {
        self.body.as_mut()
    }

    /// The operation's path with every `{name}` replaced by its percent-encoded value. Fails
    /// when a path parameter is missing or empty, or one is given that the path does not have.
    fn path(&self, operation: &Operation) -> Result<String, Error> {
        let invalid = |message: String| Error::InvalidRequest { operation: operation.id, message };
        let mut path = String::with_capacity(operation.path.len());
        let mut used = Vec::new();
        let mut rest = operation.path;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else { break };
            let name = &rest[start + 1..start + len];
            let value = self.path_params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            match value {
                Some(value) if !value.is_empty() => {
                    path.push_str(&rest[..start]);
                    path.push_str(&call::encode_path(value));
                }
                Some(_) => return Err(invalid(format!("path parameter {name} is empty"))),
                None => return Err(invalid(format!("path parameter {name} is missing"))),
            }
            used.push(name);
            rest = &rest[start + len + 1..];
        }
        path.push_str(rest);
        if let Some((name, _)) = self.path_params.iter().find(|(n, _)| !used.contains(&n.as_str())) {
            return Err(invalid(format!("{} has no path parameter {name}", operation.path)));
        }
        Ok(path)
    }
}

impl Client {
    /// Calls `operation` with untyped parameters and returns the response's `data` as JSON.
    ///
    /// Fails like the typed `.data()`: [`Error::InvalidRequest`] for a missing path parameter
    /// (before anything is sent), [`Error::Api`] for a non-zero `code`, and so on. Retries, the
    /// token cache and the rate limiter apply as for the typed calls.
    pub async fn call_json(
        &self,
        operation: &'static Operation,
        request: RawRequest,
    ) -> Result<serde_json::Value, Error> {
        self.call_json_with(operation, request, CallOptions::default()).await
    }

    /// Like [`call_json`](Self::call_json), with per-call options.
    pub async fn call_json_with(
        &self,
        operation: &'static Operation,
        request: RawRequest,
        options: CallOptions,
    ) -> Result<serde_json::Value, Error> {
        let url = format!("{}{}", self.baseurl, request.path(operation)?);
        let call = RawCall { client: self, operation, url, request, accept: Some("application/json") };
        call::execute::<_, Json<serde_json::Value>, _>(self, operation, options, call, Ok(()), RawCall::build).await
    }

    /// Calls an operation whose answer is a file (`export_download`) with untyped parameters;
    /// the file is streamed, as with the typed call.
    pub async fn call_download(
        &self,
        operation: &'static Operation,
        request: RawRequest,
        options: CallOptions,
    ) -> Result<Download, Error> {
        let url = format!("{}{}", self.baseurl, request.path(operation)?);
        let call = RawCall { client: self, operation, url, request, accept: None };
        call::execute::<_, File, _>(self, operation, options, call, Ok(()), RawCall::build).await
    }
}

/// One untyped call: what each of its attempts is built from.
struct RawCall<'a> {
    client: &'a Client,
    operation: &'static Operation,
    /// The base URL and the path, its parameters substituted.
    url: String,
    request: RawRequest,
    accept: Option<&'static str>,
}

impl RawCall<'_> {
    /// Builds one attempt's request, as a generated builder's `request()` does (and with its
    /// error type, progenitor's).
    #[allow(clippy::result_large_err)]
    fn build(&self) -> Result<reqwest::Request, progenitor_client::Error<()>> {
        let operation = self.operation;
        let method = reqwest::Method::from_bytes(operation.method.as_bytes()).map_err(|_| {
            progenitor_client::Error::InvalidRequest(format!("unusable HTTP method {}", operation.method))
        })?;
        let mut builder = self.client.client.request(method, &self.url).query(&self.request.query);
        if let Some(accept) = self.accept {
            builder = builder.header(ACCEPT, HeaderValue::from_static(accept));
        }
        if let Some(body) = &self.request.body {
            builder = builder.json(body);
        }
        Ok(builder.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: Operation = Operation {
        id: "thing_get",
        method: "GET",
        path: "/things/{thing_id}/parts/{part}",
        tag: "thing",
        read_only: false,
        pagination_items: None,
        rate_limits: &[],
        token_types: &[],
    };

    #[test]
    fn path_parameters_are_substituted_and_encoded() {
        let request = RawRequest::new().path_param("thing_id", "a b/c").path_param("part", "7");
        assert_eq!(request.path(&OP).unwrap(), "/things/a%20b%2Fc/parts/7");
    }

    #[test]
    fn missing_empty_or_unknown_path_parameters_are_rejected() {
        let missing = RawRequest::new().path_param("thing_id", "1");
        assert!(missing.path(&OP).unwrap_err().to_string().contains("part is missing"));
        let empty = RawRequest::new().path_param("thing_id", "").path_param("part", "1");
        assert!(empty.path(&OP).unwrap_err().to_string().contains("thing_id is empty"));
        let unknown = RawRequest::new().path_param("thing_id", "1").path_param("part", "1").path_param("x", "1");
        assert!(unknown.path(&OP).unwrap_err().to_string().contains("no path parameter x"));
    }

    #[test]
    fn setting_a_value_again_replaces_it() {
        let request = RawRequest::new().path_param("thing_id", "1").path_param("thing_id", "2").path_param("part", "p");
        assert_eq!(request.path(&OP).unwrap(), "/things/2/parts/p");
        let request = RawRequest::new().query("a", "1").query("a", "2").set_query("b", "1").set_query("a", "3");
        assert_eq!(request.query_pairs(), [("b".to_owned(), "1".to_owned()), ("a".to_owned(), "3".to_owned())]);
    }
}
