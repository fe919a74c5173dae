//! The connection loop: endpoint, handshake, then pings, frames and acknowledgements on one
//! socket; reconnects by the server's parameters; the end states.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

use super::ENDPOINT_PATH;
use super::fragments::Reassembler;
use super::frame::{self, Frame};
use super::state::{
    AUTH_CONNECTION_LIMIT, CODE_INTERNAL_ERROR, CODE_OK, CODE_SYSTEM_BUSY, ClientConfig, ConnectionState,
    HANDSHAKE_AUTH_FAILED, HANDSHAKE_FORBIDDEN, LongConnectionError, WireConfig,
};
use crate::dispatch::{EventDispatcher, Handled};
use crate::event_memory::EventMemory;
use crate::events::EventCallback;
use crate::secret::Secret;

/// Everything the connection task and the handler tasks share.
pub(crate) struct Shared {
    pub(crate) app_id: String,
    pub(crate) app_secret: Secret,
    pub(crate) base_url: String,
    pub(crate) dispatcher: EventDispatcher,
    pub(crate) memory: Arc<dyn EventMemory>,
    pub(crate) retention: Duration,
    pub(crate) handlers: Arc<Semaphore>,
    pub(crate) max_handlers: usize,
    pub(crate) endpoint_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) liveness_timeout: Duration,
    pub(crate) fragment_timeout: Duration,
    pub(crate) max_pending_bytes: usize,
    pub(crate) startup_backoff: (Duration, Duration),
    pub(crate) http: reqwest::Client,
    pub(crate) state: watch::Sender<ConnectionState>,
    /// Set once a shutdown began: handlers not started yet do not start.
    pub(crate) closing: AtomicBool,
    /// Bytes of complete events waiting for a free handler.
    pub(crate) queued_bytes: AtomicUsize,
}

impl Shared {
    pub(crate) fn set_state(&self, state: ConnectionState) {
        self.state.send_replace(state);
    }
}

/// A socket the WebSocket runs on: plain TCP or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// An open connection.
struct Connection {
    socket: Socket,
    service_id: i32,
    conn_id: String,
}

/// Why a try did not give a connection.
enum Attempt {
    /// Not worth trying again: the client ends.
    Final(LongConnectionError),
    /// Try again after the reconnect delay.
    Retry(String),
}

/// How a connection ended.
enum End {
    Shutdown,
    Lost(String),
}

/// Runs the client until a shutdown (`Ok`) or a final failure.
pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) -> Result<(), LongConnectionError> {
    let mut config: Option<ClientConfig> = None;
    let mut attempt: u32 = 0;
    let mut connections: u64 = 0;
    shared.set_state(ConnectionState::Connecting);
    tracing::info!(app_id = shared.app_id, "vc_api.long_connection: connecting");
    loop {
        let tried = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => return stop(&shared).await,
            tried = connect(&shared, &mut config, connections + 1) => tried,
        };
        let failure = match tried {
            Ok(connection) => {
                attempt = 0;
                connections += 1;
                let conn_id = connection.conn_id.clone();
                shared.set_state(ConnectionState::Connected { conn_id: conn_id.clone() });
                tracing::info!(conn_id, "vc_api.long_connection: connected");
                match serve(&shared, connection, &mut config, &mut shutdown).await {
                    End::Shutdown => return stop(&shared).await,
                    End::Lost(reason) => {
                        tracing::warn!(conn_id, reason, "vc_api.long_connection: connection lost");
                        reason
                    }
                }
            }
            Err(Attempt::Final(error)) => {
                tracing::error!(error = %error, "vc_api.long_connection: refused for good; not trying again");
                shared.set_state(ConnectionState::Failed(error.clone()));
                finish_handlers(&shared).await;
                return Err(error);
            }
            Err(Attempt::Retry(reason)) => {
                tracing::warn!(attempt, reason, "vc_api.long_connection: connection attempt failed");
                reason
            }
        };
        attempt = attempt.saturating_add(1);
        let delay = match config {
            Some(config) => {
                if config.reconnect_count >= 0 && i64::from(attempt) > config.reconnect_count {
                    let error = LongConnectionError::ReconnectsExhausted { attempts: attempt - 1, last: failure };
                    tracing::error!(error = %error, "vc_api.long_connection: giving up");
                    shared.set_state(ConnectionState::Failed(error.clone()));
                    finish_handlers(&shared).await;
                    return Err(error);
                }
                reconnect_delay(&config, attempt, random_fraction())
            }
            None => startup_delay(shared.startup_backoff, attempt, random_fraction()),
        };
        shared.set_state(ConnectionState::Reconnecting { attempt });
        tracing::info!(attempt, delay_ms = delay.as_millis() as u64, "vc_api.long_connection: reconnecting");
        tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => return stop(&shared).await,
            _ = sleep(delay) => {}
        }
    }
}

