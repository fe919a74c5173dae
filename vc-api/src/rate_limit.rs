//! Client-side rate limiting: the [`RateBudget`] trait a client takes a place from before each
//! request, and [`LocalRateBudget`], the in-process sliding-window limiter that keeps each
//! operation within its documented rates (for example 1000 requests a minute and 50 a second),
//! so calls wait locally instead of being refused.
//!
//! Several replicas of one app share one budget per operation through a shared implementation
//! (`vc_api::redis_store::RedisRateBudget`, feature `redis`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The future a [`RateBudget`] method returns.
pub type BudgetFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One documented limit: at most `requests` in any window of length `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests allowed per window (0: no limit).
    pub requests: u32,
    /// The window's length.
    pub window: Duration,
}

impl RateLimit {
    /// `requests` per `window`.
    pub const fn new(requests: u32, window: Duration) -> Self {
        Self { requests, window }
    }

    /// The limit of the spec's `(requests, window in seconds)` pair
    /// ([`Operation::rate_limits`](crate::Operation::rate_limits)).
    pub const fn from_spec((requests, window_secs): (u32, u32)) -> Self {
        Self { requests, window: Duration::from_secs(window_secs as u64) }
    }
}

/// A place taken in a [`RateBudget`] for one request, handed back to
/// [`answered`](RateBudget::answered) once the request has been answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    operation: &'static str,
    id: Option<Arc<str>>,
}

impl Grant {
    /// A place that needs no follow-up.
    pub const fn untracked(operation: &'static str) -> Self {
        Self { operation, id: None }
    }

    /// A place the budget knows by `id`.
    pub fn new(operation: &'static str, id: impl Into<Arc<str>>) -> Self {
        Self { operation, id: Some(id.into()) }
    }

    /// The operation the place was taken for.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The budget's id of the place, if it tracks one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

/// Where a client takes a place before each request: in any window of each of an operation's
/// limits, at most its number of requests.
///
/// The client calls [`acquire`](Self::acquire) before sending and [`answered`](Self::answered)
/// when the answer (or a transport error) has come back. A budget may count a request from its
/// grant until one window after its answer: the server saw it somewhere in between, so no
/// window of the server's clock holds more than the limit whatever the network's delays.
pub trait RateBudget: Send + Sync + fmt::Debug + 'static {
    /// Waits until one more request of `operation` fits every limit of `limits`, then takes a
    /// place for it. Dropping the future before it completes takes nothing.
    fn acquire<'a>(&'a self, operation: &'static str, limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant>;

    /// The request of `grant` has been answered. The default does nothing.
    fn answered(&self, grant: Grant) -> BudgetFuture<'_, ()> {
        drop(grant);
        Box::pin(std::future::ready(()))
    }
}

/// The in-process [`RateBudget`]: a per-operation sliding window counting each request from
/// the moment it starts. A waiting call holds no place, so a call dropped while it waits costs
/// nothing.
#[derive(Debug, Default)]
pub struct LocalRateBudget {
    /// When the latest requests of each operation started, newest last; as many as its largest
    /// limit allows.
    sent: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl LocalRateBudget {
    /// An empty budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until `operation` may be called without exceeding any of `limits`, then takes
    /// the place.
    pub async fn take(&self, operation: &'static str, limits: &[RateLimit]) {
        if limits.iter().all(|limit| limit.requests == 0) {
            return;
        }
        loop {
            let wait = {
                // Every write below leaves the history valid: a panic elsewhere while the lock
                // was held is no reason to stop limiting.
                let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                let history = sent.entry(operation).or_default();
                let now = Instant::now();
                let wait = limits.iter().map(|&limit| wait_for(history, limit, now)).max().unwrap_or_default();
                if wait.is_zero() {
                    let keep = limits.iter().map(|limit| limit.requests as usize).max().unwrap_or(0);
                    if history.len() >= keep {
                        history.pop_front();
                    }
                    history.push_back(now);
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl RateBudget for LocalRateBudget {
    fn acquire<'a>(&'a self, operation: &'static str, limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant> {
        Box::pin(async move {
            self.take(operation, limits).await;
            Grant::untracked(operation)
        })
    }
}

/// How long to wait before one more request fits `limit`, given the start times `history`
/// (oldest first).
fn wait_for(history: &VecDeque<Instant>, limit: RateLimit, now: Instant) -> Duration {
    let requests = limit.requests as usize;
    if requests == 0 || history.len() < requests {
        return Duration::ZERO;
    }
    // The request `requests` places back must have left the window.
    let oldest_in_window = history[history.len() - requests];
    oldest_in_window.checked_add(limit.window).map_or(Duration::ZERO, |free| free.saturating_duration_since(now))
}

/// A client's limiter: its budget and the limits of every operation (the spec's, or the
/// overrides given to the builder).
pub(crate) struct Limiter {
    pub budget: Arc<dyn RateBudget>,
    pub limits: HashMap<&'static str, Arc<[RateLimit]>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter").field("budget", &self.budget).finish_non_exhaustive()
    }
}

impl Limiter {
    /// The limits of every operation: the spec's, replaced by `overrides` where given.
    pub fn new(budget: Arc<dyn RateBudget>, overrides: &HashMap<String, Vec<RateLimit>>) -> Result<Self, crate::Error> {
        let mut limits: HashMap<&'static str, Arc<[RateLimit]>> = crate::Operation::all()
            .iter()
            .map(|op| (op.id, op.rate_limits.iter().copied().map(RateLimit::from_spec).collect()))
            .collect();
        for (id, given) in overrides {
            let op = crate::Operation::find(id)
                .ok_or_else(|| crate::Error::Config(format!("rate limit for an unknown operation {id:?}")))?;
            limits.insert(op.id, given.as_slice().into());
        }
        Ok(Self { budget, limits })
    }

    /// Takes a place for one request of `operation`; `None` when it has no limit.
    pub async fn acquire(&self, operation: &'static str) -> Option<Grant> {
        let limits = self.limits.get(operation)?;
        if limits.iter().all(|limit| limit.requests == 0) {
            return None;
        }
        Some(self.budget.acquire(operation, limits).await)
    }
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::operation::{Operation, TokenType};

    const TWENTY_PER_MINUTE: Operation = Operation {
        id: "limited",
        method: "POST",
        path: "/limited",
        tag: "test",
        read_only: false,
        pagination_items: None,
        rate_limits: &[(20, 60)],
        token_types: &[TokenType::Tenant],
    };

    /// Like `spec/src/note.yaml`: 1000 a minute and 50 a second.
    const TWO_LIMITS: Operation =
        Operation { id: "two_limits", rate_limits: &[(1000, 60), (50, 1)], ..TWENTY_PER_MINUTE };

    /// Takes a place for one call of `operation` under its documented limits.
    async fn take(limiter: &LocalRateBudget, operation: &Operation) {
        let limits: Vec<RateLimit> = operation.rate_limits.iter().copied().map(RateLimit::from_spec).collect();
        limiter.take(operation.id, &limits).await;
    }

    /// Records when each call of `count` got through, on a paused clock.
    async fn grant_times(limiter: &LocalRateBudget, operation: &Operation, count: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            take(limiter, operation).await;
            times.push(start.elapsed());
        }
        times
    }

    /// The largest number of grants inside any window of `window` length.
    fn busiest_window(times: &[Duration], window: Duration) -> usize {
        (0..times.len()).map(|i| times[i..].iter().take_while(|t| **t < times[i] + window).count()).max().unwrap_or(0)
    }

    /// On a paused clock: the documented count passes at once, the next call waits for the
    /// first one to leave the window.
    #[tokio::test(start_paused = true)]
    async fn bursts_up_to_the_limit_then_waits_for_the_window() {
        let limiter = LocalRateBudget::default();
        let times = grant_times(&limiter, &TWENTY_PER_MINUTE, 21).await;
        assert!(times[..20].iter().all(Duration::is_zero), "the first 20 calls do not wait");
        assert_eq!(times[20], Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn operations_without_a_documented_limit_never_wait() {
        let limiter = LocalRateBudget::default();
        let free = Operation { rate_limits: &[], ..TWENTY_PER_MINUTE };
        let times = grant_times(&limiter, &free, 1000).await;
        assert!(times.iter().all(Duration::is_zero));
    }

    /// Both limits hold: never more than 50 in any second nor 1000 in any minute.
    #[tokio::test(start_paused = true)]
    async fn every_documented_limit_holds_in_every_window() {
        let limiter = LocalRateBudget::default();
        let times = grant_times(&limiter, &TWO_LIMITS, 1100).await;
        assert_eq!(busiest_window(&times, Duration::from_secs(1)), 50);
        assert_eq!(busiest_window(&times, Duration::from_secs(60)), 1000);
        assert!(times[1000] >= Duration::from_secs(60), "call 1001 waits for the minute: {:?}", times[1000]);
    }

    /// A call dropped while it waits leaves its slot to the next one.
    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_takes_no_slot() {
        let limiter = LocalRateBudget::default();
        grant_times(&limiter, &TWENTY_PER_MINUTE, 20).await;
        for _ in 0..5 {
            let waiting = tokio::time::timeout(Duration::from_secs(1), take(&limiter, &TWENTY_PER_MINUTE)).await;
            assert!(waiting.is_err(), "the limit is reached: the call waits");
        }
        let start = Instant::now();
        take(&limiter, &TWENTY_PER_MINUTE).await;
        // The first call left the window at 60 s; 5 s have passed in the cancelled waits.
        assert_eq!(start.elapsed(), Duration::from_secs(55), "the cancelled waits took nothing");
    }

    /// A panic while the lock is held does not switch the limiter off.
    #[tokio::test(start_paused = true)]
    async fn a_poisoned_lock_keeps_limiting() {
        let limiter = Arc::new(LocalRateBudget::default());
        let poisoner = Arc::clone(&limiter);
        let panicked = std::thread::spawn(move || {
            let _held = poisoner.sent.lock();
            panic!("poisoning the limiter's lock on purpose");
        })
        .join();
        assert!(panicked.is_err() && limiter.sent.is_poisoned());
        let times = grant_times(&limiter, &TWENTY_PER_MINUTE, 21).await;
        assert_eq!(times[20], Duration::from_secs(60), "still limited");
    }
}
