//! State shared by the replicas of an app on Redis (feature `redis`): one [`RedisStore`]
//! connection giving the [`RedisTokenStore`] (tokens fetched once for every replica), the
//! [`RedisRateBudget`] (the documented rate limits held by all replicas together) and the
//! [`RedisEventMemory`] (each event handled by one replica).
//! [`ClientBuilder::redis`](crate::ClientBuilder::redis) sets the first two on a client.
//!
//! Keys are namespaced by app id: `vc:{app_id}:token:v2:{name}` (the token, with its lock
//! `…:lock`), `vc:{app_id}:rate:{operation}` and `vc:{app_id}:delivery:{key}`. The app secret
//! is never stored, and tokens (what the replicas share) only sealed:
//!
//! # Tokens sealed at rest
//! The token store the client uses ([`ClientBuilder::redis`](crate::ClientBuilder::redis), or
//! [`RedisStore::token_store_sealed`] given the app secret) stores each token as
//! `{margin_ms}:{fingerprint}:{base64(nonce ‖ ciphertext)}`:
//!
//! - the ciphertext is the token sealed with AES-256-GCM under a fresh random 96-bit nonce,
//!   with the Redis key's name as associated data (a value copied to another key does not
//!   open);
//! - the 256-bit key is SHA-256 over a fixed label (`vc-api token store v1`), the app id and
//!   the app secret: every replica of the app derives the same key, and only a holder of the
//!   app secret can open a value (who can read Redis cannot use the tokens);
//! - the fingerprint (the first 16 bytes of a SHA-256 keyed with another key derived the same
//!   way, in hex) identifies the token without revealing it: an eviction deletes the stored
//!   token only if its fingerprint is the rejected token's.
//!
//! A marketplace app's latest `app_ticket` ([`Client::share_app_ticket`](crate::Client::share_app_ticket))
//! is sealed the same way, under `…:token:v2:app_ticket` (value `{fingerprint}:{sealed}`, kept
//! for [`RedisTokenStore::APP_TICKET_LIFETIME`]), so a replica the ticket event did not reach
//! can still fetch the app token.
//!
//! A value that does not open (sealed with another secret or for another key, or garbage)
//! counts as absent: the replica fetches a token and overwrites it. Sealed tokens live under
//! `…:token:v2:…`, apart from the plain values of earlier versions (`…:token:{name}`), so
//! during a rolling upgrade the old and the new replicas each share tokens among themselves
//! only. [`RedisStore::token_store`] (no secret given) still stores tokens in plain text, under
//! the old keys.
//!
//! # When Redis is unreachable
//! Every Redis operation fails within [`RedisStore::DEFAULT_TIMEOUT`] (configurable), and each
//! store then does what is safe for it, logging the outage once when it starts (a warning) and
//! once when it ends; the connection is re-established on a later operation, without a restart.
//!
//! - **Tokens**: fetched by the process itself, as without Redis (each replica may then fetch
//!   its own); shared again once Redis answers.
//! - **Rate budget**: each process falls back to its own in-process limiter (the replicas
//!   together may then exceed the limit up to their number of times, the server's 429s and the
//!   retry policy covering the rest).
//! - **Event memory**: the delivery is refused with 503, so that the platform delivers it again
//!   later: the memory refuses rather than risk running a handler twice. A redelivery of an
//!   event this replica has itself handled is still recognised (each replica also keeps the
//!   keys it completed, in a bounded local memory) and acknowledged.
//!
//! ```no_run
//! # #[cfg(feature = "webhook")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use vc_api::redis_store::RedisStore;
//! use vc_api::webhook::EventReceiver;
//!
//! // Every replica: the same Redis and app id.
//! let client = vc_api::Client::builder()
//!     .app_credentials("cli_a1b2c3", "app-secret")
//!     .redis("redis://127.0.0.1:6379/")
//!     .build()?;
//! let store = RedisStore::open("redis://127.0.0.1:6379/", "cli_a1b2c3")?;
//! let receiver = EventReceiver::builder()
//!     .encrypt_key("encrypt-key")
//!     .verification_token("verification-token")
//!     .memory(store.event_memory())
//!     .build()?;
//! # let _ = (client, receiver); Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client as RedisClient, Script};

