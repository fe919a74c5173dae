//! room_config: the four legacy room-configuration operations against a mock built from the spec's examples.

use vc_api::types::{self, RoomConfigDigitalSignageMaterialType, RoomConfigScope, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn room_config_query() {
    let api = MockApi::start().await;
    let op = operation("room_config_query");
    api.expect(&op, &["scope", "country_id", "district_id", "building_id", "floor_name", "room_id", "user_id_type"])
        .await;
    let data = api
        .client()
        .room_config_query()
        .scope(RoomConfigScope::from(op.param_int("scope") as i32))
        .country_id(op.param_str("country_id"))
        .district_id(op.param_str("district_id"))
        .building_id(op.param_str("building_id"))
        .floor_name(op.param_str("floor_name"))
        .room_id(op.param_str("room_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("room_config_query succeeds");
    assert_eq!(data.room_background.as_deref(), Some("https://lf1-ttcdn-tos.pstatp.com/obj/xxx"));
    let signage = data.digital_signage.as_ref().expect("digital_signage is present");
    assert_eq!(signage.start_display, Some(3));
    assert_eq!(signage.materials.len(), 1);
    assert_eq!(signage.materials[0].material_type, Some(RoomConfigDigitalSignageMaterialType::Image));
    let status = data.room_status.as_ref().expect("room_status is present");
    assert_eq!(status.disable_reason.as_deref(), Some("TestReason"));
    assert_eq!(status.contact_ids, vec!["ou_3ec3f6a28a0d08c45d895276e8e5e19b".to_owned()]);
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_config_set() {
    let api = MockApi::start().await;
    let op = operation("room_config_set");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::RoomConfigSetRequest>();
    assert_eq!(body.scope, RoomConfigScope::Floor);
    let data = api
        .client()
        .room_config_set()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("room_config_set succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn room_config_set_checkboard_access_code() {
    let api = MockApi::start().await;
    let op = operation("room_config_set_checkboard_access_code");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_config_set_checkboard_access_code()
        .body(op.body::<types::RoomConfigSetCheckboardAccessCodeRequest>())
        .data()
        .await
        .expect("room_config_set_checkboard_access_code succeeds");
    assert_eq!(data.access_code.as_deref(), Some("YNMLTJOUZ"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn room_config_set_room_access_code() {
    let api = MockApi::start().await;
    let op = operation("room_config_set_room_access_code");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .room_config_set_room_access_code()
        .body(op.body::<types::RoomConfigSetRoomAccessCodeRequest>())
        .data()
        .await
        .expect("room_config_set_room_access_code succeeds");
    assert_eq!(data.access_code.as_deref(), Some("YNMLTJOUZ"));
    assert_matches_example(&op, &data);
}
