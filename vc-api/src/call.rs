//! One call of an operation from start to finish: rate limiting, the access token, sending,
//! unwrapping the envelope, one token refresh on a token-invalid answer, retries, and a
//! tracing span recording what happened.

use std::future::Future;

use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{BearerToken, TokenSource};
use crate::error::Error;
use crate::generated::client::Client;
use crate::operation::Operation;
use crate::response::{self, Decode, SendResult};
use crate::secret::Secret;

/// Per-call options, for [`data_with`](crate::builder::ReserveGet::data_with) on any builder.
///
/// ```no_run
/// # async fn run(client: vc_api::Client) -> Result<(), vc_api::Error> {
/// let options = vc_api::CallOptions::new().access_token("u-user-token");
/// let reserve = client.reserve_get().reserve_id("6911188411934973028").data_with(options).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    pub(crate) access_token: Option<Secret>,
    pub(crate) tenant_key: Option<String>,
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
}

/// What the hooks of one attempt need to know.
#[derive(Clone)]
pub(crate) struct AttemptContext {
    pub bearer: BearerToken,
}

tokio::task_local! {
    /// Set around each attempt's `send()`, read by the client's `pre` hook.
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
    let span = tracing::info_span!(
        "vc_api.call",
        operation = operation.id,
        attempt = Empty,
        http_status = Empty,
        code = Empty,
        log_id = Empty
    );
    let call = attempts(client, operation, options, builder, send, span.clone());
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
    current: tracing::Span,
) -> Result<R::Data, Error>
where
    B: Clone,
    F: Fn(B) -> Fut,
    Fut: Future<Output = SendResult<R>>,
    R: Decode,
{
    let state = &client.inner;
    let mut attempt = 0u32;
    let mut token_refreshed = false;
    loop {
        attempt += 1;
        current.record("attempt", attempt);
        if let Some(limiter) = &state.limiter {
            limiter.acquire(operation).await;
        }
        let (bearer, source) = state
            .auth
            .token(
                operation,
                options.access_token.as_ref(),
                options.tenant_key.as_deref(),
                &client.client,
                &client.baseurl,
            )
            .await
            .map_err(|failure| failure.into_error(operation.id))?;
        let context = AttemptContext { bearer: bearer.clone() };
        let sent = ATTEMPT.scope(context, send(builder.clone())).await;
        let error = match response::decode(operation, sent).await {
            Ok(data) => {
                current.record("http_status", 200u16).record("code", 0i64);
                return Ok(data);
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
        if token_rejected && !token_refreshed && !matches!(source, TokenSource::Explicit) {
            tracing::info!("access token rejected; fetching a new one and trying again");
            state.auth.evict(&source, &bearer.token);
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
