//! The memory of deliveries already seen (event ids and request nonces): the [`EventMemory`]
//! trait every event transport claims keys through, and [`LocalEventMemory`], the bounded
//! in-process implementation used by default.
//!
//! A key goes through three states. [`claim`](EventMemory::claim) makes an unknown key
//! *in flight* and says [`Claim::New`]: the caller runs its handler. When the handler succeeds
//! the key is [`complete`](EventMemory::complete)d (*done*); when it fails, panics or is
//! dropped, the key is [`release`](EventMemory::release)d and forgotten, so the platform's
//! redelivery runs it again. A delivery whose key is in flight is refused (the platform tries
//! again later), never acknowledged as done; one whose key is done is a duplicate.
//!
//! Every key is kept for the time-to-live its caller gives (the HTTP receiver: as long as the
//! request's timestamp can still be accepted). A memory never forgets a live key to make room:
//! when it is full it refuses new keys ([`MemoryError::Full`]) until old ones expire.
//!
//! ```
//! use std::time::Duration;
//! use vc_api::event_memory::{Claim, EventMemory, LocalEventMemory};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vc_api::event_memory::MemoryError> {
//! let memory = LocalEventMemory::new(1_000);
//! let ttl = Duration::from_secs(600);
//! assert_eq!(memory.claim("event:e1".into(), ttl).await?, Claim::New);
//! assert_eq!(memory.claim("event:e1".into(), ttl).await?, Claim::InFlight);
//! memory.complete("event:e1".into(), ttl).await?;
//! assert_eq!(memory.claim("event:e1".into(), ttl).await?, Claim::Done);
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The future an [`EventMemory`] method returns: owned, so that a release can be spawned from
/// a destructor.
pub type MemoryFuture<T> = Pin<Box<dyn Future<Output = Result<T, MemoryError>> + Send + 'static>>;

/// The longest key a memory accepts, in bytes (event ids and nonces are far shorter).
pub const MAX_KEY_LEN: usize = 256;

/// What a [`claim`](EventMemory::claim) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The key was unknown and is now in flight: run the handler, then complete or release it.
    New,
    /// Another delivery of the same key is being handled right now.
    InFlight,
    /// The key was handled before.
    Done,
}

/// Why a memory could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// Every place is taken by a key that may still be delivered again; new keys are refused
    /// until some expire.
    #[error("the event memory is full ({capacity} live keys)")]
    Full {
        /// The memory's bound, in keys.
        capacity: usize,
    },
    /// The key is longer than [`MAX_KEY_LEN`].
    #[error("a delivery key of {len} bytes (at most {MAX_KEY_LEN})")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
    },
    /// The store behind the memory cannot be reached.
    #[error("the event memory is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// A memory of delivery keys with the states *in flight* and *done*, shared by every delivery
/// of an app (and, with a shared store, by every replica).
///
/// Implementations take owned keys and return owned futures. A handler dropped mid-way is
/// released from a destructor: the release future is spawned on the current Tokio runtime, so
/// an implementation that can do its work when called (as [`LocalEventMemory`] does) should.
pub trait EventMemory: Send + Sync + fmt::Debug + 'static {
    /// Makes `key` in flight for `ttl` if it is unknown (or expired) and answers
    /// [`Claim::New`]; otherwise says what state it is in and changes nothing.
    fn claim(&self, key: String, ttl: Duration) -> MemoryFuture<Claim>;

    /// Marks `key` done, to be remembered for `ttl` from now.
    fn complete(&self, key: String, ttl: Duration) -> MemoryFuture<()>;

    /// Forgets `key` (its handler failed or never finished), so the next delivery is new.
    fn release(&self, key: String) -> MemoryFuture<()>;
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The in-process [`EventMemory`]: at most `capacity` keys of at most [`MAX_KEY_LEN`] bytes,
/// each kept until its time-to-live ends. Expired keys are dropped as new ones arrive; a full
/// memory refuses new keys rather than forget live ones.
///
/// Clones share the same memory.
#[derive(Clone)]
pub struct LocalEventMemory {
    state: Arc<Mutex<LocalState>>,
    clock: Clock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    InFlight,
    Done,
}

#[derive(Debug)]
struct LocalState {
    capacity: usize,
    /// Key → (state, expiry in unix milliseconds).
    keys: HashMap<Arc<str>, (KeyState, u64)>,
    /// (expiry, key) for every entry of `keys`, earliest first.
    expiries: BTreeSet<(u64, Arc<str>)>,
}

impl LocalEventMemory {
    /// Default bound: 100,000 keys.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A memory of at most `capacity` live keys, on the system clock.
    pub fn new(capacity: usize) -> Self {
        Self::with_clock(capacity, SystemTime::now)
    }

