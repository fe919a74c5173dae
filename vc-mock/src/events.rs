//! Events the mock sends: `POST /__mock/events` (and [`MockServer::push_event`]) turns a v2
//! event body, or just an event type filled from the spec's example, into a delivery to a
//! configured webhook URL, signed and encrypted as the platform does.
//!
//! It is also sent down the long connection to one connected client (in `fragments` parts,
//! a query parameter of the route), through the fake long-connection server every
//! [`MockServer`](crate::MockServer) runs.
//!
//! The webhook delivery follows the platform's format: the v2 body as JSON, or, with an encrypt
//! key, `{"encrypt": "<base64 of IV + AES-256-CBC>"}` with the `X-Lark-Request-Timestamp`,
//! `X-Lark-Request-Nonce` and `X-Lark-Signature` headers. The mock makes one attempt per event
//! (the platform retries failed deliveries later; a test that wants a redelivery pushes the same
//! body again) and records its outcome ([`MockServer::deliveries`], `GET /__mock/deliveries`).
//!
//! [`MockServer::push_event`]: crate::MockServer::push_event
//! [`MockServer::deliveries`]: crate::MockServer::deliveries

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use vc_api::Secret;

use crate::spec::Spec;

/// The path of the route that pushes an event.
pub const PUSH_PATH: &str = "/__mock/events";
/// The path of the route that lists webhook deliveries.
pub const DELIVERIES_PATH: &str = "/__mock/deliveries";
/// The `tenant_key` of events the mock fills in.
pub const TENANT_KEY: &str = "vcmock-tenant";
/// The largest number of [`WebhookDelivery`] records kept.
const DELIVERY_LOG_LIMIT: usize = 1024;
/// How long one webhook delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most parts an event may be split into for the long connection.
pub const MAX_FRAGMENTS: u32 = 1024;

/// Where events go over HTTP, and how they are protected.
#[derive(Clone, Default)]
pub struct WebhookTarget {
    pub(crate) url: Option<String>,
    pub(crate) encrypt_key: Option<Secret>,
    pub(crate) verification_token: Option<Secret>,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("encrypt_key", &self.encrypt_key.as_ref().map(|_| "***"))
            .field("verification_token", &self.verification_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Why an event could not be pushed: the request named no known event, or was not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushError(pub String);

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PushError {}

/// How one webhook delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer: the connection failed or timed out (the reason).
    Failed(String),
}

/// One delivery of an event to the webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The event's `header.event_id` (empty when the body has none).
    pub event_id: String,
    /// The URL it was sent to.
    pub url: String,
    /// What the receiver answered.
    pub outcome: DeliveryOutcome,
}

impl WebhookDelivery {
    fn to_json(&self) -> Value {
        let (status, error) = match &self.outcome {
            DeliveryOutcome::Status(status) => (json!(status), Value::Null),
            DeliveryOutcome::Failed(reason) => (Value::Null, json!(reason)),
        };
        json!({"event_id": self.event_id, "url": self.url, "status": status, "error": error})
    }
}

/// What [`MockServer::push_event`](crate::MockServer::push_event) did with an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Pushed {
    /// The v2 body sent, with the header the mock filled in.
    pub body: Value,
    /// The webhook delivery, when a webhook URL is configured.
    pub webhook: Option<WebhookDelivery>,
    /// How many long-connection clients it was sent to: 1, or 0 when none is connected (the
    /// platform gives each event to one connection of the app).
    pub long_connection_clients: usize,
}

/// The event side of the server: the webhook target, the HTTP client and the delivery log.
pub(crate) struct Events {
    target: WebhookTarget,
    app_id: String,
    http: std::sync::OnceLock<reqwest::Client>,
    serial: AtomicU64,
    deliveries: Mutex<VecDeque<WebhookDelivery>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("target", &self.target).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// 64 unpredictable bits from the standard library's randomly keyed hasher (fresh keys per
/// call): enough for a mock's IVs and nonces, without a random-number dependency.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

impl Events {
    pub(crate) fn new(target: WebhookTarget, app_id: String) -> Events {
        Events {
            target,
            app_id,
            http: std::sync::OnceLock::new(),
            serial: AtomicU64::new(0),
            deliveries: Mutex::new(VecDeque::new()),
        }
    }