/// The wait before reconnect try `attempt` (1-based) once the server's parameters are known:
/// a random part of `ReconnectNonce` first, then `ReconnectInterval`.
pub(crate) fn reconnect_delay(config: &ClientConfig, attempt: u32, random: f64) -> Duration {
    if attempt <= 1 { config.reconnect_nonce.mul_f64(random) } else { config.reconnect_interval }
}

/// The wait before try `attempt` (1-based) while no parameters are known: `first` doubled
/// per try up to `max`, of which a random half to whole is taken.
pub(crate) fn startup_delay((first, max): (Duration, Duration), attempt: u32, random: f64) -> Duration {
    let doubled = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(max).mul_f64(0.5 + random / 2.0)
}

/// A random number in [0, 1).
fn random_fraction() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(Instant::now().elapsed().as_nanos() as u64);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Resolves when a shutdown is asked (or every handle is gone without asking: never).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Ends the client after a shutdown: handlers finish, state Stopped.
async fn stop(shared: &Shared) -> Result<(), LongConnectionError> {
    finish_handlers(shared).await;
    shared.set_state(ConnectionState::Stopped);
    tracing::info!("vc_api.long_connection: stopped");
    Ok(())
}

/// Lets the running handlers finish; handlers not started yet are not started.
async fn finish_handlers(shared: &Shared) {
    shared.closing.store(true, Ordering::SeqCst);
    let all = u32::try_from(shared.max_handlers).unwrap_or(u32::MAX);
    if let Ok(permits) = shared.handlers.acquire_many(all).await {
        permits.forget();
    }
    shared.handlers.close();
}

/// The endpoint's answer.
#[derive(Deserialize)]
struct EndpointAnswer {
    code: i64,
    #[serde(default)]
    msg: String,
    data: Option<EndpointData>,
}

#[derive(Deserialize)]
struct EndpointData {
    #[serde(rename = "URL")]
    url: Option<String>,
    #[serde(rename = "ClientConfig")]
    client_config: Option<WireConfig>,
}

/// One try: the endpoint, then the WebSocket.
async fn connect(shared: &Shared, config: &mut Option<ClientConfig>, number: u64) -> Result<Connection, Attempt> {
    let (url, wire) = fetch_endpoint(shared).await?;
    if let Some(wire) = wire {
        *config = Some(config.unwrap_or_default().merged(&wire));
    }
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| Attempt::Retry(format!("the endpoint URL is not a URL: {e}")))?;
    let query = |name: &str| parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let service_id = query("service_id").and_then(|v| v.parse().ok()).unwrap_or(0);
    let conn_id = query("device_id").unwrap_or_else(|| number.to_string());
    let socket = match timeout(shared.handshake_timeout, open(&url, &parsed)).await {
        Ok(opened) => opened?,
        Err(_) => {
            return Err(Attempt::Retry(format!(
                "the WebSocket handshake did not finish within {:?}",
                shared.handshake_timeout
            )));
        }
    };
    Ok(Connection { socket, service_id, conn_id })
}

