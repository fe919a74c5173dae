//! Access tokens: a fixed token, or app credentials whose tenant tokens are fetched on first
//! use, cached until shortly before they expire, and refreshed single-flight (however many
//! calls need a token at once, one request fetches it).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::Error;
use crate::operation::{Operation, TokenType};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::token_store::{FetchedToken, TokenError, TokenKey, TokenKind as StoreKind, TokenStore};

/// Path of the self-built app's tenant token endpoint.
pub const SELF_BUILT_TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";
/// Path of the marketplace app's app token endpoint.
pub const APP_TOKEN_PATH: &str = "/open-apis/auth/v3/app_access_token";
/// Path of the marketplace app's tenant token endpoint.
pub const MARKETPLACE_TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token";
/// Path that asks Feishu to send the `app_ticket` event again.
pub const APP_TICKET_RESEND_PATH: &str = "/open-apis/auth/v3/app_ticket/resend";

/// How the client authenticates.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No token: every call must carry one in [`crate::CallOptions`].
    #[default]
    None,
    /// One fixed token (tenant or user) for every call.
    AccessToken(Secret),
    /// A self-built (custom) app: tenant tokens come from `app_id` + `app_secret`.
    SelfBuiltApp {
        /// The app's id (`cli_...`).
        app_id: String,
        /// The app's secret.
        app_secret: Secret,
    },
    /// A marketplace (store) app: an app token from `app_id`, `app_secret` and the
    /// `app_ticket` Feishu pushes as an event, then a tenant token per `tenant_key`.
    MarketplaceApp {
        /// The app's id.
        app_id: String,
        /// The app's secret.
        app_secret: Secret,
    },
}

/// An access token with its `Authorization` header value, built once per token rather than
/// once per call. Cloning shares both.
#[derive(Clone)]
pub(crate) struct BearerToken {
    pub token: Secret,
    /// `Bearer <token>`, marked sensitive; `None` when the token holds characters a header
    /// cannot carry.
    pub header: Option<HeaderValue>,
}

impl BearerToken {
    pub fn new(token: Secret) -> Self {
        let header = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok().map(|mut value| {
            value.set_sensitive(true);
            value
        });
        Self { token, header }
    }
}

