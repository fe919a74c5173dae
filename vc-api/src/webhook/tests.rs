//! Unit tests of the receiver: signatures from [`super::signature`] (checked against a
//! python3-computed vector in `crypto`), and an openssl-made ciphertext.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::Secret;
use crate::events::Event;

const KEY: &str = "test-encrypt-key";
const TOKEN: &str = "test-verification-token";
const NOW: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn receiver() -> EventReceiverBuilder {
    EventReceiver::builder().encrypt_key(KEY).verification_token(TOKEN).clock(|| at(NOW))
}

fn signed(body: &[u8], timestamp: u64, nonce: &str) -> Vec<(String, String)> {
    let timestamp = timestamp.to_string();
    let sig = signature(&timestamp, nonce, &Secret::new(KEY), body);
    vec![
        ("X-Lark-Request-Timestamp".to_owned(), timestamp),
        ("X-Lark-Request-Nonce".to_owned(), nonce.to_owned()),
        ("X-Lark-Signature".to_owned(), sig),
    ]
}

fn v2(event_id: &str, event_type: &str, token: &str) -> Vec<u8> {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": event_type, "create_time": "1700000000000",
                   "token": token, "app_id": "cli_x", "tenant_key": "tk"},
        "event": {"meeting": {"id": "m1"}}
    })
    .to_string()
    .into_bytes()
}

#[test]
fn build_needs_a_key_or_a_token() {
    assert!(matches!(EventReceiver::builder().build(), Err(WebhookError::Config(_))));
    assert!(matches!(EventReceiver::builder().encrypt_key("").build(), Err(WebhookError::Config(_))));
    assert!(EventReceiver::builder().verification_token("t").build().is_ok());
    assert!(EventReceiver::builder().encrypt_key("k").build().is_ok());
}

#[test]
fn debug_output_hides_the_secrets() {
    let built = receiver().build().unwrap();
    let debug = format!("{built:?} {:?}", receiver());
    assert!(!debug.contains(KEY) && !debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("Secret(***)"));
}

#[test]
fn a_signed_v2_event_is_decoded_and_its_token_removed() {
    let r = receiver().build().unwrap();
    let body = v2("e1", "vc.meeting.meeting_started_v1", TOKEN);
    let Delivery::Event(callback) = r.receive(&signed(&body, NOW, "n1"), &body).unwrap() else { panic!() };
    assert_eq!(callback.header.event_id, "e1");
    assert_eq!(callback.header.token, None);
    assert_eq!(callback.header.tenant_key.as_deref(), Some("tk"));
    assert!(matches!(callback.event, Event::MeetingMeetingStartedV1(_)));
}

#[test]
fn signature_checks() {
    let r = receiver().build().unwrap();
    let body = v2("e1", "vc.x", TOKEN);
    let mut headers = signed(&body, NOW, "n1");
    assert!(matches!(r.receive(&headers, b"{}"), Err(WebhookError::BadSignature)));
    headers[2].1 = "0".repeat(64);
    assert!(matches!(r.receive(&headers, &body), Err(WebhookError::BadSignature)));
    headers.remove(1);
    assert!(matches!(r.receive(&headers, &body), Err(WebhookError::MissingHeader(NONCE_HEADER))));
    // No signature at all while an encrypt key is configured.
    assert!(matches!(
        r.receive(&Vec::<(String, String)>::new(), &body),
        Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
    ));
}

#[test]
fn timestamps_outside_the_window_are_refused_both_ways() {
    let r = receiver().timestamp_tolerance(Duration::from_secs(60)).build().unwrap();
    let body = v2("e1", "vc.x", TOKEN);
    for (ts, skew) in [(NOW - 61, -61), (NOW + 61, 61)] {
        match r.receive(&signed(&body, ts, &format!("n{ts}")), &body) {
            Err(WebhookError::StaleTimestamp { skew_secs, .. }) => assert_eq!(skew_secs, skew),
            other => panic!("{other:?}"),
        }
    }
    assert!(r.receive(&signed(&body, NOW - 60, "edge"), &body).is_ok());
    let mut headers = signed(&body, NOW, "n");
    headers[0].1 = "soon".into();
    headers[2].1 = signature("soon", "n", &Secret::new(KEY), &body);
    assert!(matches!(r.receive(&headers, &body), Err(WebhookError::BadTimestamp)));
}

