//! Where a client looks for an access token it does not hold: the [`TokenStore`] trait and
//! [`LocalTokenStore`], the default, which has nothing to share and fetches.
//!
//! A client always keeps the token it uses in process (fetched single-flight, refreshed before
//! it expires, dropped when the API rejects it), so a call with a fresh token never reaches the
//! store. The store is asked only when the process needs a new token: a shared store
//! (`vc_api::redis_store::RedisTokenStore`, feature `redis`) answers with the token another
//! replica fetched, or lets exactly one replica fetch it. It may also keep a marketplace app's
//! latest `app_ticket`, which Feishu pushes to one replica only, for the others.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::auth::AuthFailure;
use crate::secret::Secret;

/// Which token a [`TokenKey`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// A `tenant_access_token` (of a self-built app, or of a marketplace app in one tenant).
    Tenant,
    /// A marketplace app's `app_access_token`.
    App,
}

/// The name of one cached token: the app, the kind, and for a marketplace app's tenant token
/// the tenant key. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    app_id: String,
    kind: TokenKind,
    tenant_key: Option<String>,
}

impl TokenKey {
    /// The key of `kind` for `app_id`, in `tenant_key`'s tenant for a marketplace tenant token.
    pub fn new(app_id: impl Into<String>, kind: TokenKind, tenant_key: Option<String>) -> Self {
        Self { app_id: app_id.into(), kind, tenant_key }
    }

    /// The app's id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The token's kind.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The tenant of a marketplace app's tenant token.
    pub fn tenant_key(&self) -> Option<&str> {
        self.tenant_key.as_deref()
    }

    /// A name for the token unique within the app: `tenant`, `tenant:{tenant_key}` or `app`.
    pub fn name(&self) -> String {
        match (self.kind, &self.tenant_key) {
            (TokenKind::App, _) => "app".to_owned(),
            (TokenKind::Tenant, None) => "tenant".to_owned(),
            (TokenKind::Tenant, Some(key)) => format!("tenant:{key}"),
        }
    }
}

/// A token and how long it stays valid from now.
#[derive(Debug, Clone)]
pub struct FetchedToken {
    /// The token.
    pub token: Secret,
    /// Its remaining lifetime.
    pub lifetime: Duration,
}

/// Why a token could not be fetched (the token endpoint refused, or could not be reached).
/// A store passes it through unchanged.
#[derive(Debug, Clone)]
pub struct TokenError(pub(crate) AuthFailure);

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TokenError {}

/// The future a [`TokenStore`] returns and the fetch it is given.
pub type TokenFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store of access tokens, asked by a client that needs a new one.
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The stored token for `key` if it has more than `margin` left, or the one `fetch` returns
    /// (which the store may keep for the others). `fetch` asks the token endpoint; a store
    /// awaits it at most once, and may not at all.
    fn get_or_fetch<'a>(
        &'a self,
        key: &'a TokenKey,
        margin: Duration,
        fetch: TokenFuture<'a, Result<FetchedToken, TokenError>>,
    ) -> TokenFuture<'a, Result<FetchedToken, TokenError>>;

    /// The API rejected `rejected`: forget it, if it is still the token stored for `key` (a
    /// newer one another process stored stays).
    fn evict<'a>(&'a self, key: &'a TokenKey, rejected: &'a Secret) -> TokenFuture<'a, ()>;

    /// Keeps a marketplace app's latest `app_ticket` for the other processes of `app_id`
    /// (Feishu pushes each ticket to one of them): a process that must fetch the app token and
    /// holds no ticket of its own asks [`app_ticket`](Self::app_ticket). Best effort: a store
    /// that cannot keep it says nothing. The default keeps nothing.
    fn put_app_ticket<'a>(&'a self, app_id: &'a str, ticket: &'a Secret) -> TokenFuture<'a, ()> {
        let _ = (app_id, ticket);
        Box::pin(std::future::ready(()))
    }

    /// The latest `app_ticket` a process of `app_id` kept with
    /// [`put_app_ticket`](Self::put_app_ticket), if the store has one. The default has none.
    fn app_ticket<'a>(&'a self, app_id: &'a str) -> TokenFuture<'a, Option<Secret>> {
        let _ = app_id;
        Box::pin(std::future::ready(None))
    }
}

/// The default [`TokenStore`]: nothing beyond the client's own in-process token, so a new
/// token is always fetched (and nothing is stored twice).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTokenStore;

impl TokenStore for LocalTokenStore {
    fn get_or_fetch<'a>(
        &'a self,
        _key: &'a TokenKey,
        _margin: Duration,
        fetch: TokenFuture<'a, Result<FetchedToken, TokenError>>,
    ) -> TokenFuture<'a, Result<FetchedToken, TokenError>> {
        fetch
    }

    fn evict<'a>(&'a self, _key: &'a TokenKey, _rejected: &'a Secret) -> TokenFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}