/// A token, the moment it should be replaced and the moment it stops being valid.
#[derive(Clone)]
struct CachedToken {
    token: BearerToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// How long a failed token request is remembered: calls arriving meanwhile get its failure
/// instead of asking the endpoint again.
const FAILURE_MEMORY: Duration = Duration::from_secs(1);

/// The longest a token is cached, whatever lifetime the server announces.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a slot holds.
#[derive(Default)]
struct SlotState {
    cached: Option<CachedToken>,
    /// The last failed fetch, when it ended, and the fetch count it ended.
    failure: Option<(AuthFailure, Instant, u64)>,
    /// Fetches completed so far, successful or not.
    fetches: u64,
}

/// What a look into a slot found.
enum Found {
    /// A token not yet due for replacement.
    Fresh(BearerToken),
    /// A token inside the refresh margin: still valid, due for replacement.
    Usable(BearerToken),
    /// No valid token.
    Missing,
}

/// One cached token with its single-flight refresh lock.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    refresh: tokio::sync::Mutex<()>,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        // A panic elsewhere while the lock was held cannot leave the state half-written (every
        // write is one assignment): keep using it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn look(&self) -> (Found, u64) {
        let now = Instant::now();
        let state = self.state();
        let found = match &state.cached {
            Some(c) if now < c.refresh_at => Found::Fresh(c.token.clone()),
            Some(c) if now < c.expires_at => Found::Usable(c.token.clone()),
            _ => Found::Missing,
        };
        (found, state.fetches)
    }

    /// The failure of a fetch that ended after `seen` fetches, or within [`FAILURE_MEMORY`].
    fn recent_failure(&self, seen: u64) -> Option<AuthFailure> {
        let state = self.state();
        let (failure, at, count) = state.failure.as_ref()?;
        (*count > seen || at.elapsed() < FAILURE_MEMORY).then(|| failure.clone())
    }

    fn evict(&self, stale: &Secret) {
        let mut state = self.state();
        if state.cached.as_ref().is_some_and(|c| &c.token.token == stale) {
            state.cached = None;
        }
    }

    /// The cached token, or the one `fetch` returns; concurrent callers share one fetch and
    /// its failure. Inside the refresh margin the still-valid token is served while one caller
    /// refreshes it, and served on if the refresh fails.
    async fn get_or_fetch<F, Fut>(&self, margin: Duration, fetch: F) -> Result<BearerToken, AuthFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FetchedToken, AuthFailure>>,
    {
        let (found, seen) = self.look();
        match found {
            Found::Fresh(token) => Ok(token),
            Found::Usable(token) => {
                // Someone is refreshing, or just failed to: the valid token does.
                let Ok(_guard) = self.refresh.try_lock() else { return Ok(token) };
                if self.recent_failure(u64::MAX).is_some() {
                    return Ok(token);
                }
                if let (Found::Fresh(newer), _) = self.look() {
                    return Ok(newer);
                }
                // Boxed: a fetch is rare, and its state would otherwise be part of every call's.
                match Box::pin(self.fetch_and_store(margin, fetch)).await {
                    Ok(newer) => Ok(newer),
                    Err(failure) => {
                        tracing::warn!(error = %failure, "refreshing the access token failed; the current one is still valid");
                        Ok(token)
                    }
                }
            }
            Found::Missing => {
                if let Some(failure) = self.recent_failure(seen) {
                    return Err(failure);
                }
                let _guard = self.refresh.lock().await;
                if let (Found::Fresh(token) | Found::Usable(token), _) = self.look() {
                    return Ok(token);
                }
                if let Some(failure) = self.recent_failure(seen) {
                    return Err(failure);
                }
                Box::pin(self.fetch_and_store(margin, fetch)).await
            }
        }
    }

    /// Runs `fetch` (the caller holds the refresh lock) and records its outcome.
    async fn fetch_and_store<F, Fut>(&self, margin: Duration, fetch: F) -> Result<BearerToken, AuthFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FetchedToken, AuthFailure>>,
    {
        let started = Instant::now();
        let outcome = fetch().await;
        let mut state = self.state();
        state.fetches = state.fetches.saturating_add(1);
        match outcome {
            Ok(FetchedToken { token, lifetime }) => {
                let token = BearerToken::new(token);
                let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
                let expires_at = started.checked_add(lifetime).unwrap_or(started);
                let refresh_at = started.checked_add(lifetime.saturating_sub(margin)).unwrap_or(started);
                state.cached = Some(CachedToken { token: token.clone(), refresh_at, expires_at });
                state.failure = None;
                Ok(token)
            }
            Err(failure) => {
                let count = state.fetches;
                state.failure = Some((failure.clone(), Instant::now(), count));
                Err(failure)
            }
        }
    }
}

/// Why no token could be had. Cheap to clone: every caller waiting on a failed fetch gets it.
#[derive(Debug, Clone)]
pub(crate) enum AuthFailure {
    /// No credentials fit, or the token endpoint answered without a token.
    Refused { message: String, code: Option<i64>, http_status: Option<u16> },
    /// The token endpoint could not be reached or did not answer in time.
    Transport(Arc<reqwest::Error>),
}

impl AuthFailure {
    fn new(message: impl Into<String>) -> Self {
        AuthFailure::Refused { message: message.into(), code: None, http_status: None }
    }

    /// The error of a call of `operation` that could not get a token.
    pub fn into_error(self, operation: &'static str) -> Error {
        match self {
            AuthFailure::Refused { message, code, http_status } => {
                Error::Auth { operation, message, code, http_status }
            }
            AuthFailure::Transport(source) => crate::response::shared_transport_error(operation, source),
        }
    }

