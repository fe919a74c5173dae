//! The runtime on a loopback mock, one test per rule: token cache and refresh, single-flight,
//! marketplace apps, per-call tokens, retries, rate limits, timeouts, and no secret in logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vc_api::{CallOptions, Error, RetryPolicy};
use vc_api_tests::{
    EXPORT_GET_PATH, MockApi, export_done, export_get_mock, fast_retries, operation, tenant_token_template,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

const APP_ID: &str = "cli_test_app";
const APP_SECRET: &str = "app-secret-value-123";
const TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

fn app_client(api: &MockApi) -> vc_api::ClientBuilder {
    vc_api::Client::builder().base_url(api.server.uri()).app_credentials(APP_ID, APP_SECRET)
}

async fn mount_token(api: &MockApi, answer: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path(TENANT_TOKEN_PATH))
        .and(body_json(serde_json::json!({"app_id": APP_ID, "app_secret": APP_SECRET})))
        .respond_with(answer);
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(&api.server).await;
}

async fn requests_to(api: &MockApi, wanted: &str) -> usize {
    api.server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == wanted).count()
}

#[tokio::test]
async fn the_tenant_token_is_fetched_once_and_reused() {
    let api = MockApi::start().await;
    mount_token(&api, tenant_token_template("t-first", 7200), None).await;
    export_get_mock()
        .and(header("authorization", "Bearer t-first"))
        .respond_with(export_done())
        .expect(2)
        .mount(&api.server)
        .await;
    let client = app_client(&api).build().unwrap();
    client.export_get().task_id("T1").data().await.expect("first call");
    client.export_get().task_id("T1").data().await.expect("second call");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 1);
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed() {
    let api = MockApi::start().await;
    // 60 s left is inside the 300 s refresh margin: every call needs a new token.
    mount_token(&api, tenant_token_template("t-short", 60), None).await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client = app_client(&api).build().unwrap();
    client.export_get().task_id("T1").data().await.unwrap();
    client.export_get().task_id("T1").data().await.unwrap();
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 2);
}

#[tokio::test]
async fn a_token_rejected_mid_run_is_evicted_and_the_call_retried_once() {
    let api = MockApi::start().await;
    mount_token(&api, tenant_token_template("t-old", 7200), Some(1)).await;
    mount_token(&api, tenant_token_template("t-new", 7200), None).await;
    export_get_mock()
        .and(header("authorization", "Bearer t-old"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 99991677, "msg": "token expired"
        })))
        .mount(&api.server)
        .await;
    export_get_mock()
        .and(header("authorization", "Bearer t-new"))
        .respond_with(export_done())
        .expect(1)
        .mount(&api.server)
        .await;
    let client = app_client(&api).retry_policy(RetryPolicy::none()).build().unwrap();
    client.export_get().task_id("T1").data().await.expect("succeeds with the new token");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 2);
}

#[tokio::test]
async fn a_token_rejected_twice_is_not_refreshed_forever() {
    let api = MockApi::start().await;
    mount_token(&api, tenant_token_template("t-any", 7200), None).await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 99991663, "msg": "invalid"})))
        .mount(&api.server)
        .await;
    let client = app_client(&api).build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert_eq!(err.code(), Some(99991663));
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 2, "one refresh, then the error");
}

#[tokio::test]
async fn a_down_token_endpoint_is_an_auth_error_and_nothing_is_sent() {
    let api = MockApi::start().await;
    mount_token(&api, ResponseTemplate::new(503).set_body_string("<html>down</html>"), None).await;
    let client = app_client(&api).build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    match &err {
        Error::Auth { operation, http_status, .. } => {
            assert_eq!((*operation, *http_status), ("export_get", Some(503)));
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 0);
}

#[tokio::test]
async fn a_refusing_token_endpoint_reports_its_code() {
    let api = MockApi::start().await;
    mount_token(
        &api,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 10014, "msg": "app secret invalid"})),
        None,
    )
    .await;
    let err = app_client(&api).build().unwrap().export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Auth { code: Some(10014), .. }), "{err:?}");
}

