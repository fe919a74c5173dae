//! A fake of Feishu's event long connection: `POST /callback/ws/endpoint` for the app's
//! credentials and a WebSocket that speaks the protocol (answers pings with pongs, collects
//! acknowledgements), with a [`LongConnHub`] to push events to the connected clients and
//! fault knobs for tests: close every socket, go silent with the TCP connection open, stall
//! handshakes, answer "busy", refuse handshakes (forbidden, connection limit), send a new
//! `ClientConfig` on pongs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = vc_mock::long_connection::LongConnServer::start().await;
//! // Clients use `Domain::Custom(server.url())` with vc_mock::APP_ID / APP_SECRET.
//! let hub = server.hub();
//! let event = serde_json::json!({"schema": "2.0",
//!     "header": {"event_id": "e1", "event_type": "vc.meeting.meeting_started_v1"}, "event": {}});
//! assert_eq!(hub.push(&event, 1).await, 0, "nobody connected yet");
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use vc_api::long_connection::frame::{self, Frame};
use vc_api::long_connection::{AUTH_CONNECTION_LIMIT, CODE_SYSTEM_BUSY, HANDSHAKE_AUTH_FAILED, HANDSHAKE_FORBIDDEN};

use crate::server::APP_CREDENTIALS_INVALID;
use crate::{APP_ID, APP_SECRET};

/// The `service_id` the endpoint's URL carries.
pub const SERVICE_ID: i32 = 7;
/// The path of the WebSocket.
pub const WS_PATH: &str = "/callback/ws/connect";

/// One acknowledgement a client sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ack {
    /// The connection it came on (1 for the first connection the server accepted).
    pub conn: u64,
    /// The `message_id` header.
    pub message_id: String,
    /// The payload's `code` (200, 500, ...), or -1 when the payload has none.
    pub code: i64,
    /// The `biz_rt` header, when present and a number.
    pub biz_rt: Option<i64>,
    /// Every header of the acknowledgement frame, in order.
    pub headers: Vec<(String, String)>,
}

/// What the server has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Endpoint requests, whatever their answer.
    pub endpoint_requests: u64,
    /// WebSocket upgrade requests, whatever their answer.
    pub handshakes: u64,
    /// Connections accepted so far.
    pub connections: u64,
    /// Connections open now.
    pub open: u64,
    /// Pings received.
    pub pings: u64,
    /// Acknowledgements received.
    pub acks: u64,
}

/// What a connection's task is told to do.
#[derive(Debug)]
enum Command {
    Send(Vec<u8>),
    Close,
    Silent,
}

#[derive(Debug, Default)]
struct Knobs {
    busy: u32,
    stall: u32,
    forbid: bool,
    connection_limit: Option<u64>,
    client_config: Option<Value>,
    pong_config: Option<Value>,
}

#[derive(Debug)]
struct Inner {
    app_id: String,
    app_secret: String,
    addr: SocketAddr,
    knobs: Mutex<Knobs>,
    counters: Mutex<Counters>,
    acks: Mutex<Vec<Ack>>,
    connections: Mutex<HashMap<u64, mpsc::UnboundedSender<Command>>>,
    next_conn: AtomicU64,
    next_message: AtomicU64,
    next_target: AtomicU64,
    changed: watch::Sender<u64>,
}

