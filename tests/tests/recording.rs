//! recording: subscribing to and unsubscribing from recording events, against a mock built from the spec's examples.

use vc_api::types;
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn recording_subscription() {
    let api = MockApi::start().await;
    let op = operation("recording_subscription");
    api.expect(&op, &[]).await;
    let body = op.body::<types::RecordingSubscriptionRequest>();
    assert_eq!(body.event_type, "vc.recording.recording_started_v1");
    let data = api.client().recording_subscription().body(body).data().await.expect("recording_subscription succeeds");
    assert!(data.is_empty());
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn recording_unsubscription() {
    let api = MockApi::start().await;
    let op = operation("recording_unsubscription");
    api.expect(&op, &[]).await;
    let body = op.body::<types::RecordingUnsubscriptionRequest>();
    assert_eq!(body.event_type, "vc.recording.recording_started_v1");
    let data =
        api.client().recording_unsubscription().body(body).data().await.expect("recording_unsubscription succeeds");
    assert!(data.is_empty());
    assert_matches_example(&op, &data);
}
