//! Faults a production client meets: slow and stalled networks, token-endpoint outages,
//! dropped futures, hostile numbers and calls that must fail before any side effect. Each test
//! failed before the fix it covers (see the README's "Faults" section).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vc_api::export::ExportPolling;
use vc_api::{CallOptions, Error, RetryPolicy};
use vc_api_tests::{
    EXPORT_GET_PATH, MockApi, export_done, export_get_mock, fast_retries, operation, tenant_token_template,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

type Serve = Arc<dyn Fn(usize, TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A raw HTTP server for bodies sent at a chosen pace: for each request (numbered from 0) it
/// reads the head, then hands the socket to `serve`.
async fn raw_server(serve: Serve) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut count = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let serve = serve.clone();
            let index = count;
            count += 1;
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                serve(index, socket).await;
            });
        }
    });
    url
}

fn file_head(len: usize) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {len}\r\n\r\n")
}

fn download_client(url: &str) -> vc_api::ClientBuilder {
    vc_api::Client::builder().base_url(url).access_token("t-x").retry_policy(RetryPolicy::none())
}

/// A fresh empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vc-api-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

// --- Transport ---

/// A download that trickles in for longer than the total timeout of JSON calls completes: only
/// silence (the read timeout) stops a body.
#[tokio::test]
async fn a_slow_download_outlives_the_json_timeout() {
    const CHUNKS: usize = 12;
    let url = raw_server(Arc::new(|_, mut socket| {
        Box::pin(async move {
            socket.write_all(file_head(CHUNKS * 4).as_bytes()).await.unwrap();
            for _ in 0..CHUNKS {
                // Simulates a slow network: 12 × 25 ms is longer than the 100 ms total timeout.
                tokio::time::sleep(Duration::from_millis(25)).await;
                socket.write_all(b"data").await.unwrap();
            }
        })
    }))
    .await;
    let client =
        download_client(&url).timeout(Duration::from_millis(100)).read_timeout(Duration::from_secs(5)).build().unwrap();
    let download = client.export_download().file_token("F1").data().await.unwrap();
    let mut body = Vec::new();
    let written = download.write_to(&mut body, |_| {}).await.expect("the slow body arrives whole");
    assert_eq!((written, body.len()), (48, 48));
}

/// A server whose download announces 1000 bytes, sends the first few, then holds the
/// connection open in silence.
async fn stalled_download_server() -> String {
    raw_server(Arc::new(|_, mut socket| {
        Box::pin(async move {
            socket.write_all(file_head(1000).as_bytes()).await.unwrap();
            socket.write_all(b"first bytes").await.unwrap();
            std::future::pending::<()>().await;
        })
    }))
    .await
}

/// A body that stops arriving fails with a timeout after the read timeout, and `save` leaves
/// no file behind.
#[tokio::test]
async fn a_stalled_download_times_out_and_leaves_no_file() {
    let url = stalled_download_server().await;
    let client = download_client(&url).read_timeout(Duration::from_millis(150)).build().unwrap();
    let dir = scratch_dir("stalled");
    let download = client.export_download().file_token("F1").data().await.unwrap();
    let err = download.save(dir.join("out.xlsx"), |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { operation: "export_download", .. }), "{err:?}");
    assert_eq!(entries(&dir), Vec::<String>::new());
}

/// `CallOptions::timeout` bounds one call, whatever the client's default.
#[tokio::test]
async fn a_per_call_timeout_applies() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(operation("export_get").response_example())
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&api.server)
        .await;
    let client = api_client(&api).build().unwrap();
    let options = CallOptions::new().timeout(Duration::from_millis(100));
    let err = client.export_get().task_id("T1").data_with(options).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { operation: "export_get", .. }), "{err:?}");
}

