//! The long-connection client's logs, in a test binary of its own: a thread-local subscriber
//! sees every event only when no other test registers the same callsites meanwhile.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use vc_api::Domain;
use vc_api::long_connection::{ConnectionState, LongConnection};
use vc_mock::long_connection::{Counters, LongConnHub, LongConnServer};
use vc_mock::{APP_ID, APP_SECRET};

const DEADLINE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing happened within {DEADLINE:?}"))
}

async fn connected(state: &mut watch::Receiver<ConnectionState>) {
    within("connected", state.wait_for(|s| matches!(s, ConnectionState::Connected { .. }))).await.unwrap();
}

async fn counters(hub: &LongConnHub, what: &str, done: impl FnMut(&Counters) -> bool) -> Counters {
    within(what, hub.wait_for(done)).await
}

fn event(event_id: &str) -> Value {
    json!({"schema": "2.0", "header": {"event_id": event_id, "event_type": "x.test_v1"}, "event": {}})
}

/// Every transition is a tracing event naming the connection; event logs name the message and
/// the trace; the app secret is nowhere.
#[tokio::test(flavor = "current_thread")]
async fn transitions_and_events_are_logged_with_their_ids_and_no_secret() {
    let captured = vc_api_tests::CapturedLogs::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _default = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();

    let server = LongConnServer::start().await;
    let hub = server.hub();
    hub.client_config(Some(
        json!({"ReconnectCount": -1, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 3600}),
    ));
    let connection = LongConnection::builder(APP_ID, APP_SECRET)
        .domain(Domain::Custom(server.url()))
        .fallback(|_, _| async { Ok(()) })
        .start()
        .unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    hub.push(&event("e-logged"), 2).await;
    counters(&hub, "ack", |c| c.acks == 1).await;
    hub.push(&event("e-logged"), 1).await;
    counters(&hub, "ack of the redelivery", |c| c.acks == 2).await;
    hub.close_all();
    counters(&hub, "second connection", |c| c.connections == 2).await;
    connected(&mut state).await;
    connection.shutdown().await.unwrap();

    let logs = captured.text();
    for expected in [
        "connecting",
        "connected",
        "conn_id=\"mock-device-1\"",
        "connection lost",
        "reconnecting",
        "conn_id=\"mock-device-2\"",
        "message_id=\"mock-msg-1\"",
        "trace_id=\"mock-trace-1\"",
        "event_id=\"e-logged\"",
        "stopped",
    ] {
        assert!(logs.contains(expected), "{expected} is logged: {logs}");
    }
    assert!(!logs.contains(APP_SECRET), "the app secret leaked into the logs");
    let line = |message: &str| logs.lines().find(|l| l.contains(message)).map(str::to_owned);
    let handled = line("event handled").expect("the handled event is logged");
    assert!(handled.contains("dispatched=Fallback"), "{handled}");
    let duplicate = line("duplicate event acknowledged").expect("the redelivery is logged");
    assert!(duplicate.contains("event_id=\"e-logged\"") && !duplicate.contains("dispatched"), "{duplicate}");
}
