//! Events: every event type of the spec decodes from a realistic v2 delivery (the doc page's
//! payload example under a full header) into its typed variant, losing no field.

use serde_json::{Value, json};
use vc_api::events::{Event, EventCallback};
use vc_api_tests::{normalize, numbers_as_floats, spec};

/// `(event_type, payload example)` of every `x-feishu-events` entry.
fn events() -> Vec<(String, Value)> {
    let doc = spec();
    doc["x-feishu-events"]
        .as_array()
        .expect("x-feishu-events")
        .iter()
        .map(|entry| {
            let event_type = entry["event_type"].as_str().unwrap().to_owned();
            let reference = entry["schema"]["$ref"].as_str().expect("a payload schema");
            let name = reference.rsplit('/').next().unwrap();
            let example = doc["components"]["schemas"][name]["example"].clone();
            assert!(example.is_object(), "{event_type}: schema {name} has no example payload");
            (event_type, example)
        })
        .collect()
}

fn delivery(index: usize, event_type: &str, payload: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("5e3702a84e847582be8db7fb7328{index:04}"),
            "event_type": event_type,
            "create_time": "1608725989000",
            "token": "rvaYgkND1GOiu5MM0E1rncYC6PLtF7JV",
            "app_id": "cli_9f5343c580712544",
            "tenant_key": "2ca1d211f64f6438"
        },
        "event": payload
    }))
    .unwrap()
}

#[test]
fn every_event_type_decodes_into_its_typed_variant_without_losing_fields() {
    let all = events();
    assert_eq!(all.len(), Event::EVENT_TYPES.len());
    for (index, (event_type, payload)) in all.iter().enumerate() {
        let callback = EventCallback::from_slice(&delivery(index, event_type, payload))
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        assert!(!callback.event.is_unknown(), "{event_type} decoded as Unknown");
        assert_eq!(callback.event.event_type(), event_type);
        assert_eq!(callback.header.app_id.as_deref(), Some("cli_9f5343c580712544"));
        let again = serde_json::to_value(&callback.event).unwrap();
        assert_eq!(
            numbers_as_floats(normalize(again)),
            numbers_as_floats(normalize(payload.clone())),
            "{event_type}: typed payload differs from the example"
        );
    }
}

#[test]
fn an_unknown_event_type_is_kept_raw() {
    let payload = json!({"meeting": {"id": "1"}, "new_field": [1, 2]});
    let callback = EventCallback::from_slice(&delivery(0, "vc.meeting.something_new_v9", &payload)).unwrap();
    match &callback.event {
        Event::Unknown { event_type, payload: raw } => {
            assert_eq!(event_type, "vc.meeting.something_new_v9");
            assert_eq!(serde_json::from_str::<Value>(raw.get()).unwrap(), payload);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[test]
fn a_known_event_with_a_wrongly_typed_payload_is_an_error_naming_it() {
    let (event_type, _) = events().into_iter().next().unwrap();
    let error = EventCallback::from_slice(&delivery(1, &event_type, &json!("not an object"))).unwrap_err();
    assert!(error.to_string().contains(&event_type), "{error}");
}
