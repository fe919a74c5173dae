//! room: the seven meeting room operations against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

/// Checks the fields of the room every room response example carries.
fn assert_example_room(room: &types::Room) {
    assert_eq!(room.room_id.as_deref(), Some("omm_4de32cf10a4358788ff4e09e37ebbf9b"));
    assert_eq!(room.name.as_deref(), Some("测试会议室"));
    assert_eq!(room.capacity, Some(10));
    assert_eq!(room.display_id.as_deref(), Some("LM134742334"));
    assert_eq!(room.path, vec!["omb_8d020b12fe49e82847c2af3c193d5754".to_owned()]);
    let status = room.room_status.as_ref().expect("room_status is present");
    assert_eq!(status.status, Some(true));
    assert_eq!(status.disable_end_time.as_deref(), Some("1652442450"));
    assert_eq!(status.contact_ids, vec!["ou_3ec3f6a28a0d08c45d895276e8e5e19b".to_owned()]);
    assert_eq!(room.device.len(), 1);
    assert_eq!(room.device[0].name.as_deref(), Some("电话"));
}

#[tokio::test]
async fn room_list() {
    let api = MockApi::start().await;
    let op = operation("room_list");
    api.expect(&op, &["page_size", "page_token", "room_level_id", "user_id_type"]).await;
    let data = api
        .client()
        .room_list()
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .room_level_id(op.param_str("room_level_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("room_list succeeds");
    assert_eq!(data.rooms.len(), 1);
    assert_example_room(&data.rooms[0]);
    assert_eq!(data.page_token.as_deref(), Some("50"));
    assert_eq!(data.has_more, Some(true));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_get() {
    let api = MockApi::start().await;
    let op = operation("room_get");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .room_get()
        .room_id(op.param_str("room_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("room_get succeeds");
    assert_example_room(data.room.as_ref().expect("room is present"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_mget() {
    let api = MockApi::start().await;
    let op = operation("room_mget");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .room_mget()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::RoomMgetRequest>())
        .data()
        .await
        .expect("room_mget succeeds");
    assert_eq!(data.items.len(), 1);
    assert_example_room(&data.items[0]);
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_create() {
    let api = MockApi::start().await;
    let op = operation("room_create");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .room_create()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::RoomCreateRequest>())
        .data()
        .await
        .expect("room_create succeeds");
    assert_example_room(data.room.as_ref().expect("room is present"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_patch() {
    let api = MockApi::start().await;
    let op = operation("room_patch");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .room_patch()
        .room_id(op.param_str("room_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::RoomPatchRequest>())
        .data()
        .await
        .expect("room_patch succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn room_delete() {
    let api = MockApi::start().await;
    let op = operation("room_delete");
    api.expect(&op, &[]).await;
    let data = api.client().room_delete().room_id(op.param_str("room_id")).data().await.expect("room_delete succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn room_search() {
    let api = MockApi::start().await;
    let op = operation("room_search");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .room_search()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::RoomSearchRequest>())
        .data()
        .await
        .expect("room_search succeeds");
    assert_eq!(data.rooms.len(), 1);
    assert_example_room(&data.rooms[0]);
    assert_eq!(data.page_token.as_deref(), Some("50"));
    assert_eq!(data.has_more, Some(true));
    assert_matches_example(&op, &data);
}
