//! State shared by the replicas of an app on Redis (feature `redis`): one [`RedisStore`]
//! connection giving the [`RedisTokenStore`] (tokens fetched once for every replica), the
//! [`RedisRateBudget`] (the documented rate limits held by all replicas together) and the
//! [`RedisEventMemory`] (each event handled by one replica).
//! [`ClientBuilder::redis`](crate::ClientBuilder::redis) sets the first two on a client.
//!
//! Keys are namespaced by app id: `vc:{app_id}:token:{name}` (the token, with its lock
//! `…:lock`), `vc:{app_id}:rate:{operation}` and `vc:{app_id}:delivery:{key}`. Tokens are
//! stored (they are what the replicas share) but never the app secret, nor anything else
//! secret.
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

    /// The app's token store on this connection.
    pub fn token_store(&self) -> RedisTokenStore {
        RedisTokenStore {
            inner: Arc::new(TokenInner {
                link: self.link("the token cache", "tokens are fetched locally"),
                prefix: format!("vc:{}:token:", self.app_id),
                lock_expiry: RedisTokenStore::DEFAULT_LOCK_EXPIRY,
                get_or_lock: Script::new(TOKEN_GET_OR_LOCK),
                put: Script::new(TOKEN_PUT),
                unlock: Script::new(UNLOCK),
                evict: Script::new(TOKEN_EVICT),
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

/// KEYS: token, lock. ARGV: owner, lock expiry (ms). The stored token as `t:{pttl}:{value}`,
/// else the lock taken for the owner (`l`), else `w` (another process is fetching).
const TOKEN_GET_OR_LOCK: &str = r"
local value = redis.call('GET', KEYS[1])
if value then return 't:' .. redis.call('PTTL', KEYS[1]) .. ':' .. value end
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
/// (values are `{margin_ms}:{token}`).
const TOKEN_EVICT: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local colon = string.find(value, ':', 1, true)
if colon and string.sub(value, colon + 1) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
";

/// A [`TokenStore`] on Redis: a token fetched by one replica serves them all.
///
/// A token is stored under `vc:{app_id}:token:{name}` with an expiry of its remaining life
/// minus the refresh margin, so it disappears when it is due for replacement. A process that
/// needs a token and finds none takes the lock `…:lock` (`SET NX PX`, expiring after
/// [`DEFAULT_LOCK_EXPIRY`](Self::DEFAULT_LOCK_EXPIRY) should its holder die) and fetches; the
/// others poll for the token it stores (a few milliseconds apart, more as the wait grows), so
/// the replicas together make one token request. A rejected token is deleted only while it
/// is still the stored one. A marketplace app's tenant tokens are stored per tenant key
/// (`…:token:tenant:{tenant_key}`) and its app token under `…:token:app`, so a replica that
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
    lock_expiry: Duration,
    get_or_lock: Script,
    put: Script,
    unlock: Script,
    evict: Script,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore").field("prefix", &self.inner.prefix).finish_non_exhaustive()
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

    /// The store on `url` for `app_id` (see [`RedisStore::open`]).
    pub fn open(url: &str, app_id: &str) -> Result<Self, crate::Error> {
        Ok(RedisStore::open(url, app_id)?.token_store())
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
        loop {
            let answer: String = self.link.script(&self.get_or_lock, &[key, lock], &[&owner, &expiry]).await?;
            if answer == "l" {
                return Ok(TokenLookup::Locked(owner));
            }
            if let Some(stored) = answer.strip_prefix("t:")
                && let Some(found) = parse_stored(stored)
            {
                return Ok(TokenLookup::Found(found));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(MemoryError::Unavailable("the token lock was held too long".into()));
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
        let redis_key = format!("{}{}", self.prefix, key.name());
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
                        let value = format!("{}:{}", millis(margin), token.token.expose());
                        let args = [value.as_str(), &keep.to_string(), &owner];
                        self.link.script::<i64>(&self.put, &[&redis_key, &lock], &args).await
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

/// `{pttl}:{margin_ms}:{token}` into the token and its remaining life.
fn parse_stored(stored: &str) -> Option<FetchedToken> {
    let mut parts = stored.splitn(3, ':');
    let pttl: i64 = parts.next()?.parse().ok()?;
    let margin: u64 = parts.next()?.parse().ok()?;
    let token = parts.next()?;
    // -1: no expiry (never written so); -2: gone since the GET (cannot happen in one script).
    let pttl = u64::try_from(pttl).ok()?;
    Some(FetchedToken { token: Secret::new(token), lifetime: Duration::from_millis(pttl.saturating_add(margin)) })
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
            let redis_key = format!("{}{}", self.inner.prefix, key.name());
            let _ = self.inner.link.script::<i64>(&self.inner.evict, &[&redis_key], &[rejected.expose()]).await;
        })
    }
}

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