/// `POST {domain}/callback/ws/endpoint`: the URL to connect to and the parameters.
async fn fetch_endpoint(shared: &Shared) -> Result<(String, Option<WireConfig>), Attempt> {
    let body = serde_json::json!({ "AppID": shared.app_id, "AppSecret": shared.app_secret.expose() });
    let request = async {
        let response = shared
            .http
            .post(format!("{}{ENDPOINT_PATH}", shared.base_url))
            .header("locale", "zh")
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        response.bytes().await.map(|bytes| (status, bytes))
    };
    let (status, bytes) = match timeout(shared.endpoint_timeout, request).await {
        Ok(Ok(answer)) => answer,
        // reqwest's error names the URL, never the body (which holds the secret).
        Ok(Err(error)) => return Err(Attempt::Retry(format!("POST {ENDPOINT_PATH} failed: {error}"))),
        Err(_) => {
            return Err(Attempt::Retry(format!(
                "POST {ENDPOINT_PATH} got no answer within {:?}",
                shared.endpoint_timeout
            )));
        }
    };
    let answer: EndpointAnswer = serde_json::from_slice(&bytes).map_err(|e| {
        Attempt::Retry(format!("POST {ENDPOINT_PATH} answered HTTP {status} without a Feishu answer: {e}"))
    })?;
    match answer.code {
        CODE_OK => {
            let data = answer.data.unwrap_or(EndpointData { url: None, client_config: None });
            match data.url {
                Some(url) if !url.is_empty() => Ok((url, data.client_config)),
                _ => Err(Attempt::Retry(format!("POST {ENDPOINT_PATH} answered code 0 without a URL"))),
            }
        }
        CODE_SYSTEM_BUSY | CODE_INTERNAL_ERROR => {
            Err(Attempt::Retry(format!("POST {ENDPOINT_PATH} answered code {} ({})", answer.code, answer.msg)))
        }
        code => Err(Attempt::Final(LongConnectionError::EndpointRefused { code, msg: answer.msg })),
    }
}

/// Opens the socket and does the WebSocket handshake on the URL exactly as given.
async fn open(url: &str, parsed: &reqwest::Url) -> Result<Socket, Attempt> {
    let retry = |what: &str, e: &dyn std::fmt::Display| Attempt::Retry(format!("{what}: {e}"));
    let host = parsed.host_str().ok_or_else(|| Attempt::Retry("the endpoint URL has no host".into()))?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| retry(&format!("cannot connect to {host}:{port}"), &e))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match parsed.scheme() {
        "ws" => Box::new(tcp),
        "wss" => {
            let tls = tls_config().map_err(Attempt::Final)?;
            let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|e| retry("invalid server name", &e))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| retry(&format!("TLS with {host} failed"), &e))?;
            Box::new(stream)
        }
        other => return Err(Attempt::Retry(format!("the endpoint URL's scheme {other:?} is not ws or wss"))),
    };
    match tokio_tungstenite::client_async(url, stream).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(handshake_refusal(&response)),
        Err(error) => Err(retry("the WebSocket handshake failed", &error)),
    }
}

