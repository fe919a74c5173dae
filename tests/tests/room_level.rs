//! room_level: the seven room-level operations against a mock built from the spec's examples.

use vc_api::types;
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn room_level_list() {
    let api = MockApi::start().await;
    let op = operation("room_level_list");
    api.expect(&op, &["room_level_id", "page_size", "page_token"]).await;
    let data = api
        .client()
        .room_level_list()
        .room_level_id(op.param_str("room_level_id"))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .data()
        .await
        .expect("room_level_list succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("10"));
    assert_eq!(data.items.len(), 1);
    assert_eq!(data.items[0].room_level_id.as_deref(), Some("omb_4ad1a2c7a2fbc5fc9570f38456931293"));
    assert_eq!(data.items[0].name.as_deref(), Some("TestRoomLevel"));
    assert_eq!(data.items[0].has_child, Some(false));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_level_get() {
    let api = MockApi::start().await;
    let op = operation("room_level_get");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_level_get()
        .room_level_id(op.param_str("room_level_id"))
        .data()
        .await
        .expect("room_level_get succeeds");
    let level = data.room_level.as_ref().expect("room_level is present");
    assert_eq!(level.room_level_id.as_deref(), Some("omb_4ad1a2c7a2fbc5fc9570f38456931293"));
    assert_eq!(level.custom_group_id.as_deref(), Some("10000"));
    assert_eq!(level.path, vec!["omb_4ad1a2c7a2fbc5fc9570f38456931293".to_owned()]);
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_level_mget() {
    let api = MockApi::start().await;
    let op = operation("room_level_mget");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_level_mget()
        .body(op.body::<types::RoomLevelMgetRequest>())
        .data()
        .await
        .expect("room_level_mget succeeds");
    assert_eq!(data.items.len(), 1);
    assert_eq!(data.items[0].room_level_id.as_deref(), Some("omb_4ad1a2c7a2fbc5fc9570f38456931293"));
    assert_eq!(data.items[0].parent_id.as_deref(), Some("omb_4ad1a2c7a2fbc5fc9570f38456931293"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_level_create() {
    let api = MockApi::start().await;
    let op = operation("room_level_create");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_level_create()
        .body(op.body::<types::RoomLevelCreateRequest>())
        .data()
        .await
        .expect("room_level_create succeeds");
    let level = data.room_level.as_ref().expect("room_level is present");
    assert_eq!(level.name.as_deref(), Some("TestRoomLevel"));
    assert_eq!(level.room_level_id.as_deref(), Some("omb_4ad1a2c7a2fbc5fc9570f38456931293"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_level_patch() {
    let api = MockApi::start().await;
    let op = operation("room_level_patch");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_level_patch()
        .room_level_id(op.param_str("room_level_id"))
        .body(op.body::<types::RoomLevelPatchRequest>())
        .data()
        .await
        .expect("room_level_patch succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn room_level_del() {
    let api = MockApi::start().await;
    let op = operation("room_level_del");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_level_del()
        .body(op.body::<types::RoomLevelDelRequest>())
        .data()
        .await
        .expect("room_level_del succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn room_level_search() {
    let api = MockApi::start().await;
    let op = operation("room_level_search");
    api.expect(&op, &["custom_level_ids"]).await;
    let data = api
        .client()
        .room_level_search()
        .custom_level_ids(op.param_str("custom_level_ids"))
        .data()
        .await
        .expect("room_level_search succeeds");
    assert_eq!(data.level_ids, vec!["omb_4ad1a2c7a2fbc5fc9570f38456931293".to_owned()]);
    assert_matches_example(&op, &data);
}
