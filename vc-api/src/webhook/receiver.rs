//! The receiver itself: from request headers and raw body bytes to a verified, decrypted,
//! deduplicated [`Delivery`], and from there to the handlers and an HTTP answer.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;
use subtle::ConstantTimeEq;

use super::crypto;
use super::dispatch::{EventDispatcher, TypedEvent};
use super::error::{DecryptError, HandlerError, WebhookError};
use super::recent::RecentKeys;
use super::{NONCE_HEADER, RequestHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookResponse};
use crate::Client;
use crate::events::{Event, EventCallback, EventHeader};
use crate::secret::Secret;

/// The event type of the marketplace app's ticket.
pub const APP_TICKET_EVENT_TYPE: &str = "app_ticket";

/// The receiver's source of the current time.
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What a verified request carried.
#[derive(Debug)]
#[non_exhaustive]
pub enum Delivery {
    /// A `url_verification` request whose token matched: answer with the challenge.
    Challenge {
        /// The value to echo back as `{"challenge": ...}`.
        challenge: String,
    },
    /// An event seen for the first time. Its header's `token` is removed.
    Event(Box<EventCallback>),
    /// A marketplace app's `app_ticket` (v1 or v2 shape), seen for the first time.
    AppTicket {
        /// The id of the delivery (`uuid` in v1, `header.event_id` in v2).
        event_id: String,
        /// The app the ticket is for, when the delivery names it.
        app_id: Option<String>,
        /// The ticket.
        ticket: Secret,
    },
    /// An event id received before (the platform delivers again when it got no 200 in time).
    Duplicate {
        /// The repeated event id.
        event_id: String,
    },
}

/// Verifies deliveries, decrypts them, answers URL verification, drops duplicates, gives
/// `app_ticket` to marketplace clients and runs the [`EventDispatcher`].
///
/// One receiver serves all requests of an app (share it with an [`Arc`]): its memories of
/// nonces and event ids only work if every request goes through the same receiver.
pub struct EventReceiver {
    encrypt_key: Option<Secret>,
    verification_token: Option<Secret>,
    tolerance: Duration,
    clock: Clock,
    nonces: Mutex<RecentKeys>,
    event_ids: Mutex<RecentKeys>,
    dispatcher: EventDispatcher,
    ticket_clients: Vec<Client>,
}

impl fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiver")
            .field("encrypt_key", &self.encrypt_key)
            .field("verification_token", &self.verification_token)
            .field("timestamp_tolerance", &self.tolerance)
            .field("dispatcher", &self.dispatcher)
            .field("ticket_clients", &self.ticket_clients.len())
            .finish_non_exhaustive()
    }
}

/// Configures an [`EventReceiver`]; see [`EventReceiver::builder`].
pub struct EventReceiverBuilder {
    encrypt_key: Option<Secret>,
    verification_token: Option<Secret>,
    tolerance: Duration,
    clock: Clock,
    nonce_memory: usize,
    event_id_memory: usize,
    dispatcher: EventDispatcher,
    ticket_clients: Vec<Client>,
}

impl fmt::Debug for EventReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiverBuilder")
            .field("encrypt_key", &self.encrypt_key)
            .field("verification_token", &self.verification_token)
            .field("timestamp_tolerance", &self.tolerance)
            .field("nonce_memory", &self.nonce_memory)
            .field("event_id_memory", &self.event_id_memory)
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

impl Default for EventReceiverBuilder {
    fn default() -> Self {
        Self {
            encrypt_key: None,
            verification_token: None,
            tolerance: EventReceiver::DEFAULT_TIMESTAMP_TOLERANCE,
            clock: Arc::new(SystemTime::now),
            nonce_memory: EventReceiver::DEFAULT_MEMORY,
            event_id_memory: EventReceiver::DEFAULT_MEMORY,
            dispatcher: EventDispatcher::new(),
            ticket_clients: Vec::new(),
        }
    }
}