use crate::event_memory::{Claim, EventMemory, LocalEventMemory, MAX_KEY_LEN, MemoryError, MemoryFuture};
use crate::rate_limit::{BudgetFuture, Grant, LocalRateBudget, RateBudget, RateLimit};
use crate::secret::Secret;
use crate::token_store::{FetchedToken, TokenError, TokenFuture, TokenKey, TokenStore};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A connection to the Redis server shared by the replicas, and the stores on it. Clones share
/// the connection (multiplexed, re-established after failures).
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    app_id: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("app_id", &self.app_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// How long an operation may take before Redis counts as unreachable.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// The namespace of a client without app credentials (a fixed access token): its rate
    /// budget is shared with every such client on the same Redis.
    pub const NO_APP_ID: &'static str = "_";

    /// The Redis server at `url` (`redis://host:port/db`; TLS `rediss://` is not enabled) for
    /// the app `app_id`. Connects lazily, on first use; fails only on an invalid URL. Must be
    /// called inside a Tokio runtime.
    pub fn open(url: &str, app_id: &str) -> Result<Self, crate::Error> {
        Self::open_with_timeout(url, app_id, Self::DEFAULT_TIMEOUT)
    }

    /// Like [`open`](Self::open), with the time after which an operation (connecting
    /// included) counts as failed.
    pub fn open_with_timeout(url: &str, app_id: &str, timeout: Duration) -> Result<Self, crate::Error> {
        let config_error = |e: ::redis::RedisError| crate::Error::Config(format!("Redis URL: {e}"));
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(crate::Error::Config("a Redis store must be opened inside a Tokio runtime".into()));
        }
        let client = RedisClient::open(url).map_err(config_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(config_error)?;
        Ok(Self { connection, app_id: app_id.into(), timeout })
    }

    /// The app's token store on this connection, storing tokens **in plain text** (values
    /// `{margin_ms}:{token}` under `vc:{app_id}:token:{name}`): whoever can read the Redis
    /// server can use them. Kept for stores built before sealing existed; prefer
    /// [`token_store_sealed`](Self::token_store_sealed), which is what
    /// [`ClientBuilder::redis`](crate::ClientBuilder::redis) uses.
    pub fn token_store(&self) -> RedisTokenStore {
        self.token_store_with(format!("vc:{}:token:", self.app_id), None, TOKEN_EVICT)
    }

    /// The app's token store on this connection, with every token sealed by a key derived
    /// from `app_secret` and the app id (see [Tokens sealed at rest](self#tokens-sealed-at-rest)):
    /// what [`ClientBuilder::redis`](crate::ClientBuilder::redis) uses. Every replica must
    /// give the same app secret to share tokens; the secret itself is neither stored nor kept.
    pub fn token_store_sealed(&self, app_secret: &Secret) -> RedisTokenStore {
        let sealer = Sealer::new(&self.app_id, app_secret);
        self.token_store_with(format!("vc:{}:token:v2:", self.app_id), Some(sealer), TOKEN_EVICT_SEALED)
    }

    fn token_store_with(&self, prefix: String, sealer: Option<Sealer>, evict: &str) -> RedisTokenStore {
        RedisTokenStore {
            inner: Arc::new(TokenInner {
                link: self.link("the token cache", "tokens are fetched locally"),
                prefix,
                sealer,
                lock_expiry: RedisTokenStore::DEFAULT_LOCK_EXPIRY,
                get_or_lock: Script::new(TOKEN_GET_OR_LOCK),
                put: Script::new(TOKEN_PUT),
                unlock: Script::new(UNLOCK),
                evict: Script::new(evict),
            }),
        }
    }

    /// The app's rate budget on this connection.
    pub fn rate_budget(&self) -> RedisRateBudget {
        RedisRateBudget {
            inner: Arc::new(BudgetInner {
                link: self.link("the rate budget", "each process applies its own limiter"),
                prefix: format!("vc:{}:rate:", self.app_id),
                hold: RedisRateBudget::DEFAULT_HOLD,
                local: LocalRateBudget::new(),
                acquire: Script::new(RATE_ACQUIRE),
                answered: Script::new(RATE_ANSWERED),
            }),
        }
    }

    /// The app's event memory on this connection.
    pub fn event_memory(&self) -> RedisEventMemory {
        RedisEventMemory {
            inner: Arc::new(Inner {
                link: self.link("the event memory", "deliveries are refused (503) until it is back"),
                prefix: format!("vc:{}:delivery:", self.app_id),
                completed: LocalEventMemory::default(),
                claim: Script::new(CLAIM),
                release: Script::new(RELEASE),
            }),
        }
    }

    fn link(&self, store: &'static str, fallback: &'static str) -> Link {
        Link {
            connection: self.connection.clone(),
            timeout: self.timeout,
            down: AtomicBool::new(false),
            store,
            fallback,
        }
    }
}

