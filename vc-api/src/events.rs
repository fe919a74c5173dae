//! Typed VC events: decode a version 2.0 event delivery into its header and a typed [`Event`].
//!
//! A delivery is `{"schema": "2.0", "header": {...}, "event": {...}}`; `header.event_type`
//! decides which [`Event`] variant the `event` object becomes. An event type this version does
//! not know becomes [`Event::Unknown`] with the payload kept as received, so a new event type
//! never breaks decoding.
//!
//! ```
//! use vc_api::events::{Event, EventCallback};
//!
//! let body = br#"{"schema":"2.0",
//!   "header":{"event_id":"e1","event_type":"vc.some.new_event_v9","create_time":"1608725989000"},
//!   "event":{"anything":[1,2,3]}}"#;
//! let callback = EventCallback::from_slice(body)?;
//! assert_eq!(callback.header.event_id, "e1");
//! assert!(matches!(&callback.event, Event::Unknown { payload, .. } if payload.get() == r#"{"anything":[1,2,3]}"#));
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use crate::generated::events::Event;
pub use crate::types::EventHeader;

/// A whole version 2.0 event delivery: the header and the typed payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EventCallback {
    /// The delivery format, `"2.0"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Who, what and when: `event_id`, `event_type`, `create_time`, `app_id`, `tenant_key`.
    pub header: EventHeader,
    /// The payload, typed by `header.event_type`.
    pub event: Event,
}

impl EventCallback {
    /// Decodes a delivery from its (decrypted) JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The event type, from the header.
    pub fn event_type(&self) -> &str {
        &self.header.event_type
    }
}

impl<'de> Deserialize<'de> for EventCallback {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            schema: Option<String>,
            header: EventHeader,
            event: Option<Box<RawValue>>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let empty;
        let payload = match &wire.event {
            Some(payload) => payload.as_ref(),
            None => {
                empty = RawValue::from_string("{}".to_owned()).map_err(serde::de::Error::custom)?;
                empty.as_ref()
            }
        };
        let event = Event::decode(&wire.header.event_type, payload).map_err(|e| {
            serde::de::Error::custom(format_args!("event {} ({}): {e}", wire.header.event_type, wire.header.event_id))
        })?;
        Ok(EventCallback { schema: wire.schema, header: wire.header, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(event_type: &str, event: &str) -> Vec<u8> {
        format!(r#"{{"schema":"2.0","header":{{"event_id":"e1","event_type":"{event_type}"}},"event":{event}}}"#)
            .into_bytes()
    }

    #[test]
    fn an_unknown_type_keeps_its_payload_byte_for_byte() {
        let payload = r#"{"b":1,  "a":{"nested":[true,null]}}"#;
        let callback = EventCallback::from_slice(&body("vc.future.thing_v3", payload)).unwrap();
        assert!(callback.event.is_unknown());
        assert_eq!(callback.event.event_type(), "vc.future.thing_v3");
        let Event::Unknown { payload: kept, .. } = &callback.event else { unreachable!() };
        assert_eq!(kept.get(), payload);
    }

    #[test]
    fn a_known_type_with_a_malformed_payload_is_an_error_naming_the_event() {
        let Some(known) = Event::EVENT_TYPES.first() else { return };
        let err = EventCallback::from_slice(&body(known, "[1,2]")).unwrap_err();
        assert!(err.to_string().contains(known) && err.to_string().contains("e1"), "{err}");
    }

    #[test]
    fn a_missing_header_is_an_error() {
        assert!(EventCallback::from_slice(br#"{"schema":"2.0","event":{}}"#).is_err());
        assert!(EventCallback::from_slice(b"not json").is_err());
    }

    #[test]
    fn a_callback_serializes_back_to_the_same_json() {
        let input = body("vc.future.thing_v3", r#"{"x":1}"#);
        let callback = EventCallback::from_slice(&input).unwrap();
        let again: serde_json::Value = serde_json::to_value(&callback).unwrap();
        let original: serde_json::Value = serde_json::from_slice(&input).unwrap();
        assert_eq!(again, original);
    }
}