    /// The webhook URL, if one is configured.
    pub(crate) fn webhook_url(&self) -> Option<&str> {
        self.target.url.as_deref()
    }

    /// The deliveries made so far (at most the last 1,024), oldest first.
    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries).iter().cloned().collect()
    }

    /// `GET /__mock/deliveries`: the delivery log as JSON.
    pub(crate) fn deliveries_json(&self) -> Value {
        Value::Array(lock(&self.deliveries).iter().map(WebhookDelivery::to_json).collect())
    }

    /// The v2 body for a push request: a whole v2 body (`schema` `"2.0"`, `header`, `event`)
    /// is taken unchanged; `{"event_type": ..., "event": {...}?}` gets a fresh header and, without
    /// `event`, the spec's example of that event type.
    pub(crate) fn body_for(&self, spec: &Spec, request: &Value) -> Result<Value, PushError> {
        let Some(object) = request.as_object() else {
            return Err(PushError("the event must be a JSON object".to_owned()));
        };
        if object.contains_key("header") || object.contains_key("schema") {
            if object.get("schema").and_then(Value::as_str) != Some("2.0") {
                return Err(PushError("a whole event body needs \"schema\": \"2.0\"".to_owned()));
            }
            if !object.get("header").is_some_and(Value::is_object) {
                return Err(PushError("a whole event body needs a \"header\" object".to_owned()));
            }
            return Ok(request.clone());
        }
        let Some(event_type) = object.get("event_type").and_then(Value::as_str) else {
            return Err(PushError(
                "send a v2 event body (schema, header, event) or {\"event_type\": \"vc....\"}".to_owned(),
            ));
        };
        let event = match object.get("event") {
            Some(event) => event.clone(),
            None => example_event(spec, event_type).ok_or_else(|| {
                PushError(format!("{event_type:?} is not an event of the spec (see x-feishu-events)"))
            })?,
        };
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let token = self.target.verification_token.as_ref().map(|t| t.expose().to_owned()).unwrap_or_default();
        Ok(json!({
            "schema": "2.0",
            "header": {
                "event_id": format!("vcmock-{serial}-{:016x}", random_u64()),
                "token": token,
                "create_time": now.as_millis().to_string(),
                "event_type": event_type,
                "tenant_key": TENANT_KEY,
                "app_id": self.app_id,
            },
            "event": event,
        }))
    }

    /// Sends `body` to the webhook URL (one attempt) and records the outcome; `None` when no
    /// URL is configured.
    pub(crate) async fn deliver(&self, body: &Value) -> Option<WebhookDelivery> {
        let url = self.target.url.as_ref()?;
        let plaintext = body.to_string();
        let http = self.http.get_or_init(|| {
            vc_api::install_tls_provider();
            reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build().unwrap_or_default()
        });
        let mut request = http.post(url).header("content-type", "application/json; charset=utf-8");
        let wire = match &self.target.encrypt_key {
            Some(key) => {
                let mut iv = [0u8; 16];
                iv[..8].copy_from_slice(&random_u64().to_le_bytes());
                iv[8..].copy_from_slice(&random_u64().to_le_bytes());
                let wire = json!({ "encrypt": vc_api::webhook::encrypt(key, iv, plaintext.as_bytes()) }).to_string();
                let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();
                let nonce = format!("{:016x}", random_u64());
                let signature = vc_api::webhook::signature(&timestamp, &nonce, key, wire.as_bytes());
                request = request
                    .header("X-Lark-Request-Timestamp", timestamp)
                    .header("X-Lark-Request-Nonce", nonce)
                    .header("X-Lark-Signature", signature);
                wire
            }
            None => plaintext,
        };
        let outcome = match request.body(wire).send().await {
            Ok(response) => DeliveryOutcome::Status(response.status().as_u16()),
            Err(e) => DeliveryOutcome::Failed(describe(&e)),
        };
        let event_id = body.pointer("/header/event_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let delivery = WebhookDelivery { event_id, url: url.clone(), outcome };
        let mut log = lock(&self.deliveries);
        if log.len() == DELIVERY_LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(delivery.clone());
        Some(delivery)
    }
}