/// The rustls configuration: the process's crypto provider (installed from vc-api's TLS
/// features, as for the HTTP client) and the platform's root certificates.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, LongConnectionError> {
    crate::client::install_tls_provider();
    let provider = rustls::crypto::CryptoProvider::get_default().cloned().ok_or_else(|| {
        LongConnectionError::Config("wss needs a TLS feature (rustls-aws-lc-rs or rustls-ring)".into())
    })?;
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| LongConnectionError::Config(format!("cannot load the platform's certificates: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LongConnectionError::Config(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads a refused handshake's `Handshake-*` headers: final or worth another try.
fn handshake_refusal(response: &tungstenite::http::Response<Option<Vec<u8>>>) -> Attempt {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let status = header("handshake-status")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| i64::from(response.status().as_u16()));
    let auth_code = header("handshake-autherrcode").and_then(|v| v.trim().parse().ok());
    let msg = header("handshake-msg").unwrap_or_default().to_owned();
    if status == HANDSHAKE_FORBIDDEN || (status == HANDSHAKE_AUTH_FAILED && auth_code == Some(AUTH_CONNECTION_LIMIT)) {
        Attempt::Final(LongConnectionError::HandshakeRefused { status, auth_code, msg })
    } else {
        Attempt::Retry(format!("the WebSocket handshake was refused (status {status}, auth code {auth_code:?}): {msg}"))
    }
}

/// Serves one connection until it is lost or a shutdown is asked.
async fn serve(
    shared: &Arc<Shared>,
    connection: Connection,
    config: &mut Option<ClientConfig>,
    shutdown: &mut watch::Receiver<bool>,
) -> End {
    let Connection { socket, service_id, conn_id } = connection;
    let conn_id: Arc<str> = Arc::from(conn_id);
    let (mut sink, mut stream) = socket.split();
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<Frame>();
    let mut ping_every = config.unwrap_or_default().ping_interval;
    let mut next_ping = Instant::now();
    let mut deadline: Option<Instant> = None;
    let mut parts = Reassembler::new(shared.max_pending_bytes, shared.fragment_timeout);
    let mut sweep = tokio::time::interval(shared.fragment_timeout.max(Duration::from_millis(10)));
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        tokio::select! {
            biased;
            _ = stopped(shutdown) => {
                return close(shared, sink, stream, ack_rx, &conn_id).await;
            }
            _ = sleep_until(next_ping) => {
                if let Err(error) = sink.send(Message::Binary(Frame::ping(service_id).to_bytes().into())).await {
                    return End::Lost(format!("cannot send a ping: {error}"));
                }
                tracing::trace!(conn_id = &*conn_id, "vc_api.long_connection: ping");
                next_ping = Instant::now() + ping_every;
                deadline.get_or_insert_with(|| Instant::now() + shared.liveness_timeout);
            }
            _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => {
                return End::Lost(format!("no frame within {:?} after a ping (liveness watchdog)", shared.liveness_timeout));
            }
            Some(ack) = ack_rx.recv() => {
                if let Err(error) = sink.send(Message::Binary(ack.to_bytes().into())).await {
                    return End::Lost(format!("cannot send an acknowledgement: {error}"));
                }
            }
            _ = sweep.tick() => {
                for message_id in parts.expire(Instant::now()) {
                    tracing::warn!(conn_id = &*conn_id, message_id, "vc_api.long_connection: incomplete message dropped");
                }
            }
            message = stream.next() => {
                let bytes = match message {
                    None => return End::Lost("the server closed the connection".into()),
                    Some(Err(error)) => return End::Lost(format!("cannot read: {error}")),
                    Some(Ok(Message::Close(close))) => {
                        return End::Lost(format!("the server closed the connection ({close:?})"));
                    }
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(_)) => {
                        deadline = None;
                        continue;
                    }
                };
                deadline = None;
                let frame = match Frame::from_bytes(&bytes) {
                    Ok(frame) => frame,
                    Err(error) => {
                        tracing::warn!(conn_id = &*conn_id, error = %error, "vc_api.long_connection: undecodable frame ignored");
                        continue;
                    }
                };
                if frame.method == frame::METHOD_CONTROL {
                    if frame.kind() == "pong"
                        && let Some(new) = adopt_config(&frame, config, &conn_id)
                        && new.ping_interval != ping_every
                    {
                        ping_every = new.ping_interval;
                        next_ping = Instant::now() + ping_every;
                    }
                    continue;
                }
                on_data(shared, &mut parts, frame, &ack_tx, &conn_id);
            }
        }
    }
}

/// A pong's payload, when it is a `ClientConfig`, replaces the parameters.
fn adopt_config(frame: &Frame, config: &mut Option<ClientConfig>, conn_id: &str) -> Option<ClientConfig> {
    let payload = frame.payload.as_deref().filter(|p| !p.is_empty())?;
    match serde_json::from_slice::<WireConfig>(payload) {
        Ok(wire) => {
            let new = config.unwrap_or_default().merged(&wire);
            if Some(new) != *config {
                tracing::info!(conn_id, config = ?new, "vc_api.long_connection: new client config adopted");
            }
            *config = Some(new);
            Some(new)
        }
        Err(error) => {
            tracing::warn!(conn_id, error = %error, "vc_api.long_connection: pong payload is not a client config");
            None
        }
    }
}

