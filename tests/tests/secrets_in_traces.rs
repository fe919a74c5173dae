//! Secrets stay out of logs and Debug output. This test sits alone in its own binary: tracing
//! caches per-callsite interest process-wide, so a thread-local subscriber set while other tests
//! run in parallel threads could miss spans.

use std::time::Duration;

use vc_api::{CallOptions, RetryPolicy};
use vc_api_tests::{MockApi, export_get_mock};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const APP_ID: &str = "cli_test_app";
const APP_SECRET: &str = "app-secret-value-123";

/// Captures everything the client logs (at TRACE, spans included) while calls run, and checks
/// that no secret shows up there, nor in the Debug output of clients, builders and errors.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_appears_in_traces_or_debug_output() {
    let captured = vc_api_tests::CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let api = MockApi::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "msg": "ok", "tenant_access_token": "t-secret-tenant-token", "expire": 7200
        })))
        .mount(&api.server)
        .await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 99991663, "msg": "invalid token", "error": {"log_id": "LOG-1"}
        })))
        .mount(&api.server)
        .await;
    let retries = RetryPolicy { max_attempts: 2, initial_backoff: Duration::from_millis(5), ..RetryPolicy::default() };
    let builder =
        vc_api::Client::builder().base_url(api.server.uri()).app_credentials(APP_ID, APP_SECRET).retry_policy(retries);
    let client = builder.clone().build().unwrap();
    // Recompute callsite interest with our subscriber in place, whatever registered them first.
    tracing::callsite::rebuild_interest_cache();
    let err = client.export_get().task_id("T1").data().await.unwrap_err();
    let explicit = CallOptions::new().access_token("u-secret-user-token");
    let err2 = client.export_get().task_id("T1").data_with(explicit.clone()).await.unwrap_err();

    let logs = captured.text();
    assert!(logs.contains("vc_api.call"), "a span per call: {logs}");
    assert!(logs.contains("operation=\"export_get\"") || logs.contains("operation=export_get"), "{logs}");
    assert!(logs.contains("code=99991663") && logs.contains("LOG-1"), "code and log id recorded: {logs}");
    let debug = format!("{client:?} {builder:?} {err:?} {err} {err2:?} {explicit:?}");
    for secret in [APP_SECRET, "t-secret-tenant-token", "u-secret-user-token"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
        assert!(!debug.contains(secret), "{secret} leaked into Debug output: {debug}");
    }
}