impl EventReceiverBuilder {
    /// The app's Encrypt Key: signatures are checked and `{"encrypt": ...}` bodies decrypted.
    /// With a key, every delivery except a URL verification must be signed.
    pub fn encrypt_key(mut self, key: impl Into<Secret>) -> Self {
        self.encrypt_key = Some(key.into());
        self
    }

    /// The app's Verification Token: every delivery's token must equal it.
    pub fn verification_token(mut self, token: impl Into<Secret>) -> Self {
        self.verification_token = Some(token.into());
        self
    }

    /// How far `X-Lark-Request-Timestamp` may be from now, in either direction (default
    /// [`EventReceiver::DEFAULT_TIMESTAMP_TOLERANCE`]).
    pub fn timestamp_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Where the receiver reads the current time (default [`SystemTime::now`]); tests pass a
    /// fixed time.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many recent request nonces are remembered to refuse replays (default
    /// [`EventReceiver::DEFAULT_MEMORY`]; 0 turns the check off).
    pub fn nonce_memory(mut self, capacity: usize) -> Self {
        self.nonce_memory = capacity;
        self
    }

    /// How many recent event ids are remembered to drop duplicate deliveries (default
    /// [`EventReceiver::DEFAULT_MEMORY`]; 0 turns deduplication off).
    pub fn event_id_memory(mut self, capacity: usize) -> Self {
        self.event_id_memory = capacity;
        self
    }

    /// Replaces the dispatcher (the handlers).
    pub fn dispatcher(mut self, dispatcher: EventDispatcher) -> Self {
        self.dispatcher = dispatcher;
        self
    }

    /// Registers a typed handler: see [`EventDispatcher::on`].
    pub fn on<T, F, Fut>(mut self, handler: F) -> Self
    where
        T: TypedEvent,
        F: Fn(EventHeader, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.dispatcher = self.dispatcher.on(handler);
        self
    }

    /// Registers the fallback handler: see [`EventDispatcher::fallback`].
    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(EventHeader, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.dispatcher = self.dispatcher.fallback(handler);
        self
    }

    /// A marketplace app's client: every `app_ticket` received is given to it with
    /// [`Client::set_app_ticket`]. May be called for several clients.
    pub fn app_ticket_client(mut self, client: Client) -> Self {
        self.ticket_clients.push(client);
        self
    }

    /// Builds the receiver. Fails without an encrypt key and without a verification token
    /// (nothing would tell a platform delivery from anyone else's request), or with an empty one.
    pub fn build(self) -> Result<EventReceiver, WebhookError> {
        let empty = |s: &Option<Secret>| s.as_ref().is_some_and(|s| s.expose().is_empty());
        if empty(&self.encrypt_key) || empty(&self.verification_token) {
            return Err(WebhookError::Config("the encrypt key and the verification token cannot be empty".into()));
        }
        if self.encrypt_key.is_none() && self.verification_token.is_none() {
            return Err(WebhookError::Config(
                "set an encrypt key, a verification token or both: without them any request would be accepted".into(),
            ));
        }
        Ok(EventReceiver {
            encrypt_key: self.encrypt_key,
            verification_token: self.verification_token,
            tolerance: self.tolerance,
            clock: self.clock,
            nonces: Mutex::new(RecentKeys::new(self.nonce_memory)),
            event_ids: Mutex::new(RecentKeys::new(self.event_id_memory)),
            dispatcher: self.dispatcher,
            ticket_clients: self.ticket_clients,
        })
    }
}

/// The fields of a delivery the receiver looks at, whichever its shape (encrypted wrapper,
/// `url_verification`, v2 event, v1 `event_callback`).
#[derive(Deserialize)]
struct Wire<'a> {
    encrypt: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    challenge: Option<String>,
    token: Option<String>,
    schema: Option<String>,
    header: Option<EventHeader>,
    uuid: Option<String>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
}

