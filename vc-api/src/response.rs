//! Turns what a generated `send()` returns into `data` or a typed [`Error`].

use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};

use progenitor_client::ByteStream;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::download::Download;
use crate::envelope::{Envelope, ErrorDetail};
use crate::error::{ApiError, Error, truncated_body};
use crate::operation::Operation;

/// The response header carrying the request's log id.
pub const LOG_ID_HEADER: &str = "x-tt-logid";

/// The rate-limit reset header of the Feishu gateway (seconds to wait).
pub const RATE_LIMIT_RESET_HEADER: &str = "x-ogw-ratelimit-reset";

// Looking a header up by a `HeaderName` skips parsing the name on every response.
pub(crate) const LOG_ID: HeaderName = HeaderName::from_static(LOG_ID_HEADER);
const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static(RATE_LIMIT_RESET_HEADER);

/// A call's data with facts about the answer that carried it, from `data_with_meta()`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response<T> {
    /// The response's `data` (or the [`Download`] of a file).
    pub data: T,
    /// HTTP status of the answer.
    pub http_status: u16,
    /// The request's log id (`X-Tt-Logid`), to quote to Feishu support.
    pub log_id: Option<String>,
}

/// How an operation answers with JSON: the envelope around its `data`, a `T`.
pub(crate) struct Json<T>(PhantomData<fn() -> T>);

/// How an operation answers with a file.
pub(crate) struct File;

/// A successful (200) answer turned into what the caller wants.
pub(crate) trait Decode {
    /// What the call returns.
    type Data;
    /// Whether the body is streamed to the caller (a file) rather than read whole: such calls
    /// have no total timeout unless the caller sets one.
    const STREAMED: bool = false;
    /// Reads and unwraps a 200 answer, or turns the failure it carries into a typed [`Error`].
    /// The answer's log id (`X-Tt-Logid`) comes with the data.
    fn receive(
        response: reqwest::Response,
        operation: &'static Operation,
    ) -> impl Future<Output = Result<(Self::Data, Option<HeaderValue>), Error>> + Send;
}

/// A JSON envelope: its `data` when `code` is 0, the typed error otherwise.
impl<T: DeserializeOwned + Send> Decode for Json<T> {
    type Data = T;

    // The body is read chunk by chunk from the response itself (reqwest's `bytes()` is a future
    // four times the size of this one, which every call would carry), and not in an `async fn`,
    // which would hold a second copy of the response.
    #[allow(clippy::manual_async_fn)]
    fn receive(
        mut response: reqwest::Response,
        operation: &'static Operation,
    ) -> impl Future<Output = Result<(T, Option<HeaderValue>), Error>> + Send {
        async move {
            let body = match read_body(&mut response).await {
                Ok(body) => body,
                Err(source) => return Err(transport_error(operation.id, source)),
            };
            let (status, headers) = (response.status().as_u16(), response.headers());
            let envelope: Envelope<T> = match serde_json::from_slice(&body) {
                Ok(envelope) => envelope,
                Err(source) => {
                    let (log_id, body) = (log_id(headers), truncated_body(&body));
                    return Err(Error::Decode { operation: operation.id, status, log_id, body, source });
                }
            };
            match envelope.data {
                Some(data) if envelope.code == 0 => Ok((data, headers.get(LOG_ID).cloned())),
                _ => Err(api_error(
                    operation.id,
                    status,
                    log_id(headers),
                    retry_after(headers),
                    envelope.code,
                    envelope.msg,
                    envelope.error,
                )),
            }
        }
    }
}

