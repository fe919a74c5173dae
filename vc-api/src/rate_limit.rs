//! An optional client-side limiter that keeps each operation within its documented rates (for
//! example 1000 requests a minute and 50 a second), so calls wait locally instead of being
//! refused.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::operation::Operation;

/// Per-operation sliding-window limiter: in any window of a documented limit, at most its
/// number of requests start. A waiting call holds no slot, so a call dropped while it waits
/// costs nothing.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// When the latest requests of each operation started, newest last; as many as its largest
    /// limit allows.
    sent: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Waits until `operation` may be called without exceeding any of its limits, then takes
    /// the slot.
    pub async fn acquire(&self, operation: &Operation) {
        let limits = operation.rate_limits;
        if limits.iter().all(|(requests, _)| *requests == 0) {
            return;
        }
        loop {
            let wait = {
                // Every write below leaves the history valid: a panic elsewhere while the lock
                // was held is no reason to stop limiting.
                let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
                let history = sent.entry(operation.id).or_default();
                let now = Instant::now();
                let wait = limits.iter().map(|&limit| wait_for(history, limit, now)).max().unwrap_or_default();
                if wait.is_zero() {
                    let keep = limits.iter().map(|(requests, _)| *requests as usize).max().unwrap_or(0);
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

/// How long to wait before one more request fits `(requests, window_secs)`, given the start
/// times `history` (oldest first).
fn wait_for(history: &VecDeque<Instant>, (requests, window_secs): (u32, u32), now: Instant) -> Duration {
    let requests = requests as usize;
    if requests == 0 || history.len() < requests {
        return Duration::ZERO;
    }
    // The request `requests` places back must have left the window.
    let oldest_in_window = history[history.len() - requests];
    let window = Duration::from_secs(u64::from(window_secs));
    oldest_in_window.checked_add(window).map_or(Duration::ZERO, |free| free.saturating_duration_since(now))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::operation::TokenType;

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

    /// Records when each call of `count` got through, on a paused clock.
    async fn grant_times(limiter: &RateLimiter, operation: &Operation, count: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            limiter.acquire(operation).await;
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
        let limiter = RateLimiter::default();
        let times = grant_times(&limiter, &TWENTY_PER_MINUTE, 21).await;
        assert!(times[..20].iter().all(Duration::is_zero), "the first 20 calls do not wait");
        assert_eq!(times[20], Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn operations_without_a_documented_limit_never_wait() {
        let limiter = RateLimiter::default();
        let free = Operation { rate_limits: &[], ..TWENTY_PER_MINUTE };
        let times = grant_times(&limiter, &free, 1000).await;
        assert!(times.iter().all(Duration::is_zero));
    }

    /// Both limits hold: never more than 50 in any second nor 1000 in any minute.
    #[tokio::test(start_paused = true)]
    async fn every_documented_limit_holds_in_every_window() {
        let limiter = RateLimiter::default();
        let times = grant_times(&limiter, &TWO_LIMITS, 1100).await;
        assert_eq!(busiest_window(&times, Duration::from_secs(1)), 50);
        assert_eq!(busiest_window(&times, Duration::from_secs(60)), 1000);
        assert!(times[1000] >= Duration::from_secs(60), "call 1001 waits for the minute: {:?}", times[1000]);
    }

    /// A call dropped while it waits leaves its slot to the next one.
    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_takes_no_slot() {
        let limiter = RateLimiter::default();
        grant_times(&limiter, &TWENTY_PER_MINUTE, 20).await;
        for _ in 0..5 {
            let waiting = tokio::time::timeout(Duration::from_secs(1), limiter.acquire(&TWENTY_PER_MINUTE)).await;
            assert!(waiting.is_err(), "the limit is reached: the call waits");
        }
        let start = Instant::now();
        limiter.acquire(&TWENTY_PER_MINUTE).await;
        // The first call left the window at 60 s; 5 s have passed in the cancelled waits.
        assert_eq!(start.elapsed(), Duration::from_secs(55), "the cancelled waits took nothing");
    }

    /// A panic while the lock is held does not switch the limiter off.
    #[tokio::test(start_paused = true)]
    async fn a_poisoned_lock_keeps_limiting() {
        let limiter = Arc::new(RateLimiter::default());
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
