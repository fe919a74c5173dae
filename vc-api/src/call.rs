//! One call of an operation from start to finish: checking the request, rate limiting, the
//! access token, sending, unwrapping the envelope, one token refresh on a token-invalid answer,
//! retries, and a tracing span recording what happened.
//!
//! The request is built (and its parameters checked) before anything with a side effect
//! happens: the client's `pre` hook, which runs on the built request, is where the rate-limit
//! slot and the access token are taken (see [`AttemptContext`]).

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use reqwest::header::HeaderValue;
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{BearerToken, TokenSource};
use crate::error::Error;
use crate::generated::client::Client;
use crate::operation::Operation;
use crate::response::{self, Decode, Response, SendResult};
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

/// What the client's hooks need to know about one attempt, and what they learn during it.
pub(crate) struct AttemptContext {
    pub operation: &'static Operation,
    pub access_token: Option<Secret>,
    pub tenant_key: Option<String>,
    /// The total timeout of the request, if it has one.
    pub timeout: Option<Duration>,
    pub learned: RefCell<Learned>,
}

/// What the hooks found out during one attempt.
#[derive(Default)]
pub(crate) struct Learned {
    /// The token sent, and where it came from.
    pub token: Option<(BearerToken, TokenSource)>,
    /// Why no token could be had: the attempt's error.
    pub token_error: Option<Error>,
    /// The HTTP status of the answer.
    pub status: Option<u16>,
    /// The answer's `X-Tt-Logid` header.
    pub log_id: Option<HeaderValue>,
    /// The rate-budget place taken for the request, until it is answered.
    pub grant: Option<crate::rate_limit::Grant>,
}

impl Learned {
    fn log_id(&self) -> Option<String> {
        self.log_id.as_ref().and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

tokio::task_local! {
    /// Set around each attempt's `send()`, read and filled by the client's hooks.
    pub(crate) static ATTEMPT: AttemptContext;
}

/// Runs `send` on clones of `builder` until it succeeds or the retry policy gives up.
pub(crate) async fn execute<B, F, Fut, R>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    send: F,
) -> Result<R::Data, Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = SendResult<R>>,
    R: Decode,
{
    run(client, operation, options, builder, send, false).await.map(|response| response.data)
}

/// Like [`execute`], returning the answer's status and log id with its data.
pub(crate) async fn execute_with_meta<B, F, Fut, R>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    send: F,
) -> Result<Response<R::Data>, Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = SendResult<R>>,
    R: Decode,
{
    run(client, operation, options, builder, send, true).await
}

/// The call in its span; the answer's log id is copied out only when `want_log_id`.
async fn run<B, F, Fut, R>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    send: F,
    want_log_id: bool,
) -> Result<Response<R::Data>, Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = SendResult<R>>,
    R: Decode,
{
    let span = tracing::info_span!(
        "vc_api.call",
        operation = operation.id,
        attempt = Empty,
        http_status = Empty,
        code = Empty,
        log_id = Empty
    );
    let call = attempts(client, operation, options, builder, send, want_log_id, span.clone());
    // Entering and leaving a span nobody listens to on every poll is measurable per call.
    if span.is_disabled() { call.await } else { call.instrument(span).await }
}

/// The attempts of one call, recording what happened on `span`.
async fn attempts<B, F, Fut, R>(
    client: &Client,
    operation: &'static Operation,
    options: CallOptions,
    builder: B,
    send: F,
    want_log_id: bool,
    current: tracing::Span,
) -> Result<Response<R::Data>, Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = SendResult<R>>,
    R: Decode,
{
    let state = &client.inner;
    // JSON calls have a total timeout; downloads only the read timeout, unless the call sets one.
    let timeout = options.timeout.or(if R::STREAMED { None } else { Some(state.timeout) });
    let mut attempt = 0u32;
    let mut token_refreshed = false;
    loop {
        attempt = attempt.saturating_add(1);
        current.record("attempt", attempt);
        let context = AttemptContext {
            operation,
            access_token: options.access_token.clone(),
            tenant_key: options.tenant_key.clone(),
            timeout,
            learned: RefCell::default(),
        };
        let (sent, learned) = ATTEMPT
            .scope(context, async {
                let sent = send(builder.clone()).await;
                (sent, ATTEMPT.with(|context| context.learned.take()))
            })
            .await;
        if let Some(error) = learned.token_error {
            // The token fetch has had its own retries.
            tracing::debug!(error = %error, "no access token");
            return Err(error);
        }
        let error = match response::decode(operation, sent).await {
            Ok(data) => {
                let http_status = learned.status.unwrap_or(200);
                current.record("http_status", http_status).record("code", 0i64);
                let header = learned.log_id.as_ref().and_then(|v| v.to_str().ok());
                if let Some(log_id) = header {
                    current.record("log_id", log_id);
                }
                let log_id = if want_log_id { header.map(str::to_owned) } else { None };
                return Ok(Response { data, http_status, log_id });
            }
            Err(error) => with_learned_meta(error, &learned),
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
                tokio::time::sleep(delay).await;
            }
            None => {
                tracing::debug!(error = %error, "call failed");
                return Err(error);
            }
        }
    }
}

/// A body that could not be decoded keeps the status and log id of the answer it came in.
fn with_learned_meta(error: Error, learned: &Learned) -> Error {
    match error {
        Error::Decode { operation, status, log_id, body, source } => Error::Decode {
            operation,
            status: learned.status.unwrap_or(status),
            log_id: log_id.or_else(|| learned.log_id()),
            body,
            source,
        },
        other => other,
    }
}