#[tokio::test]
async fn a_thousand_concurrent_calls_on_a_cold_cache_fetch_one_token() {
    let api = MockApi::start().await;
    mount_token(&api, tenant_token_template("t-shared", 7200), None).await;
    export_get_mock()
        .and(header("authorization", "Bearer t-shared"))
        .respond_with(export_done())
        .mount(&api.server)
        .await;
    let client = app_client(&api).build().unwrap();
    let calls = (0..1000).map(|_| client.export_get().task_id("T1").data());
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "every call succeeds");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 1, "single-flight refresh");
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 1000);
}

#[tokio::test]
async fn an_explicit_token_is_used_as_given_and_never_refreshed() {
    let api = MockApi::start().await;
    mount_token(&api, tenant_token_template("t-cached", 7200), None).await;
    export_get_mock()
        .and(header("authorization", "Bearer u-explicit"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 99991677, "msg": "expired"})))
        .mount(&api.server)
        .await;
    let client = app_client(&api).build().unwrap();
    let options = CallOptions::new().access_token("u-explicit");
    let err = client.export_get().task_id("T1").data_with(options).await.unwrap_err();
    assert_eq!(err.code(), Some(99991677), "the explicit token's rejection is reported");
    assert_eq!(requests_to(&api, TENANT_TOKEN_PATH).await, 0, "the cache is never consulted");
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 1, "no refresh-and-retry with an explicit token");
}

#[tokio::test]
async fn a_user_only_operation_needs_a_user_token() {
    let api = MockApi::start().await;
    let client = app_client(&api).build().unwrap();
    assert_eq!(vc_api::Operation::find("meeting_end").unwrap().token_types, &[vc_api::TokenType::User]);
    let err = client.meeting_end().meeting_id("M1").data().await.unwrap_err();
    match &err {
        Error::Auth { operation, message, .. } => {
            assert_eq!(*operation, "meeting_end");
            assert!(message.contains("user_access_token"), "{message}");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn marketplace_apps_get_one_app_token_and_a_tenant_token_per_tenant() {
    let api = MockApi::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/app_access_token"))
        .and(body_json(serde_json::json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": "ticket-1"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "msg": "ok", "app_access_token": "a-app", "expire": 7200
        })))
        .expect(1)
        .mount(&api.server)
        .await;
    for tenant in ["tenant-a", "tenant-b"] {
        Mock::given(method("POST"))
            .and(path("/open-apis/auth/v3/tenant_access_token"))
            .and(body_json(serde_json::json!({"app_access_token": "a-app", "tenant_key": tenant})))
            .respond_with(tenant_token_template(&format!("t-{tenant}"), 7200))
            .expect(1)
            .mount(&api.server)
            .await;
        export_get_mock()
            .and(header("authorization", format!("Bearer t-{tenant}").as_str()))
            .respond_with(export_done())
            .expect(2)
            .mount(&api.server)
            .await;
    }
    let client = vc_api::Client::builder()
        .base_url(api.server.uri())
        .marketplace_app(APP_ID, APP_SECRET)
        .tenant_key("tenant-a")
        .build()
        .unwrap();
    client.set_app_ticket("ticket-1");
    for _ in 0..2 {
        client.export_get().task_id("T1").data().await.expect("default tenant");
        let other = CallOptions::new().tenant_key("tenant-b");
        client.export_get().task_id("T1").data_with(other).await.expect("other tenant");
    }
}

#[tokio::test]
async fn a_marketplace_app_without_a_ticket_asks_for_one() {
    let api = MockApi::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/app_ticket/resend"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"code": 0, "msg": "ok"})))
        .expect(1)
        .mount(&api.server)
        .await;
    let client = vc_api::Client::builder()
        .base_url(api.server.uri())
        .marketplace_app(APP_ID, APP_SECRET)
        .tenant_key("t")
        .build();
    let err = client.unwrap().export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(&err, Error::Auth { message, .. } if message.contains("app_ticket")), "{err:?}");
}

