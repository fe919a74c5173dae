//! Failures: every way a call can fail maps to a typed `vc_api::Error` naming the operation.

use vc_api::types::{self, ExportTaskStatus};
use vc_api::{Error, LOG_ID_HEADER};
use vc_api_tests::{MockApi, TEST_TOKEN, export_get_mock, operation};
use wiremock::ResponseTemplate;

async fn answer_export_get(api: &MockApi, response: ResponseTemplate) {
    export_get_mock().respond_with(response).mount(&api.server).await;
}

#[tokio::test]
async fn http_400_with_code_121003_is_an_api_error() {
    let api = MockApi::start().await;
    let body = serde_json::json!({"code": 121003, "msg": "param error", "error": {"log_id": "body-log"}});
    answer_export_get(&api, ResponseTemplate::new(400).set_body_json(body).insert_header(LOG_ID_HEADER, "hdr-log"))
        .await;
    let err = api.client().export_get().task_id("T1").data().await.unwrap_err();
    let Error::Api(api_err) = &err else { panic!("expected an API error, got {err:?}") };
    assert_eq!(api_err.operation, "export_get");
    assert_eq!(api_err.code, 121003);
    assert_eq!(api_err.msg, "param error");
    assert_eq!(api_err.http_status, 400);
    assert_eq!(api_err.log_id.as_deref(), Some("hdr-log"), "the header's log id wins");
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), "export_get: Feishu error 121003: param error (HTTP 400, log id hdr-log)");
}

#[tokio::test]
async fn http_200_with_a_non_zero_code_is_an_api_error() {
    let api = MockApi::start().await;
    let body = serde_json::json!({"code": 121004, "msg": "data not exist", "data": {}, "error": {"log_id": "L2"}});
    answer_export_get(&api, ResponseTemplate::new(200).set_body_json(body)).await;
    let err = api.client().export_get().task_id("T1").data().await.unwrap_err();
    assert_eq!(err.code(), Some(121004));
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.log_id(), Some("L2"), "without a header, the body's log id is used");
    assert_eq!(err.operation(), Some("export_get"));
}

