//! Building a [`Client`]: domain, credentials, retries, rate limit, timeouts, proxy, TLS. The
//! access token goes on each request in `call.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::auth::{Auth, Credentials};
use crate::error::Error;
use crate::generated::client::Client;
use crate::rate_limit::{Limiter, LocalRateBudget, RateBudget, RateLimit};
use crate::retry::RetryPolicy;
use crate::secret::Secret;
use crate::token_store::{LocalTokenStore, TokenStore};

/// Where the API lives. A token issued by one domain is rejected by the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// Feishu, `https://open.feishu.cn`.
    Feishu,
    /// Lark, `https://open.larksuite.com`.
    Lark,
    /// Any other base URL (a proxy, a mock server), without a trailing slash.
    Custom(String),
}

impl Domain {
    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &str {
        match self {
            Domain::Feishu => "https://open.feishu.cn",
            Domain::Lark => "https://open.larksuite.com",
            Domain::Custom(url) => url.trim_end_matches('/'),
        }
    }
}

/// State the runtime keeps inside every [`Client`]: the token runtime, the retry policy, the
/// optional rate limiter and the JSON call timeout. Its `Debug` output never shows secrets.
/// Only [`ClientBuilder::build`] makes one, so the type is not exported.
#[derive(Debug, Clone)]
pub struct ClientState {
    pub(crate) auth: Arc<Auth>,
    pub(crate) retry: RetryPolicy,
    pub(crate) limiter: Option<Arc<Limiter>>,
    /// Total time allowed for one JSON call (sending it and reading its whole answer).
    pub(crate) timeout: Duration,
    /// The total timeout the HTTP client applies to every request by itself: the JSON call
    /// timeout when the builder made the client, none for one given with
    /// [`ClientBuilder::http_client`].
    pub(crate) http_timeout: Option<Duration>,
}

/// Configures and builds a [`Client`].
///
/// ```no_run
/// # fn main() -> Result<(), vc_api::Error> {
/// use std::time::Duration;
/// // A self-built app: tenant tokens are fetched, cached and refreshed for you.
/// let client = vc_api::Client::builder()
///     .domain(vc_api::Domain::Lark)
///     .app_credentials("cli_a1b2c3", "app-secret")
///     .timeout(Duration::from_secs(10))
///     .retry_policy(vc_api::RetryPolicy { max_attempts: 5, ..Default::default() })
///     .client_side_rate_limit(true)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    domain: Domain,
    credentials: Credentials,
    app_ticket: Option<Secret>,
    tenant_key: Option<String>,
    refresh_margin: Duration,
    retry: RetryPolicy,
    /// Unset: on when a rate budget (or Redis) is given.
    rate_limit: Option<bool>,
    rate_limits: HashMap<String, Vec<RateLimit>>,
    rate_budget: Option<Arc<dyn RateBudget>>,
    token_store: Option<Arc<dyn TokenStore>>,
    /// The Redis URL, which may hold a password: kept as a secret.
    #[cfg(feature = "redis")]
    redis: Option<Secret>,
    timeout: Duration,
    connect_timeout: Duration,
    read_timeout: Duration,
    proxy: Option<String>,
    http: Option<reqwest::Client>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            domain: Domain::Feishu,
            credentials: Credentials::None,
            app_ticket: None,
            tenant_key: None,
            refresh_margin: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            rate_limit: None,
            rate_limits: HashMap::new(),
            rate_budget: None,
            token_store: None,
            #[cfg(feature = "redis")]
            redis: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            proxy: None,
            http: None,
        }
    }
}

