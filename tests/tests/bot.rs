//! bot: the meeting-bot operations (join, leave, chat, activity, active meetings) against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn bot_events() {
    let api = MockApi::start().await;
    let op = operation("bot_events");
    api.expect(&op, &["meeting_id", "page_token", "start_time", "end_time", "page_size", "user_id_type"]).await;
    let data = api
        .client()
        .bot_events()
        .meeting_id(op.param_str("meeting_id"))
        .page_token(op.param_str("page_token"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32)
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("bot_events succeeds");
    assert_eq!(data.has_more, Some(false));
    assert_eq!(data.events.len(), 1);
    let payload = data.events[0].payload.as_ref().expect("payload is present");
    assert_eq!(payload.activity_event_type, Some(types::BotActivityEventType::ParticipantJoined));
    assert_eq!(payload.meeting.as_ref().and_then(|m| m.meeting_no.as_deref()), Some("123456789"));
    let joined = &payload.participant_joined_items[0];
    assert_eq!(joined.join_time.as_deref(), Some("1716186600000"));
    assert_eq!(joined.participant.as_ref().and_then(|p| p.user_role), Some(1));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn bot_join() {
    let api = MockApi::start().await;
    let op = operation("bot_join");
    api.expect(&op, &[]).await;
    let data =
        api.client().bot_join().body(op.body::<types::BotJoinRequest>()).data().await.expect("bot_join succeeds");
    let meeting = data.meeting.as_ref().expect("meeting is present");
    assert_eq!(meeting.id.as_deref(), Some("7628568141510692381"));
    assert_eq!(meeting.start_time.as_deref(), Some("2024-05-20 10:30:00"));
    let user = data.join_user.as_ref().expect("join_user is present");
    // Compared as a float: through a JavaScript contract server the integer arrives rounded.
    assert_eq!(user.id.as_ref().and_then(serde_json::Value::as_f64), Some(7_678_750_516_091_849_680_f64));
    assert_eq!(user.user_type, Some(types::MeetingUserType::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn bot_leave() {
    let api = MockApi::start().await;
    let op = operation("bot_leave");
    api.expect(&op, &[]).await;
    let data =
        api.client().bot_leave().body(op.body::<types::BotLeaveRequest>()).data().await.expect("bot_leave succeeds");
    let user = data.leave_user.as_ref().expect("leave_user is present");
    assert_eq!(user.id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(user.user_type, Some(types::MeetingUserType::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn bot_message() {
    let api = MockApi::start().await;
    let op = operation("bot_message");
    api.expect(&op, &[]).await;
    let body = op.body::<types::BotMessageRequest>();
    assert_eq!(body.msg_type, types::BotMessageType::Text);
    let data = api.client().bot_message().body(body).data().await.expect("bot_message succeeds");
    assert_eq!(data.uuid.as_deref(), Some("a1b2c3d4-5678-90ef-ghij-klmnopqrstuv"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn bot_user_active_meeting() {
    let api = MockApi::start().await;
    let op = operation("bot_user_active_meeting");
    api.expect(&op, &["user_id", "user_id_type"]).await;
    let data = api
        .client()
        .bot_user_active_meeting()
        .user_id(op.param_str("user_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("bot_user_active_meeting succeeds");
    assert_eq!(data.meetings.len(), 1);
    assert_eq!(data.meetings[0].meeting_no.as_deref(), Some("987654321"));
    assert_eq!(data.meetings[0].meeting_id.as_deref(), Some("7628568141510692381"));
    assert_matches_example(&op, &data);
}