impl Inner {
    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, change: impl FnOnce(&mut Counters)) {
        change(&mut Self::lock(&self.counters));
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The handle on a [`LongConnServer`]: push events, read acknowledgements and counters, set
/// faults. Clones share the same server.
#[derive(Debug, Clone)]
pub struct LongConnHub {
    inner: Arc<Inner>,
}

/// A running fake long-connection server. It stops when dropped.
#[derive(Debug)]
pub struct LongConnServer {
    hub: LongConnHub,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LongConnServer {
    fn drop(&mut self) {
        self.task.abort();
        self.hub.close_all();
    }
}

impl LongConnServer {
    /// Starts a server for [`APP_ID`] / [`APP_SECRET`] on a free port of 127.0.0.1.
    pub async fn start() -> LongConnServer {
        Self::start_for(APP_ID, APP_SECRET).await
    }

    /// Starts a server that accepts these app credentials.
    pub async fn start_for(app_id: &str, app_secret: &str) -> LongConnServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port of 127.0.0.1");
        Self::serve(listener, app_id, app_secret)
    }

    /// Serves on `listener` (already bound) for these app credentials.
    pub fn serve(listener: tokio::net::TcpListener, app_id: &str, app_secret: &str) -> LongConnServer {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let inner = Arc::new(Inner {
            app_id: app_id.to_owned(),
            app_secret: app_secret.to_owned(),
            addr,
            knobs: Mutex::new(Knobs::default()),
            counters: Mutex::new(Counters::default()),
            acks: Mutex::new(Vec::new()),
            connections: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_message: AtomicU64::new(1),
            next_target: AtomicU64::new(0),
            changed: watch::channel(0).0,
        });
        let app = Router::new()
            .route(vc_api::long_connection::ENDPOINT_PATH, post(endpoint))
            .route(WS_PATH, get(upgrade))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LongConnServer { hub: LongConnHub { inner }, task }
    }

    /// The base URL (`http://127.0.0.1:<port>`): the domain clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.hub.inner.addr)
    }

    /// The handle to push events and set faults.
    pub fn hub(&self) -> LongConnHub {
        self.hub.clone()
    }
}

impl LongConnHub {
    /// Sends a v2 event to one connected client (the platform gives each event to one
    /// connection of the app; here they take turns), split into `fragments` parts (at least
    /// 1) sent in order. Returns the number of clients reached: 1, or 0 when none is connected.
    pub async fn push(&self, event_v2_json: &Value, fragments: u32) -> usize {
        self.push_now(event_v2_json, fragments)
    }

    /// [`push`](Self::push) without `async`, for callers that cannot await (a wiremock
    /// responder): the frames are queued on the connection at once.
    pub fn push_now(&self, event_v2_json: &Value, fragments: u32) -> usize {
        let order: Vec<u32> = (0..fragments.max(1)).collect();
        self.push_parts(event_v2_json, fragments, &order).map_or(0, |_| 1)
    }

    /// Sends a v2 event split into `fragments` parts, the parts sent in `order` (indices,
    /// repeats allowed: a repeated index sends that part again). Returns the `message_id`
    /// used, or `None` when no client is connected.
    pub fn push_parts(&self, event_v2_json: &Value, fragments: u32, order: &[u32]) -> Option<String> {
        let payload = event_v2_json.to_string().into_bytes();
        let sum = fragments.max(1) as usize;
        let size = payload.len().div_ceil(sum).max(1);
        let parts: Vec<&[u8]> =
            (0..sum).map(|i| payload.get(i * size..((i + 1) * size).min(payload.len())).unwrap_or(&[])).collect();
        let n = self.inner.next_message.fetch_add(1, Ordering::SeqCst);
        let message_id = format!("mock-msg-{n}");
        let frames: Vec<Vec<u8>> = order
            .iter()
            .filter_map(|&i| parts.get(i as usize).map(|part| (i, part)))
            .map(|(i, part)| {
                let mut frame = Frame {
                    seq_id: n,
                    log_id: n,
                    service: SERVICE_ID,
                    method: frame::METHOD_DATA,
                    payload: Some(part.to_vec()),
                    ..Frame::default()
                };
                frame.push_header(frame::HEADER_TYPE, "event");
                frame.push_header(frame::HEADER_MESSAGE_ID, message_id.clone());
                frame.push_header(frame::HEADER_SUM, sum.to_string());
                frame.push_header(frame::HEADER_SEQ, i.to_string());
                frame.push_header(frame::HEADER_TRACE_ID, format!("mock-trace-{n}"));
                frame.to_bytes()
            })
            .collect();
        let connections = Inner::lock(&self.inner.connections);
        let mut ids: Vec<u64> = connections.keys().copied().collect();
        if ids.is_empty() {
            return None;
        }
        ids.sort_unstable();
        let turn = self.inner.next_target.fetch_add(1, Ordering::SeqCst) as usize % ids.len();
        let target = &connections[&ids[turn]];
        for bytes in frames {
            if target.send(Command::Send(bytes)).is_err() {
                return None;
            }
        }
        Some(message_id)
    }

