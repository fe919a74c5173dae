//! An optional client-side limiter that keeps each operation within its documented rate
//! (for example 100 requests a minute), so calls wait locally instead of being refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