    /// Whether asking the token endpoint again may help.
    fn is_retryable(&self) -> bool {
        match self {
            AuthFailure::Transport(source) => !source.is_builder(),
            AuthFailure::Refused { code, http_status, .. } => {
                *code == Some(crate::error::codes::RATE_LIMITED) || http_status.is_some_and(|s| s == 429 || s >= 500)
            }
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::Refused { message, .. } => f.write_str(message),
            AuthFailure::Transport(source) => write!(f, "token endpoint unreachable: {source}"),
        }
    }
}

/// Where a call's token came from: only cached tokens are refreshed on a token-invalid answer.
#[derive(Clone, Debug)]
pub(crate) enum TokenSource {
    /// Given by the caller or fixed in the client: never replaced.
    Explicit,
    /// The self-built app's tenant token.
    SelfBuiltTenant,
    /// A marketplace tenant token for this tenant key.
    MarketplaceTenant(String),
}

/// The token runtime of one client.
pub(crate) struct Auth {
    credentials: Credentials,
    /// The header of [`Credentials::AccessToken`], built once.
    fixed: Option<BearerToken>,
    refresh_margin: Duration,
    app_ticket: RwLock<Option<Secret>>,
    tenant: Slot,
    app: Slot,
    tenants: Mutex<HashMap<String, Arc<Slot>>>,
    default_tenant_key: Option<String>,
    /// Token requests are retried under the client's policy.
    retry: RetryPolicy,
    /// Total time allowed for one token request.
    timeout: Duration,
    /// Where a token is looked for before the token endpoint is asked.
    store: Arc<dyn TokenStore>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("refresh_margin", &self.refresh_margin)
            .field("default_tenant_key", &self.default_tenant_key)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The token endpoints' answer (they put the token at the top level, not in `data`).
#[derive(Deserialize)]
struct TokenResponse {
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    tenant_access_token: Option<String>,
    #[serde(default)]
    app_access_token: Option<String>,
    #[serde(default)]
    expire: Option<u64>,
}

impl Auth {
    pub fn new(
        credentials: Credentials,
        refresh_margin: Duration,
        app_ticket: Option<Secret>,
        default_tenant_key: Option<String>,
        retry: RetryPolicy,
        timeout: Duration,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        let fixed = match &credentials {
            Credentials::AccessToken(token) => Some(BearerToken::new(token.clone())),
            _ => None,
        };
        Self {
            credentials,
            fixed,
            refresh_margin,
            app_ticket: RwLock::new(app_ticket),
            tenant: Slot::default(),
            app: Slot::default(),
            tenants: Mutex::new(HashMap::new()),
            default_tenant_key,
            retry,
            timeout,
            store,
        }
    }

    /// The app id of app credentials.
    fn app_id(&self) -> Option<&str> {
        match &self.credentials {
            Credentials::SelfBuiltApp { app_id, .. } | Credentials::MarketplaceApp { app_id, .. } => Some(app_id),
            _ => None,
        }
    }

    /// The token `key` from the store, which runs `fetch` when it has none to give.
    async fn through_store<Fut>(&self, key: TokenKey, fetch: Fut) -> Result<FetchedToken, AuthFailure>
    where
        Fut: std::future::Future<Output = Result<FetchedToken, AuthFailure>> + Send,
    {
        let fetch = Box::pin(async move { fetch.await.map_err(TokenError) });
        self.store.get_or_fetch(&key, self.refresh_margin, fetch).await.map_err(|e| e.0)
    }

    /// Stores the latest `app_ticket` (from the `app_ticket` event) in this process.
    pub fn set_app_ticket(&self, ticket: Secret) {
        *self.app_ticket.write().unwrap_or_else(PoisonError::into_inner) = Some(ticket);
    }

