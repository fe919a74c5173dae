//! The one-call export workflow: submit, poll with backoff, download; failure and deadline.

use std::time::Duration;

use serde_json::json;
use vc_api::Error;
use vc_api::export::ExportPolling;
use vc_api::types;
use vc_api_tests::{MockApi, operation};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const FILE_TOKEN: &str = "file-token-1";

/// Polls fast: the tests count requests, they do not measure time.
fn quick() -> ExportPolling {
    ExportPolling {
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        deadline: Duration::from_secs(30),
    }
}

fn ok(data: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "success", "data": data}))
}

/// Mounts the submission of a participant-list export answering with task `T1`.
async fn mount_submit(api: &MockApi) -> types::ExportParticipantListRequest {
    let op = operation("export_participant_list");
    Mock::given(method("POST"))
        .and(path("/open-apis/vc/v1/exports/participant_list"))
        .and(body_json(op.body_example()))
        .respond_with(ok(json!({"task_id": "T1"})))
        .expect(1)
        .mount(&api.server)
        .await;
    op.body()
}

/// `n` answers of `export_get` for task T1 saying "still processing".
async fn mount_processing(api: &MockApi, n: u64) {
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/T1"))
        .respond_with(ok(json!({"status": 1})))
        .up_to_n_times(n)
        .expect(n)
        .with_priority(1)
        .mount(&api.server)
        .await;
}

#[tokio::test]
async fn an_export_goes_from_processing_to_done_and_its_file_is_written() {
    let api = MockApi::start().await;
    let request = mount_submit(&api).await;
    mount_processing(&api, 3).await;
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/T1"))
        .respond_with(ok(json!({"status": 3, "file_token": FILE_TOKEN, "url": "https://example.invalid/f"})))
        .expect(1)
        .with_priority(2)
        .mount(&api.server)
        .await;
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/download"))
        .and(query_param("file_token", FILE_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_raw(file.clone(), "application/vnd.ms-excel"))
        .expect(1)
        .mount(&api.server)
        .await;

    let client = api.client();
    let mut out = Vec::new();
    let mut progress = Vec::new();
    let outcome = client
        .export(request)
        .user_id_type(types::UserIdType::UserId)
        .polling(quick())
        .write_to(&mut out, |bytes| progress.push(bytes))
        .await
        .expect("the export succeeds");
    assert_eq!(outcome.file.task_id, "T1");
    assert_eq!(outcome.file.file_token, FILE_TOKEN);
    assert_eq!(outcome.file.url.as_deref(), Some("https://example.invalid/f"));
    assert_eq!(outcome.bytes, file.len() as u64);
    assert_eq!(out, file);
    assert_eq!(progress.last().copied(), Some(file.len() as u64));
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "progress only grows: {progress:?}");
    let submit = &api.server.received_requests().await.unwrap()[0];
    assert_eq!(submit.url.query(), Some("user_id_type=user_id"));
}

#[tokio::test]
async fn an_export_saved_to_a_path_lands_whole_under_that_name() {
    let api = MockApi::start().await;
    Mock::given(path("/open-apis/vc/v1/exports/T9"))
        .respond_with(ok(json!({"status": 3, "file_token": FILE_TOKEN})))
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(path("/open-apis/vc/v1/exports/download"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"xlsx bytes".to_vec(), "application/octet-stream"))
        .expect(1)
        .mount(&api.server)
        .await;
    let dir = std::env::temp_dir().join(format!("vc-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("out.xlsx");
    let client = api.client();
    let outcome = client.resume_export("T9").polling(quick()).save(&target, |_| {}).await.expect("saved");
    assert_eq!(outcome.bytes, 10);
    assert_eq!(std::fs::read(&target).unwrap(), b"xlsx bytes");
    assert!(!dir.join("out.xlsx.part").exists(), "the partial file was renamed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failed_export_carries_its_fail_message_and_downloads_nothing() {
    let api = MockApi::start().await;
    let request = mount_submit(&api).await;
    mount_processing(&api, 1).await;
    Mock::given(path("/open-apis/vc/v1/exports/T1"))
        .respond_with(ok(json!({"status": 2, "fail_msg": "no permission"})))
        .expect(1)
        .with_priority(2)
        .mount(&api.server)
        .await;
    let client = api.client();
    let mut out = Vec::new();
    let error = client.export(request).polling(quick()).write_to(&mut out, |_| {}).await.expect_err("it fails");
    match &error {
        Error::ExportFailed { task_id, message } => {
            assert_eq!(task_id, "T1");
            assert_eq!(message, "no permission");
        }
        other => panic!("expected ExportFailed, got {other:?}"),
    }
    assert!(error.to_string().contains("no permission"), "{error}");
    assert!(out.is_empty());
    // Submit, two polls; the download was never requested (the catch-all would have answered 418).
    assert_eq!(api.server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_export_still_running_at_the_deadline_gives_up_with_the_task_id() {
    let api = MockApi::start().await;
    Mock::given(path("/open-apis/vc/v1/exports/T1")).respond_with(ok(json!({"status": 1}))).mount(&api.server).await;
    let client = api.client();
    let polling = ExportPolling {
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        deadline: Duration::from_millis(60),
    };
    let error = client.resume_export("T1").polling(polling).wait().await.expect_err("deadline");
    match error {
        Error::ExportDeadline { task_id, waited } => {
            assert_eq!(task_id, "T1");
            assert!(waited >= Duration::from_millis(60), "{waited:?}");
        }
        other => panic!("expected ExportDeadline, got {other:?}"),
    }
    // At least the final check at the deadline; never more than the 5 ms first wait allows.
    let polls = api.server.received_requests().await.unwrap().len();
    assert!((1..=12).contains(&polls), "{polls} polls");
}

#[tokio::test]
async fn a_submission_error_names_the_export_operation() {
    let api = MockApi::start().await;
    Mock::given(path("/open-apis/vc/v1/exports/meeting_list"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"code": 121003, "msg": "param error"})))
        .mount(&api.server)
        .await;
    let request: types::ExportMeetingListRequest = operation("export_meeting_list").body();
    let client = api.client();
    let error = client.export(request).polling(quick()).wait().await.expect_err("rejected");
    assert_eq!(error.code(), Some(121003));
    assert_eq!(error.operation(), Some("export_meeting_list"));
}
