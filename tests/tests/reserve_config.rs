//! reserve_config: the eight reservation-configuration operations (limits, admins, form, disable notices) against a mock.

use vc_api::types::{
    self, ReserveConfigAllowAllUsers, ReserveConfigApprovalCondition, ReserveConfigFormTimeUnit,
    ReserveConfigScopeType, ReserveConfigSwitch, ScopeConfigScopeType, UserIdType,
};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn reserve_config_reserve_scope() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_reserve_scope");
    api.expect(&op, &["scope_id", "scope_type", "user_id_type"]).await;
    let data = api
        .client()
        .reserve_config_reserve_scope()
        .scope_id(op.param_str("scope_id"))
        .scope_type(ReserveConfigScopeType::from(op.param_str("scope_type").as_str()))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_config_reserve_scope succeeds");
    let approval = data.approve_config.as_ref().expect("approve_config is present");
    assert_eq!(approval.approval_switch, Some(ReserveConfigSwitch::On));
    assert_eq!(approval.approval_condition, Some(ReserveConfigApprovalCondition::LongBookings));
    assert_eq!(approval.meeting_duration, Some(3.0));
    assert_eq!(approval.approvers[0].user_id.as_deref(), Some("ou_a27b0xxxc98f856"));
    let time = data.time_config.as_ref().expect("time_config is present");
    assert_eq!(time.days_in_advance, Some(30));
    assert_eq!(time.opening_hour.as_deref(), Some("27900"));
    let scope = data.reserve_scope_config.as_ref().expect("reserve_scope_config is present");
    assert_eq!(scope.allow_all_users, Some(ReserveConfigAllowAllUsers::SomeMembers));
    assert_eq!(scope.allow_depts[0].department_id.as_deref(), Some("od-47d8b5xxxcc5f61a"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_config_patch() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_patch");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::ReserveConfigPatchRequest>();
    assert_eq!(body.scope_type, ReserveConfigScopeType::Room);
    let data = api
        .client()
        .reserve_config_patch()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("reserve_config_patch succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn reserve_config_admin_get() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_admin_get");
    api.expect(&op, &["scope_type", "user_id_type"]).await;
    let data = api
        .client()
        .reserve_config_admin_get()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .scope_type(ScopeConfigScopeType::from(op.param_int("scope_type") as i32))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_config_admin_get succeeds");
    let admins = data.reserve_admin_config.as_ref().expect("reserve_admin_config is present");
    assert_eq!(admins.depts[0].department_id.as_deref(), Some("od-47d8b570b0a011e9679a755efcc5f61a"));
    assert_eq!(admins.users[0].user_id.as_deref(), Some("ou_a27b07a9071d90577c0177bcec98f856"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_config_admin_patch() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_admin_patch");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::ReserveConfigAdminPatchRequest>();
    assert_eq!(body.scope_type, ScopeConfigScopeType::Room);
    let data = api
        .client()
        .reserve_config_admin_patch()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("reserve_config_admin_patch succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn reserve_config_form_get() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_form_get");
    api.expect(&op, &["scope_type", "user_id_type"]).await;
    let data = api
        .client()
        .reserve_config_form_get()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .scope_type(ScopeConfigScopeType::from(op.param_int("scope_type") as i32))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_config_form_get succeeds");
    let form = data.reserve_form_config.as_ref().expect("reserve_form_config is present");
    assert_eq!(form.reserve_form, Some(true));
    assert_eq!(form.notified_time, Some(3));
    assert_eq!(form.time_unit, Some(ReserveConfigFormTimeUnit::Day));
    assert_eq!(form.notified_users[0].user_id.as_deref(), Some("ou_a27b07a9071d90577c0177bcec98f856"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_config_form_patch() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_form_patch");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::ReserveConfigFormPatchRequest>();
    assert!(!body.reserve_form_config.reserve_form);
    let data = api
        .client()
        .reserve_config_form_patch()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("reserve_config_form_patch succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn reserve_config_disable_inform_get() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_disable_inform_get");
    api.expect(&op, &["scope_type", "user_id_type"]).await;
    let data = api
        .client()
        .reserve_config_disable_inform_get()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .scope_type(ScopeConfigScopeType::from(op.param_int("scope_type") as i32))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("reserve_config_disable_inform_get succeeds");
    let inform = data.disable_inform.as_ref().expect("disable_inform is present");
    assert_eq!(inform.if_inform, Some(true));
    assert_eq!(inform.informed_users[0].user_id.as_deref(), Some("ou_a27b07a9071d90577c0177bcec98f856"));
    assert_eq!(inform.informed_depts[0].department_id.as_deref(), Some("od-47d8b570b0a011e9679a755efcc5f61a"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn reserve_config_disable_inform_patch() {
    let api = MockApi::start().await;
    let op = operation("reserve_config_disable_inform_patch");
    api.expect(&op, &["user_id_type"]).await;
    let body = op.body::<types::ReserveConfigDisableInformPatchRequest>();
    assert!(!body.disable_inform.if_inform);
    let data = api
        .client()
        .reserve_config_disable_inform_patch()
        .reserve_config_id(op.param_str("reserve_config_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(body)
        .data()
        .await
        .expect("reserve_config_disable_inform_patch succeeds");
    assert!(data.is_empty());
}
