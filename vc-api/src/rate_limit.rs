//! An optional client-side limiter that keeps each operation within its documented rate
//! (for example 100 requests a minute), so calls wait locally instead of being refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::operation::Operation;

/// Per-operation limiter (generic cell rate algorithm: bursts up to the documented count,
/// then an even pace).
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// Theoretical arrival time of the next request, per operation.
    next: Mutex<HashMap<&'static str, Instant>>,
}

impl RateLimiter {
    /// Waits until `operation` may be called again, then takes its slot.
    pub async fn acquire(&self, operation: &Operation) {
        let Some((requests, window_secs)) = operation.rate_limit else { return };
        if requests == 0 {
            return;
        }
        let window = Duration::from_secs(u64::from(window_secs));
        let interval = window / requests;
        let wait = {
            let Ok(mut next) = self.next.lock() else { return };
            let now = Instant::now();
            let tat = next.get(operation.id).copied().unwrap_or(now).max(now);
            // A request may go when it is at most `window - interval` ahead of schedule.
            let allowed_at = tat.checked_sub(window - interval).unwrap_or(now);
            next.insert(operation.id, tat + interval);
            allowed_at.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::TokenType;

    const TWENTY_PER_MINUTE: Operation = Operation {
        id: "limited",
        method: "POST",
        path: "/limited",
        tag: "test",
        read_only: false,
        pagination_items: None,
        rate_limit: Some((20, 60)),
        token_types: &[TokenType::Tenant],
    };

    /// On a paused clock: the documented count passes at once, then calls are paced.
    #[tokio::test(start_paused = true)]
    async fn bursts_up_to_the_limit_then_paces() {
        let limiter = RateLimiter::default();
        let start = tokio::time::Instant::now();
        for _ in 0..20 {
            limiter.acquire(&TWENTY_PER_MINUTE).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the first 20 calls do not wait");
        limiter.acquire(&TWENTY_PER_MINUTE).await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(2_900) && waited <= Duration::from_millis(3_100), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn operations_without_a_documented_limit_never_wait() {
        let limiter = RateLimiter::default();
        let free = Operation { rate_limit: None, ..TWENTY_PER_MINUTE };
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            limiter.acquire(&free).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