#[tokio::test]
async fn a_non_json_502_is_an_http_error_and_retryable() {
    let api = MockApi::start().await;
    let html = "<html><body>502 Bad Gateway</body></html>";
    answer_export_get(&api, ResponseTemplate::new(502).set_body_string(html).insert_header(LOG_ID_HEADER, "gw")).await;
    let err = api.client().export_get().task_id("T1").data().await.unwrap_err();
    match &err {
        Error::Http { operation, status, log_id, body, .. } => {
            assert_eq!((*operation, *status, log_id.as_deref()), ("export_get", 502, Some("gw")));
            assert!(body.contains("502 Bad Gateway"));
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_huge_error_body_is_truncated_in_the_error() {
    let api = MockApi::start().await;
    answer_export_get(&api, ResponseTemplate::new(503).set_body_string("x".repeat(1_000_000))).await;
    let err = api.client().export_get().task_id("T1").data().await.unwrap_err();
    let Error::Http { body, .. } = &err else { panic!("expected an HTTP error, got {err:?}") };
    assert!(body.len() < 4096, "kept {} bytes", body.len());
    assert!(body.ends_with("(truncated)"));
}

#[tokio::test]
async fn a_malformed_200_body_is_a_decode_error_keeping_the_body() {
    let api = MockApi::start().await;
    answer_export_get(&api, ResponseTemplate::new(200).set_body_string("{\"code\":0,\"data\":{\"status\":\"x\"")).await;
    let err = api.client().export_get().task_id("T1").data().await.unwrap_err();
    let Error::Decode { operation, body, .. } = &err else { panic!("expected a decode error, got {err:?}") };
    assert_eq!(*operation, "export_get");
    assert!(body.starts_with("{\"code\":0"));
}

#[tokio::test]
async fn an_unknown_enum_value_is_kept() {
    let api = MockApi::start().await;
    let body = serde_json::json!({"code": 0, "msg": "success", "data": {"status": 99, "url": "https://x"}});
    answer_export_get(&api, ResponseTemplate::new(200).set_body_json(body)).await;
    let data = api.client().export_get().task_id("T1").data().await.expect("an unknown enum value decodes");
    assert_eq!(data.status, Some(ExportTaskStatus::Unknown(99)));
    assert_eq!(data.status.map(|s| s.value()), Some(99));
    assert_eq!(serde_json::to_value(&data).unwrap()["status"], 99, "the value survives re-serialization");
}

#[tokio::test]
async fn unknown_extra_fields_are_ignored() {
    let api = MockApi::start().await;
    let body = serde_json::json!({
        "code": 0, "msg": "success", "brand_new": [1, 2],
        "data": {"status": 3, "url": "https://x", "new_field": {"nested": true}}
    });
    answer_export_get(&api, ResponseTemplate::new(200).set_body_json(body)).await;
    let data = api.client().export_get().task_id("T1").data().await.expect("extra fields are ignored");
    assert_eq!(data.status, Some(ExportTaskStatus::Done));
    assert_eq!(data.url.as_deref(), Some("https://x"));
}

#[tokio::test]
async fn a_missing_required_parameter_is_rejected_before_sending() {
    let api = MockApi::start().await;
    let err = api.client().export_get().data().await.unwrap_err();
    match &err {
        Error::InvalidRequest { operation, message } => {
            assert_eq!(*operation, "export_get");
            assert!(message.contains("task_id"), "{message}");
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
    let op = operation("export_participant_list");
    let err = api.client().export_participant_list().data().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { operation: "export_participant_list", .. }), "{err:?} for {}", op.id);
    assert!(api.server.received_requests().await.unwrap().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn an_out_of_range_integer_parameter_is_rejected_before_sending() {
    let api = MockApi::start().await;
    // room_list documents page_size at most 100; meeting_list_get from 20 to 100.
    let err = api.client().room_list().page_size(101).data().await.unwrap_err();
    match &err {
        Error::InvalidRequest { operation, message } => {
            assert_eq!(*operation, "room_list");
            assert_eq!(message, "parameter page_size is 101; the API accepts at most 100");
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
    let err = api.client().meeting_list_get().start_time("1").end_time("2").page_size(5).data().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { operation: "meeting_list_get", .. }), "{err:?}");
    assert!(err.to_string().contains("parameter page_size is 5; the API accepts from 20 to 100"), "{err}");
    // report_get_top_user documents limit at most 100 (a required parameter).
    let err = api
        .client()
        .report_get_top_user()
        .start_time("1")
        .end_time("2")
        .limit(101)
        .order_by(types::ReportTopUserOrderBy::MeetingCount)
        .data()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("parameter limit is 101; the API accepts at most 100"), "{err}");
    // Pagination checks every page's request too.
    let client = api.client();
    let mut pages = std::pin::pin!(client.room_list().page_size(1000).pages());
    let first = futures::StreamExt::next(&mut pages).await.expect("one item");
    assert!(matches!(first, Err(Error::InvalidRequest { operation: "room_list", .. })), "{first:?}");
    assert!(api.server.received_requests().await.unwrap().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn a_missing_required_body_field_is_rejected_before_sending() {
    let api = MockApi::start().await;
    let body = types::ExportParticipantListRequest::builder().meeting_start_time("1655276858").meeting_no("123456789");
    let err = api.client().export_participant_list().body(body).data().await.unwrap_err();
    match &err {
        Error::InvalidRequest { message, .. } => {
            assert!(message.contains("meeting_end_time"), "{message}")
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
    assert!(api.server.received_requests().await.unwrap().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn an_empty_path_parameter_is_rejected_before_sending() {
    let api = MockApi::start().await;
    let err = api.client().export_get().task_id("").data().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { operation: "export_get", .. }), "{err:?}");
    assert!(api.server.received_requests().await.unwrap().is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn a_connection_failure_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = vc_api::Client::builder().base_url(url).access_token(TEST_TOKEN).build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Transport { operation: "export_get", .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn the_token_never_appears_in_debug_output() {
    let api = MockApi::start().await;
    let client = api.client();
    let debug = format!("{client:?}");
    assert!(!debug.contains(TEST_TOKEN), "{debug}");
    let builder = vc_api::Client::builder().access_token(TEST_TOKEN);
    assert!(!format!("{builder:?}").contains(TEST_TOKEN));
}

#[test]
fn a_bad_base_url_is_a_config_error() {
    let err = vc_api::Client::builder().base_url("not a url").build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = vc_api::Client::builder().base_url("ftp://example.com").build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test]
async fn a_path_parameter_over_its_documented_length_is_rejected_before_sending() {
    let api = MockApi::start().await;
    let err = api.client().room_delete().room_id("r".repeat(101)).data().await.unwrap_err();
    match &err {
        Error::InvalidRequest { operation, message } => {
            assert_eq!(*operation, "room_delete");
            assert!(message.contains("room_id"), "{message}");
        }
        other => panic!("expected an invalid request, got {other:?}"),
    }
    assert!(api.server.received_requests().await.unwrap().is_empty(), "nothing may be sent");
}

/// TLS works out of the box: an https base URL makes the client open a TLS handshake (the
/// server sees a ClientHello), and a server that is not TLS gives a transport error, no panic.
#[tokio::test]
async fn https_starts_a_tls_handshake() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 3];
        socket.read_exact(&mut first).await.unwrap();
        first
    });
    let client = vc_api::Client::builder().base_url(url).access_token(TEST_TOKEN).build().unwrap();
    let call = tokio::spawn(async move { client.export_get().task_id("T1").data().await });
    let first = server.await.unwrap();
    assert_eq!(first[0], 0x16, "a TLS handshake record");
    assert_eq!(first[1], 0x03, "TLS major version");
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}
