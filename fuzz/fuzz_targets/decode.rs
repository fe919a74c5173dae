//! Event decoding on any bytes: `EventCallback::from_slice`, and `Event::decode` of every known
//! event type (and an unknown one) on any JSON value. It must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use vc_api::events::{Event, EventCallback};

fuzz_target!(|data: &[u8]| {
    if let Ok(callback) = EventCallback::from_slice(data) {
        assert_eq!(callback.event_type(), callback.event.event_type());
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(payload) = serde_json::from_str::<Box<RawValue>>(text) else { return };
    for event_type in Event::EVENT_TYPES.iter().copied().chain(["vc.fuzz.unknown_v1"]) {
        if let Ok(event) = Event::decode(event_type, &payload) {
            assert_eq!(event.event_type(), event_type);
        }
    }
});
