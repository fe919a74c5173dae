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

/// `export_download` answers with the file itself: a multi-megabyte body is streamed chunk by
/// chunk, never collected whole by the client.
#[tokio::test]
async fn export_download() {
    use futures::StreamExt;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let api = MockApi::start().await;
    let op = operation("export_download");
    let file: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path(op.example_path()))
        .and(query_param("file_token", op.param_str("file_token")))
        .and(header("authorization", format!("Bearer {}", vc_api_tests::TEST_TOKEN).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-disposition", "attachment; filename=\"meetings.xlsx\"")
                .set_body_raw(file.clone(), "application/octet-stream"),
        )
        .expect(1)
        .mount(&api.server)
        .await;
    // Straight at the wiremock server, whatever the harness's mode: the body is checked byte for byte.
    let client =
        vc_api::Client::builder().base_url(api.server.uri()).access_token(vc_api_tests::TEST_TOKEN).build().unwrap();
    let download =
        client.export_download().file_token(op.param_str("file_token")).data().await.expect("export_download starts");
    assert_eq!(download.content_length(), Some(file.len() as u64));
    assert_eq!(download.file_name(), Some("meetings.xlsx"));
    assert_eq!(download.content_type(), Some("application/octet-stream"));
    let mut chunks = 0usize;
    let mut largest = 0usize;
    let mut received = Vec::with_capacity(file.len());
    let mut stream = std::pin::pin!(download.into_stream());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk arrives");
        chunks += 1;
        largest = largest.max(chunk.len());
        received.extend_from_slice(&chunk);
    }
    assert!(chunks > 10, "the body arrived in {chunks} chunk(s)");
    assert!(largest < file.len() / 4, "largest chunk {largest} bytes");
    assert_eq!(received, file);
}

/// A JSON error body where the file was expected (even with HTTP 200) is the API error, not a file.
#[tokio::test]
async fn export_download_reports_a_json_error_instead_of_writing_it_as_the_file() {
    use wiremock::matchers::path;
    use wiremock::{Mock, ResponseTemplate};

    let api = MockApi::start().await;
    let op = operation("export_download");
    Mock::given(path(op.example_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-tt-logid", "log-dl")
                .set_body_json(serde_json::json!({"code": 121004, "msg": "data not exist"})),
        )
        .mount(&api.server)
        .await;
    let client =
        vc_api::Client::builder().base_url(api.server.uri()).access_token(vc_api_tests::TEST_TOKEN).build().unwrap();
    let error = client.export_download().file_token("gone").data().await.expect_err("an API error");
    assert_eq!(error.code(), Some(121004));
    assert_eq!(error.log_id(), Some("log-dl"));
    assert_eq!(error.operation(), Some("export_download"));
}