/// The whole body of `response`, without copying it when it comes in one piece.
async fn read_body(response: &mut reqwest::Response) -> Result<Bytes, reqwest::Error> {
    let Some(first) = response.chunk().await? else { return Ok(Bytes::new()) };
    let Some(second) = response.chunk().await? else { return Ok(first) };
    let mut body = BytesMut::with_capacity(first.len() + second.len());
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    drop((first, second));
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A file: a [`Download`] streaming the body, unless the server answered with a JSON error body.
impl Decode for File {
    type Data = Download;
    const STREAMED: bool = true;

    async fn receive(
        mut response: reqwest::Response,
        operation: &'static Operation,
    ) -> Result<(Download, Option<HeaderValue>), Error> {
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let is_json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        let mut stream = Box::pin(response.bytes_stream());
        if !is_json {
            let log_id = headers.get(LOG_ID).cloned();
            return Ok((Download::new(operation.id, &headers, ByteStream::new(stream)), log_id));
        }
        // A JSON body where a file was expected is a failure reported with HTTP 200.
        let body = match read_prefix(&mut stream).await {
            Ok(body) => body,
            Err(source) => return Err(transport_error(operation.id, source)),
        };
        Err(failure_from_body(operation.id, status, &headers, &body))
    }
}

/// Error bodies are small: at most this much of one is read, so a huge page cannot exhaust memory.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Reads at most [`ERROR_BODY_LIMIT`] bytes of a body.
async fn read_prefix<S>(stream: &mut S) -> Result<BytesMut, reqwest::Error>
where
    S: futures_core::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    use futures_util::StreamExt;
    let mut body = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk?);
        if body.len() >= ERROR_BODY_LIMIT {
            break;
        }
    }
    Ok(body)
}

pub(crate) fn log_id(headers: &HeaderMap) -> Option<String> {
    headers.get(LOG_ID).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The wait a rate-limited answer asks for, from `x-ogw-ratelimit-reset` or `Retry-After`.
fn retry_after(headers: &HeaderMap) -> Option<std::time::Duration> {
    [RATE_LIMIT_RESET, RETRY_AFTER].iter().find_map(|name| {
        let seconds: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| std::time::Duration::from_secs_f64(seconds.min(86_400.0)))
    })
}

fn api_error(
    operation: &'static str,
    http_status: u16,
    header_log_id: Option<String>,
    retry_after: Option<std::time::Duration>,
    code: i64,
    msg: String,
    detail: Option<ErrorDetail>,
) -> Error {
    let detail = detail.unwrap_or_default();
    Error::Api(Box::new(ApiError {
        operation,
        code,
        msg,
        log_id: header_log_id.or(detail.log_id),
        http_status,
        troubleshooter: detail.troubleshooter,
        retry_after,
    }))
}

/// Maps an error of building a request (a generated builder's parameter checks, reqwest's
/// builder) to ours.
pub(crate) fn build_error(operation: &'static str, error: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as P;
    match error {
        P::InvalidRequest(message) | P::Custom(message) => Error::InvalidRequest { operation, message },
        P::CommunicationError(source) => transport_error(operation, source),
        other => Error::InvalidRequest { operation, message: other.to_string() },
    }
}

/// A transport failure as [`Error::Timeout`], [`Error::Transport`] or, for a request reqwest
/// could not build, [`Error::InvalidRequest`].
pub(crate) fn transport_error(operation: &'static str, source: reqwest::Error) -> Error {
    if source.is_builder() {
        Error::InvalidRequest { operation, message: source.to_string() }
    } else {
        shared_transport_error(operation, std::sync::Arc::new(source))
    }
}

/// [`transport_error`] for a failure several calls share (a failed token request).
pub(crate) fn shared_transport_error(operation: &'static str, source: std::sync::Arc<reqwest::Error>) -> Error {
    if source.is_timeout() { Error::Timeout { operation, source } } else { Error::Transport { operation, source } }
}

/// The body of a failed call as Feishu sends it.
#[derive(Deserialize)]
struct FailureBody {
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

/// Decodes a non-200 response: a Feishu error body becomes [`Error::Api`], anything else
/// [`Error::Http`]. At most a small prefix of the body is read.
pub(crate) async fn failed_response(operation: &'static str, response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut stream = Box::pin(response.bytes_stream());
    match read_prefix(&mut stream).await {
        Ok(body) => failure_from_body(operation, status, &headers, &body),
        Err(source) => transport_error(operation, source),
    }
}

/// A failed answer's body: [`Error::Api`] when it is a Feishu error body, [`Error::Http`] otherwise.
fn failure_from_body(operation: &'static str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let header_log_id = log_id(headers);
    let wait = retry_after(headers);
    match serde_json::from_slice::<FailureBody>(body) {
        Ok(failure) if failure.code != 0 => {
            api_error(operation, status, header_log_id, wait, failure.code, failure.msg, failure.error)
        }
        _ => Error::Http { operation, status, log_id: header_log_id, body: truncated_body(body), retry_after: wait },
    }
}
