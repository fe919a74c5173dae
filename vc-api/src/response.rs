//! Turns what a generated `send()` returns into `data` or a typed [`Error`].

use bytes::BytesMut;
use progenitor_client::{ByteStream, ResponseValue};
use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};
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

/// One attempt's outcome: its 200 answer read as `R`, or what went wrong.
pub(crate) type SendResult<R> = Result<R, progenitor_client::Error<()>>;

/// How an operation answers with JSON: the envelope around its `data`.
pub(crate) type Json<T> = ResponseValue<Envelope<T>>;

/// How an operation answers with a file.
pub(crate) type File = ResponseValue<ByteStream>;

/// A successful (200) answer, read, then turned into what the caller wants.
pub(crate) trait Decode: Sized {
    /// What the call returns.
    type Data;
    /// Whether the body is streamed to the caller (a file) rather than read whole: such calls
    /// have no total timeout unless the caller sets one.
    const STREAMED: bool = false;
    /// Reads a 200 answer.
    fn read(response: reqwest::Response) -> impl Future<Output = SendResult<Self>> + Send;
    /// Unwraps the response, or turns a failure it carries into a typed [`Error`].
    fn decode(self, operation: &'static Operation) -> impl Future<Output = Result<Self::Data, Error>> + Send;
}

/// A JSON envelope: its `data` when `code` is 0, the typed error otherwise.
impl<T: DeserializeOwned + Send> Decode for Json<T> {
    type Data = T;

    /// The body, decoded; the headers are moved out of the answer, not copied.
    async fn read(mut response: reqwest::Response) -> SendResult<Self> {
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = response.bytes().await.map_err(progenitor_client::Error::ResponseBodyError)?;
        match serde_json::from_slice(&body) {
            Ok(envelope) => Ok(ResponseValue::new(envelope, status, headers)),
            Err(source) => Err(progenitor_client::Error::InvalidResponsePayload(body, source)),
        }
    }

    async fn decode(self, operation: &'static Operation) -> Result<T, Error> {
        let status = self.status().as_u16();
        // The headers are read only for a failure: a success returns `data` alone.
        let (log_id, retry_after) = match &self.data {
            Some(_) if self.code == 0 => (None, None),
            _ => (log_id(self.headers()), retry_after(self.headers())),
        };
        let envelope = self.into_inner();
        match envelope.data {
            Some(data) if envelope.code == 0 => Ok(data),
            _ => Err(api_error(operation.id, status, log_id, retry_after, envelope.code, envelope.msg, envelope.error)),
        }
    }
}

/// A file: a [`Download`] streaming the body, unless the server answered with a JSON error body.
impl Decode for File {
    type Data = Download;
    const STREAMED: bool = true;

    async fn read(mut response: reqwest::Response) -> SendResult<Self> {
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        Ok(ResponseValue::new(ByteStream::new(Box::pin(response.bytes_stream())), status, headers))
    }

    async fn decode(self, operation: &'static Operation) -> Result<Download, Error> {
        let status = self.status().as_u16();
        let headers = self.headers().clone();
        let is_json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        let stream = self.into_inner();
        if !is_json {
            return Ok(Download::new(operation.id, &headers, stream));
        }
        // A JSON body where a file was expected is a failure reported with HTTP 200.
        let mut stream = stream.into_inner();
        let body = match read_prefix(&mut stream).await {
            Ok(body) => body,
            Err(source) => return Err(transport_error(operation.id, source)),
        };
        Err(failure_from_body(operation.id, status, &headers, &body))
    }
}

/// Decodes one attempt's outcome: the caller's data or a typed [`Error`].
pub(crate) async fn decode<R: Decode>(operation: &'static Operation, sent: SendResult<R>) -> Result<R::Data, Error> {
    match sent {
        Ok(response) => response.decode(operation).await,
        // Boxed: reading a failure's body is the cold path, its state need not be in every call.
        Err(error) => Err(Box::pin(from_progenitor(operation.id, error)).await),
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

/// Maps progenitor's error to ours, reading the body of unexpected (non-200) responses.
pub(crate) async fn from_progenitor(operation: &'static str, error: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as P;
    match error {
        P::InvalidRequest(message) | P::Custom(message) => Error::InvalidRequest { operation, message },
        P::CommunicationError(source) | P::ResponseBodyError(source) | P::InvalidUpgrade(source) => {
            transport_error(operation, source)
        }
        P::InvalidResponsePayload(bytes, source) => {
            Error::Decode { operation, status: 200, log_id: None, body: truncated_body(&bytes), source }
        }
        P::UnexpectedResponse(response) => failed_response(operation, response).await,
        P::ErrorResponse(response) => Error::Http {
            operation,
            status: response.status().as_u16(),
            log_id: log_id(response.headers()),
            body: String::new(),
            retry_after: retry_after(response.headers()),
        },
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
async fn failed_response(operation: &'static str, response: reqwest::Response) -> Error {
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