/// The fields of a v1 `event` object (and of an `app_ticket` payload) the receiver uses.
#[derive(Deserialize)]
struct V1Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    app_id: Option<String>,
    tenant_key: Option<String>,
    app_ticket: Option<String>,
}

/// A delivery plus what to forget if its processing fails, so that a redelivery is accepted.
struct Received {
    delivery: Delivery,
    nonce_key: Option<String>,
}

impl EventReceiver {
    /// Default allowed distance between `X-Lark-Request-Timestamp` and now: 5 minutes.
    pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(300);
    /// Default number of nonces and of event ids remembered.
    pub const DEFAULT_MEMORY: usize = 4096;

    /// Starts configuring a receiver: give it the app's encrypt key and/or verification token,
    /// handlers, and marketplace clients.
    pub fn builder() -> EventReceiverBuilder {
        EventReceiverBuilder::default()
    }

    /// Verifies, decrypts and decodes one request without running any handler.
    ///
    /// In order: the signature (when an encrypt key is set and the request is signed), the
    /// timestamp window and the nonce; decryption; then a URL verification is answered after
    /// its token is checked; any other delivery must be signed (when an encrypt key is set)
    /// and carry the verification token (when one is set); its event id must be new. The
    /// event id is remembered: if processing the event fails, call
    /// [`forget_event`](Self::forget_event) so that the redelivery is accepted.
    pub fn receive<H: RequestHeaders + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Delivery, WebhookError> {
        self.receive_inner(headers, body).map(|received| received.delivery)
    }

    /// Forgets an event id, so that its next delivery is processed again.
    pub fn forget_event(&self, event_id: &str) {
        if let Ok(mut ids) = self.event_ids.lock() {
            ids.remove(event_id);
        }
    }