    /// A memory whose time comes from `clock` (tests pass a controllable one).
    pub fn with_clock(capacity: usize, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        let state = LocalState { capacity, keys: HashMap::new(), expiries: BTreeSet::new() };
        Self { state: Arc::new(Mutex::new(state)), clock: Arc::new(clock) }
    }

    /// The number of keys held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now_ms(&self) -> u64 {
        (self.clock)().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The state, even if a thread panicked while holding it: every update leaves it consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim_now(&self, key: &str, ttl: Duration) -> Result<Claim, MemoryError> {
        check_key(key)?;
        let now = self.now_ms();
        let mut state = self.lock();
        state.drop_expired(now);
        match state.keys.get(key) {
            Some((KeyState::InFlight, _)) => return Ok(Claim::InFlight),
            Some((KeyState::Done, _)) => return Ok(Claim::Done),
            None => {}
        }
        if state.keys.len() >= state.capacity {
            return Err(MemoryError::Full { capacity: state.capacity });
        }
        state.set(key, KeyState::InFlight, expiry(now, ttl));
        Ok(Claim::New)
    }

    /// Whether `key` is held as done (and not expired).
    #[cfg(feature = "redis")]
    pub(crate) fn is_done(&self, key: &str) -> bool {
        let now = self.now_ms();
        let mut state = self.lock();
        state.drop_expired(now);
        matches!(state.keys.get(key), Some((KeyState::Done, _)))
    }

    pub(crate) fn complete_now(&self, key: &str, ttl: Duration) -> Result<(), MemoryError> {
        check_key(key)?;
        let now = self.now_ms();
        let mut state = self.lock();
        // Completing an in-flight key never needs a new place; a key that expired while its
        // handler ran may find the memory full.
        if !state.keys.contains_key(key) && state.keys.len() >= state.capacity {
            state.drop_expired(now);
            if state.keys.len() >= state.capacity {
                return Err(MemoryError::Full { capacity: state.capacity });
            }
        }
        state.set(key, KeyState::Done, expiry(now, ttl));
        Ok(())
    }

    fn release_now(&self, key: &str) {
        self.lock().remove(key);
    }
}

impl LocalState {
    fn set(&mut self, key: &str, state: KeyState, expires: u64) {
        self.remove(key);
        let key: Arc<str> = Arc::from(key);
        self.expiries.insert((expires, key.clone()));
        self.keys.insert(key, (state, expires));
    }

    fn remove(&mut self, key: &str) {
        if let Some((key, (_, expires))) = self.keys.remove_entry(key) {
            self.expiries.remove(&(expires, key));
        }
    }

    fn drop_expired(&mut self, now: u64) {
        while let Some((expires, _)) = self.expiries.first() {
            if *expires > now {
                break;
            }
            if let Some((_, key)) = self.expiries.pop_first() {
                self.keys.remove(&key);
            }
        }
    }
}

fn check_key(key: &str) -> Result<(), MemoryError> {
    if key.len() > MAX_KEY_LEN { Err(MemoryError::KeyTooLong { len: key.len() }) } else { Ok(()) }
}

fn expiry(now_ms: u64, ttl: Duration) -> u64 {
    now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
}

impl EventMemory for LocalEventMemory {
    fn claim(&self, key: String, ttl: Duration) -> MemoryFuture<Claim> {
        Box::pin(ready(self.claim_now(&key, ttl)))
    }

    fn complete(&self, key: String, ttl: Duration) -> MemoryFuture<()> {
        Box::pin(ready(self.complete_now(&key, ttl)))
    }

    fn release(&self, key: String) -> MemoryFuture<()> {
        self.release_now(&key);
        Box::pin(ready(Ok(())))
    }
}

impl Default for LocalEventMemory {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for LocalEventMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("LocalEventMemory").field("capacity", &state.capacity).field("keys", &state.keys.len()).finish()
    }
}

/// A key claimed as [`Claim::New`]: [`complete`](Self::complete) it after the handler
/// succeeded; dropping it (failure, panic, a dropped future) releases the key. Used by the
/// event transports.
#[cfg(any(feature = "webhook", feature = "long-connection"))]
pub(crate) struct ClaimGuard {
    memory: Arc<dyn EventMemory>,
    key: Option<String>,
}

#[cfg(any(feature = "webhook", feature = "long-connection"))]
impl ClaimGuard {
    /// Claims `key`: `Ok(Ok(guard))` when it is new, `Ok(Err(state))` when it is in flight or done.
    pub(crate) async fn claim(
        memory: &Arc<dyn EventMemory>,
        key: String,
        ttl: Duration,
    ) -> Result<Result<Self, Claim>, MemoryError> {
        match memory.claim(key.clone(), ttl).await? {
            Claim::New => Ok(Ok(Self { memory: memory.clone(), key: Some(key) })),
            other => Ok(Err(other)),
        }
    }

