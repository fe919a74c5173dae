//! export: the five export operations against a mock built from the spec's examples.

use vc_api::types::{self, ExportTaskStatus, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn export_participant_list() {
    let api = MockApi::start().await;
    let op = operation("export_participant_list");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .export_participant_list()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ExportParticipantListRequest>())
        .data()
        .await
        .expect("export_participant_list succeeds");
    assert_eq!(data.task_id.as_deref(), Some("7111325589855797267"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn export_get() {
    let api = MockApi::start().await;
    let op = operation("export_get");
    api.expect(&op, &[]).await;
    let data = api.client().export_get().task_id(op.param_str("task_id")).data().await.expect("export_get succeeds");
    assert_eq!(data.status, Some(ExportTaskStatus::Done));
    assert_eq!(data.url.as_deref(), Some("https://lf1-ttcdn-tos.pstatp.com/obj/xxx"));
    assert_eq!(data.fail_msg.as_deref(), Some("no permission"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn export_meeting_list() {
    let api = MockApi::start().await;
    let op = operation("export_meeting_list");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .export_meeting_list()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ExportMeetingListRequest>())
        .data()
        .await
        .expect("export_meeting_list succeeds");
    assert_eq!(data.task_id.as_deref(), Some("7111325589855797267"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn export_participant_quality_list() {
    let api = MockApi::start().await;
    let op = operation("export_participant_quality_list");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .export_participant_quality_list()
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .body(op.body::<types::ExportParticipantQualityListRequest>())
        .data()
        .await
        .expect("export_participant_quality_list succeeds");
    assert_eq!(data.task_id.as_deref(), Some("7111325589855797267"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn export_resource_reservation_list() {
    let api = MockApi::start().await;
    let op = operation("export_resource_reservation_list");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .export_resource_reservation_list()
        .body(op.body::<types::ExportResourceReservationListRequest>())
        .data()
        .await
        .expect("export_resource_reservation_list succeeds");
    assert_eq!(data.task_id.as_deref(), Some("7111325589855797267"));
    assert_matches_example(&op, &data);
}
