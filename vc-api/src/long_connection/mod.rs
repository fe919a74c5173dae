//! Receiving events over the long connection (feature `long-connection`): the app opens a
//! WebSocket to the platform and events come down it, so no public URL, encrypt key or
//! verification token is needed. Only self-built apps can use it.
//!
//! The handlers and the memory of handled event ids are those of the HTTP receiver
//! ([`EventDispatcher`], [`EventMemory`]): an event goes through the same
//! [`EventDispatcher::dispatch_once`], so moving between transports changes the front only.
//!
//! What the client does:
//! - fetches the endpoint (`POST {domain}/callback/ws/endpoint`, with a timeout) and opens the
//!   WebSocket (TLS through rustls with the crypto provider vc-api's features chose; handshake
//!   with a timeout);
//! - pings every `PingInterval` and adopts the `ClientConfig` a pong carries;
//! - a **liveness watchdog**, on by default: when no frame at all arrives within
//!   [`liveness_timeout`](LongConnectionBuilder::liveness_timeout) after a ping, the connection
//!   is taken as dead and replaced;
//! - reconnects after a random delay below `ReconnectNonce`, then every `ReconnectInterval`, at
//!   most `ReconnectCount` times in a row (negative: forever). Before the server has sent any
//!   `ClientConfig` (the endpoint busy at start-up), it retries after about a second and backs
//!   off towards 2 minutes ([`startup_backoff`](LongConnectionBuilder::startup_backoff));
//! - ends with [`ConnectionState::Failed`] on a final refusal: an endpoint code other than
//!   0, 1 (busy) and 1000040343 (internal error), a handshake refused with 403, or 514 with
//!   1000040350 (too many connections). Any other failure, at any point, leads to another try:
//!   the client is always either connected, trying, or ended with a reason;
//! - reassembles messages split into parts (any order, duplicates ignored, incomplete ones
//!   dropped after [`fragment_timeout`](LongConnectionBuilder::fragment_timeout), at most
//!   [`max_pending_bytes`](LongConnectionBuilder::max_pending_bytes) held);
//! - runs handlers concurrently, at most
//!   [`max_concurrent_handlers`](LongConnectionBuilder::max_concurrent_handlers) at a time, on
//!   their own tasks (a slow handler never delays pings or other events), and acknowledges each
//!   event with the frame sent back, `biz_rt` (handling time in ms) added, and the payload
//!   `{"code": ...}`: 200 when handled (or a duplicate), 500 when the handler failed or
//!   panicked, 503 when the same event id is being handled right now (a redelivery overtook the
//!   first one) or the event memory cannot take it, 400 when the event cannot be decoded, and
//!   503 when more than `max_pending_bytes` of events wait for a free handler. Anything but
//!   200 makes the platform deliver the event again later.
//!
//! Every state change is published on a [`tokio::sync::watch`] channel ([`LongConnection::state`])
//! and logged with `tracing` (`conn_id`; per event also `message_id` and `trace_id`). The app
//! secret never appears in logs, errors or `Debug` output.
//!
//! ```no_run
//! use vc_api::long_connection::{ConnectionState, LongConnection};
//! use vc_api::types::MeetingMeetingStartedV1Event;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), vc_api::long_connection::LongConnectionError> {
//! let connection = LongConnection::builder("cli_a1b2c3", "app-secret")
//!     .on(|header, started: MeetingMeetingStartedV1Event| async move {
//!         println!("meeting started ({}): {started:?}", header.event_id);
//!         Ok(())
//!     })
//!     .fallback(|header, event| async move {
//!         println!("other event {} ({})", event.event_type(), header.event_id);
//!         Ok(())
//!     })
//!     .start()?;
//! let mut state = connection.state();
//! while !state.borrow_and_update().is_final() {
//!     eprintln!("{:?}", *state.borrow());
//!     if state.changed().await.is_err() {
//!         break;
//!     }
//! }
//! connection.wait().await
//! # }
//! ```

mod client;
mod fragments;
pub mod frame;
mod state;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

pub use state::{
    AUTH_CONNECTION_LIMIT, CODE_INTERNAL_ERROR, CODE_OK, CODE_SYSTEM_BUSY, ClientConfig, ConnectionState,
    HANDSHAKE_AUTH_FAILED, HANDSHAKE_FORBIDDEN, LongConnectionError,
};

use crate::Domain;
use crate::dispatch::EventDispatcher;
use crate::event_memory::{EventMemory, LocalEventMemory};
use crate::secret::Secret;

/// The path of the endpoint request, under the domain.
pub const ENDPOINT_PATH: &str = "/callback/ws/endpoint";

