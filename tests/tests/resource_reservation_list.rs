//! resource_reservation_list: the room-reservation query against a mock built from the spec's examples.

use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn resource_reservation_list_get() {
    let api = MockApi::start().await;
    let op = operation("resource_reservation_list_get");
    api.expect(
        &op,
        &["room_level_id", "need_topic", "start_time", "end_time", "room_ids", "is_exclude", "page_size", "page_token"],
    )
    .await;
    let data = api
        .client()
        .resource_reservation_list_get()
        .room_level_id(op.param_str("room_level_id"))
        .need_topic(op.param_bool("need_topic"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .room_ids(op.param_strs("room_ids"))
        .is_exclude(op.param_bool("is_exclude"))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .data()
        .await
        .expect("resource_reservation_list_get succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("20"));
    assert_eq!(data.room_reservation_list.len(), 1);
    let reservation = &data.room_reservation_list[0];
    assert_eq!(reservation.room_id.as_deref(), Some("omm_4de32cf10a4358788ff4e09e37ebbf9b"));
    assert_eq!(reservation.room_name.as_deref(), Some("VIP Meeting Room"));
    assert_eq!(reservation.guests_number.as_deref(), Some("5"));
    assert_eq!(reservation.event_duration.as_deref(), Some("1:00:00"));
    assert_matches_example(&op, &data);
}