/// The caller's own HTTP client is used as given.
#[tokio::test]
async fn the_callers_http_client_is_used() {
    let api = MockApi::start().await;
    export_get_mock()
        .and(wiremock::matchers::header("x-own-client", "yes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("export_get").response_example()))
        .mount(&api.server)
        .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-own-client", "yes".parse().unwrap());
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
    let client = api_client(&api).http_client(http).build().unwrap();
    client.export_get().task_id("T1").data().await.expect("sent through the caller's client");
}

/// A successful call's log id and status are available.
#[tokio::test]
async fn a_successful_call_reports_its_log_id() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-tt-logid", "20261207-log-ok")
                .set_body_json(operation("export_get").response_example()),
        )
        .mount(&api.server)
        .await;
    let client = api_client(&api).build().unwrap();
    let answer = client.export_get().task_id("T1").data_with_meta(CallOptions::new()).await.unwrap();
    assert_eq!((answer.http_status, answer.log_id.as_deref()), (200, Some("20261207-log-ok")));
    assert!(answer.data.status.is_some());
}

/// A body that does not decode keeps the answer's real status and log id.
#[tokio::test]
async fn a_decode_error_keeps_status_and_log_id() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-tt-logid", "20261207-log-bad")
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"code":0,"msg":"ok","data":{"status":"not a number"}}"#),
        )
        .mount(&api.server)
        .await;
    let err = api_client(&api).build().unwrap().export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!((err.http_status(), err.log_id()), (Some(200), Some("20261207-log-bad")));
}

/// A JSON answer that arrives in several chunks (chunked transfer coding, one write each) is
/// read whole, its log id kept.
#[tokio::test]
async fn a_json_answer_in_chunks_is_read_whole() {
    let body = serde_json::to_vec(&operation("export_get").response_example()).unwrap();
    let url = raw_server(Arc::new(move |_, mut socket| {
        let body = body.clone();
        Box::pin(async move {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-tt-logid: log-chunked\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            for part in body.chunks(body.len().div_ceil(3)) {
                socket.write_all(format!("{:x}\r\n", part.len()).as_bytes()).await.unwrap();
                socket.write_all(part).await.unwrap();
                socket.write_all(b"\r\n").await.unwrap();
                socket.flush().await.unwrap();
            }
            socket.write_all(b"0\r\n\r\n").await.unwrap();
        })
    }))
    .await;
    let client = download_client(&url).build().unwrap();
    let answer = client.export_get().task_id("T1").data_with_meta(CallOptions::new()).await.unwrap();
    let expected = operation("export_get").response_example()["data"].clone();
    assert_eq!(serde_json::to_value(&answer.data).unwrap(), expected);
    assert_eq!(answer.log_id.as_deref(), Some("log-chunked"));
}

// --- Tokens ---

fn token_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path(TENANT_TOKEN_PATH))
}

fn app_client(api: &MockApi) -> vc_api::ClientBuilder {
    vc_api::Client::builder().base_url(api.server.uri()).app_credentials("cli_app", "secret")
}

fn api_client(api: &MockApi) -> vc_api::ClientBuilder {
    vc_api::Client::builder().base_url(api.server.uri()).access_token("t-x")
}

async fn requests_to(api: &MockApi, wanted: &str) -> usize {
    api.server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == wanted).count()
}

/// A token endpoint answering 503 once is asked again under the retry policy.
#[tokio::test]
async fn a_failing_token_request_is_retried() {
    let api = MockApi::start().await;
    token_mock().respond_with(ResponseTemplate::new(503)).up_to_n_times(1).with_priority(1).mount(&api.server).await;
    token_mock().respond_with(tenant_token_template("t-second", 7200)).mount(&api.server).await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client = app_client(&api).retry_policy(fast_retries(3)).build().unwrap();
    client.export_get().task_id("T1").data().await.expect("the second token request succeeds");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 2);
}

/// A token request that times out is a timeout, with the transport error as its source.
#[tokio::test]
async fn a_token_timeout_is_a_timeout_with_its_source() {
    let api = MockApi::start().await;
    token_mock()
        .respond_with(tenant_token_template("t-late", 7200).set_delay(Duration::from_secs(10)))
        .mount(&api.server)
        .await;
    let client =
        app_client(&api).timeout(Duration::from_millis(100)).retry_policy(RetryPolicy::none()).build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { operation: "export_get", .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some(), "the transport error is kept");
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 0);
}

