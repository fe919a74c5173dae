//! The receiver itself: from request headers and raw body bytes to a verified, decrypted
//! [`Delivery`], and from there, once per event id, to the handlers and an HTTP answer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;
use subtle::ConstantTimeEq;

use super::crypto;
use super::error::{DecryptError, WebhookError};
use super::{NONCE_HEADER, RequestHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookResponse};
use crate::Client;
use crate::dispatch::{EventDispatcher, Handled, event_key};
use crate::event_memory::{ClaimGuard, EventMemory, LocalEventMemory};
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
    /// An event. Its header's `token` is removed.
    Event(Box<EventCallback>),
    /// A marketplace app's `app_ticket` (v1 or v2 shape).
    AppTicket {
        /// The id of the delivery (`uuid` in v1, `header.event_id` in v2).
        event_id: String,
        /// The app the ticket is for, when the delivery names it.
        app_id: Option<String>,
        /// The ticket.
        ticket: Secret,
    },
}

/// Verifies deliveries, decrypts them, answers URL verification, drops duplicates, gives
/// `app_ticket` to marketplace clients and runs the [`EventDispatcher`].
///
/// One receiver serves all requests of an app (share it with an [`Arc`]), or several receivers
/// share one [`EventMemory`]: nonces and event ids are only recognised by the memory that saw
/// them.
///
/// # Replays and duplicates
/// A signed request's nonce is remembered for as long as its timestamp can still be accepted
/// (until the timestamp is [`timestamp_tolerance`](EventReceiverBuilder::timestamp_tolerance)
/// in the past), and an event id for the [`event_retention`](EventReceiverBuilder::event_retention)
/// after its handler succeeded (twice the tolerance by default): a request replayed byte for
/// byte inside the window is refused however many other deliveries came in between. The
/// default memory holds at most [`LocalEventMemory::DEFAULT_CAPACITY`] keys (two per
/// delivery, each at most [`MAX_KEY_LEN`](crate::event_memory::MAX_KEY_LEN) bytes); when it is
/// full, deliveries are refused with 503 (the platform delivers them again later) until keys
/// expire: it never forgets a key to make room.
pub struct EventReceiver {
    encrypt_key: Option<Secret>,
    verification_token: Option<Secret>,
    tolerance: Duration,
    retention: Option<Duration>,
    memory: Arc<dyn EventMemory>,
    clock: Clock,
    dispatcher: EventDispatcher,
    ticket_clients: Vec<Client>,
}

impl fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiver")
            .field("encrypt_key", &self.encrypt_key)
            .field("verification_token", &self.verification_token)
            .field("timestamp_tolerance", &self.tolerance)
            .field("event_retention", &self.retention())
            .field("memory", &self.memory)
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
    retention: Option<Duration>,
    clock: Clock,
    memory: Option<Arc<dyn EventMemory>>,
    memory_capacity: usize,
    dispatcher: EventDispatcher,
    ticket_clients: Vec<Client>,
}

