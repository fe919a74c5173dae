//! scope_config: the two scope-configuration operations against a mock built from the spec's examples.

use vc_api::types::{self, ScopeConfigScopeType, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn scope_config_create() {
    let api = MockApi::start().await;
    let op = operation("scope_config_create");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .scope_config_create()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ScopeConfigCreateRequest>())
        .data()
        .await
        .expect("scope_config_create succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn scope_config_get() {
    let api = MockApi::start().await;
    let op = operation("scope_config_get");
    api.expect(&op, &["scope_type", "scope_id", "user_id_type"]).await;
    let data = api
        .client()
        .scope_config_get()
        .scope_type(ScopeConfigScopeType::from(op.param_int("scope_type") as i32))
        .scope_id(op.param_str("scope_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("scope_config_get succeeds");
    let current = data.current_config.as_ref().expect("current_config is present");
    assert_eq!(current.scope_type, Some(ScopeConfigScopeType::RoomLevel));
    assert_eq!(current.scope_id.as_deref(), Some("omm_608d34d82d531b27fa993902d350a307"));
    let config = current.scope_config.as_ref().expect("scope_config is present");
    assert_eq!(config.room_background.as_deref(), Some("https://lf1-ttcdn-tos.pstatp.com/obj/xxx"));
    let status = config.room_status.as_ref().expect("room_status is present");
    assert_eq!(status.disable_reason.as_deref(), Some("TestReason"));
    assert_eq!(data.origin_configs.len(), 1);
    assert_matches_example(&op, &data);
}