/// Many calls waiting for one failing token request share its failure.
#[tokio::test]
async fn concurrent_callers_share_one_token_failure() {
    let api = MockApi::start().await;
    token_mock()
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(200)))
        .mount(&api.server)
        .await;
    let client = app_client(&api).retry_policy(RetryPolicy::none()).build().unwrap();
    let calls = (0..20).map(|_| client.export_get().task_id("T1").data());
    let results = futures::future::join_all(calls).await;
    for result in &results {
        assert!(matches!(result, Err(Error::Auth { http_status: Some(503), .. })), "{result:?}");
    }
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 1, "one request for all twenty calls");
}

/// Inside the refresh margin the still-valid token keeps calls working while the token
/// endpoint is down.
#[tokio::test]
async fn a_valid_token_is_served_during_a_token_outage() {
    let api = MockApi::start().await;
    token_mock()
        .respond_with(tenant_token_template("t-valid", 7200))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    token_mock().respond_with(ResponseTemplate::new(500)).mount(&api.server).await;
    export_get_mock()
        .and(wiremock::matchers::header("authorization", "Bearer t-valid"))
        .respond_with(export_done())
        .mount(&api.server)
        .await;
    // A margin as long as the lifetime: the token is due for refresh from the start.
    let client = app_client(&api)
        .token_refresh_margin(Duration::from_secs(7200))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    client.export_get().task_id("T1").data().await.expect("first call");
    client.export_get().task_id("T1").data().await.expect("the valid token still serves");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 2, "a refresh was tried");
}

// --- Numbers ---

/// A token lifetime at the top of `u64` is accepted (capped), not an overflow.
#[tokio::test]
async fn a_huge_token_lifetime_does_not_overflow() {
    let api = MockApi::start().await;
    token_mock().respond_with(tenant_token_template("t-forever", u64::MAX)).mount(&api.server).await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client = app_client(&api).build().unwrap();
    client.export_get().task_id("T1").data().await.expect("succeeds");
    client.export_get().task_id("T1").data().await.expect("cached");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 1);
}

/// A huge polling interval does not overflow when it doubles.
#[tokio::test]
async fn a_huge_polling_interval_does_not_overflow() {
    let api = MockApi::start().await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client = api_client(&api).build().unwrap();
    let polling =
        ExportPolling { first_delay: Duration::MAX, max_delay: Duration::MAX, deadline: Duration::from_millis(20) };
    let file = client.resume_export("T1").polling(polling).wait().await.expect("done at the first check");
    assert_eq!(file.task_id, "T1");
}

// --- Cancellation ---

/// Dropping a `save` half-way leaves no temporary file.
#[tokio::test]
async fn a_dropped_save_leaves_no_partial_file() {
    let url = stalled_download_server().await;
    let client = download_client(&url).build().unwrap();
    let dir = scratch_dir("dropped");
    let download = client.export_download().file_token("F1").data().await.unwrap();
    let (progress, mut written) = mpsc::unbounded_channel();
    let save = download.save(dir.join("out.xlsx"), move |bytes| {
        let _ = progress.send(bytes);
    });
    let mut save = Box::pin(save);
    tokio::select! {
        outcome = &mut save => panic!("the body never ends: {outcome:?}"),
        bytes = written.recv() => assert_eq!(bytes, Some(11)),
    }
    assert_eq!(entries(&dir).len(), 1, "the partial file exists while saving");
    drop(save);
    assert_eq!(entries(&dir), Vec::<String>::new(), "dropping the save removed it");
}