    /// Every acknowledgement received so far, oldest first.
    pub fn acks(&self) -> Vec<Ack> {
        Inner::lock(&self.inner.acks).clone()
    }

    /// Takes the acknowledgements received so far, leaving none (long runs keep memory flat).
    pub fn take_acks(&self) -> Vec<Ack> {
        std::mem::take(&mut *Inner::lock(&self.inner.acks))
    }

    /// The counters now.
    pub fn counters(&self) -> Counters {
        Inner::lock(&self.inner.counters).clone()
    }

    /// Waits until `done` holds for the counters (checked at every change).
    pub async fn wait_for(&self, mut done: impl FnMut(&Counters) -> bool) -> Counters {
        let mut changed = self.inner.changed.subscribe();
        loop {
            let counters = self.counters();
            if done(&counters) {
                return counters;
            }
            if changed.changed().await.is_err() {
                return self.counters();
            }
        }
    }

    /// Closes every open connection's socket at once (no close frame).
    pub fn close_all(&self) {
        for sender in Inner::lock(&self.inner.connections).values() {
            let _ = sender.send(Command::Close);
        }
    }

    /// Makes every open connection silent: nothing is read or written any more, the TCP
    /// connection stays open. New connections behave normally.
    pub fn go_silent(&self) {
        for sender in Inner::lock(&self.inner.connections).values() {
            let _ = sender.send(Command::Silent);
        }
    }

    /// The next `n` endpoint requests are answered `{"code": 1}` (system busy).
    pub fn busy_next(&self, n: u32) {
        Inner::lock(&self.inner.knobs).busy = n;
    }

    /// The next `n` handshakes are never answered (the TCP connection stays open).
    pub fn stall_next_handshakes(&self, n: u32) {
        Inner::lock(&self.inner.knobs).stall = n;
    }

    /// Every handshake is refused with status 403 (forbidden) while set.
    pub fn forbid_handshakes(&self, forbid: bool) {
        Inner::lock(&self.inner.knobs).forbid = forbid;
    }

    /// At most `limit` open connections; a handshake beyond is refused with status 514 and
    /// auth code 1000040350. `None`: no limit (the default).
    pub fn connection_limit(&self, limit: Option<u64>) {
        Inner::lock(&self.inner.knobs).connection_limit = limit;
    }

    /// The `ClientConfig` the endpoint answers with (default: none, the SDK defaults apply).
    pub fn client_config(&self, config: Option<Value>) {
        Inner::lock(&self.inner.knobs).client_config = config;
    }

    /// The `ClientConfig` pongs carry from now on (default: empty pongs).
    pub fn pong_config(&self, config: Option<Value>) {
        Inner::lock(&self.inner.knobs).pong_config = config;
    }
}

/// `POST /callback/ws/endpoint`.
async fn endpoint(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    axum::Json(inner.endpoint_answer(&body)).into_response()
}

impl Inner {
    /// The endpoint's answer to a request body: the WebSocket URL and the `ClientConfig` for
    /// the app's credentials, "busy" while the knob says so, 10014 for other credentials.
    fn endpoint_answer(&self, body: &[u8]) -> Value {
        self.count(|c| c.endpoint_requests += 1);
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if request["AppID"] != self.app_id.as_str() || request["AppSecret"] != self.app_secret.as_str() {
            return json!({"code": APP_CREDENTIALS_INVALID, "msg": "invalid app_id or app_secret"});
        }
        let config = {
            let mut knobs = Inner::lock(&self.knobs);
            if knobs.busy > 0 {
                knobs.busy -= 1;
                return json!({"code": CODE_SYSTEM_BUSY, "msg": "system busy"});
            }
            knobs.client_config.clone()
        };
        let device = self.next_conn.load(Ordering::SeqCst);
        let url =
            format!("ws://{}{WS_PATH}?device_id=mock-device-{device}&service_id={SERVICE_ID}&extra=kept", self.addr);
        let mut data = json!({ "URL": url });
        if let Some(config) = config {
            data["ClientConfig"] = config;
        }
        json!({"code": 0, "msg": "ok", "data": data})
    }
}