/// One store's use of the connection: every operation under the timeout, the start and the
/// end of an outage logged once each.
struct Link {
    connection: ConnectionManager,
    timeout: Duration,
    down: AtomicBool,
    /// What the store is, and what it does while Redis is unreachable (for the log).
    store: &'static str,
    fallback: &'static str,
}

impl Link {
    async fn run<T>(
        &self,
        operation: impl std::future::Future<Output = ::redis::RedisResult<T>>,
    ) -> Result<T, MemoryError> {
        let result = match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(MemoryError::Unavailable("no answer from Redis in time".into())),
        };
        match &result {
            Ok(_) if self.down.swap(false, Ordering::Relaxed) => {
                tracing::info!(
                    store = self.store,
                    "vc_api.redis: Redis reachable again; {} is shared again",
                    self.store
                );
            }
            Err(error) if !self.down.swap(true, Ordering::Relaxed) => {
                tracing::warn!(store = self.store, error = %error, "vc_api.redis: Redis unreachable for {}; {}", self.store, self.fallback);
            }
            _ => {}
        }
        result
    }

    /// Runs the command `command`.
    async fn query<T: ::redis::FromRedisValue>(&self, command: &::redis::Cmd) -> Result<T, MemoryError> {
        let mut connection = self.connection.clone();
        self.run(command.query_async(&mut connection)).await
    }

    /// Runs `script` with `keys` and `args`.
    async fn script<T: ::redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, MemoryError> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        self.run(invocation.invoke_async(&mut connection)).await
    }
}

/// A value unique among every process on every host: for lock owners and budget places.
fn unique_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}-{nanos:x}-{:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// KEYS: token, lock. ARGV: owner, lock expiry (ms), a value the caller could not read. The
/// stored token as `t:{pttl}:{value}` (unless it is the unreadable value, which counts as
/// absent), else the lock taken for the owner (`l`), else `w` (another process is fetching).
const TOKEN_GET_OR_LOCK: &str = r"
local value = redis.call('GET', KEYS[1])
if value and value ~= ARGV[3] then return 't:' .. redis.call('PTTL', KEYS[1]) .. ':' .. value end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'l' end
return 'w'
";

/// KEYS: token, lock. ARGV: value, expiry (ms, 0: do not store), owner. Stores the token and
/// releases the owner's lock in one step, so a waiter sees one or the other.
const TOKEN_PUT: &str = r"
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
";

/// KEYS: a lock. ARGV: owner. Releases the lock only if the owner still holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// KEYS: token. ARGV: the rejected token. Deletes the stored token only if it is that one
/// (plain values `{margin_ms}:{token}`).
const TOKEN_EVICT: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local colon = string.find(value, ':', 1, true)
if colon and string.sub(value, colon + 1) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
";

/// KEYS: token. ARGV: the rejected token's fingerprint. Deletes the stored token only if it is
/// that one (sealed values `{margin_ms}:{fingerprint}:{sealed}`).
const TOKEN_EVICT_SEALED: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local first = string.find(value, ':', 1, true)
if not first then return 0 end
local second = string.find(value, ':', first + 1, true)
if second and string.sub(value, first + 1, second - 1) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
";

/// The label the token store's keys are derived under (a new label, a new key).
const KEY_LABEL: &str = "vc-api token store v1";

/// The length of an AES-GCM nonce (96 bits).
const NONCE_LEN: usize = 12;

/// The keys of a sealed token store, derived from the app secret and the app id: one seals
/// the tokens, the other keys their fingerprints.
struct Sealer {
    cipher: Aes256Gcm,
    fingerprint_key: [u8; 32],
}

impl Sealer {
    fn new(app_id: &str, app_secret: &Secret) -> Self {
        // SHA-256 over length-prefixed parts, so no two inputs run together the same way.
        let derive = |purpose: &str| -> [u8; 32] {
            let mut hash = Sha256::new();
            for part in [KEY_LABEL, purpose, app_id, app_secret.expose()] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part.as_bytes());
            }
            hash.finalize().into()
        };
        let key = derive("seal");
        Self { cipher: Aes256Gcm::new(&key.into()), fingerprint_key: derive("fingerprint") }
    }

    /// The first 16 bytes of SHA-256(fingerprint key ‖ token), in hex.
    fn fingerprint(&self, token: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.fingerprint_key);
        hash.update(token.as_bytes());
        crate::hex::to_hex(&hash.finalize()[..16])
    }

    /// `{fingerprint}:{base64(nonce ‖ ciphertext)}` for `token` stored under `redis_key`;
    /// `None` if the system gave no random nonce.
    fn seal(&self, redis_key: &str, token: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let payload = Payload { msg: token.as_bytes(), aad: redis_key.as_bytes() };
        let ciphertext = self.cipher.encrypt(Nonce::from_slice(&nonce), payload).ok()?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        let blob = base64::engine::general_purpose::STANDARD.encode(blob);
        Some(format!("{}:{blob}", self.fingerprint(token)))
    }

    /// The token in `sealed` (what [`seal`](Self::seal) gave) stored under `redis_key`;
    /// `None` unless it opens with this key under this key name and matches its fingerprint.
    fn open(&self, redis_key: &str, sealed: &str) -> Option<String> {
        let (fingerprint, blob) = sealed.split_once(':')?;
        let blob = base64::engine::general_purpose::STANDARD.decode(blob).ok()?;
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: redis_key.as_bytes() };
        let token = String::from_utf8(self.cipher.decrypt(Nonce::from_slice(nonce), payload).ok()?).ok()?;
        (self.fingerprint(&token) == fingerprint).then_some(token)
    }
}