/// Two saves to one path do not truncate each other: both succeed and the file is whole.
#[tokio::test]
async fn two_saves_to_one_path_do_not_clobber_each_other() {
    let (release, released) = mpsc::unbounded_channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(released));
    let url = raw_server(Arc::new(move |index, mut socket| {
        let released = released.clone();
        Box::pin(async move {
            let fill = if index == 0 { b'a' } else { b'b' };
            let body = [fill; 64];
            socket.write_all(file_head(body.len()).as_bytes()).await.unwrap();
            socket.write_all(&body[..32]).await.unwrap();
            if index == 0 {
                // The first download waits until the second has finished.
                released.lock().await.recv().await;
            }
            socket.write_all(&body[32..]).await.unwrap();
        })
    }))
    .await;
    let client = download_client(&url).build().unwrap();
    let dir = scratch_dir("two-saves");
    let target = dir.join("out.bin");
    let first = client.export_download().file_token("F1").data().await.unwrap();
    let (progress, mut written) = mpsc::unbounded_channel();
    let first = tokio::spawn({
        let target = target.clone();
        async move {
            first
                .save(target, move |bytes| {
                    let _ = progress.send(bytes);
                })
                .await
        }
    });
    assert_eq!(written.recv().await, Some(32), "the first save is half-way");
    let second = client.export_download().file_token("F1").data().await.unwrap();
    assert_eq!(second.save(&target, |_| {}).await.unwrap(), 64);
    release.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap(), 64, "the first save is not disturbed");
    assert_eq!(std::fs::read(&target).unwrap(), vec![b'a'; 64], "the last save to finish wins, whole");
    assert_eq!(entries(&dir), vec!["out.bin".to_owned()]);
}

/// Every failure after the export was submitted names the task (and the file once known).
#[tokio::test]
async fn export_failures_after_submission_carry_the_task_id() {
    let api = MockApi::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/vc/v1/exports/meeting_list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"code": 0, "msg": "ok", "data": {"task_id": "T1"}})),
        )
        .mount(&api.server)
        .await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({"code": 121004, "msg": "gone"})))
        .mount(&api.server)
        .await;
    let client = api_client(&api).retry_policy(RetryPolicy::none()).build().unwrap();
    let request: vc_api::types::ExportMeetingListRequest = operation("export_meeting_list").body();
    let polling = ExportPolling { first_delay: Duration::ZERO, ..ExportPolling::default() };
    let err = client.export(request).polling(polling).wait().await.unwrap_err();
    assert!(matches!(&err, Error::Export { task_id, file_token: None, .. } if task_id == "T1"), "{err:?}");
    assert_eq!((err.export_task_id(), err.code()), (Some("T1"), Some(121004)));
}

/// A failed download of a finished export names the task and its file token.
#[tokio::test]
async fn a_failed_export_download_carries_the_file_token() {
    let api = MockApi::start().await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    Mock::given(method("GET"))
        .and(path("/open-apis/vc/v1/exports/download"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down"))
        .mount(&api.server)
        .await;
    let client = api_client(&api).retry_policy(RetryPolicy::none()).build().unwrap();
    let polling = ExportPolling { first_delay: Duration::ZERO, ..ExportPolling::default() };
    let err = client.resume_export("T1").polling(polling).download().await.unwrap_err();
    match &err {
        Error::Export { task_id, file_token: Some(token), source } => {
            assert_eq!(task_id, "T1");
            assert!(!token.is_empty());
            assert!(matches!(**source, Error::Http { status: 500, .. }), "{source:?}");
        }
        other => panic!("expected an export error, got {other:?}"),
    }
}

// --- Checks before side effects ---

/// A missing parameter is reported as such, before a token is asked for or a slot taken.
#[tokio::test]
async fn a_missing_parameter_fails_before_any_token_request() {
    let api = MockApi::start().await;
    let no_credentials = vc_api::Client::builder().base_url(api.server.uri()).client_side_rate_limit(true).build();
    let err = no_credentials.unwrap().export_get().data().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { operation: "export_get", .. }), "{err:?}");
    let app = app_client(&api).build().unwrap();
    let err = app.export_get().data().await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { operation: "export_get", .. }), "{err:?}");
    assert!(api.server.received_requests().await.unwrap().is_empty(), "no token request, nothing sent");
}