/// Configures a [`LongConnection`]; see [`LongConnection::builder`].
#[must_use = "a builder does nothing until `start` is called"]
pub struct LongConnectionBuilder {
    app_id: String,
    app_secret: Secret,
    domain: Domain,
    dispatcher: EventDispatcher,
    memory: Option<Arc<dyn EventMemory>>,
    retention: Duration,
    max_handlers: usize,
    endpoint_timeout: Duration,
    handshake_timeout: Duration,
    liveness_timeout: Duration,
    fragment_timeout: Duration,
    max_pending_bytes: usize,
    startup_backoff: (Duration, Duration),
    http: Option<reqwest::Client>,
}

impl fmt::Debug for LongConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongConnectionBuilder")
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("domain", &self.domain)
            .field("dispatcher", &self.dispatcher)
            .field("memory", &self.memory)
            .field("max_concurrent_handlers", &self.max_handlers)
            .field("liveness_timeout", &self.liveness_timeout)
            .finish_non_exhaustive()
    }
}

impl LongConnectionBuilder {
    /// Default bound of handlers running at once.
    pub const DEFAULT_MAX_CONCURRENT_HANDLERS: usize = 64;
    /// Default timeout of the endpoint request.
    pub const DEFAULT_ENDPOINT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default timeout of the WebSocket connection and handshake (TCP, TLS and HTTP upgrade).
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default time allowed for any frame to arrive after a ping.
    pub const DEFAULT_LIVENESS_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default time an incomplete message is kept.
    pub const DEFAULT_FRAGMENT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default bound of bytes held for incomplete messages (and, separately, for events
    /// waiting for a free handler): 32 MiB.
    pub const DEFAULT_MAX_PENDING_BYTES: usize = 32 << 20;
    /// Default retention of handled event ids: 10 minutes, like the HTTP receiver's.
    pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(600);

    /// The domain (default [`Domain::Feishu`]); a mock server is a [`Domain::Custom`].
    pub fn domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    crate::dispatch::handler_setters!();

    /// Where handled event ids are remembered (default: a [`LocalEventMemory`] of
    /// [`LocalEventMemory::DEFAULT_CAPACITY`] keys). Share one with an HTTP receiver or other
    /// replicas to handle each event once between them.
    pub fn memory(mut self, memory: impl EventMemory) -> Self {
        self.memory = Some(Arc::new(memory));
        self
    }

    /// How long a handled event id is remembered (default
    /// [`DEFAULT_EVENT_RETENTION`](Self::DEFAULT_EVENT_RETENTION)).
    pub fn event_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// At most this many handlers run at once (default
    /// [`DEFAULT_MAX_CONCURRENT_HANDLERS`](Self::DEFAULT_MAX_CONCURRENT_HANDLERS); at least 1).
    pub fn max_concurrent_handlers(mut self, max: usize) -> Self {
        self.max_handlers = max;
        self
    }

    /// Timeout of the endpoint request.
    pub fn endpoint_timeout(mut self, timeout: Duration) -> Self {
        self.endpoint_timeout = timeout;
        self
    }

    /// Timeout of opening the WebSocket: TCP connection, TLS and HTTP upgrade together.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The liveness watchdog: a connection on which no frame arrives within this time after a
    /// ping is replaced (default [`DEFAULT_LIVENESS_TIMEOUT`](Self::DEFAULT_LIVENESS_TIMEOUT)).
    pub fn liveness_timeout(mut self, timeout: Duration) -> Self {
        self.liveness_timeout = timeout;
        self
    }

    /// How long the parts of an incomplete message are kept.
    pub fn fragment_timeout(mut self, timeout: Duration) -> Self {
        self.fragment_timeout = timeout;
        self
    }

    /// Bound of the bytes held for incomplete messages, and of the bytes of events waiting
    /// for a free handler.
    pub fn max_pending_bytes(mut self, max: usize) -> Self {
        self.max_pending_bytes = max;
        self
    }

    /// Retry delays before the server has sent a `ClientConfig`: the first about `first`
    /// (randomly between half and all of it), each next one doubled, at most `max` (default
    /// 1 s and 120 s).
    pub fn startup_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.startup_backoff = (first, max);
        self
    }