impl fmt::Debug for EventReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReceiverBuilder")
            .field("encrypt_key", &self.encrypt_key)
            .field("verification_token", &self.verification_token)
            .field("timestamp_tolerance", &self.tolerance)
            .field("event_retention", &self.retention)
            .field("memory", &self.memory)
            .field("memory_capacity", &self.memory_capacity)
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
            retention: None,
            clock: Arc::new(SystemTime::now),
            memory: None,
            memory_capacity: LocalEventMemory::DEFAULT_CAPACITY,
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

    /// How long a handled event id is remembered, so that its redeliveries are acknowledged
    /// without running the handler again (default: twice the timestamp tolerance, the whole
    /// window a signed request can be replayed in).
    pub fn event_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Where nonces and event ids are remembered (default: a [`LocalEventMemory`] of
    /// [`memory_capacity`](Self::memory_capacity) keys on the receiver's clock). Receivers, and
    /// other transports, that share one memory handle each event once between them.
    pub fn memory(mut self, memory: impl EventMemory) -> Self {
        self.memory = Some(Arc::new(memory));
        self
    }

    /// The bound of the default memory, in keys (default
    /// [`LocalEventMemory::DEFAULT_CAPACITY`]); each delivery takes two (its nonce and its
    /// event id) for the length of the window.
    pub fn memory_capacity(mut self, capacity: usize) -> Self {
        self.memory_capacity = capacity;
        self
    }

    crate::dispatch::handler_setters!();

    /// A marketplace app's client: every `app_ticket` received is given to it with
    /// [`Client::share_app_ticket`] (so replicas sharing a token store all have it). May be
    /// called for several clients.
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
        let memory = match self.memory {
            Some(memory) => memory,
            None => {
                let clock = self.clock.clone();
                Arc::new(LocalEventMemory::with_clock(self.memory_capacity, move || clock()))
            }
        };
        Ok(EventReceiver {
            encrypt_key: self.encrypt_key,
            verification_token: self.verification_token,
            tolerance: self.tolerance,
            retention: self.retention,
            memory,
            clock: self.clock,
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

/// A verified delivery, and the memory key and time-to-live of its request's nonce when signed.
struct Verified {
    delivery: Delivery,
    nonce: Option<(String, Duration)>,
}

impl EventReceiver {
    /// Default allowed distance between `X-Lark-Request-Timestamp` and now: 5 minutes.
    pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(300);

    /// Starts configuring a receiver: give it the app's encrypt key and/or verification token,
    /// handlers, and marketplace clients.
    pub fn builder() -> EventReceiverBuilder {
        EventReceiverBuilder::default()
    }

    /// Verifies, decrypts and decodes one request without running any handler and without
    /// touching the memory of nonces and event ids (so without refusing replays or
    /// duplicates: [`process`](Self::process) does that).
    ///
    /// In order: with an encrypt key, the signature first (nothing is decrypted before it
    /// matches) and the timestamp window; then decryption; a URL verification is answered
    /// after its token is checked; any other delivery must be signed (when an encrypt key is
    /// set) and carry the verification token (when one is set). An unsigned request to a
    /// receiver with an encrypt key is either a URL verification with the right token or
    /// [`WebhookError::MissingHeader`], whatever else is wrong with it.
    pub fn receive<H: RequestHeaders + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Delivery, WebhookError> {
        self.verify(headers, body).map(|verified| verified.delivery)
    }

    /// How long handled event ids are remembered.
    fn retention(&self) -> Duration {
        self.retention.unwrap_or(self.tolerance.saturating_mul(2))
    }

    /// Processes one request completely and returns the answer to send back: never fails and
    /// never panics (a panicking handler is answered 500). Rejections are logged (`tracing`,
    /// without secrets) and answered with 400, 401, 500 or 503; see [`process`](Self::process)
    /// to get the error itself.
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
    /// marketplace clients; an event runs its handler through
    /// [`EventDispatcher::dispatch_once`]; a duplicate is acknowledged without running
    /// anything. A replayed request (its timestamp and nonce seen before) is refused. When a
    /// handler fails, panics or is dropped unfinished, the event id and the request's nonce are
    /// forgotten so that the platform's redelivery runs it again.
    pub fn process<'a, H: RequestHeaders + ?Sized>(
        &'a self,
        headers: &H,
        body: &[u8],
    ) -> impl Future<Output = Result<WebhookResponse, WebhookError>> + Send + use<'a, H> {
        let verified = self.verify(headers, body);
        async move {
            let Verified { delivery, nonce } = verified?;
            let nonce = match nonce {
                Some((key, ttl)) => match ClaimGuard::claim(&self.memory, key, ttl).await {
                    Ok(Ok(guard)) => Some((guard, ttl)),
                    Ok(Err(_)) => return Err(WebhookError::Replay),
                    Err(error) => return Err(WebhookError::memory(error)),
                },
                None => None,
            };
            // On an error the nonce's guard is dropped, and the nonce forgotten.
            let response = self.deliver(delivery).await?;
            if let Some((guard, ttl)) = nonce {
                guard.complete(ttl).await.map_err(WebhookError::memory)?;
            }
            Ok(response)
        }
    }

    /// Runs a verified delivery: the challenge's answer, the ticket, or the event's handler.
    async fn deliver(&self, delivery: Delivery) -> Result<WebhookResponse, WebhookError> {
        match delivery {
            Delivery::Challenge { challenge } => Ok(WebhookResponse::challenge(&challenge)),
            Delivery::AppTicket { event_id, ticket, .. } => {
                let guard = match ClaimGuard::claim(&self.memory, event_key(&event_id), self.retention()).await {
                    Ok(Ok(guard)) => guard,
                    Ok(Err(_)) => {
                        tracing::debug!(event_id, "vc_api.webhook: duplicate app_ticket acknowledged");
                        return Ok(WebhookResponse::ack());
                    }
                    Err(error) => return Err(WebhookError::memory(error)),
                };
                tracing::debug!(event_id, clients = self.ticket_clients.len(), "vc_api.webhook: app_ticket received");
                for client in &self.ticket_clients {
                    client.share_app_ticket(ticket.clone()).await;
                }
                guard.complete(self.retention()).await.map_err(WebhookError::memory)?;
                Ok(WebhookResponse::ack())
            }
            Delivery::Event(callback) => {
                let EventCallback { header, event, .. } = *callback;
                let (event_id, event_type) = (header.event_id.clone(), header.event_type.clone());
                match self.dispatcher.dispatch_once(&self.memory, self.retention(), header, event).await? {
                    Handled::Ran(dispatched) => {
                        tracing::debug!(event_id, event_type, ?dispatched, "vc_api.webhook: event delivered");
                    }
                    Handled::Duplicate => {
                        tracing::debug!(event_id, event_type, "vc_api.webhook: duplicate delivery acknowledged");
                    }
                }
                Ok(WebhookResponse::ack())
            }
        }
    }

    fn verify<H: RequestHeaders + ?Sized>(&self, headers: &H, body: &[u8]) -> Result<Verified, WebhookError> {
        let signed = headers.header(SIGNATURE_HEADER).is_some();
        match &self.encrypt_key {
            Some(key) if signed => {
                let nonce = self.check_signature(key, headers, body)?;
                Ok(Verified { delivery: self.open(body, true)?, nonce: Some(nonce) })
            }
            // Unsigned: only a URL verification is accepted. Every other outcome, whether the
            // body failed to decrypt, to decode, or is an event, gets the same error, so that
            // unsigned requests tell nothing about the plaintext.
            Some(_) => match self.open(body, false) {
                Ok(delivery @ Delivery::Challenge { .. }) => Ok(Verified { delivery, nonce: None }),
                Err(WebhookError::BadToken) => Err(WebhookError::BadToken),
                Ok(_) | Err(_) => Err(WebhookError::MissingHeader(SIGNATURE_HEADER)),
            },
            None => Ok(Verified { delivery: self.open(body, false)?, nonce: None }),
        }
    }

    /// Decrypts (if needed) and decodes a body whose signature, if any, has been checked.
    fn open(&self, body: &[u8], signed: bool) -> Result<Delivery, WebhookError> {
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
            return Ok(Delivery::Challenge { challenge });
        }
        if self.encrypt_key.is_some() && !signed {
            return Err(WebhookError::MissingHeader(SIGNATURE_HEADER));
        }

        if let Some(header) = wire.header {
            self.check_token(header.token.as_deref())?;
            self.v2_delivery(wire.schema, header, wire.event)
        } else if wire.kind.as_deref() == Some("event_callback") {
            self.check_token(wire.token.as_deref())?;
            let event_id = wire.uuid.ok_or_else(|| WebhookError::malformed("v1 event_callback without a uuid"))?;
            self.v1_delivery(event_id, wire.event)
        } else {
            Err(WebhookError::malformed(
                "neither a url_verification, a v2 event (schema 2.0 with a header) nor a v1 event_callback",
            ))
        }
    }

    /// Checks signature and timestamp window; returns the key the nonce is remembered by and
    /// how long: until the timestamp leaves the window.
    fn check_signature<H: RequestHeaders + ?Sized>(
        &self,
        key: &Secret,
        headers: &H,
        body: &[u8],
    ) -> Result<(String, Duration), WebhookError> {
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
        // Accepted while now <= sent + tolerance: remembered until one second after that.
        let ttl = Duration::from_secs(self.tolerance.as_secs().saturating_add_signed(skew_secs).saturating_add(1));
        Ok((format!("nonce:{timestamp}:{nonce}"), ttl))
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
}

fn app_ticket(event_id: String, app_id: Option<String>, ticket: Option<String>) -> Result<Delivery, WebhookError> {
    match ticket {
        Some(ticket) if !ticket.is_empty() => Ok(Delivery::AppTicket { event_id, app_id, ticket: Secret::new(ticket) }),
        _ => Err(WebhookError::malformed("app_ticket event without a ticket")),
    }
}