impl ClientBuilder {
    /// Feishu domain, no credentials, default retry policy, no client-side rate limit, 30 s
    /// timeout for JSON calls, 10 s connect timeout, 30 s read (idle) timeout, tokens refreshed
    /// 5 minutes before they expire.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the domain (default [`Domain::Feishu`]).
    pub fn domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    /// Sends requests to `url` instead of a Feishu domain (a proxy or a mock server).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.domain(Domain::Custom(url.into()))
    }

    /// A fixed access token (tenant or user) sent as `Authorization: Bearer` on every call.
    pub fn access_token(mut self, token: impl Into<Secret>) -> Self {
        self.credentials = Credentials::AccessToken(token.into());
        self
    }

    /// A self-built app: its tenant access token is fetched on first use and cached.
    pub fn app_credentials(mut self, app_id: impl Into<String>, app_secret: impl Into<Secret>) -> Self {
        self.credentials = Credentials::SelfBuiltApp { app_id: app_id.into(), app_secret: app_secret.into() };
        self
    }

    /// A marketplace app: tenant tokens per tenant key, from an app token that needs the
    /// `app_ticket` (give it here, or later with [`Client::set_app_ticket`]).
    pub fn marketplace_app(mut self, app_id: impl Into<String>, app_secret: impl Into<Secret>) -> Self {
        self.credentials = Credentials::MarketplaceApp { app_id: app_id.into(), app_secret: app_secret.into() };
        self
    }

    /// The marketplace app's current `app_ticket`.
    pub fn app_ticket(mut self, ticket: impl Into<Secret>) -> Self {
        self.app_ticket = Some(ticket.into());
        self
    }

    /// The tenant a marketplace app acts in when a call does not name one.
    pub fn tenant_key(mut self, tenant_key: impl Into<String>) -> Self {
        self.tenant_key = Some(tenant_key.into());
        self
    }

    /// How long before its expiry a cached token is replaced (default 5 minutes).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// When to retry failed calls (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Keeps every operation under its documented rate limits by waiting before sending
    /// (default off, or on once a [rate budget](Self::rate_budget) or Redis (`redis`) is
    /// set): never more requests than a limit allows in any window of its length.
    pub fn client_side_rate_limit(mut self, enabled: bool) -> Self {
        self.rate_limit = Some(enabled);
        self
    }

    /// Replaces the documented rate limits of `operation_id` (an `operationId`, such as
    /// `room_list`) with `limits`, for the client-side rate limit. An empty list removes the
    /// limit; an unknown operation fails [`build`](Self::build).
    pub fn rate_limit_override(
        mut self,
        operation_id: impl Into<String>,
        limits: impl IntoIterator<Item = RateLimit>,
    ) -> Self {
        self.rate_limits.insert(operation_id.into(), limits.into_iter().collect());
        self
    }

    /// Where the client-side rate limit takes its places (default: a
    /// [`LocalRateBudget`] of this client). Turns the client-side rate limit on unless it was
    /// turned off.
    pub fn rate_budget(mut self, budget: impl RateBudget) -> Self {
        self.rate_budget = Some(Arc::new(budget));
        self
    }

    /// Where the client looks for a token before asking the token endpoint (default
    /// [`LocalTokenStore`]: it always asks).
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        self.token_store = Some(Arc::new(store));
        self
    }

    /// Shares the token cache and the rate budget with every other client of the same app on
    /// the Redis server at `url` (`redis://host:port/db`), through
    /// [`RedisStore`](crate::redis_store::RedisStore): tokens are fetched once for all
    /// replicas, and the documented rate limits hold for all of them together (the client-side
    /// rate limit is turned on, unless it was turned off). Keys are namespaced by the app id.
    /// A [`token_store`](Self::token_store) or [`rate_budget`](Self::rate_budget) set
    /// explicitly takes precedence. Tokens are stored sealed (AES-256-GCM, with a key derived
    /// from the app secret and the app id: see
    /// [`RedisStore::token_store_sealed`](crate::redis_store::RedisStore::token_store_sealed)),
    /// never in plain text. [`build`](Self::build) must then run inside a Tokio
    /// runtime. When Redis is unreachable, tokens are fetched locally and the local limiter
    /// applies (see [`redis_store`](crate::redis_store)). The URL (which may hold a password)
    /// is kept as a [`Secret`].
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<Secret>) -> Self {
        self.redis = Some(url.into());
        self
    }

    /// Sends every request through this proxy (`http://`, `https://` or `socks5://` URL).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Total time allowed for one JSON call (one attempt: sending it and reading its whole
    /// answer; default 30 s), token requests included. File downloads have no total limit,
    /// only the [read timeout](Self::read_timeout), so a large file may take as long as it
    /// needs while a stalled one fails. [`CallOptions::timeout`](crate::CallOptions::timeout)
    /// overrides it for one call (downloads included).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest the connection may stay silent while an answer is awaited or read (default
    /// 30 s): the limit that stops a stalled download.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sends every request through `http`, an HTTP client set up by the caller (its own roots,
    /// DNS resolver, connection pool or middleware-free tuning). The builder's
    /// [`proxy`](Self::proxy), [`connect_timeout`](Self::connect_timeout) and
    /// [`read_timeout`](Self::read_timeout) are then not used: configure them on `http`. The
    /// JSON call [`timeout`](Self::timeout) still applies per request.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Builds the client. Fails only if the configuration is unusable (base URL, proxy, token
    /// characters, TLS setup).
    pub fn build(self) -> Result<Client, Error> {
        let base_url = self.domain.base_url().to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!("base URL {base_url:?} must be http or https")));
        }
        if let Credentials::AccessToken(token) = &self.credentials {
            HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| Error::Config("the access token contains characters not allowed in a header".into()))?;
        }
        let (http, http_timeout) = match self.http {
            Some(http) => (http, None),
            None => {
                install_tls_provider();
                // The JSON call timeout is the client's, so that a JSON call needs no timeout of
                // its own; a download, which must not be cut off by it, sets a longer one.
                let mut http = reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .user_agent(concat!("vc-api-rust/", env!("CARGO_PKG_VERSION")));
                if let Some(proxy) = &self.proxy {
                    let proxy =
                        reqwest::Proxy::all(proxy).map_err(|e| Error::Config(format!("invalid proxy URL: {e}")))?;
                    http = http.proxy(proxy);
                }
                let http = http.build().map_err(|e| Error::Config(format!("cannot set up the HTTP client: {e}")))?;
                (http, Some(self.timeout))
            }
        };
        #[allow(unused_mut)]
        let (mut token_store, mut budget) = (self.token_store, self.rate_budget);
        #[cfg(feature = "redis")]
        if let Some(url) = &self.redis {
            let (app_id, app_secret) = match &self.credentials {
                Credentials::SelfBuiltApp { app_id, app_secret }
                | Credentials::MarketplaceApp { app_id, app_secret } => (app_id.as_str(), Some(app_secret)),
                _ => (crate::redis_store::RedisStore::NO_APP_ID, None),
            };
            let store = crate::redis_store::RedisStore::open(url.expose(), app_id)?;
            // Tokens sealed with a key from the app secret; a client without app credentials
            // fetches no token, so it needs no token store.
            if let Some(app_secret) = app_secret {
                token_store.get_or_insert_with(|| Arc::new(store.token_store_sealed(app_secret)));
            }
            budget.get_or_insert_with(|| Arc::new(store.rate_budget()));
        }
        let limiter = match self.rate_limit.unwrap_or(budget.is_some()) {
            true => {
                let budget = budget.unwrap_or_else(|| Arc::new(LocalRateBudget::new()));
                Some(Arc::new(Limiter::new(budget, &self.rate_limits)?))
            }
            false => None,
        };
        let auth = Auth::new(
            self.credentials,
            self.refresh_margin,
            self.app_ticket,
            self.tenant_key,
            self.retry.clone(),
            self.timeout,
            token_store.unwrap_or_else(|| Arc::new(LocalTokenStore)),
        );
        let state =
            ClientState { auth: Arc::new(auth), retry: self.retry, limiter, timeout: self.timeout, http_timeout };
        Ok(Client::from_parts(&base_url, http, state))
    }
}

