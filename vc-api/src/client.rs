//! Building a [`Client`]: domain, credentials, timeouts, TLS; and the hooks that put the
//! access token on every request.

use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue};

use crate::error::Error;
use crate::generated::client::Client;
use crate::secret::Secret;

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

/// State the runtime keeps inside every [`Client`]. Its `Debug` output never shows secrets.
#[derive(Debug, Clone, Default)]
pub struct ClientState {
    access_token: Option<Secret>,
}

/// Configures and builds a [`Client`].
///
/// ```no_run
/// # fn main() -> Result<(), vc_api::Error> {
/// use std::time::Duration;
/// let client = vc_api::Client::builder()
///     .domain(vc_api::Domain::Lark)
///     .access_token("t-g1044...")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    domain: Domain,
    access_token: Option<Secret>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            domain: Domain::Feishu,
            access_token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientBuilder {
    /// Feishu domain, no token, 30 s request timeout, 10 s connect timeout.
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
        self.access_token = Some(token.into());
        self
    }

    /// Total time allowed for one request, including reading the response.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed to establish a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Builds the client. Fails only if the base URL or the TLS setup is unusable.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = self.domain.base_url().to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!("base URL {base_url:?} must be http or https")));
        }
        if let Some(token) = &self.access_token {
            HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| Error::Config("the access token contains characters not allowed in a header".into()))?;
        }
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("vc-api-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client::new_with_client(&base_url, http, ClientState { access_token: self.access_token }))
    }
}

/// Makes `ring` the process's rustls provider unless one is installed already.
fn install_tls_provider() {
    #[cfg(feature = "rustls-ring")]
    {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race against another installer is fine: a provider is installed either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }
}

impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let path = request.url().path();
        if path.contains("//") || path.ends_with('/') {
            return Err(progenitor_client::Error::InvalidRequest(format!(
                "a path parameter of {} is empty",
                info.operation_id
            )));
        }
        if let Some(token) = &self.inner().access_token
            && !request.headers().contains_key(AUTHORIZATION)
        {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| progenitor_client::Error::InvalidRequest("invalid access token".into()))?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        Ok(())
    }
}
