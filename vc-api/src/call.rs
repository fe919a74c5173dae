//! One call of an operation from start to finish: checking the request, rate limiting, the
//! access token, sending, unwrapping the envelope, one token refresh on a token-invalid answer,
//! retries, and a tracing span recording what happened.
//!
//! Each attempt builds the request from the caller's builder (by reference: the builder is
//! never cloned; its parameters are checked there) before anything with a side effect happens;
//! then the rate-limit slot and the access token are taken, and the request is sent.
//!
//! The call is one future with few layers: the generated `data()` functions return it directly,
//! and cold parts (a token fetch, a failure's body, a retry's wait) are boxed where they are,
//! so the state every call carries stays small.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use futures_util::future::Either;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{BearerToken, TokenSource};
use crate::error::Error;
use crate::generated::client::Client;
use crate::operation::Operation;
use crate::response::{self, Decode, LOG_ID, Response};
use crate::secret::Secret;

/// Per-call options, for [`data_with`](crate::builder::ReserveGet::data_with) on any builder.
///
/// ```no_run
/// # async fn run(client: vc_api::Client) -> Result<(), vc_api::Error> {
/// use std::time::Duration;
/// let options = vc_api::CallOptions::new().access_token("u-user-token").timeout(Duration::from_secs(5));
/// let reserve = client.reserve_get().reserve_id("6911188411934973028").data_with(options).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) access_token: Option<Secret>,
    pub(crate) tenant_key: Option<String>,
    pub(crate) timeout: Option<Duration>,
}

impl CallOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends this token (a `user_access_token`, or a tenant token) for this call only. It is
    /// used as given: never replaced by a cached token, never refreshed.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// For marketplace apps: the tenant this call acts in.
    pub fn tenant_key(mut self, tenant_key: impl Into<String>) -> Self {
        self.tenant_key = Some(tenant_key.into());
        self
    }

    /// Total time allowed for each attempt of this call, the whole answer read included,
    /// instead of the client's [`timeout`](crate::ClientBuilder::timeout). It applies to file
    /// downloads too, which otherwise have only the read (idle) timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The total timeout of a request that has none (a download) sent through an HTTP client that
/// has one: as good as none (tokio caps a timer's deadline far in the future).
const NO_TOTAL_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What one attempt learned about its answer and its token.
#[derive(Default)]
struct Learned {
    /// The token sent, and where it came from.
    token: Option<(BearerToken, TokenSource)>,
    /// The HTTP status of the answer.
    status: Option<u16>,
    /// The answer's `X-Tt-Logid` header.
    log_id: Option<HeaderValue>,
}

/// What a call returns, given the answer's data with its status and log id.
pub(crate) trait Shape<D> {
    /// The call's output.
    type Output;
    /// Whether the log id is copied out of the answer.
    const LOG_ID: bool;
    /// The output from the whole response.
    fn finish(response: Response<D>) -> Self::Output;
}

/// `data()`: the data alone.
pub(crate) struct DataOnly;

impl<D> Shape<D> for DataOnly {
    type Output = D;
    const LOG_ID: bool = false;
    fn finish(response: Response<D>) -> D {
        response.data
    }
}

/// `data_with_meta()`: the data with the answer's status and log id.
pub(crate) struct WithMeta;

impl<D> Shape<D> for WithMeta {
    type Output = Response<D>;
    const LOG_ID: bool = true;
    fn finish(response: Response<D>) -> Response<D> {
        response
    }
}

/// Builds a request from `builder` with `build` (once per attempt), sends it and reads the
/// answer as `R`, until it succeeds or the retry policy gives up. `checked` is the outcome of
/// checks made before (parameter ranges): an error there ends the call before anything is sent.
pub(crate) fn execute<B, R, F>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    checked: Result<(), Error>,
    build: F,
) -> impl Future<Output = Result<R::Data, Error>>
where
    F: Fn(&B) -> Result<reqwest::Request, progenitor_client::Error<()>>,
    R: Decode,
{
    call::<B, R, F, DataOnly>(client, operation, options, builder, checked, build)
}