#[tokio::test]
async fn a_replayed_nonce_is_refused_and_a_repeated_event_id_is_a_duplicate() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let r = receiver()
        .fallback(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .build()
        .unwrap();
    let body = v2("e1", "vc.x", TOKEN);
    let headers = signed(&body, NOW, "n1");
    assert_eq!(r.process(&headers, &body).await.unwrap(), WebhookResponse::ack());
    assert!(matches!(r.process(&headers, &body).await, Err(WebhookError::Replay)));
    let again = signed(&body, NOW, "n2");
    assert_eq!(r.process(&again, &body).await.unwrap(), WebhookResponse::ack(), "a duplicate is acknowledged");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran once");
    // `receive` only verifies: it neither refuses replays nor consumes nonces.
    assert!(matches!(r.receive(&headers, &body), Ok(Delivery::Event(_))));
}

#[test]
fn tokens_are_checked_in_v2_headers_v1_bodies_and_challenges() {
    let r = receiver().build().unwrap();
    let body = v2("e1", "vc.x", "wrong");
    assert!(matches!(r.receive(&signed(&body, NOW, "a"), &body), Err(WebhookError::BadToken)));
    let v1 = br#"{"uuid":"u1","token":"wrong","ts":"1","type":"event_callback","event":{"type":"x"}}"#;
    assert!(matches!(r.receive(&signed(v1, NOW, "b"), v1), Err(WebhookError::BadToken)));
    let challenge = br#"{"type":"url_verification","challenge":"c","token":"wrong"}"#;
    assert!(matches!(r.receive(&[] as &[(&str, &str)], challenge), Err(WebhookError::BadToken)));
    let missing = br#"{"type":"url_verification","challenge":"c"}"#;
    assert!(matches!(r.receive(&[] as &[(&str, &str)], missing), Err(WebhookError::BadToken)));
}

#[test]
fn without_a_verification_token_only_the_signature_protects() {
    let r = EventReceiver::builder().encrypt_key(KEY).clock(|| at(NOW)).build().unwrap();
    let body = v2("e1", "vc.x", "anything");
    assert!(matches!(r.receive(&signed(&body, NOW, "a"), &body), Ok(Delivery::Event(_))));
}

#[test]
fn an_encrypted_body_needs_the_key() {
    // DECRYPT_VECTOR of crypto's tests, made by openssl with the key "k": {"x":"y"}.
    let body = br#"{"encrypt":"AAECAwQFBgcICQoLDA0OD87pJ64iVA//cdVrp7ccPAI="}"#;
    let only_token = EventReceiver::builder().verification_token(TOKEN).build().unwrap();
    assert!(matches!(
        only_token.receive(&[] as &[(&str, &str)], body),
        Err(WebhookError::Decrypt(DecryptError::NoKey))
    ));
    let with_key = EventReceiver::builder().encrypt_key("k").clock(|| at(NOW)).build().unwrap();
    // {"x":"y"} decrypts but is no delivery.
    let sig = signature("1700000000", "n", &Secret::new("k"), body);
    let headers = [(TIMESTAMP_HEADER, "1700000000"), (NONCE_HEADER, "n"), (SIGNATURE_HEADER, sig.as_str())];
    assert!(matches!(with_key.receive(&headers[..], body), Err(WebhookError::Malformed(_))));
}

