//! reserve: the five reservation operations against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn reserve_apply() {
    let api = MockApi::start().await;
    let op = operation("reserve_apply");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .reserve_apply()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ReserveApplyRequest>())
        .data()
        .await
        .expect("reserve_apply succeeds");
    let reserve = data.reserve.as_ref().expect("reserve is present");
    assert_eq!(reserve.id.as_deref(), Some("6911188411934973028"));
    assert_eq!(reserve.meeting_no.as_deref(), Some("112000358"));
    assert_eq!(
        data.reserve_correction_check_info.as_ref().map(|info| info.invalid_host_id_list.clone()),
        Some(vec!["ou_3ec3f6a28a0d08c45d895276e8e5e19b".to_owned()])
    );
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_update() {
    let api = MockApi::start().await;
    let op = operation("reserve_update");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .reserve_update()
        .reserve_id(op.param_str("reserve_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ReserveUpdateRequest>())
        .data()
        .await
        .expect("reserve_update succeeds");
    let reserve = data.reserve.as_ref().expect("reserve is present");
    assert_eq!(reserve.live_link.as_deref(), Some("https://meetings.feishu.cn/s/1gub381l4gglv"));
    assert_eq!(reserve.expire_status, Some(types::ReserveExpireStatus::from(1)));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_delete() {
    let api = MockApi::start().await;
    let op = operation("reserve_delete");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .reserve_delete()
        .reserve_id(op.param_str("reserve_id"))
        .data()
        .await
        .expect("reserve_delete succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn reserve_get() {
    let api = MockApi::start().await;
    let op = operation("reserve_get");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .reserve_get()
        .reserve_id(op.param_str("reserve_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_get succeeds");
    let reserve = data.reserve.as_ref().expect("reserve is present");
    assert_eq!(reserve.reserve_user_id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(reserve.end_time.as_deref(), Some("1608883322"));
    let settings = reserve.meeting_settings.as_ref().expect("meeting_settings is present");
    assert_eq!(settings.topic.as_deref(), Some("my meeting"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_get_active_meeting() {
    let api = MockApi::start().await;
    let op = operation("reserve_get_active_meeting");
    api.expect(&op, &["with_participants", "user_id_type"]).await;
    let data = api
        .client()
        .reserve_get_active_meeting()
        .reserve_id(op.param_str("reserve_id"))
        .with_participants(op.param_bool("with_participants"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_get_active_meeting succeeds");
    let meeting = data.meeting.as_ref().expect("meeting is present");
    assert_eq!(meeting.id.as_deref(), Some("6911188411934433028"));
    assert_eq!(meeting.status, Some(types::MeetingStatus::from(2)));
    assert_eq!(meeting.participants.len(), 1);
    assert_eq!(meeting.participants[0].in_meeting_duration.as_deref(), Some("123"));
    assert_matches_example(&op, &data);
}