/// Like [`execute`], returning the answer's status and log id with its data.
pub(crate) fn execute_with_meta<B, R, F>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    checked: Result<(), Error>,
    build: F,
) -> impl Future<Output = Result<Response<R::Data>, Error>>
where
    F: Fn(&B) -> Result<reqwest::Request, progenitor_client::Error<()>>,
    R: Decode,
{
    call::<B, R, F, WithMeta>(client, operation, options, builder, checked, build)
}

/// The call in its span.
fn call<B, R, F, S>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    checked: Result<(), Error>,
    build: F,
) -> impl Future<Output = Result<S::Output, Error>>
where
    F: Fn(&B) -> Result<reqwest::Request, progenitor_client::Error<()>>,
    R: Decode,
    S: Shape<R::Data>,
{
    let span = tracing::info_span!(
        "vc_api.call",
        operation = operation.id,
        attempt = Empty,
        http_status = Empty,
        code = Empty,
        log_id = Empty
    );
    let call = attempts::<B, R, F, S>(client, operation, options, builder, checked, build, span.clone());
    // Entering and leaving a span nobody listens to on every poll is measurable per call.
    if span.is_disabled() { Either::Left(call) } else { Either::Right(call.instrument(span)) }
}

/// The attempts of one call, recording what happened on `span`.
async fn attempts<B, R, F, S>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    checked: Result<(), Error>,
    build: F,
    current: tracing::Span,
) -> Result<S::Output, Error>
where
    F: Fn(&B) -> Result<reqwest::Request, progenitor_client::Error<()>>,
    R: Decode,
    S: Shape<R::Data>,
{
    checked?;
    let state = &client.inner;
    // JSON calls have a total timeout; downloads only the read timeout, unless the call sets one.
    let wanted = options.timeout.or(if R::STREAMED { None } else { Some(state.timeout) });
    // The HTTP client the builder makes applies the JSON timeout itself: a request needs its own
    // only to differ from it (setting one costs an allocation per request in reqwest).
    let timeout = (wanted != state.http_timeout).then_some(wanted.unwrap_or(NO_TOTAL_LIMIT));
    let mut attempt = 0u32;
    let mut token_refreshed = false;
    loop {
        attempt = attempt.saturating_add(1);
        current.record("attempt", attempt);
        let mut learned = Learned::default();
        // One attempt, written out here rather than in a function of its own: its future would
        // be one more layer moved into this one on every attempt.
        let received: Result<R::Data, Error> = 'attempt: {
            let mut request = match build(&builder) {
                Ok(request) => request,
                Err(error) => break 'attempt Err(response::build_error(operation.id, error)),
            };
            if let Err(error) = check_path(&request, operation) {
                break 'attempt Err(error);
            }
            if timeout.is_some() {
                *request.timeout_mut() = timeout;
            }
            // A place in the rate budget, handed back once the answer has come.
            let grant = match &state.limiter {
                Some(limiter) => limiter.acquire(operation.id).await,
                None => None,
            };
            let fetched = match state.auth.ready(options.access_token.as_ref()) {
                Some(token) => Ok(token),
                // Boxed: fetching or looking up a cached token is a future of its own, larger
                // than the rest of the call; a fixed or explicit token needs none.
                None => {
                    let (explicit, tenant_key) = (options.access_token.as_ref(), options.tenant_key.as_deref());
                    Box::pin(state.auth.token(operation, explicit, tenant_key, &client.client, &client.baseurl)).await
                }
            };
            let (bearer, source) = match fetched {
                Ok(token) => token,
                Err(failure) => {
                    // The token fetch has had its own retries.
                    let error = failure.into_error(operation.id);
                    tracing::debug!(error = %error, "no access token");
                    return Err(error);
                }
            };
            // Built (and marked sensitive) once per token, not per request.
            let Some(value) = bearer.header.clone() else {
                let message = "the access token contains characters not allowed in a header".to_owned();
                break 'attempt Err(Error::InvalidRequest { operation: operation.id, message });
            };
            request.headers_mut().insert(AUTHORIZATION, value);
            learned.token = Some((bearer, source));
            let sent = client.client.execute(request).await;
            if let (Some(limiter), Some(grant)) = (&state.limiter, grant) {
                limiter.budget.answered(grant).await;
            }
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    learned.status = Some(status);
                    learned.log_id = response.headers().get(LOG_ID).cloned();
                    if status == 200 {
                        R::receive(response, operation).await
                    } else {
                        // Boxed: reading a failure's body is the cold path.
                        Err(Box::pin(response::failed_response(operation.id, response)).await)
                    }
                }
                Err(source) => Err(response::transport_error(operation.id, source)),
            }
        };
        let error = match received {
            Ok(data) => {
                let http_status = learned.status.unwrap_or(200);
                current.record("http_status", http_status).record("code", 0i64);
                let header = learned.log_id.as_ref().and_then(|v| v.to_str().ok());
                if let Some(log_id) = header {
                    current.record("log_id", log_id);
                }
                let log_id = if S::LOG_ID { header.map(str::to_owned) } else { None };
                return Ok(S::finish(Response { data, http_status, log_id }));
            }
            Err(error) => error,
        };
        if let Some(status) = error.http_status() {
            current.record("http_status", status);
        }
        if let Some(code) = error.code() {
            current.record("code", code);
        }
        if let Some(log_id) = error.log_id() {
            current.record("log_id", log_id);
        }
        let token_rejected = error.api().is_some_and(|e| e.is_token_invalid());
        if let Some((bearer, source)) = &learned.token
            && token_rejected
            && !token_refreshed
            && !matches!(source, TokenSource::Explicit)
        {
            tracing::info!("access token rejected; fetching a new one and trying again");
            state.auth.evict(source, &bearer.token).await;
            token_refreshed = true;
            attempt -= 1;
            continue;
        }
        match state.retry.delay(operation, &error, attempt) {
            Some(delay) => {
                tracing::info!(delay_ms = delay.as_millis() as u64, error = %error, "retrying");
                // Boxed: a timer is large and only a retry needs one.
                Box::pin(tokio::time::sleep(delay)).await;
            }
            None => {
                tracing::debug!(error = %error, "call failed");
                return Err(error);
            }
        }
    }
}