    /// Sends the endpoint request through `http` (its proxy, roots, timeouts) instead of a
    /// client made for it.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Starts the connection on the current Tokio runtime and returns its handle. Fails when
    /// there is no runtime, or when the app id, secret or domain cannot be used.
    pub fn start(self) -> Result<LongConnection, LongConnectionError> {
        if self.app_id.is_empty() || self.app_secret.expose().is_empty() {
            return Err(LongConnectionError::Config("the app id and the app secret cannot be empty".into()));
        }
        let base_url = self.domain.base_url().to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return Err(LongConnectionError::Config(format!("the domain {base_url:?} is not an http(s) URL"))),
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| LongConnectionError::Config("start needs a Tokio runtime".into()))?;
        let http = match self.http {
            Some(http) => http,
            None => {
                crate::client::install_tls_provider();
                reqwest::Client::builder()
                    .user_agent(concat!("vc-api-rust/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| LongConnectionError::Config(format!("cannot set up the HTTP client: {e}")))?
            }
        };
        let memory = self.memory.unwrap_or_else(|| Arc::new(LocalEventMemory::new(LocalEventMemory::DEFAULT_CAPACITY)));
        let max_handlers = self.max_handlers.clamp(1, Semaphore::MAX_PERMITS);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(client::Shared {
            app_id: self.app_id,
            app_secret: self.app_secret,
            base_url,
            dispatcher: self.dispatcher,
            memory,
            retention: self.retention,
            handlers: Arc::new(Semaphore::new(max_handlers)),
            max_handlers,
            endpoint_timeout: self.endpoint_timeout,
            handshake_timeout: self.handshake_timeout,
            liveness_timeout: self.liveness_timeout,
            fragment_timeout: self.fragment_timeout,
            max_pending_bytes: self.max_pending_bytes,
            startup_backoff: self.startup_backoff,
            http,
            state: state_tx,
            closing: AtomicBool::new(false),
            queued_bytes: AtomicUsize::new(0),
        });
        let task_shared = shared.clone();
        let task = runtime.spawn(async move {
            let outcome =
                std::panic::AssertUnwindSafe(client::run(task_shared.clone(), shutdown_rx)).catch_unwind().await;
            outcome.unwrap_or_else(|_| {
                let error = LongConnectionError::Internal("the connection task panicked".into());
                task_shared.set_state(ConnectionState::Failed(error.clone()));
                Err(error)
            })
        });
        Ok(LongConnection { state: state_rx, shutdown: ShutdownHandle(Arc::new(shutdown_tx)), task })
    }
}

/// A running long connection: its state, a way to stop it, and its end.
///
/// Dropping it does not stop the connection; call [`shutdown`](Self::shutdown) (or keep a
/// [`ShutdownHandle`]).
pub struct LongConnection {
    state: watch::Receiver<ConnectionState>,
    shutdown: ShutdownHandle,
    task: JoinHandle<Result<(), LongConnectionError>>,
}

impl fmt::Debug for LongConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongConnection").field("state", &*self.state.borrow()).finish_non_exhaustive()
    }
}

impl LongConnection {
    /// Starts configuring a long connection for a self-built app.
    pub fn builder(app_id: impl Into<String>, app_secret: impl Into<Secret>) -> LongConnectionBuilder {
        LongConnectionBuilder {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
            domain: Domain::Feishu,
            dispatcher: EventDispatcher::new(),
            memory: None,
            retention: LongConnectionBuilder::DEFAULT_EVENT_RETENTION,
            max_handlers: LongConnectionBuilder::DEFAULT_MAX_CONCURRENT_HANDLERS,
            endpoint_timeout: LongConnectionBuilder::DEFAULT_ENDPOINT_TIMEOUT,
            handshake_timeout: LongConnectionBuilder::DEFAULT_HANDSHAKE_TIMEOUT,
            liveness_timeout: LongConnectionBuilder::DEFAULT_LIVENESS_TIMEOUT,
            fragment_timeout: LongConnectionBuilder::DEFAULT_FRAGMENT_TIMEOUT,
            max_pending_bytes: LongConnectionBuilder::DEFAULT_MAX_PENDING_BYTES,
            startup_backoff: (Duration::from_secs(1), Duration::from_secs(120)),
            http: None,
        }
    }

    /// A receiver of the connection's state; `changed()` wakes on every transition.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// A handle that stops the connection, usable from anywhere (a signal handler).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Stops the connection: no new event is taken, the handlers running finish and their
    /// acknowledgements are sent, then the socket is closed. Returns how it ended
    /// (`Ok` when stopped, the error when it had failed before).
    pub async fn shutdown(self) -> Result<(), LongConnectionError> {
        self.shutdown.shutdown();
        self.wait().await
    }

    /// Waits until the connection ends: `Ok` after a shutdown, the error after a final
    /// refusal or exhausted reconnects.
    pub async fn wait(self) -> Result<(), LongConnectionError> {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(error) => Err(LongConnectionError::Internal(error.to_string())),
        }
    }
}

/// Stops a [`LongConnection`]; clones stop the same one.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Asks the connection to stop (see [`LongConnection::shutdown`]); returns at once.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}