#[tokio::test]
async fn a_5xx_then_success_is_retried_for_a_get() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(500).set_body_json(serde_json::json!({"code": 121001, "msg": "internal error"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client =
        vc_api::Client::builder().base_url(api.server.uri()).access_token("t-x").retry_policy(fast_retries(3)).build();
    client.unwrap().export_get().task_id("T1").data().await.expect("the retry succeeds");
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 2);
}

#[tokio::test]
async fn a_non_idempotent_post_is_not_retried_but_a_read_only_post_is() {
    let api = MockApi::start().await;
    let failing =
        ResponseTemplate::new(500).set_body_json(serde_json::json!({"code": 121001, "msg": "internal error"}));
    Mock::given(method("POST"))
        .respond_with(failing.clone())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    let client = vc_api::Client::builder()
        .base_url(api.server.uri())
        .access_token("t-x")
        .retry_policy(fast_retries(3))
        .build()
        .unwrap();
    let export = operation("export_participant_list");
    let err = client
        .export_participant_list()
        .body(export.body::<vc_api::types::ExportParticipantListRequest>())
        .data()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(121001));
    assert!(err.is_retryable(), "the error itself is transient");
    assert_eq!(api.server.received_requests().await.unwrap().len(), 1, "but a POST that creates is never repeated");

    // rooms/mget only reads: the spec marks it read-only, so it is retried.
    let mget = operation("room_mget");
    Mock::given(method("POST")).respond_with(failing).up_to_n_times(1).with_priority(1).mount(&api.server).await;
    Mock::given(method("POST"))
        .and(path(mget.example_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(mget.response_example()))
        .mount(&api.server)
        .await;
    client.room_mget().body(mget.body::<vc_api::types::RoomMgetRequest>()).data().await.expect("retried");
}

#[tokio::test]
async fn a_429_waits_for_the_reset_header() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ogw-ratelimit-reset", "1")
                .set_body_json(serde_json::json!({"code": 99991400, "msg": "request trigger frequency limit"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api.server)
        .await;
    export_get_mock().respond_with(export_done()).mount(&api.server).await;
    let client =
        vc_api::Client::builder().base_url(api.server.uri()).access_token("t-x").retry_policy(fast_retries(2)).build();
    let started = Instant::now();
    client.unwrap().export_get().task_id("T1").data().await.expect("succeeds after the reset");
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}, not the server's 1 s", started.elapsed());
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 2);
}

#[tokio::test]
async fn a_rate_limit_asking_for_too_long_a_wait_is_returned() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600").set_body_string("slow down"))
        .mount(&api.server)
        .await;
    let client = vc_api::Client::builder().base_url(api.server.uri()).access_token("t-x").build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 1);
}

#[tokio::test]
async fn a_timeout_is_retried_then_reported() {
    let api = MockApi::start().await;
    export_get_mock().respond_with(export_done().set_delay(Duration::from_secs(5))).mount(&api.server).await;
    let client = vc_api::Client::builder()
        .base_url(api.server.uri())
        .access_token("t-x")
        .timeout(Duration::from_millis(100))
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { operation: "export_get", .. }), "{err:?}");
    assert_eq!(requests_to(&api, EXPORT_GET_PATH).await, 2);
}

#[tokio::test]
async fn a_reset_connection_is_retried_then_reported() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            socket.set_zero_linger().ok();
            drop(socket); // RST
        }
    });
    let client =
        vc_api::Client::builder().base_url(url).access_token("t-x").retry_policy(fast_retries(3)).build().unwrap();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(err, Error::Transport { operation: "export_get", .. }), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "three attempts");
}

#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
    let proxy = MockApi::start().await;
    // The target host does not exist: only a proxy can answer.
    export_get_mock()
        .and(header("host", "vc.example.invalid"))
        .respond_with(export_done())
        .expect(1)
        .mount(&proxy.server)
        .await;
    let client = vc_api::Client::builder()
        .base_url("http://vc.example.invalid")
        .access_token("t-x")
        .proxy(proxy.server.uri())
        .build()
        .unwrap();
    client.export_get().task_id("T1").data().await.expect("answered through the proxy");
}

#[test]
fn a_bad_proxy_url_is_a_config_error() {
    let err = vc_api::Client::builder().proxy("::not a url::").build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test]
async fn only_the_headers_the_api_knows_are_sent() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("export_get").response_example()))
        .expect(1)
        .mount(&api.server)
        .await;
    api.client().export_get().task_id("T1").data().await.expect("export_get succeeds");
    let request = &api.server.received_requests().await.unwrap()[0];
    assert!(request.headers.get("authorization").is_some());
    assert!(request.headers.get("api-version").is_none(), "progenitor's api-version header is dropped");
}
