//! meeting_recording: the four meeting recording operations against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn meeting_recording_start() {
    let api = MockApi::start().await;
    let op = operation("meeting_recording_start");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .meeting_recording_start()
        .meeting_id(op.param_str("meeting_id"))
        .body(op.body::<types::MeetingRecordingStartRequest>())
        .data()
        .await
        .expect("meeting_recording_start succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn meeting_recording_stop() {
    let api = MockApi::start().await;
    let op = operation("meeting_recording_stop");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .meeting_recording_stop()
        .meeting_id(op.param_str("meeting_id"))
        .data()
        .await
        .expect("meeting_recording_stop succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn meeting_recording_get() {
    let api = MockApi::start().await;
    let op = operation("meeting_recording_get");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .meeting_recording_get()
        .meeting_id(op.param_str("meeting_id"))
        .data()
        .await
        .expect("meeting_recording_get succeeds");
    let recording = data.recording.as_ref().expect("recording is present");
    assert_eq!(recording.url.as_deref(), Some("https://meetings.feishu.cn/minutes/obcn37dxcftoc3656rgyejm7"));
    assert_eq!(recording.duration.as_deref(), Some("30000"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_recording_set_permission() {
    let api = MockApi::start().await;
    let op = operation("meeting_recording_set_permission");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .meeting_recording_set_permission()
        .meeting_id(op.param_str("meeting_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::MeetingRecordingSetPermissionRequest>())
        .data()
        .await
        .expect("meeting_recording_set_permission succeeds");
    assert!(data.is_empty());
}