impl LongConnHub {
    /// The answer of `POST /callback/ws/endpoint` to `body`, for a server that serves the
    /// endpoint on its own port (vc-mock's `MockServer` does, so that its URL is the domain
    /// for both the API and the long connection).
    pub fn endpoint_answer(&self, body: &[u8]) -> Value {
        self.inner.endpoint_answer(body)
    }
}

fn refusal(status: i64, auth_code: Option<i64>, msg: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("Handshake-Status", status.to_string().parse().expect("digits"));
    headers.insert("Handshake-Msg", msg.parse().expect("ascii"));
    if let Some(code) = auth_code {
        headers.insert("Handshake-Autherrcode", code.to_string().parse().expect("digits"));
    }
    let http = StatusCode::from_u16(u16::try_from(status).unwrap_or(400)).unwrap_or(StatusCode::BAD_REQUEST);
    (http, headers).into_response()
}

/// The WebSocket upgrade, with the handshake faults.
async fn upgrade(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    inner.count(|c| c.handshakes += 1);
    let (stall, forbid, limit) = {
        let mut knobs = Inner::lock(&inner.knobs);
        let stall = knobs.stall > 0;
        if stall {
            knobs.stall -= 1;
        }
        (stall, knobs.forbid, knobs.connection_limit)
    };
    if stall {
        std::future::pending::<()>().await;
    }
    if forbid {
        return refusal(HANDSHAKE_FORBIDDEN, None, "forbidden");
    }
    if limit.is_some_and(|limit| inner.counters.lock().unwrap_or_else(PoisonError::into_inner).open >= limit) {
        return refusal(HANDSHAKE_AUTH_FAILED, Some(AUTH_CONNECTION_LIMIT), "exceed connection limit");
    }
    let conn = inner.next_conn.fetch_add(1, Ordering::SeqCst);
    let (tx, rx) = mpsc::unbounded_channel();
    Inner::lock(&inner.connections).insert(conn, tx);
    inner.count(|c| {
        c.connections += 1;
        c.open += 1;
    });
    ws.on_upgrade(move |socket| connection(inner, conn, socket, rx))
}

/// One client's connection: pongs, acknowledgements, pushed frames, faults.
async fn connection(
    inner: Arc<Inner>,
    conn: u64,
    mut socket: WebSocket,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Send(bytes)) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Some(Command::Silent) => {
                    // Keep the socket (and so the TCP connection) open, doing nothing.
                    let _socket = socket;
                    Inner::lock(&inner.connections).remove(&conn);
                    std::future::pending::<()>().await;
                    return;
                }
                Some(Command::Close) | None => break,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Binary(bytes))) => {
                    let Ok(frame) = Frame::from_bytes(&bytes) else { continue };
                    if frame.method == frame::METHOD_CONTROL && frame.kind() == "ping" {
                        inner.count(|c| c.pings += 1);
                        let mut pong = Frame { service: frame.service, method: frame::METHOD_CONTROL, ..Frame::default() };
                        pong.push_header(frame::HEADER_TYPE, "pong");
                        pong.payload = Inner::lock(&inner.knobs).pong_config.as_ref().map(|c| c.to_string().into_bytes());
                        if socket.send(Message::Binary(pong.to_bytes().into())).await.is_err() {
                            break;
                        }
                    } else if frame.method == frame::METHOD_DATA {
                        let code = frame
                            .payload
                            .as_deref()
                            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
                            .and_then(|v| v["code"].as_i64())
                            .unwrap_or(-1);
                        let ack = Ack {
                            conn,
                            message_id: frame.header(frame::HEADER_MESSAGE_ID).unwrap_or_default().to_owned(),
                            code,
                            biz_rt: frame.header(frame::HEADER_BIZ_RT).and_then(|v| v.parse().ok()),
                            headers: frame.headers.iter().map(|h| (h.key.clone(), h.value.clone())).collect(),
                        };
                        Inner::lock(&inner.acks).push(ack);
                        inner.count(|c| c.acks += 1);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    Inner::lock(&inner.connections).remove(&conn);
    inner.count(|c| c.open -= 1);
}
