//! vc-mock as the platform's event sender: `POST /__mock/events` and `push_event` deliver to a
//! real `EventReceiver` over HTTP, encrypted and signed, and the receiver's typed handlers run.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use vc_api::types::{MeetingMeetingEndedV1Event, MeetingMeetingStartedV1Event};
use vc_api::webhook::EventReceiver;
use vc_mock::MockServer;
use vc_mock::events::DeliveryOutcome;

const ENCRYPT_KEY: &str = "mock-events-encrypt-key";
const TOKEN: &str = "mock-events-verification-token";

/// An HTTP receiver on a free port whose handlers report `"<type> <event id>"` lines.
async fn receiver(encrypt_key: &str) -> (String, mpsc::UnboundedReceiver<String>) {
    let (seen, lines) = mpsc::unbounded_channel();
    let ended = seen.clone();
    let receiver = EventReceiver::builder()
        .encrypt_key(encrypt_key)
        .verification_token(TOKEN)
        .on(move |header, event: MeetingMeetingStartedV1Event| {
            let seen = seen.clone();
            async move {
                let id = event.meeting.and_then(|m| m.id).unwrap_or_default();
                let _ = seen.send(format!("started {} {id}", header.event_id));
                Ok(())
            }
        })
        .on(move |header, _: MeetingMeetingEndedV1Event| {
            let ended = ended.clone();
            async move {
                let _ = ended.send(format!("ended {}", header.event_id));
                Ok(())
            }
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook/event", listener.local_addr().unwrap());
    let app = vc_api::webhook::axum::router(Arc::new(receiver), "/webhook/event");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, lines)
}

/// `POST /__mock/events?fragments=N` with an event type; the route's JSON answer.
async fn push_route(server: &MockServer, fragments: u32, event_type: &str) -> Value {
    let url = format!("{}/__mock/events?fragments={fragments}", server.url());
    let response = reqwest::Client::new().post(url).json(&json!({ "event_type": event_type })).send().await.unwrap();
    response.json().await.unwrap()
}

async fn mock(webhook: &str) -> MockServer {
    MockServer::builder().deliver_to(webhook).encrypt_key(ENCRYPT_KEY).verification_token(TOKEN).start().await
}

#[tokio::test]
async fn pushed_events_reach_typed_handlers_encrypted_and_signed_once() {
    let (url, mut lines) = receiver(ENCRYPT_KEY).await;
    let server = mock(&url).await;

    let pushed = server.push_event(json!({"event_type": "vc.meeting.meeting_started_v1"})).await.unwrap();
    let event_id = pushed.body["header"]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(pushed.webhook.as_ref().map(|d| &d.outcome), Some(&DeliveryOutcome::Status(200)));
    // The spec's example, decoded into the typed event by the receiver.
    assert_eq!(lines.recv().await.unwrap(), format!("started {event_id} 6911188411934433028"));

    // The same body again is a redelivery: acknowledged, the handler does not run twice.
    let again = server.push_event(pushed.body.clone()).await.unwrap();
    assert_eq!(again.webhook.map(|d| d.outcome), Some(DeliveryOutcome::Status(200)));
    let other = server.push_event(json!({"event_type": "vc.meeting.meeting_ended_v1"})).await.unwrap();
    let other_id = other.body["header"]["event_id"].as_str().unwrap();
    assert_eq!(lines.recv().await.unwrap(), format!("ended {other_id}"));
    assert_eq!(server.deliveries().len(), 3);
}

#[tokio::test]
async fn the_http_route_pushes_in_the_background_and_lists_deliveries() {
    let (url, mut lines) = receiver(ENCRYPT_KEY).await;
    let server = mock(&url).await;
    let http = reqwest::Client::new();
    let answer = push_route(&server, 4, "vc.meeting.meeting_ended_v1").await;
    assert_eq!(answer["event_type"], "vc.meeting.meeting_ended_v1");
    assert_eq!(answer["fragments"], 4);
    assert_eq!(answer["webhook"], url.as_str());
    let event_id = answer["event_id"].as_str().unwrap();
    assert_eq!(lines.recv().await.unwrap(), format!("ended {event_id}"));

    // The handler ran inside the delivery; the log has it once the receiver has answered.
    let poll = async {
        loop {
            let list: Value =
                http.get(format!("{}/__mock/deliveries", server.url())).send().await.unwrap().json().await.unwrap();
            if list.as_array().is_some_and(|l| !l.is_empty()) {
                break list;
            }
            tokio::task::yield_now().await;
        }
    };
    let deliveries =
        tokio::time::timeout(std::time::Duration::from_secs(30), poll).await.expect("the delivery is logged");
    assert_eq!(deliveries, json!([{"event_id": event_id, "url": url, "status": 200, "error": null}]));

    let refused = http
        .post(format!("{}/__mock/events", server.url()))
        .body("{\"event_type\": \"vc.no_such_v1\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert!(refused["error"].as_str().unwrap().contains("vc.no_such_v1"), "{refused}");
}

#[tokio::test]
async fn a_receiver_with_another_key_refuses_and_the_outcome_is_recorded() {
    let (url, _lines) = receiver("another-key").await;
    let server = mock(&url).await;
    let pushed = server.push_event(json!({"event_type": "vc.meeting.meeting_started_v1"})).await.unwrap();
    // The signature does not verify under the receiver's key.
    assert_eq!(pushed.webhook.map(|d| d.outcome), Some(DeliveryOutcome::Status(401)));

    let nowhere = MockServer::builder().deliver_to("http://127.0.0.1:1/none").start().await;
    let pushed = nowhere.push_event(json!({"event_type": "vc.meeting.meeting_started_v1"})).await.unwrap();
    assert!(matches!(pushed.webhook.map(|d| d.outcome), Some(DeliveryOutcome::Failed(_))));
}

#[tokio::test]
async fn the_mock_url_is_the_long_connection_domain_and_pushes_go_down_it_in_parts() {
    use vc_api::long_connection::{ConnectionState, LongConnection};
    let server = MockServer::start().await;
    let (seen, mut lines) = mpsc::unbounded_channel();
    let connection = LongConnection::builder(vc_mock::APP_ID, vc_mock::APP_SECRET)
        .domain(vc_api::Domain::Custom(server.url()))
        .on(move |header, _: MeetingMeetingEndedV1Event| {
            let seen = seen.clone();
            // The handler can read the payload as delivered (reassembled from its parts).
            let delivered = vc_api::dispatch::delivered_json();
            async move {
                let delivered: Value = serde_json::from_slice(&delivered.expect("delivered JSON")).unwrap();
                assert_eq!(delivered["header"]["event_id"], header.event_id.as_str());
                let _ = seen.send(header.event_id);
                Ok(())
            }
        })
        .start()
        .unwrap();
    let mut state = connection.state();
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        state.wait_for(|s| matches!(s, ConnectionState::Connected { .. })),
    )
    .await;
    assert!(connected.is_ok_and(|r| r.is_ok()), "connected through the mock's endpoint");

    let answer = push_route(&server, 3, "vc.meeting.meeting_ended_v1").await;
    assert_eq!(answer["long_connection_clients"], 1, "{answer}");
    assert_eq!(lines.recv().await.unwrap(), answer["event_id"].as_str().unwrap());
    assert!(vc_api::dispatch::delivered_json().is_none(), "only inside a handler");
    let hub = server.long_connection();
    let acks = hub.wait_for(|c| c.acks >= 1).await;
    assert_eq!(acks.acks, 1);
    assert_eq!(hub.acks()[0].code, 200);
    connection.shutdown().await.unwrap();
}