/// Installs the rustls crypto provider chosen by vc-api's features (aws-lc-rs when both are
/// enabled) as the process default, unless the application installed one already; without a
/// TLS feature it does nothing.
///
/// [`ClientBuilder::build`] calls it. An application that builds its own `reqwest::Client`
/// (for [`ClientBuilder::http_client`], or for anything else in a program that depends on
/// vc-api) calls it first: reqwest's `rustls-no-provider` mode, which vc-api uses, panics
/// when a client is built with no provider installed.
///
/// ```
/// vc_api::install_tls_provider();
/// let http = reqwest::Client::builder().build().unwrap();
/// let client = vc_api::Client::builder().http_client(http).build();
/// # drop(client);
/// ```
pub fn install_tls_provider() {
    #[cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc-rs"))]
    {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            #[cfg(feature = "rustls-aws-lc-rs")]
            let provider = rustls::crypto::aws_lc_rs::default_provider();
            // rustls 0.23.48 deprecates the ring provider ("no support for post-quantum
            // algorithms"); it remains the opt-in `rustls-ring` feature, for its shorter build.
            #[cfg(not(feature = "rustls-aws-lc-rs"))]
            #[allow(deprecated)]
            let provider = rustls::crypto::ring::default_provider();
            // Losing a race against another installer is fine: a provider is installed either way.
            let _ = provider.install_default();
        }
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Gives a marketplace app its latest `app_ticket` (delivered by the `app_ticket` event),
    /// for this process only. With replicas sharing a token store, prefer
    /// [`share_app_ticket`](Self::share_app_ticket): Feishu pushes each ticket to one replica.
    pub fn set_app_ticket(&self, ticket: impl Into<Secret>) {
        self.inner.auth.set_app_ticket(ticket.into());
    }

    /// Gives a marketplace app its latest `app_ticket` (delivered by the `app_ticket` event)
    /// and keeps it in the token store for every replica (see
    /// [`TokenStore::put_app_ticket`](crate::token_store::TokenStore::put_app_ticket); the
    /// Redis store of `ClientBuilder::redis` keeps it sealed, like the tokens). A replica that
    /// must fetch the app token then uses the newest ticket any replica received, instead of
    /// failing for want of one. Without a shared store, the same as
    /// [`set_app_ticket`](Self::set_app_ticket). The webhook receiver given this client
    /// (`EventReceiverBuilder::app_ticket_client`) does this for every ticket delivered.
    ///
    /// ```no_run
    /// # async fn run(ticket_from_the_event: String) -> Result<(), vc_api::Error> {
    /// let client = vc_api::Client::builder().marketplace_app("cli_a1b2c3", "app-secret").build()?;
    /// client.share_app_ticket(ticket_from_the_event).await;
    /// # Ok(()) }
    /// ```
    pub async fn share_app_ticket(&self, ticket: impl Into<Secret>) {
        self.inner.auth.share_app_ticket(ticket.into()).await;
    }
}

/// progenitor's generated client asks for hooks; it sends nothing itself (its `send()` is cut
/// down to building the request, see `codegen/src/send.rs`), so they are never called: the
/// runtime in `call.rs` takes the rate-limit slot and puts the token on each request.
impl progenitor_client::ClientHooks<ClientState> for Client {}