/// A [`TokenStore`] on Redis: a token fetched by one replica serves them all.
///
/// A token is stored under `vc:{app_id}:token:v2:{name}`, sealed (see
/// [Tokens sealed at rest](self#tokens-sealed-at-rest); a store from [`open`](Self::open) or
/// [`RedisStore::token_store`] stores it in plain text under `vc:{app_id}:token:{name}`
/// instead), with an expiry of its remaining life minus the refresh margin, so it disappears when it is due for replacement. A process that
/// needs a token and finds none takes the lock `…:lock` (`SET NX PX`, expiring after
/// [`DEFAULT_LOCK_EXPIRY`](Self::DEFAULT_LOCK_EXPIRY) should its holder die) and fetches; the
/// others poll for the token it stores (a few milliseconds apart, more as the wait grows), so
/// the replicas together make one token request. A rejected token is deleted only while it
/// is still the stored one. A marketplace app's tenant tokens are stored per tenant key
/// (`…:tenant:{tenant_key}`) and its app token under `…:app`, so a replica that
/// never received the `app_ticket` event fetches tenant tokens with another replica's app
/// token. When Redis is unreachable, the process fetches its own token (see the
/// [module](self) documentation).
#[derive(Clone)]
pub struct RedisTokenStore {
    inner: Arc<TokenInner>,
}

struct TokenInner {
    link: Link,
    prefix: String,
    /// Seals the stored tokens; `None`: plain text.
    sealer: Option<Sealer>,
    lock_expiry: Duration,
    get_or_lock: Script,
    put: Script,
    unlock: Script,
    evict: Script,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("prefix", &self.inner.prefix)
            .field("sealed", &self.inner.sealer.is_some())
            .finish_non_exhaustive()
    }
}

/// What a look into Redis found.
enum TokenLookup {
    Found(FetchedToken),
    /// This process holds the lock, under this owner id.
    Locked(String),
}

impl RedisTokenStore {
    /// How long the lock of a token fetch lives if its holder never releases it.
    pub const DEFAULT_LOCK_EXPIRY: Duration = Duration::from_secs(10);

    /// How long a shared `app_ticket` is kept (Feishu pushes a new one about every hour; the
    /// official SDKs keep one for 12 hours).
    pub const APP_TICKET_LIFETIME: Duration = Duration::from_secs(12 * 3600);

    /// The store on `url` for `app_id` (see [`RedisStore::open`]), storing tokens **in plain
    /// text** (see [`RedisStore::token_store`]); [`open_sealed`](Self::open_sealed) seals them,
    /// as the client does.
    pub fn open(url: &str, app_id: &str) -> Result<Self, crate::Error> {
        Ok(RedisStore::open(url, app_id)?.token_store())
    }

    /// The store on `url` for `app_id`, sealing tokens with a key derived from `app_secret`
    /// (see [`RedisStore::token_store_sealed`]).
    pub fn open_sealed(url: &str, app_id: &str, app_secret: &Secret) -> Result<Self, crate::Error> {
        Ok(RedisStore::open(url, app_id)?.token_store_sealed(app_secret))
    }
}

