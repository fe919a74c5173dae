//! meeting: the meeting operations against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn meeting_get() {
    let api = MockApi::start().await;
    let op = operation("meeting_get");
    api.expect(&op, &["with_participants", "with_meeting_ability", "user_id_type", "query_mode"]).await;
    let data = api
        .client()
        .meeting_get()
        .meeting_id(op.param_str("meeting_id"))
        .with_participants(op.param_bool("with_participants"))
        .with_meeting_ability(op.param_bool("with_meeting_ability"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .query_mode(types::MeetingQueryMode::from(op.param_int("query_mode") as i32))
        .data()
        .await
        .expect("meeting_get succeeds");
    let meeting = data.meeting.as_ref().expect("meeting is present");
    assert_eq!(meeting.meeting_no.as_deref(), Some("123456789"));
    assert_eq!(meeting.participant_count_accumulated.as_deref(), Some("10"));
    assert_eq!(meeting.ability.as_ref().and_then(|ability| ability.use_pstn), Some(true));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_list_by_no() {
    let api = MockApi::start().await;
    let op = operation("meeting_list_by_no");
    api.expect(&op, &["meeting_no", "start_time", "end_time", "page_token", "page_size"]).await;
    let data = api
        .client()
        .meeting_list_by_no()
        .meeting_no(op.param_str("meeting_no"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_token(op.param_str("page_token"))
        .page_size(op.param_int("page_size") as i32)
        .data()
        .await
        .expect("meeting_list_by_no succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("2"));
    assert_eq!(data.meeting_briefs.len(), 2);
    assert_eq!(data.meeting_briefs[1].id.as_deref(), Some("7011031045899354115"));
    assert_eq!(data.meeting_briefs[0].topic.as_deref(), Some("Test Title"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_invite() {
    let api = MockApi::start().await;
    let op = operation("meeting_invite");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .meeting_invite()
        .meeting_id(op.param_str("meeting_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::MeetingInviteRequest>())
        .data()
        .await
        .expect("meeting_invite succeeds");
    assert_eq!(data.invite_results.len(), 1);
    assert_eq!(data.invite_results[0].id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(data.invite_results[0].status, Some(types::MeetingInviteResult::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_kickout() {
    let api = MockApi::start().await;
    let op = operation("meeting_kickout");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .meeting_kickout()
        .meeting_id(op.param_str("meeting_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::MeetingKickoutRequest>())
        .data()
        .await
        .expect("meeting_kickout succeeds");
    assert_eq!(data.kickout_results.len(), 1);
    assert_eq!(data.kickout_results[0].id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(data.kickout_results[0].result, Some(types::MeetingKickoutResult::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_set_host() {
    let api = MockApi::start().await;
    let op = operation("meeting_set_host");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .meeting_set_host()
        .meeting_id(op.param_str("meeting_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::MeetingSetHostRequest>())
        .data()
        .await
        .expect("meeting_set_host succeeds");
    let host = data.host_user.as_ref().expect("host_user is present");
    assert_eq!(host.id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(host.user_type, Some(types::MeetingUserType::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_end() {
    let api = MockApi::start().await;
    let op = operation("meeting_end");
    api.expect(&op, &[]).await;
    let data =
        api.client().meeting_end().meeting_id(op.param_str("meeting_id")).data().await.expect("meeting_end succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn meeting_search() {
    let api = MockApi::start().await;
    let op = operation("meeting_search");
    api.expect(&op, &["page_token", "page_size"]).await;
    let data = api
        .client()
        .meeting_search()
        .page_token(op.param_str("page_token"))
        .page_size(op.param_int("page_size") as i32)
        .body(op.body::<types::MeetingSearchRequest>())
        .data()
        .await
        .expect("meeting_search succeeds");
    assert_eq!(data.total, Some(10));
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.items.len(), 1);
    assert_eq!(data.items[0].id.as_deref(), Some("6911188411932033028"));
    let meta = data.items[0].meta_data.as_ref().expect("meta_data is present");
    assert_eq!(meta.app_link.as_deref(), Some("https://applink.larkoffice.com/*"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_change_name() {
    let api = MockApi::start().await;
    let op = operation("meeting_change_name");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::MeetingChangeNameRequest>();
    assert_eq!(body.change_name_users[0].in_meeting_name.as_deref(), Some("Commander"));
    let data = api
        .client()
        .meeting_change_name()
        .meeting_id(op.param_str("meeting_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("meeting_change_name succeeds");
    assert_eq!(data.results.len(), 1);
    assert_eq!(data.results[0].id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(data.results[0].user_type, Some(types::MeetingUserType::from(1)));
    assert_eq!(data.results[0].result, Some(types::MeetingChangeNameResult::Succeeded));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn meeting_subscription() {
    let api = MockApi::start().await;
    let op = operation("meeting_subscription");
    api.expect(&op, &[]).await;
    let body = op.body::<types::MeetingSubscriptionRequest>();
    assert_eq!(body.event_type, Some(types::MeetingSubscriptionEventType::ParticipantMeetingEndedV1));
    let data = api.client().meeting_subscription().body(body).data().await.expect("meeting_subscription succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn meeting_unsubscription() {
    let api = MockApi::start().await;
    let op = operation("meeting_unsubscription");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .meeting_unsubscription()
        .body(op.body::<types::MeetingUnsubscriptionRequest>())
        .data()
        .await
        .expect("meeting_unsubscription succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn meeting_pull_subtitle() {
    let api = MockApi::start().await;
    let op = operation("meeting_pull_subtitle");
    api.expect(&op, &["uid", "page_token", "page_size", "did", "user_id_type"]).await;
    let data = api
        .client()
        .meeting_pull_subtitle()
        .meeting_id(op.param_str("meeting_id"))
        .uid(op.param_str("uid"))
        .page_token(op.param_str("page_token"))
        .page_size(op.param_str("page_size"))
        .did(op.param_str("did"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("meeting_pull_subtitle succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("2"));
    assert_eq!(data.meeting_subtitles.len(), 1);
    let segment = &data.meeting_subtitles[0];
    assert_eq!(segment.seg_id, Some(7_345_678_901_234_567));
    let subtitle = segment.subtitle.as_ref().expect("subtitle is present");
    assert_eq!(subtitle.content.as_deref(), Some("Hello."));
    assert_eq!(subtitle.speaker_device_id, Some(987_654_321));
    let speaker = subtitle.ssd_speaker.as_ref().expect("ssd_speaker is present");
    assert_eq!(speaker.speaker_id_type, Some(types::MeetingSubtitleSpeakerIdType::LarkUser));
    assert_matches_example(&op, &data);
}
