//! Why a delivery was refused: [`WebhookError`], and the HTTP status each reason maps to.

use std::time::Duration;

pub use crate::dispatch::HandlerError;
use crate::dispatch::{DispatchError, refusal_enum};
use crate::event_memory::MemoryError;

/// Why an encrypted body could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The body is encrypted but the receiver has no encrypt key.
    #[error("the body is encrypted but no encrypt key is configured")]
    NoKey,
    /// The `encrypt` field is not standard base64.
    #[error("the `encrypt` field is not base64")]
    Base64,
    /// The decoded blob is shorter than an IV plus one block (32 bytes).
    #[error("the ciphertext is too short ({len} bytes; at least 32 expected)")]
    TooShort {
        /// Length of the decoded blob, in bytes.
        len: usize,
    },
    /// The ciphertext after the IV is not a whole number of 16-byte blocks.
    #[error("the ciphertext is not a whole number of blocks ({len} bytes after the IV)")]
    NotBlockAligned {
        /// Length of the ciphertext after the IV, in bytes.
        len: usize,
    },
    /// The PKCS#7 padding is invalid: a wrong encrypt key or corrupted data.
    #[error("invalid padding after decryption (wrong encrypt key or corrupted data)")]
    Padding,
}

refusal_enum! {
    /// Why the receiver refused a delivery. Neither `Debug` nor `Display` ever shows the encrypt
    /// key or the verification token.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum WebhookError {
        /// A header needed to check the signature is missing or not text.
        #[error("missing or unreadable header {0}")]
        MissingHeader(&'static str),
        /// `X-Lark-Signature` does not match the timestamp, nonce, encrypt key and body.
        #[error("the signature does not match the request")]
        BadSignature,
        /// `X-Lark-Request-Timestamp` is not a unix time in seconds.
        #[error("the request timestamp is not a unix time in seconds")]
        BadTimestamp,
        /// `X-Lark-Request-Timestamp` is further from the receiver's clock than allowed.
        #[error("the request timestamp is {skew_secs} s away from now (at most {} s allowed)", tolerance.as_secs())]
        StaleTimestamp {
            /// Request time minus the receiver's time, in seconds (negative: in the past).
            skew_secs: i64,
            /// The allowed distance.
            tolerance: Duration,
        },
        /// The same signed request (timestamp and nonce) was received before.
        #[error("replayed request: this timestamp and nonce were seen before")]
        Replay,
        /// The verification token of the delivery is missing or differs from the configured one.
        #[error("the verification token is missing or does not match")]
        BadToken,
        /// The encrypted body could not be decrypted.
        #[error("cannot decrypt the body: {0}")]
        Decrypt(#[from] DecryptError),
        /// The (decrypted) body is not a delivery this receiver understands.
        #[error("malformed delivery: {0}")]
        Malformed(String),
    }
    after {
        /// The receiver cannot be built from its configuration.
        #[error("invalid webhook receiver configuration: {0}")]
        Config(String),
    }
}

impl WebhookError {
    /// The HTTP status to answer with: 401 for a request that failed authentication (signature,
    /// timestamp, replay, token), 400 for a body that cannot be decrypted or decoded, 500 for a
    /// failed or panicked handler or an unusable configuration, 503 for a delivery to try again
    /// later (its event in flight, the memory of deliveries full or unreachable).
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::MissingHeader(_)
            | WebhookError::BadSignature
            | WebhookError::BadTimestamp
            | WebhookError::StaleTimestamp { .. }
            | WebhookError::Replay
            | WebhookError::BadToken => 401,
            WebhookError::Decrypt(_) | WebhookError::Malformed(_) => 400,
            WebhookError::Handler { .. } | WebhookError::HandlerPanicked { .. } | WebhookError::Config(_) => 500,
            WebhookError::InFlight { .. } | WebhookError::Memory(_) => 503,
        }
    }

    /// A memory failure: an over-long key is a malformed delivery, anything else a refusal.
    pub(crate) fn memory(error: MemoryError) -> Self {
        DispatchError::memory(error).into()
    }

    pub(crate) fn malformed(what: impl std::fmt::Display) -> Self {
        WebhookError::Malformed(what.to_string())
    }
}

/// The dispatcher's refusals are the receiver's, variant for variant.
impl From<DispatchError> for WebhookError {
    fn from(error: DispatchError) -> Self {
        match error {
            DispatchError::Malformed(what) => WebhookError::Malformed(what),
            DispatchError::Handler { event_type, event_id, source } => {
                WebhookError::Handler { event_type, event_id, source }
            }
            DispatchError::HandlerPanicked { event_type, event_id } => {
                WebhookError::HandlerPanicked { event_type, event_id }
            }
            DispatchError::InFlight { event_id } => WebhookError::InFlight { event_id },
            DispatchError::Memory(error) => WebhookError::Memory(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_kind_of_failure() {
        assert_eq!(WebhookError::BadSignature.http_status(), 401);
        assert_eq!(WebhookError::Replay.http_status(), 401);
        assert_eq!(WebhookError::Decrypt(DecryptError::Padding).http_status(), 400);
        assert_eq!(WebhookError::malformed("x").http_status(), 400);
        let handler = WebhookError::Handler { event_type: "t".into(), event_id: "e".into(), source: "boom".into() };
        assert_eq!(handler.http_status(), 500);
        assert_eq!(handler.to_string(), "the handler of t (event e) failed");
    }

    #[test]
    fn display_does_not_repeat_the_source() {
        let stale = WebhookError::StaleTimestamp { skew_secs: -600, tolerance: Duration::from_secs(300) };
        assert_eq!(stale.to_string(), "the request timestamp is -600 s away from now (at most 300 s allowed)");
        assert_eq!(
            WebhookError::from(DecryptError::TooShort { len: 3 }).to_string(),
            "cannot decrypt the body: the ciphertext is too short (3 bytes; at least 32 expected)"
        );
    }
}
