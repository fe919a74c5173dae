//! Turns what a generated `send()` returns into `data` or a typed [`Error`].

use bytes::BytesMut;
use progenitor_client::ResponseValue;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::envelope::{Envelope, ErrorDetail};
use crate::error::{ApiError, Error, truncated_body};
use crate::operation::Operation;

/// The response header carrying the request's log id.
pub const LOG_ID_HEADER: &str = "x-tt-logid";

/// The rate-limit reset header of the Feishu gateway (seconds to wait).
pub const RATE_LIMIT_RESET_HEADER: &str = "x-ogw-ratelimit-reset";

/// The result type of a generated `send()` whose 200 response is an envelope.
pub(crate) type SendResult<T> = Result<ResponseValue<Envelope<T>>, progenitor_client::Error<()>>;

/// Unwraps the envelope of a sent request: its `data` when `code` is 0, the typed error otherwise.
pub(crate) async fn envelope_data<T>(operation: &'static Operation, sent: SendResult<T>) -> Result<T, Error> {
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let log_id = log_id(response.headers());
            let retry_after = retry_after(response.headers());
            let envelope = response.into_inner();
            match envelope.data {
                Some(data) if envelope.code == 0 => Ok(data),
                _ => Err(api_error(
                    operation.id,
                    status,
                    log_id,
                    retry_after,
                    envelope.code,
                    envelope.msg,
                    envelope.error,
                )),
            }
        }
        Err(error) => Err(from_progenitor(operation.id, error).await),
    }
}

fn log_id(headers: &HeaderMap) -> Option<String> {
    headers.get(LOG_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The wait a rate-limited answer asks for, from `x-ogw-ratelimit-reset` or `Retry-After`.
fn retry_after(headers: &HeaderMap) -> Option<std::time::Duration> {
    [RATE_LIMIT_RESET_HEADER, "retry-after"].iter().find_map(|name| {
        let seconds: f64 = headers.get(*name)?.to_str().ok()?.trim().parse().ok()?;
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

fn transport_error(operation: &'static str, source: reqwest::Error) -> Error {
    if source.is_timeout() {
        Error::Timeout { operation, source }
    } else if source.is_builder() {
        Error::InvalidRequest { operation, message: source.to_string() }
    } else {
        Error::Transport { operation, source }
    }
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
/// [`Error::Http`]. At most a small prefix of the body is read when it is not an error body.
async fn failed_response(operation: &'static str, mut response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let header_log_id = log_id(response.headers());
    let wait = retry_after(response.headers());
    // Error bodies are small; read a bounded amount so a huge HTML page cannot exhaust memory.
    let limit = 64 * 1024;
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() >= limit {
                    break;
                }
            }
            Ok(None) => break,
            Err(source) => return transport_error(operation, source),
        }
    }
    match serde_json::from_slice::<FailureBody>(&body) {
        Ok(failure) if failure.code != 0 => {
            api_error(operation, status, header_log_id, wait, failure.code, failure.msg, failure.error)
        }
        _ => Error::Http { operation, status, log_id: header_log_id, body: truncated_body(&body), retry_after: wait },
    }
}