impl TokenInner {
    /// The stored token, or the lock; waits while another process holds the lock. `Err` when
    /// Redis fails, or when the wait outlasts twice the lock's expiry.
    async fn lookup(&self, key: &str, lock: &str) -> Result<TokenLookup, MemoryError> {
        let owner = unique_id();
        let expiry = millis(self.lock_expiry).to_string();
        let deadline = tokio::time::Instant::now() + self.lock_expiry * 2;
        let mut pause = Duration::from_millis(2);
        // A stored value this store cannot read, which then counts as absent.
        let mut unreadable = String::new();
        loop {
            let args = [owner.as_str(), &expiry, &unreadable];
            let answer: String = self.link.script(&self.get_or_lock, &[key, lock], &args).await?;
            if answer == "l" {
                return Ok(TokenLookup::Locked(owner));
            }
            let stored = answer.strip_prefix("t:");
            if let Some(found) = stored.and_then(|stored| self.parse_stored(key, stored)) {
                return Ok(TokenLookup::Found(found));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(MemoryError::Unavailable("the token lock was held too long".into()));
            }
            // Sealed with another secret or for another key, an older format, garbage: asked
            // again at once, to take the lock and overwrite it.
            if let Some((_, value)) = stored.and_then(|stored| stored.split_once(':')) {
                unreadable = value.to_owned();
                continue;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    async fn get_or_fetch(
        &self,
        key: &TokenKey,
        margin: Duration,
        fetch: TokenFuture<'_, Result<FetchedToken, TokenError>>,
    ) -> Result<FetchedToken, TokenError> {
        let redis_key = self.redis_key(&key.name());
        let lock = format!("{redis_key}:lock");
        match self.lookup(&redis_key, &lock).await {
            Ok(TokenLookup::Found(token)) => Ok(token),
            Ok(TokenLookup::Locked(owner)) => {
                let fetched = fetch.await;
                let outcome = match &fetched {
                    Ok(token) => {
                        // Stored only for the part of its life before the margin; the margin
                        // goes with it, so a reader knows the whole remaining life.
                        let keep = u64::try_from(token.lifetime.saturating_sub(margin).as_millis()).unwrap_or(u64::MAX);
                        match self.value(&redis_key, margin, token.token.expose()) {
                            Some(value) => {
                                let args = [value.as_str(), &keep.to_string(), &owner];
                                self.link.script::<i64>(&self.put, &[&redis_key, &lock], &args).await
                            }
                            // No nonce to seal with: not shared this time.
                            None => self.link.script::<i64>(&self.unlock, &[&lock], &[&owner]).await,
                        }
                    }
                    Err(_) => self.link.script::<i64>(&self.unlock, &[&lock], &[&owner]).await,
                };
                // A failure to store is logged by the link; the token is good either way.
                drop(outcome);
                fetched
            }
            // Outage (logged once by the link): fetch here.
            Err(_) => fetch.await,
        }
    }
}

impl TokenInner {
    /// The Redis key of the token (or ticket) `name`.
    fn redis_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The value stored for `token` under `redis_key`: `{margin_ms}:{token}` in plain text,
    /// `{margin_ms}:{fingerprint}:{sealed}` sealed (`None` if it could not be sealed).
    fn value(&self, redis_key: &str, margin: Duration, token: &str) -> Option<String> {
        let sealed = match &self.sealer {
            Some(sealer) => sealer.seal(redis_key, token)?,
            None => token.to_owned(),
        };
        Some(format!("{}:{sealed}", millis(margin)))
    }

    /// `{pttl}:{value}` read under `redis_key` into the token and its remaining life; `None`
    /// if this store cannot read it.
    fn parse_stored(&self, redis_key: &str, stored: &str) -> Option<FetchedToken> {
        let mut parts = stored.splitn(3, ':');
        let pttl: i64 = parts.next()?.parse().ok()?;
        let margin: u64 = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let token = match &self.sealer {
            Some(sealer) => sealer.open(redis_key, rest)?,
            None => rest.to_owned(),
        };
        // -1: no expiry (never written so); -2: gone since the GET (cannot happen in one script).
        let pttl = u64::try_from(pttl).ok()?;
        Some(FetchedToken { token: Secret::new(token), lifetime: Duration::from_millis(pttl.saturating_add(margin)) })
    }
}

impl TokenStore for RedisTokenStore {
    fn get_or_fetch<'a>(
        &'a self,
        key: &'a TokenKey,
        margin: Duration,
        fetch: TokenFuture<'a, Result<FetchedToken, TokenError>>,
    ) -> TokenFuture<'a, Result<FetchedToken, TokenError>> {
        Box::pin(self.inner.get_or_fetch(key, margin, fetch))
    }

    fn evict<'a>(&'a self, key: &'a TokenKey, rejected: &'a Secret) -> TokenFuture<'a, ()> {
        Box::pin(async move {
            let redis_key = self.inner.redis_key(&key.name());
            let rejected = match &self.inner.sealer {
                Some(sealer) => sealer.fingerprint(rejected.expose()),
                None => rejected.expose().to_owned(),
            };
            let _ = self.inner.link.script::<i64>(&self.inner.evict, &[&redis_key], &[&rejected]).await;
        })
    }

    /// Sealed stores only (a plain store keeps no ticket): under `…:token:v2:app_ticket`, for
    /// [`APP_TICKET_LIFETIME`](RedisTokenStore::APP_TICKET_LIFETIME); the newest replaces it.
    fn put_app_ticket<'a>(&'a self, _app_id: &'a str, ticket: &'a Secret) -> TokenFuture<'a, ()> {
        Box::pin(async move {
            let Some(sealer) = &self.inner.sealer else { return };
            let redis_key = self.inner.redis_key(APP_TICKET);
            let Some(sealed) = sealer.seal(&redis_key, ticket.expose()) else { return };
            let mut set = ::redis::cmd("SET");
            set.arg(&redis_key).arg(sealed).arg("PX").arg(millis(RedisTokenStore::APP_TICKET_LIFETIME));
            let _ = self.inner.link.query::<()>(&set).await;
        })
    }

    /// The ticket a replica kept, if it opens (sealed stores only).
    fn app_ticket<'a>(&'a self, _app_id: &'a str) -> TokenFuture<'a, Option<Secret>> {
        Box::pin(async move {
            let sealer = self.inner.sealer.as_ref()?;
            let redis_key = self.inner.redis_key(APP_TICKET);
            let mut get = ::redis::cmd("GET");
            get.arg(&redis_key);
            let sealed: Option<String> = self.inner.link.query(&get).await.ok()?;
            sealer.open(&redis_key, &sealed?).map(Secret::new)
        })
    }
}