    /// Marks the key done for `ttl`. On failure the key is released (the delivery is refused
    /// and comes again).
    pub(crate) async fn complete(mut self, ttl: Duration) -> Result<(), MemoryError> {
        let Some(key) = self.key.clone() else { return Ok(()) };
        self.memory.complete(key, ttl).await?;
        self.key = None;
        Ok(())
    }
}

#[cfg(any(feature = "webhook", feature = "long-connection"))]
impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let release = self.memory.release(key);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = release.await {
                    tracing::warn!(error = %error, "vc_api.event_memory: could not release a key");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn clocked(capacity: usize) -> (LocalEventMemory, Arc<AtomicU64>) {
        let secs = Arc::new(AtomicU64::new(1_700_000_000));
        let read = secs.clone();
        let memory = LocalEventMemory::with_clock(capacity, move || {
            UNIX_EPOCH + Duration::from_secs(read.load(Ordering::SeqCst))
        });
        (memory, secs)
    }

    const TTL: Duration = Duration::from_secs(600);

    #[test]
    fn states_in_flight_done_released() {
        let (memory, _) = clocked(10);
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::New);
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::InFlight);
        memory.release_now("a");
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::New);
        memory.complete_now("a", TTL).unwrap();
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::Done);
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn keys_live_for_their_ttl_however_many_others_arrive() {
        let (memory, secs) = clocked(100_000);
        assert_eq!(memory.claim_now("first", TTL).unwrap(), Claim::New);
        memory.complete_now("first", TTL).unwrap();
        for i in 0..50_000 {
            assert_eq!(memory.claim_now(&format!("k{i}"), TTL).unwrap(), Claim::New);
        }
        secs.fetch_add(599, Ordering::SeqCst);
        assert_eq!(memory.claim_now("first", TTL).unwrap(), Claim::Done, "still inside its ttl");
        secs.fetch_add(1, Ordering::SeqCst);
        assert_eq!(memory.claim_now("first", TTL).unwrap(), Claim::New, "expired exactly at its ttl");
        assert_eq!(memory.len(), 1, "the 50,000 others expired with it");
    }

    #[test]
    fn a_full_memory_refuses_instead_of_forgetting() {
        let (memory, secs) = clocked(3);
        for key in ["a", "b", "c"] {
            assert_eq!(memory.claim_now(key, TTL).unwrap(), Claim::New);
        }
        assert!(matches!(memory.claim_now("d", TTL), Err(MemoryError::Full { capacity: 3 })));
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::InFlight, "nothing was forgotten");
        memory.complete_now("b", TTL).unwrap();
        secs.fetch_add(600, Ordering::SeqCst);
        assert_eq!(memory.claim_now("d", TTL).unwrap(), Claim::New, "room again once keys expire");
    }

    #[test]
    fn long_keys_are_refused_and_huge_ttls_do_not_overflow() {
        let (memory, _) = clocked(3);
        let long = "x".repeat(MAX_KEY_LEN + 1);
        assert!(matches!(memory.claim_now(&long, TTL), Err(MemoryError::KeyTooLong { len }) if len == MAX_KEY_LEN + 1));
        assert_eq!(memory.claim_now(&"x".repeat(MAX_KEY_LEN), Duration::MAX).unwrap(), Claim::New);
    }

    #[test]
    fn a_poisoned_lock_keeps_the_memory_working() {
        let (memory, _) = clocked(10);
        memory.claim_now("a", TTL).unwrap();
        let poisoner = memory.clone();
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.state.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(joined.is_err() && memory.state.is_poisoned());
        assert_eq!(memory.claim_now("a", TTL).unwrap(), Claim::InFlight, "still refuses the in-flight key");
        assert_eq!(memory.claim_now("b", TTL).unwrap(), Claim::New);
    }

    #[cfg(any(feature = "webhook", feature = "long-connection"))]
    #[tokio::test]
    async fn a_dropped_guard_releases_and_a_completed_one_does_not() {
        let memory: Arc<dyn EventMemory> = Arc::new(LocalEventMemory::new(10));
        let guard = ClaimGuard::claim(&memory, "a".into(), TTL).await.unwrap().unwrap();
        assert!(matches!(ClaimGuard::claim(&memory, "a".into(), TTL).await.unwrap(), Err(Claim::InFlight)));
        drop(guard);
        let guard = ClaimGuard::claim(&memory, "a".into(), TTL).await.unwrap().unwrap();
        guard.complete(TTL).await.unwrap();
        assert!(matches!(ClaimGuard::claim(&memory, "a".into(), TTL).await.unwrap(), Err(Claim::Done)));
    }
}