/// A transport error and its causes on one line.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `example` of the schema `x-feishu-events` gives `event_type`.
fn example_event(spec: &Spec, event_type: &str) -> Option<Value> {
    let events = spec.document().get("x-feishu-events")?.as_array()?;
    let entry = events.iter().find(|e| e.get("event_type").and_then(Value::as_str) == Some(event_type))?;
    let schema = spec.resolve(entry.get("schema")?);
    Some(schema.get("example").cloned().unwrap_or_else(|| json!({})))
}

/// Every event type the spec lists.
pub fn event_types(spec: &Spec) -> Vec<String> {
    spec.document()
        .get("x-feishu-events")
        .and_then(Value::as_array)
        .map(|events| events.iter().filter_map(|e| e.get("event_type")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The `fragments` query parameter of a push: how many parts the long connection splits the
/// event into (1 to [`MAX_FRAGMENTS`], default 1).
pub(crate) fn fragments(query: &[(String, String)]) -> Result<u32, PushError> {
    match query.iter().find(|(name, _)| name == "fragments") {
        None => Ok(1),
        Some((_, value)) => match value.parse::<u32>() {
            Ok(n) if (1..=MAX_FRAGMENTS).contains(&n) => Ok(n),
            _ => Err(PushError(format!("fragments must be an integer from 1 to {MAX_FRAGMENTS}, not {value:?}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(token: Option<&str>) -> Events {
        let target = WebhookTarget { url: None, encrypt_key: None, verification_token: token.map(Secret::new) };
        Events::new(target, "cli_test".to_owned())
    }

    #[test]
    fn an_event_type_gets_a_header_and_the_spec_example() {
        let body = events(Some("vt"))
            .body_for(Spec::embedded(), &json!({"event_type": "vc.meeting.meeting_started_v1"}))
            .unwrap();
        assert_eq!(body["schema"], "2.0");
        assert_eq!(body["header"]["event_type"], "vc.meeting.meeting_started_v1");
        assert_eq!(body["header"]["token"], "vt");
        assert_eq!(body["header"]["app_id"], "cli_test");
        assert_eq!(body["event"]["meeting"]["id"], "6911188411934433028");
        let again =
            events(None).body_for(Spec::embedded(), &json!({"event_type": "vc.meeting.meeting_started_v1"})).unwrap();
        assert_ne!(body["header"]["event_id"], again["header"]["event_id"]);
    }

    #[test]
    fn a_whole_body_is_taken_unchanged() {
        let body = json!({"schema": "2.0", "header": {"event_id": "e1", "event_type": "x.y"}, "event": {"k": [1]}});
        assert_eq!(events(None).body_for(Spec::embedded(), &body).unwrap(), body);
    }

    #[test]
    fn unknown_or_malformed_requests_are_refused() {
        let e = events(None);
        let spec = Spec::embedded();
        assert!(e.body_for(spec, &json!({"event_type": "vc.nothing_v1"})).unwrap_err().0.contains("not an event"));
        assert!(e.body_for(spec, &json!([1])).is_err());
        assert!(e.body_for(spec, &json!({"schema": "1.0", "header": {}})).is_err());
        assert!(e.body_for(spec, &json!({"topic": "x"})).is_err());
    }

    #[test]
    fn every_spec_event_has_an_example() {
        let spec = Spec::embedded();
        let types = event_types(spec);
        assert!(types.len() >= 10, "{types:?}");
        for event_type in types {
            let event = example_event(spec, &event_type).unwrap();
            assert!(event.as_object().is_some_and(|o| !o.is_empty()), "{event_type} has no example");
        }
    }

    #[test]
    fn fragment_counts_are_checked() {
        let q = |v: &str| vec![("fragments".to_owned(), v.to_owned())];
        assert_eq!(fragments(&[]).unwrap(), 1);
        assert_eq!(fragments(&q("40")).unwrap(), 40);
        assert!(fragments(&q("0")).is_err());
        assert!(fragments(&q("x")).is_err());
        assert!(fragments(&q("100000")).is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let target = WebhookTarget {
            url: Some("http://127.0.0.1:1/".into()),
            encrypt_key: Some(Secret::new("the-key")),
            verification_token: Some(Secret::new("the-token")),
        };
        let text = format!("{:?}", Events::new(target, "a".into()));
        assert!(!text.contains("the-key") && !text.contains("the-token"), "{text}");
    }
}