/// The name of the shared `app_ticket` among the token names (`app`, `tenant`, `tenant:{key}`).
const APP_TICKET: &str = "app_ticket";

// ---------------------------------------------------------------------------------------------
// Rate budget

/// KEYS: the operation's log (a sorted set of places scored by time in µs). ARGV: the place's
/// id, how long an unanswered place counts as in flight (µs), then `requests`, `window` (µs)
/// per limit. Time is the Redis server's, so the replicas' clocks do not matter. A place is
/// taken (answer 0) only if every limit has room in the window ending now; otherwise the
/// answer is how long (µs) until the limit that is full frees a place.
const RATE_ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hold = tonumber(ARGV[2])
local longest = 0
for i = 3, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > longest then longest = w end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 3, #ARGV, 2 do
  local n = tonumber(ARGV[i])
  local w = tonumber(ARGV[i + 1])
  local inside = redis.call('ZCOUNT', KEYS[1], '(' .. (now - w), '+inf')
  if inside >= n then
    local first = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - w), '+inf', 'WITHSCORES', 'LIMIT', inside - n, 1)
    local free = tonumber(first[2]) + w - now
    if free > wait then wait = free end
  end
end
if wait > 0 then return math.ceil(wait) end
redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil((longest + hold) / 1000) + 1000)
return 0
";

/// KEYS: the operation's log. ARGV: the place's id. The place counts from now (its answer)
/// instead of its in-flight time.
const RATE_ANSWERED: &str = r"
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
return 1
";

/// A [`RateBudget`] on Redis: the replicas of an app share one budget per operation.
///
/// Each operation has a sorted set `vc:{app_id}:rate:{operation}` of the places taken, and
/// one Lua script per acquisition checks every limit of the operation against it and takes a
/// place only if all have room (a sliding window: never more than `requests` in any window of
/// the limit's length). A place counts from its grant until one window after its answer, the
/// span in which the server saw the request, so the limit holds on the server's clock whatever
/// the delays on the way; an unanswered place counts as in flight for
/// [`DEFAULT_HOLD`](Self::DEFAULT_HOLD). When Redis is unreachable each process applies its
/// own [`LocalRateBudget`] (see the [module](self) documentation).
#[derive(Clone)]
pub struct RedisRateBudget {
    inner: Arc<BudgetInner>,
}

struct BudgetInner {
    link: Link,
    prefix: String,
    hold: Duration,
    local: LocalRateBudget,
    acquire: Script,
    answered: Script,
}

impl fmt::Debug for RedisRateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateBudget").field("prefix", &self.inner.prefix).finish_non_exhaustive()
    }
}

impl RedisRateBudget {
    /// How long a place whose answer never came (the process died, the call was dropped)
    /// counts as in flight.
    pub const DEFAULT_HOLD: Duration = crate::rate_limit::IN_FLIGHT_HOLD;

    /// The budget on `url` for `app_id` (see [`RedisStore::open`]).
    pub fn open(url: &str, app_id: &str) -> Result<Self, crate::Error> {
        Ok(RedisStore::open(url, app_id)?.rate_budget())
    }
}

