//! Untyped calls (`Client::call_json`, `Client::call_download`): the same requests and the same
//! errors as the typed builders, for any operation of the table.

use serde_json::json;
use vc_api::export::ExportRequest;
use vc_api::{CallOptions, Error, Operation, RawRequest};
use vc_api_tests::{MockApi, operation};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

fn op(id: &str) -> &'static Operation {
    Operation::find(id).unwrap_or_else(|| panic!("no operation {id}"))
}

#[tokio::test]
async fn a_read_sends_the_spec_example_and_returns_data_as_json() {
    let api = MockApi::start().await;
    let spec = operation("reserve_get");
    api.expect(&spec, &["user_id_type"]).await;
    let request = RawRequest::new()
        .path_param("reserve_id", spec.param_str("reserve_id"))
        .query("user_id_type", spec.param_str("user_id_type"));
    let data = api.client().call_json(op("reserve_get"), request).await.unwrap();
    assert_eq!(data, spec.response_example()["data"]);
}

#[tokio::test]
async fn a_write_sends_the_json_body() {
    let api = MockApi::start().await;
    let spec = operation("room_level_create");
    api.expect(&spec, &[]).await;
    let data =
        api.client().call_json(op("room_level_create"), RawRequest::new().body(spec.body_example())).await.unwrap();
    assert_eq!(data, spec.response_example()["data"]);
}

#[tokio::test]
async fn a_missing_path_parameter_is_rejected_before_sending() {
    let api = MockApi::start().await;
    let error = api.client().call_json(op("reserve_get"), RawRequest::new()).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest { operation: "reserve_get", message } if message.contains("reserve_id"))
    );
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn api_errors_carry_code_message_and_log_id() {
    let api = MockApi::start().await;
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/T1"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-tt-logid", "LOG-1")
                .set_body_json(json!({"code": 121003, "msg": "param error"})),
        )
        .mount(&api.server)
        .await;
    let request = RawRequest::new().path_param("task_id", "T1");
    let error = api.client().call_json(op("export_get"), request).await.unwrap_err();
    assert_eq!((error.code(), error.http_status(), error.log_id()), (Some(121003), Some(400), Some("LOG-1")));
    assert_eq!(error.operation(), Some("export_get"));
}

#[tokio::test]
async fn per_call_options_set_the_token() {
    let api = MockApi::start().await;
    Mock::given(method("PATCH"))
        .and(path("/open-apis/vc/v1/meetings/M1/end"))
        .and(header("authorization", "Bearer u-user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "success", "data": {}})))
        .expect(1)
        .mount(&api.server)
        .await;
    let request = RawRequest::new().path_param("meeting_id", "M1");
    let options = CallOptions::new().access_token("u-user");
    assert_eq!(api.client().call_json_with(op("meeting_end"), request, options).await.unwrap(), json!({}));
}

#[tokio::test]
async fn a_file_is_streamed() {
    let api = MockApi::start().await;
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/download"))
        .and(query_param("file_token", "F1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(b"abc".to_vec(), "application/octet-stream"))
        .mount(&api.server)
        .await;
    let request = RawRequest::new().query("file_token", "F1");
    let download = api.client().call_download(op("export_download"), request, CallOptions::new()).await.unwrap();
    let mut out = Vec::new();
    download.write_to(&mut out, |_| {}).await.unwrap();
    assert_eq!(out, b"abc");
}

#[test]
fn export_requests_decode_from_json_by_operation() {
    for id in ExportRequest::OPERATIONS {
        assert!(Operation::find(id).is_some(), "{id} is in the operation table");
        let request = ExportRequest::from_json(id, operation(id).body_example()).unwrap();
        assert_eq!(request.operation_id(), id);
    }
    let wrong = ExportRequest::from_json("reserve_get", json!({})).unwrap_err();
    assert!(wrong.to_string().contains("not an export operation"), "{wrong}");
    let bad = ExportRequest::from_json("export_participant_list", json!({"meeting_no": 5})).unwrap_err();
    assert!(matches!(bad, Error::InvalidRequest { operation: "export_participant_list", .. }), "{bad}");
}
