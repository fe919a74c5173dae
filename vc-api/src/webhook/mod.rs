//! Receiving events (feature `webhook`): a framework-agnostic receiver that takes a request's
//! headers and raw body bytes and gives back the status, content type and body to answer with.
//!
//! The [`EventReceiver`] checks `X-Lark-Signature` (SHA-256 over timestamp, nonce, encrypt key
//! and the raw body, compared in constant time), refuses timestamps outside a window (5 minutes
//! by default) and replayed nonces, decrypts `{"encrypt": "..."}` bodies (AES-256-CBC), answers
//! `url_verification` challenges after checking the verification token, checks the token of
//! every event (`header.token` in v2, `token` in v1), drops deliveries whose event id it has
//! seen (the platform delivers again when it gets no 200 in time), gives `app_ticket` to
//! marketplace [`Client`](crate::Client)s, and decodes events into [`crate::events::Event`]
//! for the [`EventDispatcher`]'s handlers. Event types it does not know reach the fallback.
//!
//! ```
//! use std::sync::Arc;
//! use vc_api::types::MeetingMeetingEndedV1Event;
//! use vc_api::webhook::EventReceiver;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vc_api::webhook::WebhookError> {
//! let receiver = Arc::new(
//!     EventReceiver::builder()
//!         .encrypt_key("encrypt-key-from-the-developer-console")
//!         .verification_token("verification-token")
//!         .on(|header, ended: MeetingMeetingEndedV1Event| async move {
//!             println!("meeting ended, event {}: {ended:?}", header.event_id);
//!             Ok(())
//!         })
//!         .fallback(|header, event| async move {
//!             println!("other event {} ({})", event.event_type(), header.event_id);
//!             Ok(())
//!         })
//!         .build()?,
//! );
//!
//! // In the web framework's handler: pass the headers and the raw body bytes, send back the answer.
//! let headers: [(&str, &str); 0] = [];
//! let body = br#"{"type":"url_verification","challenge":"c-123","token":"verification-token"}"#;
//! let answer = receiver.handle(&headers[..], body).await;
//! assert_eq!(answer.status, 200);
//! assert_eq!(answer.content_type, "application/json");
//! assert_eq!(answer.body, r#"{"challenge":"c-123"}"#);
//! # Ok(()) }
//! ```
//!
//! With the `axum` feature, [`axum::router`] serves a receiver on a path.

#[cfg(feature = "axum")]
pub mod axum;
mod crypto;
mod error;
mod receiver;

use std::collections::HashMap;
use std::hash::BuildHasher;

pub use crate::dispatch::{DispatchError, Dispatched, EventDispatcher, Handled, TypedEvent};
pub use crypto::{decrypt, encrypt, signature};
pub use error::{DecryptError, HandlerError, WebhookError};
pub use receiver::{APP_TICKET_EVENT_TYPE, Delivery, EventReceiver, EventReceiverBuilder};

/// The request header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-lark-signature";
/// The request header carrying the unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-lark-request-timestamp";
/// The request header carrying the request's nonce.
pub const NONCE_HEADER: &str = "x-lark-request-nonce";

/// Read access to a request's headers, whatever the web framework; names are matched without
/// regard to case.
pub trait RequestHeaders {
    /// The value of the header `name` (lowercase), if present and text.
    fn header(&self, name: &str) -> Option<&str>;
}

/// The `http` crate's header map, used by axum, hyper, reqwest and most Rust web frameworks.
impl RequestHeaders for reqwest::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name)?.to_str().ok()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> RequestHeaders for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> RequestHeaders for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S: BuildHasher> RequestHeaders for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref())
    }
}

/// What to answer the platform: hand these three to the web framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status: 200, or 400, 401, 500 or 503 for a refused delivery.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body (JSON).
    pub body: String,
}

impl WebhookResponse {
    /// The content type of every answer.
    pub const CONTENT_TYPE: &'static str = "application/json";

    /// 200 with `{"challenge": ...}`, the answer to a URL verification.
    pub fn challenge(challenge: &str) -> Self {
        Self::json(200, &serde_json::json!({ "challenge": challenge }))
    }

    /// 200 with `{"msg":"success"}`: the delivery was received (also for duplicates).
    pub fn ack() -> Self {
        Self::json(200, &serde_json::json!({ "msg": "success" }))
    }

    /// The error's status ([`WebhookError::http_status`]) with `{"msg": <the error>}`.
    ///
    /// Every body that cannot be decrypted or decoded gets the same answer, byte for byte
    /// ([`UNREADABLE_BODY`](Self::UNREADABLE_BODY) with 400): telling a bad padding from bad
    /// JSON would let anyone decrypt a captured delivery block by block. The reason itself is
    /// in the error (and the receiver's log).
    pub fn error(error: &WebhookError) -> Self {
        let msg = match error {
            WebhookError::Decrypt(_) | WebhookError::Malformed(_) => Self::UNREADABLE_BODY.to_owned(),
            other => other.to_string(),
        };
        Self::json(error.http_status(), &serde_json::json!({ "msg": msg }))
    }

    /// The message of every answer to a body that cannot be decrypted or decoded.
    pub const UNREADABLE_BODY: &'static str = "the delivery cannot be decrypted or decoded";

    fn json(status: u16, body: &serde_json::Value) -> Self {
        Self { status, content_type: Self::CONTENT_TYPE, body: body.to_string() }
    }
}

#[cfg(test)]
mod tests;