impl BudgetInner {
    async fn acquire(&self, operation: &'static str, limits: &[RateLimit]) -> Grant {
        let key = format!("{}{operation}", self.prefix);
        let id = unique_id();
        let mut args = vec![id.clone(), micros(self.hold).to_string()];
        let mut shortest = Duration::MAX;
        for limit in limits.iter().filter(|limit| limit.requests > 0) {
            args.push(limit.requests.to_string());
            args.push(micros(limit.window).to_string());
            shortest = shortest.min(limit.window);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Waiting again a tenth of the shortest window at most: a place held in flight may be
        // answered sooner than its hold says.
        let recheck = (shortest / 10).max(Duration::from_millis(1));
        loop {
            match self.link.script::<u64>(&self.acquire, &[&key], &args).await {
                Ok(0) => return Grant::new(operation, id),
                Ok(wait_us) => tokio::time::sleep(Duration::from_micros(wait_us).min(recheck)).await,
                // Outage (logged once by the link): this process's own limiter.
                Err(_) => return self.local.acquire(operation, limits).await,
            }
        }
    }

    async fn answered(&self, grant: Grant) {
        let Some(id) = grant.id() else { return };
        // A place of the local limiter (`l…`; Redis places start with a hex digit).
        if id.starts_with('l') {
            return self.local.answered(grant).await;
        }
        let key = format!("{}{}", self.prefix, grant.operation());
        let _ = self.link.script::<i64>(&self.answered, &[&key], &[id]).await;
    }
}

impl RateBudget for RedisRateBudget {
    fn acquire<'a>(&'a self, operation: &'static str, limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant> {
        Box::pin(self.inner.acquire(operation, limits))
    }

    fn answered(&self, grant: Grant) -> BudgetFuture<'_, ()> {
        Box::pin(self.inner.answered(grant))
    }
}

// ---------------------------------------------------------------------------------------------
// Event memory

/// Claims a key: answers its state if it has one, else marks it in flight for ARGV[1] ms.
const CLAIM: &str = r"
local state = redis.call('GET', KEYS[1])
if state then return state end
redis.call('SET', KEYS[1], 'i', 'PX', ARGV[1])
return 'n'
";

/// Releases a key, only while it is in flight (never a done key, nor another claim's).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == 'i' then redis.call('DEL', KEYS[1]) end
return 1
";

/// An [`EventMemory`] on Redis, shared by every replica given the same server and app id:
/// keys `vc:{app_id}:delivery:{key}` holding only the state of a key (`i` in flight, `d` done),
/// with the key's time-to-live as the Redis expiry.
///
/// Clones share one connection (multiplexed, re-established after failures).
#[derive(Clone)]
pub struct RedisEventMemory {
    inner: Arc<Inner>,
}

struct Inner {
    link: Link,
    prefix: String,
    /// The keys this replica completed, to acknowledge its own redeliveries during an outage.
    completed: LocalEventMemory,
    claim: Script,
    release: Script,
}

impl RedisEventMemory {
    /// How long an operation may take before the memory counts Redis as unreachable.
    pub const DEFAULT_TIMEOUT: Duration = RedisStore::DEFAULT_TIMEOUT;

    /// A memory on the Redis server at `url` (`redis://host:port/db`, `rediss://` for TLS is
    /// not enabled) for the app `app_id`. Connects lazily, on first use; fails only on an
    /// invalid URL. Must be called inside a Tokio runtime.
    pub fn open(url: &str, app_id: &str) -> Result<Self, MemoryError> {
        Self::open_with_timeout(url, app_id, Self::DEFAULT_TIMEOUT)
    }

    /// Like [`open`](Self::open), with the time after which an operation (connecting
    /// included) counts as failed.
    pub fn open_with_timeout(url: &str, app_id: &str, timeout: Duration) -> Result<Self, MemoryError> {
        let store = RedisStore::open_with_timeout(url, app_id, timeout)
            .map_err(|e| MemoryError::Unavailable(e.to_string().into()))?;
        Ok(store.event_memory())
    }
}

impl Inner {
    fn key(&self, key: &str) -> Result<String, MemoryError> {
        if key.len() > MAX_KEY_LEN {
            return Err(MemoryError::KeyTooLong { len: key.len() });
        }
        Ok(format!("{}{key}", self.prefix))
    }

