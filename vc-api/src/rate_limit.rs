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

/// How long a place whose answer never came (the call was dropped, the process died) counts
/// as in flight before it is forgotten.
pub const IN_FLIGHT_HOLD: Duration = Duration::from_secs(60);

/// The in-process [`RateBudget`]: a per-operation sliding window in which each request counts
/// from its grant until one window after its answer (a request never answered counts for
/// [`IN_FLIGHT_HOLD`]). A waiting call holds no place, so a call dropped while it waits costs
/// nothing.
#[derive(Debug, Default)]
pub struct LocalRateBudget {
    operations: Mutex<HashMap<&'static str, History>>,
    /// Woken on every answer: a call waiting for an in-flight request to be answered looks again.
    answers: tokio::sync::Notify,
    next_id: std::sync::atomic::AtomicU64,
}

/// The places of one operation.
#[derive(Debug, Default)]
struct History {
    /// When each answered request was answered, oldest first (answers come in time order);
    /// only those still inside the longest window.
    answered: VecDeque<Instant>,
    /// Requests granted and not answered yet: (id, grant time), oldest first.
    in_flight: VecDeque<(u64, Instant)>,
}

impl History {
    /// How long until one more request fits every limit (when only an answer can make room:
    /// until the oldest place in flight is forgotten, or an answer comes).
    fn wait(&mut self, limits: &[RateLimit], now: Instant) -> Duration {
        // Places in flight for too long are forgotten; answers older than every window too.
        while self.in_flight.front().is_some_and(|(_, at)| now.saturating_duration_since(*at) >= IN_FLIGHT_HOLD) {
            self.in_flight.pop_front();
        }
        let longest = limits.iter().map(|limit| limit.window).max().unwrap_or_default();
        while self.answered.front().is_some_and(|at| now.saturating_duration_since(*at) >= longest) {
            self.answered.pop_front();
        }
        limits.iter().map(|&limit| self.wait_for(limit, now)).max().unwrap_or_default()
    }

    /// How long until one more request fits `limit`.
    fn wait_for(&self, limit: RateLimit, now: Instant) -> Duration {
        let requests = limit.requests as usize;
        // Answers inside the window, oldest first, then every request in flight.
        // Answers are in time order: the ones inside the window are the newest.
        let recent = self.answered.len()
            - self.answered.partition_point(|at| now.saturating_duration_since(*at) >= limit.window);
        let inside = recent + self.in_flight.len();
        if requests == 0 || inside < requests {
            return Duration::ZERO;
        }
        // The oldest `inside - requests + 1` places must leave the window.
        let leaving = inside - requests;
        if leaving < recent {
            let at = self.answered[self.answered.len() - recent + leaving];
            return at.checked_add(limit.window).map_or(Duration::ZERO, |free| free.saturating_duration_since(now));
        }
        // A request in flight must be answered (or forgotten) first.
        let oldest = self.in_flight.front().map_or(now, |(_, at)| *at);
        oldest.checked_add(IN_FLIGHT_HOLD).map_or(Duration::ZERO, |free| free.saturating_duration_since(now))
    }
}

impl LocalRateBudget {
    /// An empty budget.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, History>> {
        // Every write leaves the history valid: a panic elsewhere while the lock was held is no
        // reason to stop limiting.
        self.operations.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until one more request of `operation` fits every limit of `limits`, then takes a
    /// place in flight; `None` when no limit applies.
    async fn grant(&self, operation: &'static str, limits: &[RateLimit]) -> Option<u64> {
        if limits.iter().all(|limit| limit.requests == 0) {
            return None;
        }
        loop {
            // Registered before looking, so that an answer arriving meanwhile is not missed.
            let answered = self.answers.notified();
            let wait = {
                let mut operations = self.lock();
                let history = operations.entry(operation).or_default();
                let now = Instant::now();
                let wait = history.wait(limits, now);
                if wait.is_zero() {
                    let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    history.in_flight.push_back((id, now));
                    return Some(id);
                }
                wait
            };
            let sleep = std::pin::pin!(tokio::time::sleep(wait));
            let answered = std::pin::pin!(answered);
            futures_util::future::select(sleep, answered).await;
        }
    }

    /// The request with place `id` of `operation` was answered now.
    fn answer(&self, operation: &'static str, id: u64) {
        {
            let mut operations = self.lock();
            let Some(history) = operations.get_mut(operation) else { return };
            let Some(position) = history.in_flight.iter().position(|(place, _)| *place == id) else { return };
            history.in_flight.remove(position);
            history.answered.push_back(Instant::now());
        }
        self.answers.notify_waiters();
    }

    /// Waits until one more request of `operation` fits every limit of `limits`, and counts it
    /// as answered at once (from its start): for callers that have no answer to wait for.
    pub async fn take(&self, operation: &'static str, limits: &[RateLimit]) {
        if let Some(id) = self.grant(operation, limits).await {
            self.answer(operation, id);
        }
    }
}

impl RateBudget for LocalRateBudget {
    fn acquire<'a>(&'a self, operation: &'static str, limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant> {
        Box::pin(async move {
            match self.grant(operation, limits).await {
                Some(id) => Grant::new(operation, format!("l{id}")),
                None => Grant::untracked(operation),
            }
        })
    }

    fn answered(&self, grant: Grant) -> BudgetFuture<'_, ()> {
        if let Some(id) = grant.id().and_then(|id| id.strip_prefix('l')?.parse().ok()) {
            self.answer(grant.operation(), id);
        }
        Box::pin(std::future::ready(()))
    }
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

    /// A place counts while its request is in flight and until one window after its answer.
    #[tokio::test(start_paused = true)]
    async fn a_place_counts_until_one_window_after_its_answer() {
        let budget = Arc::new(LocalRateBudget::new());
        const LIMITS: &[RateLimit] = &[RateLimit::new(2, Duration::from_secs(10))];
        let first = budget.acquire("op", LIMITS).await;
        let _second = budget.acquire("op", LIMITS).await;
        let start = Instant::now();
        let third = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget.acquire("op", LIMITS).await;
                start.elapsed()
            }
        });
        // Both requests are still unanswered when the window has passed: the third call waits on.
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert!(!third.is_finished());
        budget.answered(first).await;
        assert_eq!(third.await.unwrap(), Duration::from_secs(25), "one window after the answer");
    }

    /// A place whose answer never comes is forgotten after the hold.
    #[tokio::test(start_paused = true)]
    async fn an_unanswered_place_is_forgotten_after_the_hold() {
        let budget = LocalRateBudget::new();
        const LIMITS: &[RateLimit] = &[RateLimit::new(1, Duration::from_secs(1))];
        let _lost = budget.acquire("op", LIMITS).await;
        let start = Instant::now();
        let _next = budget.acquire("op", LIMITS).await;
        assert_eq!(start.elapsed(), IN_FLIGHT_HOLD);
    }

    /// A panic while the lock is held does not switch the limiter off.
    #[tokio::test(start_paused = true)]
    async fn a_poisoned_lock_keeps_limiting() {
        let limiter = Arc::new(LocalRateBudget::default());
        let poisoner = Arc::clone(&limiter);
        let panicked = std::thread::spawn(move || {
            let _held = poisoner.operations.lock();
            panic!("poisoning the limiter's lock on purpose");
        })
        .join();
        assert!(panicked.is_err() && limiter.operations.is_poisoned());
        let times = grant_times(&limiter, &TWENTY_PER_MINUTE, 21).await;
        assert_eq!(times[20], Duration::from_secs(60), "still limited");
    }
}
