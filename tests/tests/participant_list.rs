//! participant_list: the participant-details query against a mock built from the spec's examples.

use vc_api::types::{ExportMeetingStatus, ParticipantListAcceptStatus, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn participant_list_get() {
    let api = MockApi::start().await;
    let op = operation("participant_list_get");
    api.expect(
        &op,
        &[
            "meeting_start_time",
            "meeting_end_time",
            "meeting_status",
            "meeting_no",
            "user_id",
            "room_id",
            "page_size",
            "page_token",
            "webinar_user_role",
            "user_id_type",
        ],
    )
    .await;
    let data = api
        .client()
        .participant_list_get()
        .meeting_start_time(op.param_str("meeting_start_time"))
        .meeting_end_time(op.param_str("meeting_end_time"))
        .meeting_status(ExportMeetingStatus::from(op.param_int("meeting_status") as i32))
        .meeting_no(op.param_str("meeting_no"))
        .user_id(op.param_str("user_id"))
        .room_id(op.param_str("room_id"))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .webinar_user_role(op.param_str("webinar_user_role"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("participant_list_get succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("20"));
    assert_eq!(data.participants.len(), 1);
    let participant = &data.participants[0];
    assert_eq!(participant.participant_name.as_deref(), Some("kehan"));
    assert_eq!(participant.meeting_room_id.as_deref(), Some("omm_8efq90"));
    assert_eq!(participant.use_rtc_proxy, Some(false));
    assert_eq!(participant.accept_status, Some(ParticipantListAcceptStatus::Accepted));
    assert_eq!(participant.webinar_user_role.as_deref(), Some("0"));
    assert_matches_example(&op, &data);
}