    async fn claim(&self, key: String, ttl: Duration) -> Result<Claim, MemoryError> {
        let redis_key = self.key(&key)?;
        // This replica's own completed keys need no round trip, and survive an outage.
        if self.completed.is_done(&key) {
            return Ok(Claim::Done);
        }
        let ttl = millis(ttl).to_string();
        let state: String = self.link.script(&self.claim, &[&redis_key], &[&ttl]).await?;
        Ok(match state.as_str() {
            "n" => Claim::New,
            "d" => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn complete(&self, key: String, ttl: Duration) -> Result<(), MemoryError> {
        let redis_key = self.key(&key)?;
        let mut connection = self.link.connection.clone();
        let mut command = ::redis::cmd("SET");
        command.arg(redis_key).arg("d").arg("PX").arg(millis(ttl));
        self.link.run(command.query_async::<()>(&mut connection)).await?;
        // Best effort: a full local memory only loses the outage-time acknowledgement.
        let _ = self.completed.complete_now(&key, ttl);
        Ok(())
    }

    async fn release(&self, key: String) -> Result<(), MemoryError> {
        let redis_key = self.key(&key)?;
        self.link.script::<i64>(&self.release, &[&redis_key], &[]).await.map(drop)
    }
}

impl EventMemory for RedisEventMemory {
    fn claim(&self, key: String, ttl: Duration) -> MemoryFuture<Claim> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.claim(key, ttl).await })
    }

    fn complete(&self, key: String, ttl: Duration) -> MemoryFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.complete(key, ttl).await })
    }

    fn release(&self, key: String) -> MemoryFuture<()> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.release(key).await })
    }
}

impl fmt::Debug for RedisEventMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEventMemory")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.link.timeout)
            .field("down", &self.inner.link.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A duration in whole microseconds.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// A time-to-live in whole milliseconds for `PX` (at least 1: Redis refuses 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).clamp(1, i64::MAX as u64)
}

fn unavailable(error: ::redis::RedisError) -> MemoryError {
    MemoryError::Unavailable(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "vc:cli_a:token:v2:tenant";

    fn sealer(secret: &str) -> Sealer {
        Sealer::new("cli_a", &Secret::new(secret))
    }

    #[test]
    fn a_sealed_token_opens_under_its_key_and_shows_neither_token_nor_secret() {
        let sealer = sealer("app-secret");
        let sealed = sealer.seal(KEY, "t-abc").unwrap();
        assert_eq!(sealer.open(KEY, &sealed).as_deref(), Some("t-abc"));
        assert!(!sealed.contains("t-abc") && !sealed.contains("app-secret"), "{sealed}");
        let (fingerprint, _) = sealed.split_once(':').unwrap();
        assert_eq!(fingerprint, sealer.fingerprint("t-abc"));
        assert_eq!(fingerprint.len(), 32);
        assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()));
        // A fresh nonce each time: the same token never seals to the same value.
        let again = sealer.seal(KEY, "t-abc").unwrap();
        assert_ne!(sealed, again);
        assert_eq!(sealer.open(KEY, &again).as_deref(), Some("t-abc"));
    }

    #[test]
    fn every_replica_of_the_app_derives_the_same_keys_and_other_secrets_or_apps_do_not() {
        let sealed = sealer("app-secret").seal(KEY, "t-abc").unwrap();
        assert_eq!(sealer("app-secret").open(KEY, &sealed).as_deref(), Some("t-abc"));
        assert_eq!(sealer("other-secret").open(KEY, &sealed), None);
        assert_eq!(Sealer::new("cli_b", &Secret::new("app-secret")).open(KEY, &sealed), None);
        assert_ne!(sealer("app-secret").fingerprint("t-abc"), sealer("other-secret").fingerprint("t-abc"));
    }

    #[test]
    fn a_tampered_moved_or_foreign_value_does_not_open() {
        let sealer = sealer("app-secret");
        let sealed = sealer.seal(KEY, "t-abc").unwrap();
        let (fingerprint, blob) = sealed.split_once(':').unwrap();
        let mut bytes = base64::engine::general_purpose::STANDARD.decode(blob).unwrap();
        for at in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[at] ^= 1;
            let flipped = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(sealer.open(KEY, &format!("{fingerprint}:{flipped}")), None, "byte {at} flipped");
            bytes[at] ^= 1;
        }
        assert_eq!(sealer.open("vc:cli_a:token:v2:tenant:t2", &sealed), None, "moved to another key");
        let other = sealer.fingerprint("t-other");
        assert_eq!(sealer.open(KEY, &format!("{other}:{blob}")), None, "another token's fingerprint");
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; NONCE_LEN - 1]);
        for garbage in ["", "t-abc", "0123:t-abc", ":", "ff:not base64!", &format!("{fingerprint}:{short}")] {
            assert_eq!(sealer.open(KEY, garbage), None, "{garbage:?}");
        }
    }
}