    /// Stores the latest `app_ticket` in this process and in the token store, for the other
    /// replicas (a marketplace app's only; other credentials need no ticket).
    pub async fn share_app_ticket(&self, ticket: Secret) {
        if let Credentials::MarketplaceApp { app_id, .. } = &self.credentials {
            self.store.put_app_ticket(app_id, &ticket).await;
        }
        self.set_app_ticket(ticket);
    }

    /// The token of a call that needs no lookup: the caller's `explicit` one, or the client's
    /// fixed one.
    pub fn ready(&self, explicit: Option<&Secret>) -> Option<(BearerToken, TokenSource)> {
        match explicit {
            Some(token) => Some((BearerToken::new(token.clone()), TokenSource::Explicit)),
            None => self.fixed.clone().map(|fixed| (fixed, TokenSource::Explicit)),
        }
    }

    /// The token for one call of `operation`.
    pub async fn token(
        &self,
        operation: &Operation,
        explicit: Option<&Secret>,
        tenant_key: Option<&str>,
        http: &reqwest::Client,
        base_url: &str,
    ) -> Result<(BearerToken, TokenSource), AuthFailure> {
        if let Some(token) = explicit {
            return Ok((BearerToken::new(token.clone()), TokenSource::Explicit));
        }
        if let Some(fixed) = &self.fixed {
            return Ok((fixed.clone(), TokenSource::Explicit));
        }
        let needs_user = !operation.token_types.is_empty() && !operation.token_types.contains(&TokenType::Tenant);
        match &self.credentials {
            Credentials::None => Err(AuthFailure::new(
                "no credentials: configure the client with a token or app credentials, or pass CallOptions::access_token",
            )),
            Credentials::AccessToken(token) => Ok((BearerToken::new(token.clone()), TokenSource::Explicit)),
            _ if needs_user => Err(AuthFailure::new(format!(
                "{} accepts only a user_access_token; pass one with CallOptions::access_token",
                operation.id
            ))),
            Credentials::SelfBuiltApp { app_id, app_secret } => {
                // The request body is built only when a token is fetched, not on every call.
                let token = self
                    .tenant
                    .get_or_fetch(self.refresh_margin, || {
                        let key = TokenKey::new(app_id.clone(), StoreKind::Tenant, None);
                        self.through_store(key, async {
                            let body = serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose()});
                            self.fetch_token(http, base_url, SELF_BUILT_TENANT_TOKEN_PATH, &body, TokenKind::Tenant)
                                .await
                        })
                    })
                    .await?;
                Ok((token, TokenSource::SelfBuiltTenant))
            }
            Credentials::MarketplaceApp { .. } => {
                let tenant_key = tenant_key.or(self.default_tenant_key.as_deref()).ok_or_else(|| {
                    AuthFailure::new("a marketplace app needs a tenant key: set one on the client or in CallOptions")
                })?;
                let token = self.marketplace_tenant_token(tenant_key, http, base_url).await?;
                Ok((token, TokenSource::MarketplaceTenant(tenant_key.to_owned())))
            }
        }
    }

    async fn marketplace_tenant_token(
        &self,
        tenant_key: &str,
        http: &reqwest::Client,
        base_url: &str,
    ) -> Result<BearerToken, AuthFailure> {
        let slot = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            tenants.entry(tenant_key.to_owned()).or_default().clone()
        };
        slot.get_or_fetch(self.refresh_margin, || {
            let key = TokenKey::new(self.app_id().unwrap_or_default(), StoreKind::Tenant, Some(tenant_key.to_owned()));
            self.through_store(key, async {
                let mut app_token = self.app_token(http, base_url).await?.token;
                let mut renewed = false;
                loop {
                    let body = serde_json::json!({"app_access_token": app_token.expose(), "tenant_key": tenant_key});
                    let fetched =
                        self.fetch_token(http, base_url, MARKETPLACE_TENANT_TOKEN_PATH, &body, TokenKind::Tenant).await;
                    match fetched {
                        // The app token was rejected (revoked, or expired early): drop it here and
                        // in the store, and try once more with a new one.
                        Err(AuthFailure::Refused { code: Some(code), .. })
                            if !renewed && crate::error::codes::TOKEN_INVALID.contains(&code) =>
                        {
                            tracing::info!(code, "app access token rejected; fetching a new one");
                            self.evict_app_token(&app_token).await;
                            app_token = self.app_token(http, base_url).await?.token;
                            renewed = true;
                        }
                        outcome => return outcome,
                    }
                }
            })
        })
        .await
    }

    /// The marketplace app's app token: cached, else the one another replica stored, else
    /// fetched with the newest `app_ticket` known (the one the token store keeps for every
    /// replica, else this process's own). Without any ticket only the fetch is impossible: a
    /// token in the store serves, and otherwise a resend of the ticket is requested.
    async fn app_token(&self, http: &reqwest::Client, base_url: &str) -> Result<BearerToken, AuthFailure> {
        let Credentials::MarketplaceApp { app_id, app_secret } = &self.credentials else {
            return Err(AuthFailure::new("an app token needs marketplace app credentials"));
        };
        let key = TokenKey::new(app_id.clone(), StoreKind::App, None);
        let own = self.app_ticket.read().unwrap_or_else(PoisonError::into_inner).clone();
        // Asked only when a token must be fetched (the store has none to give).
        let fetch = async {
            let Some(ticket) = self.store.app_ticket(app_id).await.or(own.clone()) else {
                // Ask Feishu to push the ticket again; the caller retries once it has arrived.
                let body = serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose()});
                let resend = http.post(format!("{base_url}{APP_TICKET_RESEND_PATH}")).timeout(self.timeout);
                let _ = resend.json(&body).send().await;
                return Err(AuthFailure::new(
                    "no app_ticket yet: a resend was requested; feed the app_ticket event to Client::share_app_ticket",
                ));
            };
            let body =
                serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose(), "app_ticket": ticket.expose()});
            self.fetch_token(http, base_url, APP_TOKEN_PATH, &body, TokenKind::App).await
        };
        if own.is_none() {
            // Not through the app slot: its memory of a failure would outlast the ticket's
            // arrival. An app token is only needed to fetch a tenant token, which is rare.
            let stored = self.through_store(key, fetch).await?;
            return Ok(BearerToken::new(stored.token));
        }
        self.app.get_or_fetch(self.refresh_margin, || self.through_store(key, fetch)).await
    }

    /// Drops an app token the tenant token endpoint rejected, in the store (if it is still the
    /// one stored there) and then here (the order of [`evict`](Self::evict)).
    async fn evict_app_token(&self, rejected: &Secret) {
        let Some(app_id) = self.app_id() else { return };
        self.store.evict(&TokenKey::new(app_id, StoreKind::App, None), rejected).await;
        self.app.evict(rejected);
    }

    /// Drops a cached token the API rejected, here and in the store (if it is still the one
    /// stored there), so the next call fetches a new one.
    ///
    /// The store first: once this process's copy is gone, its next call asks the store, which
    /// must no longer hold the rejected token (else that call would cache it again, and a call
    /// retrying after the rejection would be sent with it once more).
    pub async fn evict(&self, source: &TokenSource, rejected: &Secret) {
        let Some(app_id) = self.app_id() else { return };
        match source {
            TokenSource::Explicit => {}
            TokenSource::SelfBuiltTenant => {
                self.store.evict(&TokenKey::new(app_id, StoreKind::Tenant, None), rejected).await;
                self.tenant.evict(rejected);
            }
            TokenSource::MarketplaceTenant(tenant_key) => {
                let key = TokenKey::new(app_id, StoreKind::Tenant, Some(tenant_key.clone()));
                self.store.evict(&key, rejected).await;
                let slot = self.tenants.lock().unwrap_or_else(PoisonError::into_inner).get(tenant_key).cloned();
                if let Some(slot) = slot {
                    slot.evict(rejected);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum TokenKind {
    Tenant,
    App,
}

/// One request to a token endpoint: the token and its lifetime in seconds.
async fn fetch_token_once(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    body: &serde_json::Value,
    kind: TokenKind,
    timeout: Duration,
) -> Result<FetchedToken, AuthFailure> {
    let transport = |e: reqwest::Error| AuthFailure::Transport(Arc::new(e));
    let response = http.post(url).timeout(timeout).json(body).send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(transport)?;
    let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| AuthFailure::Refused {
        message: format!("token endpoint {path} answered HTTP {status} without a token response"),
        code: None,
        http_status: Some(status),
    })?;
    let token = match kind {
        TokenKind::Tenant => parsed.tenant_access_token,
        TokenKind::App => parsed.app_access_token,
    };
    match (parsed.code, token) {
        (0, Some(token)) if !token.is_empty() => {
            Ok(FetchedToken { token: Secret::new(token), lifetime: Duration::from_secs(parsed.expire.unwrap_or(7200)) })
        }
        (code, _) => Err(AuthFailure::Refused {
            message: format!("token endpoint {path} refused: {} (code {code})", parsed.msg),
            code: Some(code),
            http_status: Some(status),
        }),
    }
}

impl Auth {
    /// A token from `path`, retried under the client's retry policy when the endpoint is
    /// unreachable, slow, overloaded (5xx, 429) or rate-limited.
    async fn fetch_token(
        &self,
        http: &reqwest::Client,
        base_url: &str,
        path: &str,
        body: &serde_json::Value,
        kind: TokenKind,
    ) -> Result<FetchedToken, AuthFailure> {
        let span = tracing::debug_span!("vc_api.token", endpoint = path);
        let url = format!("{base_url}{path}");
        async move {
            let mut attempt = 0u32;
            loop {
                attempt = attempt.saturating_add(1);
                let failure = match fetch_token_once(http, &url, path, body, kind, self.timeout).await {
                    Ok(token) => return Ok(token),
                    Err(failure) => failure,
                };
                if attempt >= self.retry.max_attempts || !failure.is_retryable() {
                    return Err(failure);
                }
                let delay = self.retry.backoff(attempt);
                tracing::info!(delay_ms = delay.as_millis() as u64, error = %failure, "retrying the token request");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(token: &str) -> FetchedToken {
        FetchedToken { token: Secret::new(token), lifetime: Duration::from_secs(7200) }
    }

    /// A panic while a slot's lock was held does not stop the slot from caching.
    #[tokio::test]
    async fn a_poisoned_slot_keeps_caching() {
        let slot = Arc::new(Slot::default());
        let poisoner = Arc::clone(&slot);
        let panicked = std::thread::spawn(move || {
            let _held = poisoner.state.lock();
            panic!("poisoning the token slot on purpose");
        })
        .join();
        assert!(panicked.is_err() && slot.state.is_poisoned());
        let first = slot.get_or_fetch(Duration::ZERO, || async { Ok(fetched("t-1")) }).await.unwrap();
        let again =
            slot.get_or_fetch(Duration::ZERO, || async { Err(AuthFailure::new("must not be asked")) }).await.unwrap();
        assert_eq!((first.token.expose(), again.token.expose()), ("t-1", "t-1"));
    }

    /// Callers arriving right after a failed fetch get its failure without a new request; once
    /// the memory has passed, the endpoint is asked again (on a paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_failure_is_remembered_briefly() {
        let slot = Slot::default();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        for _ in 0..3 {
            let failed = slot
                .get_or_fetch(Duration::ZERO, || async {
                    asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Err(AuthFailure::new("down"))
                })
                .await;
            assert!(failed.is_err());
        }
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::advance(FAILURE_MEMORY).await;
        let fetched = slot.get_or_fetch(Duration::ZERO, || async { Ok(fetched("t-back")) }).await;
        assert_eq!(fetched.unwrap().token.expose(), "t-back");
    }
}
