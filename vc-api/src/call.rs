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

use futures_util::FutureExt;
use futures_util::future::Either;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{BearerToken, TokenSource};
use crate::error::Error;
use crate::generated::client::Client;
use crate::operation::Operation;
use crate::rate_limit::Grant;
use crate::response::{self, Decode, Response};
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
    // A failed check ends the call at once; the attempts' future never carries its error.
    if let Err(error) = checked {
        return Either::Left(std::future::ready(Err(error)));
    }
    let span = tracing::info_span!(
        "vc_api.call",
        operation = operation.id,
        attempt = Empty,
        http_status = Empty,
        code = Empty,
        log_id = Empty
    );
    let call = attempts::<B, R, F, S>(client, operation, options, builder, build, span.clone());
    // Entering and leaving a span nobody listens to on every poll is measurable per call.
    Either::Right(if span.is_disabled() { Either::Left(call) } else { Either::Right(call.instrument(span)) })
}

/// The attempts of one call, recording what happened on `current`.
///
/// The state this future carries is what every call pays for (it is allocated and moved with
/// the call: 648 bytes for `room_level_get`, against 2,504 before this layout and 856 for the
/// hand-written reqwest + serde call of the benchmarks), so it is written with the compiler's
/// layout rules in mind:
/// - a plain function returning an `async` block: an `async fn` keeps a second copy of each
///   argument;
/// - a local alive at two suspension points is stored in every state of the future, and a local
///   ever borrowed stays alive until its scope ends: each step's values are scoped in a block
///   that ends before the next `.await`, and the cold waits before sending (the rate budget, a
///   token lookup) are one boxed `.await`;
/// - an awaited value is mapped or matched at once: a `let` taking it as it comes is stored
///   beside the future it came from;
/// - across the whole attempt only the token sent and the rate-budget grant are kept.
///
/// `cargo xtask bench --callgrind` counts the instructions per call and `call_profile sizes`
/// prints the size; `RUSTC_BOOTSTRAP=1 cargo rustc --release -p vc-api-benches --bench
/// call_profile -- -Zprint-type-sizes` shows each state's fields.
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn attempts<B, R, F, S>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    build: F,
    current: tracing::Span,
) -> impl Future<Output = Result<S::Output, Error>>
where
    F: Fn(&B) -> Result<reqwest::Request, progenitor_client::Error<()>>,
    R: Decode,
    S: Shape<R::Data>,
{
    async move {
        // JSON calls have a total timeout; downloads only the read timeout, unless the call
        // sets one. The HTTP client the builder makes applies the JSON timeout itself: a request
        // needs its own only to differ from it (setting one costs an allocation in reqwest).
        let timeout = {
            let wanted = options.timeout.or(if R::STREAMED { None } else { Some(client.inner.timeout) });
            (wanted != client.inner.http_timeout).then_some(wanted.unwrap_or(NO_TOTAL_LIMIT))
        };
        let mut attempt = 0u32;
        let mut token_refreshed = false;
        loop {
            attempt = attempt.saturating_add(1);
            current.record("attempt", attempt);
            // The token sent, to evict it if the answer rejects it.
            let mut sent_token: Option<(Secret, TokenSource)> = None;
            // A place in the rate budget, handed back once the answer has come.
            let mut grant: Option<Grant> = None;
            // What to do after a failed attempt: wait this long, or (`None`) fetch a new token.
            let retry_after: Option<Duration> = {
                let received: Result<(R::Data, Option<HeaderValue>), Error> = 'attempt: {
                    let request = {
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
                        let ready = match client.inner.limiter {
                            None => client.inner.auth.ready(options.access_token.as_ref()),
                            Some(_) => None,
                        };
                        let (value, token, source) = match ready {
                            // Built (and marked sensitive) once per token, not per request.
                            Some((BearerToken { header: Some(value), token }, source)) => (value, token, source),
                            Some(_) => break 'attempt Err(unfit_token(operation)),
                            // Boxed: waiting for the rate budget, looking a token up or fetching
                            // one are futures larger than the rest of the call.
                            None => match Box::pin(turn_and_token(client, operation, &options)).await {
                                Ok((taken, value, token, source)) => {
                                    grant = taken;
                                    (value, token, source)
                                }
                                // The token fetch has had its own retries.
                                Err(error) => return Err(error),
                            },
                        };
                        request.headers_mut().insert(AUTHORIZATION, value);
                        sent_token = Some((token, source));
                        request
                    };
                    let reading = {
                        // Mapped at once rather than kept as it came: a local taking the awaited
                        // value would be stored beside the send's own future in the call's state.
                        let sent = client
                            .client
                            .execute(request)
                            .await
                            .map_err(|source| response::transport_error(operation.id, source));
                        if grant.is_some() {
                            answered(client, grant.take()).await;
                        }
                        let response = match sent {
                            Ok(response) => response,
                            Err(error) => break 'attempt Err(error),
                        };
                        if response.status() == reqwest::StatusCode::OK {
                            Either::Left(R::receive(response, operation))
                        } else {
                            // Boxed: reading a failure's body is the cold path.
                            Either::Right(Box::pin(response::failed_response(operation.id, response)).map(Err))
                        }
                    };
                    reading.await
                };
                let error = match received {
                    Ok((data, log_id)) => {
                        current.record("http_status", 200).record("code", 0i64);
                        let header = log_id.as_ref().and_then(|v| v.to_str().ok());
                        if let Some(log_id) = header {
                            current.record("log_id", log_id);
                        }
                        let log_id = if S::LOG_ID { header.map(str::to_owned) } else { None };
                        return Ok(S::finish(Response { data, http_status: 200, log_id }));
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
                let refreshable =
                    sent_token.as_ref().is_some_and(|(_, source)| !matches!(source, TokenSource::Explicit));
                if token_rejected && refreshable && !token_refreshed {
                    tracing::info!("access token rejected; fetching a new one and trying again");
                    None
                } else {
                    match client.inner.retry.delay(operation, &error, attempt) {
                        Some(delay) => {
                            tracing::info!(delay_ms = delay.as_millis() as u64, error = %error, "retrying");
                            Some(delay)
                        }
                        None => {
                            tracing::debug!(error = %error, "call failed");
                            return Err(error);
                        }
                    }
                }
            };
            match retry_after {
                // Boxed: a timer is large and only a retry needs one.
                Some(delay) => Box::pin(tokio::time::sleep(delay)).await,
                None => {
                    if let Some((token, source)) = &sent_token {
                        client.inner.auth.evict(source, token).await;
                    }
                    token_refreshed = true;
                    attempt -= 1;
                }
            }
        }
    }
}

/// Hands a place in the rate budget back once its request has been answered (or will not be
/// sent).
async fn answered(client: &Client, grant: Option<Grant>) {
    if let (Some(limiter), Some(grant)) = (&client.inner.limiter, grant) {
        limiter.budget.answered(grant).await;
    }
}

/// The waits before a request that cannot be sent at once: a place in the rate budget, then
/// the access token (from the cache, the shared store or the token endpoint), with its
/// `Authorization` value. A token that cannot be had, or sent, ends the call; its place is
/// handed back first.
async fn turn_and_token(
    client: &Client,
    operation: &'static Operation,
    options: &CallOptions,
) -> Result<(Option<Grant>, HeaderValue, Secret, TokenSource), Error> {
    let state = &client.inner;
    let grant = match &state.limiter {
        Some(limiter) => limiter.acquire(operation.id).await,
        None => None,
    };
    let (explicit, tenant_key) = (options.access_token.as_ref(), options.tenant_key.as_deref());
    let error = match state.auth.token(operation, explicit, tenant_key, &client.client, &client.baseurl).await {
        Ok((BearerToken { header: Some(value), token }, source)) => return Ok((grant, value, token, source)),
        Ok(_) => unfit_token(operation),
        Err(failure) => {
            let error = failure.into_error(operation.id);
            tracing::debug!(error = %error, "no access token");
            error
        }
    };
    answered(client, grant).await;
    Err(error)
}

/// The error for a token a header cannot carry.
fn unfit_token(operation: &'static Operation) -> Error {
    let message = "the access token contains characters not allowed in a header".to_owned();
    Error::InvalidRequest { operation: operation.id, message }
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
