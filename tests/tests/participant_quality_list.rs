//! participant_quality_list: the call-quality query against a mock built from the spec's examples.

use vc_api::types::UserIdType;
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn participant_quality_list_get() {
    let api = MockApi::start().await;
    let op = operation("participant_quality_list_get");
    api.expect(
        &op,
        &[
            "meeting_start_time",
            "meeting_end_time",
            "meeting_no",
            "join_time",
            "user_id",
            "room_id",
            "page_size",
            "page_token",
            "user_id_type",
        ],
    )
    .await;
    let data = api
        .client()
        .participant_quality_list_get()
        .meeting_start_time(op.param_str("meeting_start_time"))
        .meeting_end_time(op.param_str("meeting_end_time"))
        .meeting_no(op.param_str("meeting_no"))
        .join_time(op.param_str("join_time"))
        .user_id(op.param_str("user_id"))
        .room_id(op.param_str("room_id"))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("participant_quality_list_get succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("20"));
    assert_eq!(data.participant_quality_list.len(), 1);
    let quality = &data.participant_quality_list[0];
    let network = quality.network.as_ref().expect("network is present");
    assert_eq!(network.network_delay.as_deref(), Some("100ms"));
    let video = quality.video.as_ref().expect("video is present");
    assert_eq!(video.maximum_resolution_sent.as_deref(), Some("4K"));
    let sharing = quality.screen_sharing.as_ref().expect("screen_sharing is present");
    assert_eq!(sharing.framerate_received.as_deref(), Some("100fps"));
    let cpu = quality.cpu_usage.as_ref().expect("cpu_usage is present");
    assert_eq!(cpu.system_max_cpu_usage.as_deref(), Some("30%"));
    assert_matches_example(&op, &data);
}
