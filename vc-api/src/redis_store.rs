//! State shared by the replicas of an app on Redis (feature `redis`): [`RedisEventMemory`], the
//! [`EventMemory`] that lets several processes receiving the same app's events run each
//! handler once between them.
//!
//! Keys are namespaced by app id (`vc:{app_id}:delivery:{key}`); values are only the state of a
//! key (`i` in flight, `d` done), with the key's time-to-live as the Redis expiry. No secret is
//! ever written to Redis.
//!
//! # When Redis is unreachable
//! Every operation fails within [`RedisEventMemory::DEFAULT_TIMEOUT`] (configurable) and the
//! delivery is refused with 503, so that the platform delivers it again later: the memory
//! refuses rather than risk running a handler twice. A redelivery of an event this replica has
//! itself handled is still recognised (each replica also keeps the keys it completed, in a
//! bounded local memory) and acknowledged. The outage is logged once when it starts and once
//! when it ends; the connection is re-established on the next operation, without a restart.
//!
//! ```no_run
//! # #[cfg(feature = "webhook")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use vc_api::redis_store::RedisEventMemory;
//! use vc_api::webhook::EventReceiver;
//!
//! let memory = RedisEventMemory::open("redis://127.0.0.1:6379/", "cli_a1b2c3")?;
//! let receiver = EventReceiver::builder()
//!     .encrypt_key("encrypt-key")
//!     .verification_token("verification-token")
//!     .memory(memory) // every replica: the same Redis and app id
//!     .build()?;
//! # let _ = receiver; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client as RedisClient, Script};

use crate::event_memory::{Claim, EventMemory, LocalEventMemory, MAX_KEY_LEN, MemoryError, MemoryFuture};

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

/// An [`EventMemory`] on Redis, shared by every replica given the same server and app id.
///
/// Clones share one connection (multiplexed, re-established after failures).
#[derive(Clone)]
pub struct RedisEventMemory {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// The keys this replica completed, to acknowledge its own redeliveries during an outage.
    completed: LocalEventMemory,
    down: AtomicBool,
    claim: Script,
    release: Script,
}

impl RedisEventMemory {
    /// How long an operation may take before the memory counts Redis as unreachable.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// A memory on the Redis server at `url` (`redis://host:port/db`, `rediss://` for TLS is
    /// not enabled) for the app `app_id`. Connects lazily, on first use; fails only on an
    /// invalid URL. Must be called inside a Tokio runtime.
    pub fn open(url: &str, app_id: &str) -> Result<Self, MemoryError> {
        Self::open_with_timeout(url, app_id, Self::DEFAULT_TIMEOUT)
    }

    /// Like [`open`](Self::open), with the time after which an operation (connecting
    /// included) counts as failed.
    pub fn open_with_timeout(url: &str, app_id: &str, timeout: Duration) -> Result<Self, MemoryError> {
        let client = RedisClient::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection,
                prefix: format!("vc:{app_id}:delivery:"),
                timeout,
                completed: LocalEventMemory::default(),
                down: AtomicBool::new(false),
                claim: Script::new(CLAIM),
                release: Script::new(RELEASE),
            }),
        })
    }
}

impl Inner {
    fn key(&self, key: &str) -> Result<String, MemoryError> {
        if key.len() > MAX_KEY_LEN {
            return Err(MemoryError::KeyTooLong { len: key.len() });
        }
        Ok(format!("{}{key}", self.prefix))
    }

    /// Runs one Redis operation with the timeout, logging the start and the end of an outage.
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
                tracing::info!("vc_api.redis: Redis reachable again; the shared event memory is back");
            }
            Err(error) if !self.down.swap(true, Ordering::Relaxed) => {
                tracing::warn!(error = %error, "vc_api.redis: Redis unreachable; deliveries are refused (503) until it is back");
            }
            _ => {}
        }
        result
    }

    async fn claim(&self, key: String, ttl: Duration) -> Result<Claim, MemoryError> {
        let redis_key = self.key(&key)?;
        // This replica's own completed keys need no round trip, and survive an outage.
        if self.completed.is_done(&key) {
            return Ok(Claim::Done);
        }
        let mut connection = self.connection.clone();
        let mut invocation = self.claim.key(redis_key);
        invocation.arg(millis(ttl));
        let state: String = self.run(invocation.invoke_async(&mut connection)).await?;
        Ok(match state.as_str() {
            "n" => Claim::New,
            "d" => Claim::Done,
            _ => Claim::InFlight,
        })
    }

    async fn complete(&self, key: String, ttl: Duration) -> Result<(), MemoryError> {
        let redis_key = self.key(&key)?;
        let mut connection = self.connection.clone();
        let mut command = ::redis::cmd("SET");
        command.arg(redis_key).arg("d").arg("PX").arg(millis(ttl));
        self.run(command.query_async::<()>(&mut connection)).await?;
        // Best effort: a full local memory only loses the outage-time acknowledgement.
        let _ = self.completed.complete_now(&key, ttl);
        Ok(())
    }

    async fn release(&self, key: String) -> Result<(), MemoryError> {
        let redis_key = self.key(&key)?;
        let mut connection = self.connection.clone();
        let invocation = self.release.key(redis_key);
        self.run(invocation.invoke_async::<i64>(&mut connection)).await.map(drop)
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
            .field("timeout", &self.inner.timeout)
            .field("down", &self.inner.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A time-to-live in whole milliseconds for `PX` (at least 1: Redis refuses 0).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).clamp(1, i64::MAX as u64)
}

fn unavailable(error: ::redis::RedisError) -> MemoryError {
    MemoryError::Unavailable(Box::new(error))
}
