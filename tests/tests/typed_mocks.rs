//! The typed mocks of `vc_api::mock` (feature `mock`): each typed setter narrows what matches,
//! answers are the typed data in the envelope, failures carry the operation's HTTP status.

use vc_api::{Error, mock, types};
use vc_api_tests::{MockApi, operation};

#[tokio::test]
async fn a_path_parameter_narrows_the_match() {
    let api = MockApi::start().await;
    let mut data = types::ExportGetData::default();
    data.status = Some(types::ExportTaskStatus::Done);
    mock::export_get().task_id("T1").respond(data.clone()).expect(1).mount(&api.server).await;
    let client = api.client();
    assert_eq!(client.export_get().task_id("T1").data().await.unwrap(), data);
    let other = client.export_get().task_id("T2").data().await.unwrap_err();
    assert_eq!(other.http_status(), Some(418), "the catch-all answered: {other}");
}

#[tokio::test]
async fn typed_query_parameters_match_what_the_client_sends() {
    let api = MockApi::start().await;
    mock::meeting_get()
        .meeting_id("M1")
        .with_participants(true)
        .query_mode(types::MeetingQueryMode::from(1))
        .user_id_type("union_id")
        .respond(types::MeetingGetData::default())
        .expect(1)
        .mount(&api.server)
        .await;
    let client = api.client();
    client
        .meeting_get()
        .meeting_id("M1")
        .with_participants(true)
        .query_mode(types::MeetingQueryMode::from(1))
        .user_id_type(types::UserIdType::UnionId)
        .data()
        .await
        .unwrap();
    let without = client.meeting_get().meeting_id("M1").data().await.unwrap_err();
    assert_eq!(without.http_status(), Some(418));
}

#[tokio::test]
async fn the_body_matcher_compares_the_typed_body() {
    let api = MockApi::start().await;
    let op = operation("room_search");
    let body: types::RoomSearchRequest = op.body();
    mock::room_search()
        .body(body.clone())
        .respond(types::RoomSearchData::builder().has_more(false))
        .expect(1)
        .mount(&api.server)
        .await;
    let client = api.client();
    let page = client.room_search().body(body.clone()).data().await.unwrap();
    assert_eq!(page.has_more, Some(false));
    let mut other = body;
    other.keyword = Some("other".into());
    assert_eq!(client.room_search().body(other).data().await.unwrap_err().http_status(), Some(418));
}

#[tokio::test]
async fn failures_use_the_status_of_the_error_code_table() {
    let api = MockApi::start().await;
    mock::room_get().room_id("gone").fail(121004, "data not exist").mount(&api.server).await;
    mock::room_get().room_id("odd").log_id("L-7").fail(99991663, "token invalid").mount(&api.server).await;
    let client = api.client();
    let Error::Api(missing) = client.room_get().room_id("gone").data().await.unwrap_err() else {
        panic!("expected an API error")
    };
    assert_eq!((missing.code, missing.http_status, missing.msg.as_str()), (121004, 404, "data not exist"));
    let odd = client.room_get().room_id("odd").data().await.unwrap_err();
    assert_eq!((odd.code(), odd.http_status(), odd.log_id()), (Some(99991663), Some(400), Some("L-7")));
}

#[tokio::test]
async fn a_file_download_answers_with_bytes() {
    let api = MockApi::start().await;
    mock::export_download().file_token("F1").respond(b"PK\x03\x04".to_vec()).mount(&api.server).await;
    let download = api.client().export_download().file_token("F1").data().await.unwrap();
    let mut out = Vec::new();
    download.write_to(&mut out, |_| {}).await.unwrap();
    assert_eq!(out, b"PK\x03\x04");
}

#[tokio::test]
async fn path_parameters_are_compared_decoded() {
    let api = MockApi::start().await;
    mock::room_level_get().room_level_id("a b/c").respond(types::RoomLevelGetData::default()).mount(&api.server).await;
    api.client().room_level_get().room_level_id("a b/c").data().await.unwrap();
}

#[test]
fn an_incomplete_builder_names_the_operation() {
    let outcome = std::panic::catch_unwind(|| mock::reserve_apply().body(types::ReserveApplyRequest::builder()));
    let panic = outcome.unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("reserve_apply: the request body is invalid"), "{message}");
}

#[test]
fn the_mock_feature_keeps_wiremock_out_of_the_default_build() {
    let manifest = include_str!("../../vc-api/Cargo.toml");
    let dependencies = manifest.split("[dependencies]").nth(1).unwrap().split("\n[").next().unwrap();
    let wiremock = dependencies.lines().find(|l| l.starts_with("wiremock")).expect("wiremock is a dependency");
    assert!(wiremock.contains("optional = true"), "{wiremock}");
    let mock_feature = manifest.lines().find(|l| l.starts_with("mock = [")).expect("a mock feature");
    assert!(mock_feature.contains("\"dep:wiremock\""), "the mock feature enables it: {mock_feature}");
}