/// Rejects a request whose path has an empty parameter (`//`, or a trailing `/`).
fn check_path(request: &reqwest::Request, operation: &Operation) -> Result<(), Error> {
    let path = request.url().path();
    if path.contains("//") || path.ends_with('/') {
        let message = format!("a path parameter of {} is empty", operation.id);
        return Err(Error::InvalidRequest { operation: operation.id, message });
    }
    Ok(())
}

/// Percent-encodes a path parameter's value: control characters, non-ASCII bytes, space and
/// `"#<>?`{}/%` (the set progenitor's generated code encodes). A value with none of them is
/// borrowed, not copied.
pub(crate) fn encode_path(value: &str) -> Cow<'_, str> {
    /// Whether each byte is escaped.
    const ESCAPED: [bool; 256] = {
        let mut escaped = [true; 256];
        let mut byte = 0x20;
        while byte < 0x7F {
            escaped[byte] =
                matches!(byte as u8, b' ' | b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'/' | b'%');
            byte += 1;
        }
        escaped
    };
    fn escaped(byte: u8) -> bool {
        ESCAPED[usize::from(byte)]
    }
    if !value.bytes().any(escaped) {
        return Cow::Borrowed(value);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(value.len() + 16);
    for byte in value.bytes() {
        if escaped(byte) {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0xF)]));
        } else {
            encoded.push(char::from(byte));
        }
    }
    Cow::Owned(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same encoding as progenitor's, for every ASCII character and some beyond.
    #[test]
    fn path_encoding_matches_progenitor() {
        let mut values: Vec<String> = (0u8..0x80).map(|b| format!("a{}b", char::from(b))).collect();
        values.extend(
            ["omb_57c9cc7d9a81e27e54c8fabfd02759e7", "", "会议室 1/2", "50%", "x?y#z", "é\u{7f}"].map(String::from),
        );
        for value in values {
            assert_eq!(encode_path(&value), progenitor_client::encode_path(&value), "{value:?}");
        }
        assert!(matches!(encode_path("omb_57c9cc7d9a81e27e54c8fabfd02759e7"), Cow::Borrowed(_)));
    }
}