    /// Processes one request completely and returns the answer to send back: never fails and
    /// never panics. Rejections are logged (`tracing`, without secrets) and answered with 401,
    /// 400 or 500; see [`process`](Self::process) to get the error itself.
    pub fn handle<'a, H: RequestHeaders + ?Sized>(
        &'a self,
        headers: &H,
        body: &[u8],
    ) -> impl Future<Output = WebhookResponse> + Send + use<'a, H> {
        let processing = self.process(headers, body);
        async move {
            match processing.await {
                Ok(response) => response,
                Err(error) => {
                    tracing::warn!(status = error.http_status(), error = %error, "vc_api.webhook: delivery rejected");
                    WebhookResponse::error(&error)
                }
            }
        }
    }

    /// Like [`handle`](Self::handle), but a rejection is returned as the error.
    ///
    /// A URL verification is answered with its challenge; an `app_ticket` is given to the
    /// marketplace clients; an event runs its handler; a duplicate is acknowledged without
    /// running anything. When a handler fails, the event id (and the request's nonce) are
    /// forgotten so that the platform's redelivery runs it again.
    pub fn process<'a, H: RequestHeaders + ?Sized>(
        &'a self,
        headers: &H,
        body: &[u8],
    ) -> impl Future<Output = Result<WebhookResponse, WebhookError>> + Send + use<'a, H> {
        let received = self.receive_inner(headers, body);
        async move {
            let Received { delivery, nonce_key } = received?;
            match delivery {
                Delivery::Challenge { challenge } => Ok(WebhookResponse::challenge(&challenge)),
                Delivery::Duplicate { event_id } => {
                    tracing::debug!(event_id, "vc_api.webhook: duplicate delivery acknowledged");
                    Ok(WebhookResponse::ack())
                }
                Delivery::AppTicket { event_id, ticket, .. } => {
                    tracing::debug!(
                        event_id,
                        clients = self.ticket_clients.len(),
                        "vc_api.webhook: app_ticket received"
                    );
                    for client in &self.ticket_clients {
                        client.set_app_ticket(ticket.clone());
                    }
                    Ok(WebhookResponse::ack())
                }
                Delivery::Event(callback) => {
                    let EventCallback { header, event, .. } = *callback;
                    let (event_id, event_type) = (header.event_id.clone(), header.event_type.clone());
                    match self.dispatcher.dispatch(header, event).await {
                        Ok(dispatched) => {
                            tracing::debug!(event_id, event_type, ?dispatched, "vc_api.webhook: event delivered");
                            Ok(WebhookResponse::ack())
                        }
                        Err(source) => {
                            self.forget_event(&event_id);
                            if let (Some(key), Ok(mut nonces)) = (nonce_key, self.nonces.lock()) {
                                nonces.remove(&key);
                            }
                            Err(WebhookError::Handler { event_type, event_id, source })
                        }
                    }
                }
            }
        }
    }

    fn receive_inner<H: RequestHeaders + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Received, WebhookError> {
        let signed = headers.header(SIGNATURE_HEADER).is_some();
        let nonce_key = match &self.encrypt_key {
            Some(key) if signed => Some(self.check_signature(key, headers, body)?),
            _ => None,
        };
        let outer: Wire = serde_json::from_slice(body).map_err(WebhookError::malformed)?;
        let decrypted;
        let wire = match &outer.encrypt {
            Some(encrypted) => {
                let key = self.encrypt_key.as_ref().ok_or(DecryptError::NoKey)?;
                decrypted = crypto::decrypt(key, encrypted)?;
                let inner: Wire = serde_json::from_slice(&decrypted).map_err(WebhookError::malformed)?;
                if inner.encrypt.is_some() {
                    return Err(WebhookError::malformed("the decrypted body is encrypted again"));
                }
                inner
            }
            None => outer,
        };

        if wire.kind.as_deref() == Some("url_verification") {
            // The platform may send the challenge unsigned; its token (and, when encrypted,
            // the encrypt key that decrypted it) proves where it comes from.
            self.check_token(wire.token.as_deref())?;
            let challenge =
                wire.challenge.ok_or_else(|| WebhookError::malformed("url_verification without a challenge"))?;
            return Ok(Received { delivery: Delivery::Challenge { challenge }, nonce_key });
        }
        if self.encrypt_key.is_some() && !signed {
            return Err(WebhookError::MissingHeader(SIGNATURE_HEADER));
        }

        let delivery = if let Some(header) = wire.header {
            self.check_token(header.token.as_deref())?;
            self.v2_delivery(wire.schema, header, wire.event)?
        } else if wire.kind.as_deref() == Some("event_callback") {
            self.check_token(wire.token.as_deref())?;
            let event_id = wire.uuid.ok_or_else(|| WebhookError::malformed("v1 event_callback without a uuid"))?;
            self.v1_delivery(event_id, wire.event)?
        } else {
            return Err(WebhookError::malformed(
                "neither a url_verification, a v2 event (schema 2.0 with a header) nor a v1 event_callback",
            ));
        };
        Ok(Received { delivery: self.deduplicate(delivery), nonce_key })
    }

    /// Checks signature, timestamp window and nonce; returns the key the nonce is remembered by.
    fn check_signature<H: RequestHeaders + ?Sized>(
        &self,
        key: &Secret,
        headers: &H,
        body: &[u8],
    ) -> Result<String, WebhookError> {
        let header = |name| headers.header(name).ok_or(WebhookError::MissingHeader(name));
        let (signature, timestamp, nonce) =
            (header(SIGNATURE_HEADER)?, header(TIMESTAMP_HEADER)?, header(NONCE_HEADER)?);
        if !crypto::signature_matches(timestamp, nonce, key, body, signature) {
            return Err(WebhookError::BadSignature);
        }
        let sent: i64 = timestamp.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
        let now = match (self.clock)().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        let skew_secs = sent.saturating_sub(now);
        if skew_secs.unsigned_abs() > self.tolerance.as_secs() {
            return Err(WebhookError::StaleTimestamp { skew_secs, tolerance: self.tolerance });
        }
        let nonce_key = format!("{timestamp}\n{nonce}");
        let fresh = self.nonces.lock().map(|mut nonces| nonces.insert(&nonce_key)).unwrap_or(true);
        if !fresh {
            return Err(WebhookError::Replay);
        }
        Ok(nonce_key)
    }

    /// Compares the delivery's token with the configured one, in constant time.
    fn check_token(&self, token: Option<&str>) -> Result<(), WebhookError> {
        let Some(expected) = &self.verification_token else { return Ok(()) };
        let given = token.ok_or(WebhookError::BadToken)?;
        if bool::from(expected.expose().as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::BadToken)
        }
    }

    fn v2_delivery(
        &self,
        schema: Option<String>,
        mut header: EventHeader,
        payload: Option<&RawValue>,
    ) -> Result<Delivery, WebhookError> {
        header.token = None;
        let empty = RawValue::from_string("{}".to_owned()).map_err(WebhookError::malformed)?;
        let payload = payload.unwrap_or(&empty);
        if header.event_type == APP_TICKET_EVENT_TYPE {
            let event: V1Event = serde_json::from_str(payload.get()).map_err(WebhookError::malformed)?;
            return app_ticket(header.event_id, event.app_id.or(header.app_id), event.app_ticket);
        }
        let event = Event::decode(&header.event_type, payload)
            .map_err(|e| WebhookError::Malformed(format!("event {} ({}): {e}", header.event_type, header.event_id)))?;
        Ok(Delivery::Event(Box::new(EventCallback { schema, header, event })))
    }

    fn v1_delivery(&self, event_id: String, payload: Option<&RawValue>) -> Result<Delivery, WebhookError> {
        let payload = payload.ok_or_else(|| WebhookError::malformed("v1 event_callback without an event"))?;
        let event: V1Event = serde_json::from_str(payload.get()).map_err(WebhookError::malformed)?;
        let event_type = event.kind.ok_or_else(|| WebhookError::malformed("v1 event without a type"))?;
        if event_type == APP_TICKET_EVENT_TYPE {
            return app_ticket(event_id, event.app_id, event.app_ticket);
        }
        let decoded = Event::decode(&event_type, payload)
            .map_err(|e| WebhookError::Malformed(format!("event {event_type} ({event_id}): {e}")))?;
        let mut header = EventHeader::builder().event_id(event_id).event_type(event_type);
        if let Some(app_id) = event.app_id {
            header = header.app_id(app_id);
        }
        if let Some(tenant_key) = event.tenant_key {
            header = header.tenant_key(tenant_key);
        }
        let header = header.try_into().map_err(WebhookError::malformed)?;
        Ok(Delivery::Event(Box::new(EventCallback { schema: None, header, event: decoded })))
    }

    /// Turns a delivery whose event id was seen before into [`Delivery::Duplicate`].
    fn deduplicate(&self, delivery: Delivery) -> Delivery {
        let event_id = match &delivery {
            Delivery::Event(callback) => &callback.header.event_id,
            Delivery::AppTicket { event_id, .. } => event_id,
            Delivery::Challenge { .. } | Delivery::Duplicate { .. } => return delivery,
        };
        let fresh = self.event_ids.lock().map(|mut ids| ids.insert(event_id)).unwrap_or(true);
        if fresh { delivery } else { Delivery::Duplicate { event_id: event_id.clone() } }
    }
}

fn app_ticket(event_id: String, app_id: Option<String>, ticket: Option<String>) -> Result<Delivery, WebhookError> {
    match ticket {
        Some(ticket) if !ticket.is_empty() => Ok(Delivery::AppTicket { event_id, app_id, ticket: Secret::new(ticket) }),
        _ => Err(WebhookError::malformed("app_ticket event without a ticket")),
    }
}