/// A data frame: reassembled, then handed to a handler task.
fn on_data(
    shared: &Arc<Shared>,
    parts: &mut Reassembler,
    frame: Frame,
    acks: &mpsc::UnboundedSender<Frame>,
    conn_id: &Arc<str>,
) {
    let message_id = frame.header(frame::HEADER_MESSAGE_ID).unwrap_or_default().to_owned();
    let trace_id = frame.header(frame::HEADER_TRACE_ID).unwrap_or_default().to_owned();
    let mut template = frame;
    let payload = template.payload.take().unwrap_or_default();
    let sum = template.header(frame::HEADER_SUM).map(str::to_owned);
    let seq = template.header(frame::HEADER_SEQ).map(str::to_owned);
    let whole = match parts.add(&message_id, sum.as_deref(), seq.as_deref(), payload, Instant::now()) {
        Ok(Some(whole)) => whole,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(conn_id = &**conn_id, message_id, trace_id, error = %error, "vc_api.long_connection: part dropped");
            return;
        }
    };
    if shared.closing.load(Ordering::SeqCst) {
        return;
    }
    let kind = template.kind().to_owned();
    if kind != "event" {
        tracing::warn!(
            conn_id = &**conn_id,
            message_id,
            trace_id,
            kind,
            "vc_api.long_connection: only events are handled; acknowledged"
        );
        let _ = acks.send(template.acknowledgement(200, 0));
        return;
    }
    let size = whole.len();
    if shared.queued_bytes.fetch_add(size, Ordering::SeqCst) + size > shared.max_pending_bytes {
        shared.queued_bytes.fetch_sub(size, Ordering::SeqCst);
        tracing::warn!(
            conn_id = &**conn_id,
            message_id,
            trace_id,
            "vc_api.long_connection: too many events waiting; refused with 503"
        );
        let _ = acks.send(template.acknowledgement(503, 0));
        return;
    }
    let (shared, acks, conn_id) = (shared.clone(), acks.clone(), conn_id.clone());
    tokio::spawn(async move {
        let permit = shared.handlers.clone().acquire_owned().await;
        shared.queued_bytes.fetch_sub(size, Ordering::SeqCst);
        let Ok(_permit) = permit else { return };
        if shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        let code = handle(&shared, &whole, &conn_id, &message_id, &trace_id).await;
        let biz_rt = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if acks.send(template.acknowledgement(code, biz_rt)).is_err() {
            tracing::debug!(
                conn_id = &*conn_id,
                message_id,
                trace_id,
                "vc_api.long_connection: connection gone before the acknowledgement"
            );
        }
    });
}

/// Decodes and dispatches one event; returns the acknowledgement code.
async fn handle(shared: &Shared, payload: &[u8], conn_id: &str, message_id: &str, trace_id: &str) -> u16 {
    let callback = match EventCallback::from_slice(payload) {
        Ok(callback) => callback,
        Err(error) => {
            tracing::warn!(conn_id, message_id, trace_id, error = %error, "vc_api.long_connection: undecodable event");
            return 400;
        }
    };
    let EventCallback { mut header, event, .. } = callback;
    header.token = None;
    let (event_id, event_type) = (header.event_id.clone(), header.event_type.clone());
    let dispatching = shared.dispatcher.dispatch_once(&shared.memory, shared.retention, header, event);
    match crate::dispatch::with_delivered(Arc::from(payload), dispatching).await {
        Ok(handled) => {
            // `dispatched` is left out of the record of a duplicate (a `None` field is not recorded).
            let (dispatched, outcome) = match handled {
                Handled::Ran(dispatched) => (Some(dispatched), "event handled"),
                Handled::Duplicate => (None, "duplicate event acknowledged"),
            };
            let dispatched = dispatched.map(tracing::field::debug);
            tracing::debug!(
                conn_id,
                message_id,
                trace_id,
                event_id,
                event_type,
                dispatched,
                "vc_api.long_connection: {outcome}"
            );
            200
        }
        Err(error) => {
            let code = error.status();
            tracing::warn!(conn_id, message_id, trace_id, event_id, event_type, code, error = %error, "vc_api.long_connection: event refused");
            code
        }
    }
}

