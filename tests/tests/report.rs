//! report: the two usage report operations against a mock built from the spec's examples.

use vc_api::types::{ReportTopUserOrderBy, ReportTopUserType, ReportUnit, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn report_get_daily() {
    let api = MockApi::start().await;
    let op = operation("report_get_daily");
    api.expect(&op, &["start_time", "end_time", "unit"]).await;
    let data = api
        .client()
        .report_get_daily()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .unit(ReportUnit::from(op.param_int("unit") as i32))
        .data()
        .await
        .expect("report_get_daily succeeds");
    let report = data.meeting_report.as_ref().expect("meeting_report is present");
    assert_eq!(report.total_meeting_count.as_deref(), Some("100"));
    assert_eq!(report.total_meeting_duration.as_deref(), Some("300000"));
    assert_eq!(report.daily_report.len(), 1);
    assert_eq!(report.daily_report[0].date.as_deref(), Some("1609113600"));
    assert_eq!(report.daily_report[0].participant_count.as_deref(), Some("2000"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn report_get_top_user() {
    let api = MockApi::start().await;
    let op = operation("report_get_top_user");
    api.expect(&op, &["start_time", "end_time", "limit", "order_by", "unit", "user_id_type"]).await;
    let data = api
        .client()
        .report_get_top_user()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .limit(op.param_int("limit") as i32)
        .order_by(ReportTopUserOrderBy::from(op.param_int("order_by") as i32))
        .unit(ReportUnit::from(op.param_int("unit") as i32))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("report_get_top_user succeeds");
    assert_eq!(data.top_user_report.len(), 1);
    let user = &data.top_user_report[0];
    assert_eq!(user.id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(user.user_type, Some(ReportTopUserType::LarkUser));
    assert_eq!(user.meeting_count.as_deref(), Some("100"));
    assert_matches_example(&op, &data);
}
