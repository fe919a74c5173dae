//! What a long connection is doing ([`ConnectionState`], published on a `tokio::sync::watch`
//! channel), why it ended ([`LongConnectionError`]), and the connection parameters the
//! server sends ([`ClientConfig`]).

use std::time::Duration;

use serde::Deserialize;

/// The endpoint's code for success.
pub const CODE_OK: i64 = 0;
/// The endpoint's code for "system busy": tried again.
pub const CODE_SYSTEM_BUSY: i64 = 1;
/// The endpoint's code for an internal error: tried again.
pub const CODE_INTERNAL_ERROR: i64 = 1_000_040_343;
/// Handshake status: forbidden (final).
pub const HANDSHAKE_FORBIDDEN: i64 = 403;
/// Handshake status: authentication failed; final with [`AUTH_CONNECTION_LIMIT`].
pub const HANDSHAKE_AUTH_FAILED: i64 = 514;
/// Handshake auth error code: the app has too many connections (final).
pub const AUTH_CONNECTION_LIMIT: i64 = 1_000_040_350;

/// The state of a long connection. Every change is also a `tracing` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Fetching the endpoint and opening the first connection.
    Connecting,
    /// Connected: events are received.
    Connected {
        /// The connection's id (the URL's `device_id`, or a counter when it has none).
        conn_id: String,
    },
    /// The connection was lost or could not be opened; waiting, then trying again.
    Reconnecting {
        /// Tries since the last successful connection (1 for the first).
        attempt: u32,
    },
    /// Ended by a final refusal or after the server's reconnect budget: nothing more is tried.
    Failed(LongConnectionError),
    /// Ended by [`ShutdownHandle::shutdown`](super::ShutdownHandle::shutdown).
    Stopped,
}

impl ConnectionState {
    /// Whether nothing more will happen (failed or stopped).
    pub fn is_final(&self) -> bool {
        matches!(self, ConnectionState::Failed(_) | ConnectionState::Stopped)
    }
}

/// Why a long connection ended (or could not start). It never contains the app secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LongConnectionError {
    /// The builder's configuration cannot be used.
    #[error("invalid long connection configuration: {0}")]
    Config(String),
    /// `POST /callback/ws/endpoint` answered a code that is the caller's fault (wrong app id
    /// or secret, an app that cannot use the long connection, ...): not tried again.
    #[error("POST /callback/ws/endpoint refused with code {code}: {msg}")]
    EndpointRefused {
        /// The Feishu code.
        code: i64,
        /// The message that came with it.
        msg: String,
    },
    /// The WebSocket handshake was refused for good: forbidden (403), or too many connections
    /// of this app (514 with auth code 1000040350).
    #[error("the long connection handshake was refused (status {status}, auth code {auth_code:?}): {msg}")]
    HandshakeRefused {
        /// The `Handshake-Status` header (or the HTTP status when it is missing).
        status: i64,
        /// The `Handshake-Autherrcode` header.
        auth_code: Option<i64>,
        /// The `Handshake-Msg` header.
        msg: String,
    },
    /// The server's `ReconnectCount` tries failed in a row.
    #[error("no connection after {attempts} reconnect attempts (the server's ReconnectCount); last failure: {last}")]
    ReconnectsExhausted {
        /// Tries made.
        attempts: u32,
        /// Why the last one failed.
        last: String,
    },
    /// The connection task ended abnormally (it panicked or was cancelled).
    #[error("the long connection task ended abnormally: {0}")]
    Internal(String),
}

impl LongConnectionError {
    /// Whether this is the connection-limit refusal (514 with 1000040350).
    pub fn is_connection_limit(&self) -> bool {
        matches!(self, LongConnectionError::HandshakeRefused { auth_code: Some(AUTH_CONNECTION_LIMIT), .. })
    }
}

/// The connection parameters the server sends with the endpoint and, changed, on pongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// How many reconnect tries in a row before giving up; negative: no limit.
    pub reconnect_count: i64,
    /// The wait between reconnect tries after the first.
    pub reconnect_interval: Duration,
    /// The first reconnect try comes after a random delay below this.
    pub reconnect_nonce: Duration,
    /// How often the client pings.
    pub ping_interval: Duration,
}

impl Default for ClientConfig {
    /// The official SDKs' defaults: reconnect forever, every 2 minutes after a random delay
    /// below 30 s, ping every 2 minutes.
    fn default() -> Self {
        ClientConfig {
            reconnect_count: -1,
            reconnect_interval: Duration::from_secs(120),
            reconnect_nonce: Duration::from_secs(30),
            ping_interval: Duration::from_secs(120),
        }
    }
}

/// A `ClientConfig` as sent: every field may be missing (the SDKs omit zero values).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireConfig {
    #[serde(rename = "ReconnectCount")]
    reconnect_count: Option<i64>,
    #[serde(rename = "ReconnectInterval")]
    reconnect_interval: Option<i64>,
    #[serde(rename = "ReconnectNonce")]
    reconnect_nonce: Option<i64>,
    #[serde(rename = "PingInterval")]
    ping_interval: Option<i64>,
}

impl ClientConfig {
    /// This configuration with the fields `wire` carries replaced. Negative durations are
    /// ignored, and so is a ping interval of 0 (it would ping without pause).
    pub(crate) fn merged(self, wire: &WireConfig) -> ClientConfig {
        let secs =
            |value: Option<i64>, min: i64| value.filter(|v| *v >= min).map(|v| Duration::from_secs(v.unsigned_abs()));
        ClientConfig {
            reconnect_count: wire.reconnect_count.unwrap_or(self.reconnect_count),
            reconnect_interval: secs(wire.reconnect_interval, 0).unwrap_or(self.reconnect_interval),
            reconnect_nonce: secs(wire.reconnect_nonce, 0).unwrap_or(self.reconnect_nonce),
            ping_interval: secs(wire.ping_interval, 1).unwrap_or(self.ping_interval),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_config_changes_only_its_fields() {
        let wire: WireConfig = serde_json::from_str(r#"{"PingInterval":5,"ReconnectNonce":-3}"#).unwrap();
        let merged = ClientConfig::default().merged(&wire);
        assert_eq!(merged.ping_interval, Duration::from_secs(5));
        assert_eq!(merged.reconnect_nonce, Duration::from_secs(30));
        assert_eq!(merged.reconnect_count, -1);
        let zero: WireConfig = serde_json::from_str(r#"{"PingInterval":0,"ReconnectCount":3}"#).unwrap();
        let merged = merged.merged(&zero);
        assert_eq!((merged.ping_interval, merged.reconnect_count), (Duration::from_secs(5), 3));
    }

    #[test]
    fn connection_limit_is_recognised() {
        let limit = LongConnectionError::HandshakeRefused {
            status: 514,
            auth_code: Some(AUTH_CONNECTION_LIMIT),
            msg: "x".into(),
        };
        assert!(limit.is_connection_limit());
        assert!(!LongConnectionError::EndpointRefused { code: 514, msg: String::new() }.is_connection_limit());
        assert!(ConnectionState::Failed(limit).is_final());
        assert!(!ConnectionState::Reconnecting { attempt: 1 }.is_final());
    }
}
