//! The mock server through the real client: every operation of the spec answers its example
//! to a request built from the spec's examples; tokens, pagination, exports and malformed
//! requests behave as documented.

use std::io::{Read, Write};
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::Value;
use vc_api::{CallOptions, Client, Error, Operation, RawRequest};
use vc_mock::spec::Location;
use vc_mock::{MockServer, Spec};

fn app_client(server: &MockServer) -> Client {
    Client::builder().base_url(server.url()).app_credentials(vc_mock::APP_ID, vc_mock::APP_SECRET).build().unwrap()
}

fn example_text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

/// The request the spec's examples describe for `op`.
fn example_request(op: &vc_mock::spec::Operation) -> RawRequest {
    let mut request = RawRequest::new();
    for param in &op.params {
        let Some(example) = &param.example else { continue };
        request = match param.location {
            Location::Path => request.path_param(&param.name, example_text(example)),
            Location::Query => request.query(&param.name, example_text(example)),
        };
    }
    match &op.body_example {
        Some(body) => request.body(body.clone()),
        None => request,
    }
}

#[tokio::test]
async fn every_operation_answers_its_example() {
    let server = MockServer::start().await;
    let client = app_client(&server);
    // A user token for the operations that accept only user tokens.
    let as_user = CallOptions::new().access_token(vc_mock::USER_TOKEN);
    for op in Spec::embedded().operations() {
        let operation = Operation::find(&op.id).unwrap_or_else(|| panic!("{} is in vc-api's table", op.id));
        let options = if operation.token_types.contains(&vc_api::TokenType::Tenant) {
            CallOptions::new()
        } else {
            as_user.clone()
        };
        let request = example_request(op);
        if op.file_media_type.is_some() {
            let download = client.call_download(operation, request, options).await.unwrap();
            let mut bytes = Vec::new();
            download.write_to(&mut bytes, |_| {}).await.unwrap();
            assert_eq!(bytes, vc_mock::server::FILE_BYTES, "{}", op.id);
            continue;
        }
        let data =
            client.call_json_with(operation, request, options).await.unwrap_or_else(|e| panic!("{}: {e}", op.id));
        let mut expected = op.response_example.as_ref().map(|e| e["data"].clone());
        let mut data = Some(data);
        // A request carrying the example's own next page_token is answered as the last page
        // (has_more false, no page_token): compare the rest.
        for value in [&mut expected, &mut data].into_iter().flatten() {
            if let Some(object) = value.as_object_mut().filter(|o| o.contains_key("has_more")) {
                object.remove("has_more");
                object.remove("page_token");
            }
        }
        assert_eq!(data, expected, "{}", op.id);
    }
    let tokens_fetched = server
        .served()
        .iter()
        .filter(|s| s.operation.as_deref() == Some("auth/v3/tenant_access_token/internal"))
        .count();
    assert_eq!(tokens_fetched, 1, "the client fetched one token and kept it");
}

#[tokio::test]
async fn typed_calls_decode_the_examples_and_pages_end() {
    let server = MockServer::start().await;
    let client = app_client(&server);
    let rooms: Vec<_> = client.room_list().page_size(10).stream().try_collect().await.unwrap();
    let per_page = Spec::embedded().operation("room_list").unwrap().response_example.as_ref().unwrap()["data"]["rooms"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rooms.len(), 2 * per_page, "the example page, then the last page");
    // The typed builder rejects limit 500 before sending (client-side ranges); an untyped call
    // sends it and gets the server's answer.
    let request =
        RawRequest::new().query("start_time", "1").query("end_time", "2").query("limit", "500").query("order_by", "1");
    let top_users = Operation::find("report_get_top_user").unwrap();
    let error = client.call_json(top_users, request).await.unwrap_err();
    assert_eq!((error.code(), error.http_status()), (Some(121003), Some(400)));
    assert!(error.api().unwrap().msg.contains("limit: 500 is above the maximum 100"), "{error}");
    assert!(error.log_id().is_some_and(|id| id.starts_with("vcmock")));
}

#[tokio::test]
async fn unknown_tokens_and_marketplace_apps() {
    let server = MockServer::builder().only_issued_tokens().start().await;
    let forged = Client::builder().base_url(server.url()).access_token(vc_mock::TENANT_TOKEN).build().unwrap();
    let error = forged.export_get().task_id("T1").data().await.unwrap_err();
    assert_eq!(error.code(), Some(vc_mock::server::TENANT_TOKEN_INVALID));
    let store = Client::builder()
        .base_url(server.url())
        .marketplace_app(vc_mock::APP_ID, vc_mock::APP_SECRET)
        .app_ticket(vc_mock::APP_TICKET)
        .tenant_key("tenant-1")
        .build()
        .unwrap();
    store.export_get().task_id("T1").data().await.unwrap();
    let wrong = Client::builder().base_url(server.url()).app_credentials(vc_mock::APP_ID, "nope").build().unwrap();
    let error = wrong.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(error, Error::Auth { code: Some(vc_mock::server::APP_CREDENTIALS_INVALID), .. }), "{error}");
}

#[tokio::test]
async fn an_export_runs_to_its_file() {
    let server = MockServer::start().await;
    let client = app_client(&server);
    let body = Spec::embedded().operation("export_meeting_list").unwrap().body_example.clone().unwrap();
    let request = vc_api::export::ExportRequest::from_json("export_meeting_list", body).unwrap();
    let polling = vc_api::export::ExportPolling {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        deadline: Duration::from_secs(10),
    };
    let mut file = Vec::new();
    let outcome = client.export(request).polling(polling).write_to(&mut file, |_| {}).await.unwrap();
    assert_eq!(file, vc_mock::server::FILE_BYTES);
    assert_eq!(outcome.file.task_id, "7111325589855797267");
}

/// Sends raw bytes on a fresh connection and returns what came back.
fn raw_exchange(address: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_an_answer_and_the_server_lives_on() {
    let server = MockServer::start().await;
    let address = server.address();
    let token = vc_mock::TENANT_TOKEN;
    let head =
        |line: &str| format!("{line} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n");
    let mut bad_json = (head("POST /open-apis/vc/v1/room_levels/mget") + "Content-Length: 4\r\n\r\n").into_bytes();
    bad_json.extend_from_slice(b"\xff\xfe{[");
    let cases: Vec<Vec<u8>> = vec![
        b"\x00\x01 garbage\r\n\r\n".to_vec(),
        bad_json,
        (head("GET /open-apis/vc/v1/reserves/%ff%fe") + "\r\n").into_bytes(),
        (head("GET /open-apis/vc/v1/rooms?page_size=1e999") + "\r\n").into_bytes(),
        b"GET /open-apis/vc/v1/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n"
            .to_vec(),
        b"GET /open-apis/vc/v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    ];
    let answers: Vec<String> =
        tokio::task::spawn_blocking(move || cases.iter().map(|case| raw_exchange(address, case)).collect())
            .await
            .unwrap();
    assert!(answers[0].is_empty() || answers[0].starts_with("HTTP/1.1 400"), "{:?}", answers[0]);
    assert!(answers[1].starts_with("HTTP/1.1 400") && answers[1].contains("121003"), "{}", answers[1]);
    assert!(answers[2].starts_with("HTTP/1.1 200"), "a lossy-decoded id is still an id: {}", answers[2]);
    assert!(answers[3].starts_with("HTTP/1.1 400") && answers[3].contains("not an integer"), "{}", answers[3]);
    assert!(answers[4].contains("99991661"), "{}", answers[4]);
    assert!(answers[5].starts_with("HTTP/1.1 404"), "the server still answers: {}", answers[5]);
}
