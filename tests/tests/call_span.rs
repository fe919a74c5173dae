//! The `vc_api.call` span of a successful call records the answer's log id. Alone in its own
//! binary: tracing caches per-callsite interest process-wide (see `secrets_in_traces.rs`).

use vc_api_tests::{MockApi, export_get_mock, operation};
use wiremock::ResponseTemplate;

#[tokio::test(flavor = "current_thread")]
async fn a_successful_call_records_its_log_id_on_the_span() {
    let captured = vc_api_tests::CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-tt-logid", "20261207-span-log")
                .set_body_json(operation("export_get").response_example()),
        )
        .mount(&api.server)
        .await;
    api.client().export_get().task_id("T1").data().await.expect("succeeds");

    let text = captured.text();
    let closed = text.lines().find(|line| line.contains("vc_api.call") && line.contains("close")).unwrap_or_default();
    assert!(closed.contains("log_id") && closed.contains("20261207-span-log"), "{text}");
    assert!(closed.contains("http_status=200"), "{text}");
}
