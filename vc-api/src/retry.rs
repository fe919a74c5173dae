//! When and how long to wait before trying a failed call again.

use std::time::Duration;

use crate::error::Error;
use crate::operation::Operation;

/// Retry policy: exponential backoff with full jitter.
///
/// Timeouts, connection failures, HTTP 5xx and code 121001 are retried only for idempotent
/// operations (GET, PUT, DELETE, and POSTs the spec marks read-only). Rate-limit answers (HTTP
/// 429 or code 99991400) are retried for every operation, since the request was not processed,
/// after the wait the server names (`x-ogw-ratelimit-reset` or `Retry-After`) or a backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest wait a rate-limit answer may ask for; beyond it the error is returned.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// How long to wait before attempt `attempt + 1` after `error`, or `None` to give up.
    pub fn delay(&self, operation: &Operation, error: &Error, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if error.is_rate_limited() {
            let wait = error.retry_after().unwrap_or_else(|| self.backoff(attempt));
            return (wait <= self.max_rate_limit_wait).then_some(wait);
        }
        (error.is_retryable() && operation.is_idempotent()).then(|| self.backoff(attempt))
    }

    /// Full-jitter exponential backoff for the retry after attempt `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        // `mul_f64` panics when the product does not fit, which a policy of huge durations reaches.
        Duration::try_from_secs_f64(cap.as_secs_f64() * jitter()).unwrap_or(cap)
    }
}

/// A number in [0.5, 1.0): enough randomness to spread retries, no RNG dependency.
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(nanos | 1, Ordering::Relaxed) ^ nanos;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    0.5 + (x % 1_000_000) as f64 / 2_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy built from huge user-supplied durations computes its waits without panicking.
    #[test]
    fn huge_backoffs_do_not_overflow() {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            initial_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            max_rate_limit_wait: Duration::MAX,
        };
        for attempt in [0, 1, 2, 17, u32::MAX] {
            assert!(policy.backoff(attempt) >= Duration::from_secs(u64::MAX / 4), "attempt {attempt}");
        }
    }

    #[test]
    fn backoff_doubles_within_the_cap() {
        let policy = RetryPolicy { initial_backoff: Duration::from_millis(100), ..RetryPolicy::default() };
        let third = policy.backoff(3);
        assert!(third >= Duration::from_millis(200) && third < Duration::from_millis(400), "{third:?}");
        assert!(policy.backoff(30) < policy.max_backoff);
    }
}