#[test]
fn v1_events_and_app_tickets() {
    let r = receiver().build().unwrap();
    let v1 = format!(
        r#"{{"uuid":"u1","token":"{TOKEN}","ts":"1","type":"event_callback","event":{{"type":"some_v1_event","app_id":"cli_x","tenant_key":"tk","k":1}}}}"#
    );
    let Ok(Delivery::Event(callback)) = r.receive(&signed(v1.as_bytes(), NOW, "a"), v1.as_bytes()) else { panic!() };
    assert_eq!(callback.header.event_id, "u1");
    assert_eq!(callback.header.event_type, "some_v1_event");
    assert!(matches!(&callback.event, Event::Unknown { payload, .. } if payload.get().contains(r#""k":1"#)));

    let ticket = format!(
        r#"{{"uuid":"u2","token":"{TOKEN}","ts":"1","type":"event_callback","event":{{"app_id":"cli_x","app_ticket":"tk-1","type":"app_ticket"}}}}"#
    );
    match r.receive(&signed(ticket.as_bytes(), NOW, "b"), ticket.as_bytes()) {
        Ok(Delivery::AppTicket { event_id, app_id, ticket }) => {
            assert_eq!((event_id.as_str(), app_id.as_deref(), ticket.expose()), ("u2", Some("cli_x"), "tk-1"));
        }
        other => panic!("{other:?}"),
    }
    let v2_ticket = serde_json::json!({"schema":"2.0","header":{"event_id":"e9","event_type":"app_ticket","token":TOKEN,"app_id":"cli_y"},"event":{"app_ticket":"tk-2"}}).to_string();
    match r.receive(&signed(v2_ticket.as_bytes(), NOW, "c"), v2_ticket.as_bytes()) {
        Ok(Delivery::AppTicket { app_id, ticket, .. }) => {
            assert_eq!((app_id.as_deref(), ticket.expose()), (Some("cli_y"), "tk-2"))
        }
        other => panic!("{other:?}"),
    }
    let no_ticket =
        format!(r#"{{"uuid":"u3","token":"{TOKEN}","type":"event_callback","event":{{"type":"app_ticket"}}}}"#);
    assert!(matches!(
        r.receive(&signed(no_ticket.as_bytes(), NOW, "d"), no_ticket.as_bytes()),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn malformed_bodies_are_errors() {
    let r = receiver().build().unwrap();
    let no_challenge = format!(r#"{{"type":"url_verification","token":"{TOKEN}"}}"#);
    let no_uuid = format!(r#"{{"type":"event_callback","token":"{TOKEN}"}}"#);
    let no_event = format!(r#"{{"type":"event_callback","token":"{TOKEN}","uuid":"u"}}"#);
    let bad_payload = format!(
        r#"{{"schema":"2.0","header":{{"event_id":"e","event_type":"vc.meeting.meeting_started_v1","token":"{TOKEN}"}},"event":[1]}}"#
    );
    let bodies: [&[u8]; 11] = [
        b"",
        b"[]",
        b"null",
        b"{",
        b"{}",
        br#"{"encrypt":5}"#,
        b"\xff\xfe",
        no_challenge.as_bytes(),
        no_uuid.as_bytes(),
        no_event.as_bytes(),
        bad_payload.as_bytes(),
    ];
    for body in bodies {
        let result = r.receive(&signed(body, NOW, &format!("{body:?}")), body);
        assert!(matches!(result, Err(WebhookError::Malformed(_))), "{body:?}: {result:?}");
    }
}

#[test]
fn headers_are_read_from_any_map_case_insensitively() {
    let mut map = reqwest::header::HeaderMap::new();
    map.insert("X-Lark-Signature", "abc".parse().unwrap());
    assert_eq!(map.header(SIGNATURE_HEADER), Some("abc"));
    let hash: std::collections::HashMap<String, String> = [("X-LARK-SIGNATURE".to_owned(), "d".to_owned())].into();
    assert_eq!(hash.header(SIGNATURE_HEADER), Some("d"));
    assert_eq!([("a", "b")].as_slice().header(SIGNATURE_HEADER), None);
}

#[tokio::test]
async fn handle_runs_handlers_and_answers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let fail = Arc::new(Mutex::new(true));
    let failing = fail.clone();
    let r = receiver()
        .fallback(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            let fail = *failing.lock().unwrap();
            async move { if fail { Err("handler down".into()) } else { Ok(()) } }
        })
        .build()
        .unwrap();
    let body = v2("e1", "vc.x", TOKEN);

    // A failing handler: 500, and the same event delivered again (even with the same nonce) runs again.
    let first = r.handle(&signed(&body, NOW, "n1"), &body).await;
    assert_eq!(first.status, 500);
    assert!(first.body.contains("handler of vc.x (event e1) failed"), "{}", first.body);
    *fail.lock().unwrap() = false;
    let second = r.handle(&signed(&body, NOW, "n1"), &body).await;
    assert_eq!(second, WebhookResponse::ack());
    let duplicate = r.handle(&signed(&body, NOW, "n2"), &body).await;
    assert_eq!((duplicate.status, duplicate.body.as_str()), (200, r#"{"msg":"success"}"#));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let rejected = r.handle(&signed(&body, NOW, "n3"), b"tampered").await;
    assert_eq!(rejected.status, 401);
    assert_eq!(rejected.content_type, "application/json");
}