/// A clean close: no new events, running handlers finish and are acknowledged, then the
/// close frame.
async fn close(
    shared: &Shared,
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    mut stream: futures_util::stream::SplitStream<Socket>,
    mut acks: mpsc::UnboundedReceiver<Frame>,
    conn_id: &str,
) -> End {
    tracing::info!(conn_id, "vc_api.long_connection: shutting down; waiting for running handlers");
    shared.closing.store(true, Ordering::SeqCst);
    let all = u32::try_from(shared.max_handlers).unwrap_or(u32::MAX);
    let finished = shared.handlers.acquire_many(all);
    tokio::pin!(finished);
    let mut open = true;
    loop {
        tokio::select! {
            biased;
            permits = &mut finished => {
                if let Ok(permits) = permits {
                    // Given back at once: `stop` takes them again and closes the semaphore.
                    drop(permits);
                }
                break;
            }
            Some(ack) = acks.recv(), if open => {
                if sink.send(Message::Binary(ack.to_bytes().into())).await.is_err() {
                    open = false;
                }
            }
            // Keep reading so that the socket's control frames are answered; new events are
            // not acknowledged (the platform delivers them again).
            message = stream.next(), if open => {
                if !matches!(message, Some(Ok(_))) {
                    open = false;
                }
            }
        }
    }
    while let Ok(ack) = acks.try_recv() {
        if !open || sink.send(Message::Binary(ack.to_bytes().into())).await.is_err() {
            break;
        }
    }
    if open {
        let _ = timeout(Duration::from_secs(5), async {
            let _ = sink.send(Message::Close(None)).await;
            let _ = sink.flush().await;
        })
        .await;
    }
    End::Shutdown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_delays_grow_from_a_second_towards_two_minutes() {
        let backoff = (Duration::from_secs(1), Duration::from_secs(120));
        // Largest and smallest possible delays.
        let most: Vec<u64> = (1..=9).map(|n| startup_delay(backoff, n, 0.999_999).as_secs()).collect();
        assert_eq!(most, [0, 1, 3, 7, 15, 31, 63, 119, 119]);
        assert_eq!(startup_delay(backoff, 1, 0.0), Duration::from_millis(500));
        assert_eq!(startup_delay(backoff, 30, 0.0), Duration::from_secs(60));
        // Busy twice at start-up: the third try comes within 3 s, far inside a minute.
        let waited = startup_delay(backoff, 1, 0.999_999) + startup_delay(backoff, 2, 0.999_999);
        assert!(waited <= Duration::from_secs(3), "{waited:?}");
    }

    #[test]
    fn reconnect_delays_follow_the_server() {
        let config = ClientConfig {
            reconnect_count: 3,
            reconnect_interval: Duration::from_secs(20),
            reconnect_nonce: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
        };
        assert_eq!(reconnect_delay(&config, 1, 0.5), Duration::from_secs(5));
        assert!(reconnect_delay(&config, 1, 0.999_999) < Duration::from_secs(10));
        assert_eq!(reconnect_delay(&config, 2, 0.5), Duration::from_secs(20));
        assert_eq!(reconnect_delay(&config, 3, 0.0), Duration::from_secs(20));
    }

    #[test]
    fn random_fractions_stay_below_one() {
        for _ in 0..1000 {
            let r = random_fraction();
            assert!((0.0..1.0).contains(&r), "{r}");
        }
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> tungstenite::http::Response<Option<Vec<u8>>> {
        let mut builder = tungstenite::http::Response::builder().status(status);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(None).unwrap()
    }

    #[test]
    fn handshake_refusals_final_or_not() {
        let limit = response(
            400,
            &[("Handshake-Status", "514"), ("Handshake-Autherrcode", "1000040350"), ("Handshake-Msg", "too many")],
        );
        assert!(matches!(handshake_refusal(&limit), Attempt::Final(e) if e.is_connection_limit()));
        let forbidden = response(403, &[]);
        assert!(matches!(
            handshake_refusal(&forbidden),
            Attempt::Final(LongConnectionError::HandshakeRefused { status: 403, auth_code: None, .. })
        ));
        let other_auth = response(400, &[("Handshake-Status", "514"), ("Handshake-Autherrcode", "1")]);
        assert!(matches!(handshake_refusal(&other_auth), Attempt::Retry(_)));
        assert!(matches!(handshake_refusal(&response(502, &[])), Attempt::Retry(_)));
    }
}
