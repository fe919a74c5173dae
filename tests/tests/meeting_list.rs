//! meeting_list: the meeting-details query against a mock built from the spec's examples.

use vc_api::types::{ExportMeetingStatus, ExportMeetingType, MeetingListMeetingSubtype, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn meeting_list_get() {
    let api = MockApi::start().await;
    let op = operation("meeting_list_get");
    api.expect(
        &op,
        &[
            "start_time",
            "end_time",
            "meeting_status",
            "meeting_no",
            "user_id",
            "room_id",
            "meeting_type",
            "page_size",
            "page_token",
            "include_external_meetings",
            "include_webinar",
            "user_id_type",
        ],
    )
    .await;
    let data = api
        .client()
        .meeting_list_get()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .meeting_status(ExportMeetingStatus::from(op.param_int("meeting_status") as i32))
        .meeting_no(op.param_str("meeting_no"))
        .user_id(op.param_str("user_id"))
        .room_id(op.param_str("room_id"))
        .meeting_type(ExportMeetingType::from(op.param_int("meeting_type") as i32))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .include_external_meetings(op.param_bool("include_external_meetings"))
        .include_webinar(op.param_bool("include_webinar"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("meeting_list_get succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("20"));
    assert_eq!(data.meeting_list.len(), 1);
    let meeting = &data.meeting_list[0];
    assert_eq!(meeting.meeting_id.as_deref(), Some("705605196"));
    assert_eq!(meeting.meeting_type, Some(ExportMeetingType::All));
    assert_eq!(meeting.meeting_subtype, Some(MeetingListMeetingSubtype::ShareScreen));
    assert_eq!(meeting.meeting_duration.as_deref(), Some("00:01:52"));
    assert_eq!(meeting.audio, Some(true));
    assert_eq!(meeting.reserved_rooms.len(), 1);
    assert_eq!(meeting.reserved_rooms[0].room_name.as_deref(), Some("room123"));
    assert_eq!(meeting.meeting_instance_id.as_deref(), Some("7529416531681214468"));
    assert_matches_example(&op, &data);
}
