//! alert: the alert-center listing against a mock built from the spec's examples.

use vc_api::types::{
    AlertContactType, AlertLevel, AlertMonitorTarget, AlertNotifyMethod, AlertProcessStatus, AlertQueryType,
};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn alert_list() {
    let api = MockApi::start().await;
    let op = operation("alert_list");
    api.expect(&op, &["start_time", "end_time", "query_type", "query_value", "page_size", "page_token"]).await;
    let data = api
        .client()
        .alert_list()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .query_type(AlertQueryType::from(op.param_int("query_type") as i32))
        .query_value(op.param_str("query_value"))
        .page_size(op.param_int("page_size") as i32)
        .page_token(op.param_str("page_token"))
        .data()
        .await
        .expect("alert_list succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.page_token.as_deref(), Some("50"));
    assert_eq!(data.items.len(), 1);
    let alert = &data.items[0];
    assert_eq!(alert.alert_id.as_deref(), Some("7115030004018184212"));
    assert_eq!(alert.monitor_target, Some(AlertMonitorTarget::CheckInBoard));
    assert_eq!(alert.alert_level, Some(AlertLevel::Critical));
    assert_eq!(alert.process_status, Some(AlertProcessStatus::Processing));
    assert_eq!(alert.notify_methods, vec![AlertNotifyMethod::Bot, AlertNotifyMethod::Email]);
    assert_eq!(alert.contacts.len(), 1);
    assert_eq!(alert.contacts[0].contact_type, Some(AlertContactType::User));
    assert_eq!(alert.monitor_target_room_mac.as_deref(), Some("52:60:19:9c:97:21"));
    assert_matches_example(&op, &data);
}
