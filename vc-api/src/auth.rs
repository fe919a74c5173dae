//! Access tokens: a fixed token, or app credentials whose tenant tokens are fetched on first
//! use, cached until shortly before they expire, and refreshed single-flight (however many
//! calls need a token at once, one request fetches it).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use serde::Deserialize;
use tracing::Instrument;

use crate::error::Error;
use crate::operation::{Operation, TokenType};
use crate::secret::Secret;

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

/// A token and the moment it stops being used.
#[derive(Clone)]
struct CachedToken {
    token: BearerToken,
    refresh_at: Instant,
}

impl CachedToken {
    fn fresh(&self) -> Option<BearerToken> {
        (Instant::now() < self.refresh_at).then(|| self.token.clone())
    }
}

/// One cached token with its single-flight refresh lock.
#[derive(Default)]
struct Slot {
    cached: RwLock<Option<CachedToken>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Slot {
    fn get(&self) -> Option<BearerToken> {
        self.cached.read().ok()?.as_ref()?.fresh()
    }

    fn evict(&self, stale: &Secret) {
        if let Ok(mut cached) = self.cached.write()
            && cached.as_ref().is_some_and(|c| &c.token.token == stale)
        {
            *cached = None;
        }
    }

    /// The cached token, or the one `fetch` returns; concurrent callers share one fetch.
    async fn get_or_fetch<F, Fut>(&self, margin: Duration, fetch: F) -> Result<BearerToken, AuthFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Secret, u64), AuthFailure>>,
    {
        if let Some(token) = self.get() {
            return Ok(token);
        }
        let _guard = self.refresh.lock().await;
        if let Some(token) = self.get() {
            return Ok(token);
        }
        let (token, expire_secs) = fetch().await?;
        let token = BearerToken::new(token);
        let lifetime = Duration::from_secs(expire_secs).saturating_sub(margin);
        let cached = CachedToken { token: token.clone(), refresh_at: Instant::now() + lifetime };
        if let Ok(mut slot) = self.cached.write() {
            *slot = Some(cached);
        }
        Ok(token)
    }
}

/// Why no token could be had.
#[derive(Debug, Clone)]
pub(crate) struct AuthFailure {
    pub message: String,
    pub code: Option<i64>,
    pub http_status: Option<u16>,
}

impl AuthFailure {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), code: None, http_status: None }
    }

    pub fn into_error(self, operation: &'static str) -> Error {
        Error::Auth { operation, message: self.message, code: self.code, http_status: self.http_status }
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
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("credentials", &self.credentials)
            .field("refresh_margin", &self.refresh_margin)
            .field("default_tenant_key", &self.default_tenant_key)
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
        }
    }

    /// Stores the latest `app_ticket` (from the `app_ticket` event).
    pub fn set_app_ticket(&self, ticket: Secret) {
        if let Ok(mut slot) = self.app_ticket.write() {
            *slot = Some(ticket);
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
                    .get_or_fetch(self.refresh_margin, || async {
                        let body = serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose()});
                        fetch_token(http, base_url, SELF_BUILT_TENANT_TOKEN_PATH, body, TokenKind::Tenant).await
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
            let mut tenants = self.tenants.lock().map_err(|_| AuthFailure::new("token cache poisoned"))?;
            tenants.entry(tenant_key.to_owned()).or_default().clone()
        };
        slot.get_or_fetch(self.refresh_margin, || async {
            let app_token = self.app_token(http, base_url).await?.token;
            let body = serde_json::json!({"app_access_token": app_token.expose(), "tenant_key": tenant_key});
            fetch_token(http, base_url, MARKETPLACE_TENANT_TOKEN_PATH, body, TokenKind::Tenant).await
        })
        .await
    }

    async fn app_token(&self, http: &reqwest::Client, base_url: &str) -> Result<BearerToken, AuthFailure> {
        let Credentials::MarketplaceApp { app_id, app_secret } = &self.credentials else {
            return Err(AuthFailure::new("an app token needs marketplace app credentials"));
        };
        let ticket = self.app_ticket.read().ok().and_then(|t| t.clone());
        let Some(ticket) = ticket else {
            // Ask Feishu to push the ticket again; the caller retries once it has arrived.
            let body = serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose()});
            let _ = http.post(format!("{base_url}{APP_TICKET_RESEND_PATH}")).json(&body).send().await;
            return Err(AuthFailure::new(
                "no app_ticket yet: a resend was requested; feed the app_ticket event to Client::set_app_ticket",
            ));
        };
        let body =
            serde_json::json!({"app_id": app_id, "app_secret": app_secret.expose(), "app_ticket": ticket.expose()});
        self.app
            .get_or_fetch(self.refresh_margin, || fetch_token(http, base_url, APP_TOKEN_PATH, body, TokenKind::App))
            .await
    }

    /// Drops a cached token the API rejected, so the next call fetches a new one.
    pub fn evict(&self, source: &TokenSource, rejected: &Secret) {
        match source {
            TokenSource::Explicit => {}
            TokenSource::SelfBuiltTenant => self.tenant.evict(rejected),
            TokenSource::MarketplaceTenant(key) => {
                if let Some(slot) = self.tenants.lock().ok().and_then(|t| t.get(key).cloned()) {
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

async fn fetch_token(
    http: &reqwest::Client,
    base_url: &str,
    path: &str,
    body: serde_json::Value,
    kind: TokenKind,
) -> Result<(Secret, u64), AuthFailure> {
    let span = tracing::debug_span!("vc_api.token", endpoint = path);
    async move {
        let response = http
            .post(format!("{base_url}{path}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| AuthFailure::new(format!("token endpoint {path} unreachable: {e}")))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| AuthFailure::new(format!("token endpoint {path}: reading the answer failed: {e}")))?;
        let parsed: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| AuthFailure {
            message: format!("token endpoint {path} answered HTTP {status} without a token response"),
            code: None,
            http_status: Some(status),
        })?;
        let token = match kind {
            TokenKind::Tenant => parsed.tenant_access_token,
            TokenKind::App => parsed.app_access_token,
        };
        match (parsed.code, token) {
            (0, Some(token)) if !token.is_empty() => Ok((Secret::new(token), parsed.expire.unwrap_or(7200))),
            (code, _) => Err(AuthFailure {
                message: format!("token endpoint {path} refused: {} (code {code})", parsed.msg),
                code: Some(code),
                http_status: Some(status),
            }),
        }
    }
    .instrument(span)
    .await
}
