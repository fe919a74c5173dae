//! The long-connection client against vc-mock's fake server, with faults injected: lost and
//! silent sockets, stalled handshakes, a busy endpoint, final refusals, new parameters on
//! pongs, fragments, a burst, failing handlers, shutdown.
//!
//! Waits are on events (state changes, the server's counters); each has a generous safety
//! deadline so that a bug fails the test instead of hanging it. Nothing asserts on time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use vc_api::Domain;
use vc_api::event_memory::LocalEventMemory;
use vc_api::events::Event;
use vc_api::long_connection::{ConnectionState, LongConnection, LongConnectionBuilder, LongConnectionError};
use vc_api::types::MeetingMeetingStartedV1Event;
use vc_mock::long_connection::{Counters, LongConnHub, LongConnServer};
use vc_mock::{APP_ID, APP_SECRET};

/// The safety deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing happened within {DEADLINE:?}"))
}

/// A server whose clients reconnect at once and ping once an hour unless told otherwise.
async fn server() -> (LongConnServer, LongConnHub) {
    let server = LongConnServer::start().await;
    let hub = server.hub();
    hub.client_config(Some(
        json!({"ReconnectCount": -1, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 3600}),
    ));
    (server, hub)
}

fn builder(server: &LongConnServer) -> LongConnectionBuilder {
    LongConnection::builder(APP_ID, APP_SECRET)
        .domain(Domain::Custom(server.url()))
        .startup_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

fn event(event_id: &str, event_type: &str, payload: Value) -> Value {
    json!({"schema": "2.0", "header": {"event_id": event_id, "event_type": event_type, "app_id": APP_ID}, "event": payload})
}

async fn until(
    state: &mut watch::Receiver<ConnectionState>,
    what: &str,
    done: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    within(what, async {
        let state = state.wait_for(|s| done(s)).await.expect("the connection task keeps its state sender");
        state.clone()
    })
    .await
}

async fn connected(state: &mut watch::Receiver<ConnectionState>) {
    until(state, "connected", |s| matches!(s, ConnectionState::Connected { .. })).await;
}

async fn counters(hub: &LongConnHub, what: &str, done: impl FnMut(&Counters) -> bool) -> Counters {
    within(what, hub.wait_for(done)).await
}

/// Counts handler runs per event id.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashMap<String, u32>>>);

impl Seen {
    fn add(&self, id: &str) {
        *self.0.lock().unwrap().entry(id.to_owned()).or_default() += 1;
    }
    fn get(&self, id: &str) -> u32 {
        self.0.lock().unwrap().get(id).copied().unwrap_or(0)
    }
    fn all(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }
}

fn counting(builder: LongConnectionBuilder, seen: &Seen) -> LongConnectionBuilder {
    let seen = seen.clone();
    builder.fallback(move |header, _| {
        seen.add(&header.event_id);
        async { Ok(()) }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_handler_gets_the_event_and_the_ack_carries_200_and_biz_rt() {
    let (server, hub) = server().await;
    let seen = Seen::default();
    let typed = seen.clone();
    let connection = builder(&server)
        .on(move |header, _: MeetingMeetingStartedV1Event| {
            typed.add(&format!("typed:{}", header.event_id));
            async { Ok(()) }
        })
        .start()
        .unwrap();
    connected(&mut connection.state()).await;
    assert_eq!(hub.push(&event("e-typed", "vc.meeting.meeting_started_v1", json!({})), 1).await, 1);
    counters(&hub, "ack", |c| c.acks >= 1).await;
    let ack = &hub.acks()[0];
    assert_eq!((ack.code, ack.message_id.as_str()), (200, "mock-msg-1"));
    assert!(ack.biz_rt.is_some_and(|ms| ms >= 0), "{ack:?}");
    assert_eq!(ack.headers.iter().filter(|(k, _)| k == "biz_rt").count(), 1);
    assert!(ack.headers.iter().any(|(k, v)| k == "trace_id" && v == "mock-trace-1"), "the same frame comes back");
    assert_eq!(seen.get("typed:e-typed"), 1);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_socket_is_replaced_and_events_flow_again() {
    let (server, hub) = server().await;
    let seen = Seen::default();
    let connection = counting(builder(&server), &seen).start().unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    hub.close_all();
    counters(&hub, "second connection", |c| c.connections == 2 && c.open == 1).await;
    connected(&mut state).await;
    assert_eq!(hub.push(&event("e-after", "x.test_v1", json!({})), 1).await, 1);
    counters(&hub, "ack", |c| c.acks == 1).await;
    assert_eq!((hub.acks()[0].conn, hub.acks()[0].code), (2, 200));
    assert_eq!(seen.get("e-after"), 1);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_detected_by_the_watchdog_and_replaced() {
    let (server, hub) = server().await;
    hub.client_config(Some(
        json!({"ReconnectCount": -1, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 1}),
    ));
    // The watchdog is on by default; only its bound is shortened here.
    let connection = builder(&server).liveness_timeout(Duration::from_millis(300)).start().unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    counters(&hub, "first pong", |c| c.pings >= 1).await;
    hub.go_silent();
    // The silent socket stays open on the server's side: only the watchdog can notice.
    let c = counters(&hub, "second connection", |c| c.connections == 2).await;
    connected(&mut state).await;
    assert_eq!(c.endpoint_requests, 2);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_times_out_and_is_tried_again() {
    let (server, hub) = server().await;
    hub.stall_next_handshakes(1);
    let connection = builder(&server).handshake_timeout(Duration::from_millis(300)).start().unwrap();
    let c = counters(&hub, "connected after the stall", |c| c.connections == 1).await;
    assert_eq!((c.handshakes, c.endpoint_requests), (2, 2));
    connected(&mut connection.state()).await;
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_busy_twice_at_start_up_then_connected() {
    let (server, hub) = server().await;
    hub.busy_next(2);
    let connection = builder(&server).start().unwrap();
    let c = counters(&hub, "connected after two busy answers", |c| c.connections == 1).await;
    assert_eq!(c.endpoint_requests, 3);
    connected(&mut connection.state()).await;
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_busy_during_a_reconnect_then_ok() {
    let (server, hub) = server().await;
    let connection = builder(&server).start().unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    hub.busy_next(2);
    hub.close_all();
    let c = counters(&hub, "reconnected after two busy answers", |c| c.connections == 2).await;
    assert_eq!(c.endpoint_requests, 4);
    connected(&mut state).await;
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_end_the_client_with_the_endpoint_code() {
    let (server, hub) = server().await;
    let connection =
        LongConnection::builder(APP_ID, "not-the-secret").domain(Domain::Custom(server.url())).start().unwrap();
    let mut state = connection.state();
    let failed = until(&mut state, "failed", ConnectionState::is_final).await;
    let error = connection.wait().await.unwrap_err();
    assert_eq!(failed, ConnectionState::Failed(error.clone()));
    assert!(matches!(&error, LongConnectionError::EndpointRefused { code: 10014, .. }), "{error:?}");
    assert!(error.to_string().contains("/callback/ws/endpoint") && error.to_string().contains("10014"), "{error}");
    assert!(!format!("{error:?} {error}").contains("not-the-secret"));
    assert_eq!(hub.counters().endpoint_requests, 1, "a final refusal is not tried again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_ends_the_client() {
    let (server, hub) = server().await;
    hub.connection_limit(Some(0));
    let connection = builder(&server).start().unwrap();
    let failed = until(&mut connection.state(), "failed", ConnectionState::is_final).await;
    let error = connection.wait().await.unwrap_err();
    assert!(error.is_connection_limit(), "{error:?}");
    assert_eq!(failed, ConnectionState::Failed(error));
    assert_eq!(hub.counters().handshakes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_handshake_ends_the_client() {
    let (server, hub) = server().await;
    hub.forbid_handshakes(true);
    let connection = builder(&server).start().unwrap();
    let error = connection.wait().await.unwrap_err();
    assert!(matches!(error, LongConnectionError::HandshakeRefused { status: 403, .. }), "{error:?}");
    assert_eq!(hub.counters().handshakes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_stop_after_the_servers_reconnect_count() {
    let (server, hub) = server().await;
    hub.client_config(Some(
        json!({"ReconnectCount": 2, "ReconnectInterval": 0, "ReconnectNonce": 0, "PingInterval": 3600}),
    ));
    let connection = builder(&server).start().unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    hub.forbid_handshakes(false);
    hub.busy_next(100);
    hub.close_all();
    let error = connection.wait().await.unwrap_err();
    assert!(matches!(error, LongConnectionError::ReconnectsExhausted { attempts: 2, .. }), "{error:?}");
    assert_eq!(hub.counters().endpoint_requests, 3, "the first connection and two reconnect tries");
    assert!(state.borrow().is_final());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_with_a_new_config_changes_the_ping_cadence() {
    let (server, hub) = server().await;
    // One ping an hour, until the first pong says once a second.
    hub.pong_config(Some(json!({"PingInterval": 1})));
    let connection = builder(&server).start().unwrap();
    connected(&mut connection.state()).await;
    let c = counters(&hub, "pings at the new cadence", |c| c.pings >= 3).await;
    assert_eq!(c.connections, 1);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_mib_event_in_40_parts_out_of_order_with_a_duplicate() {
    let (server, hub) = server().await;
    let blob = "x".repeat(1 << 20);
    let lengths = Arc::new(Mutex::new(Vec::new()));
    let seen = lengths.clone();
    let connection = builder(&server)
        .fallback(move |_, event: Event| {
            let Event::Unknown { payload, .. } = event else { panic!("an unknown event type") };
            let value: Value = serde_json::from_str(payload.get()).unwrap();
            seen.lock().unwrap().push(value["blob"].as_str().map(str::len));
            async { Ok(()) }
        })
        .start()
        .unwrap();
    connected(&mut connection.state()).await;
    // 39, 37, ..., 1, then 0, 2, ..., 38, with part 17 twice.
    let mut order: Vec<u32> = (0..40).rev().filter(|i| i % 2 == 1).collect();
    order.extend((0..40).filter(|i| i % 2 == 0));
    order.insert(10, 17);
    assert_eq!(order.len(), 41);
    let big = event("e-big", "vc.test.big_v1", json!({ "blob": blob }));
    assert!(big.to_string().len() > 1 << 20);
    let message_id = hub.push_parts(&big, 40, &order).expect("a client is connected");
    counters(&hub, "ack", |c| c.acks >= 1).await;
    assert_eq!(hub.acks()[0].message_id, message_id);
    assert_eq!(hub.acks()[0].code, 200);
    assert_eq!(*lengths.lock().unwrap(), [Some(1 << 20)]);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_10000_events_is_handled_once_each_and_acknowledged() {
    const N: usize = 10_000;
    let (server, hub) = server().await;
    let seen = Seen::default();
    let memory = LocalEventMemory::new(LocalEventMemory::DEFAULT_CAPACITY);
    let connection = counting(builder(&server), &seen).memory(memory.clone()).start().unwrap();
    connected(&mut connection.state()).await;
    for i in 0..N {
        assert_eq!(hub.push(&event(&format!("burst-{i}"), "vc.test.burst_v1", json!({"i": i})), 1).await, 1);
    }
    // The same events once more: acknowledged, never run again.
    for i in 0..100 {
        hub.push(&event(&format!("burst-{i}"), "vc.test.burst_v1", json!({"i": i})), 1).await;
    }
    counters(&hub, "every ack", |c| c.acks as usize == N + 100).await;
    let acks = hub.acks();
    assert!(acks.iter().all(|a| a.code == 200), "every event acknowledged with 200");
    let mut ids: Vec<&str> = acks.iter().map(|a| a.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N + 100, "one acknowledgement per message");
    let all = seen.all();
    assert_eq!(all.len(), N);
    assert!(all.values().all(|&n| n == 1), "each event handled exactly once");
    assert_eq!(memory.len(), N, "the memory holds one key per event, within its bound");
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_panicking_handlers_are_acknowledged_500_and_the_connection_survives() {
    let (server, hub) = server().await;
    let connection = builder(&server)
        .fallback(|header, _| async move {
            match header.event_id.as_str() {
                "e-err" => Err("the handler failed".into()),
                "e-panic" => panic!("the handler panicked"),
                _ => Ok(()),
            }
        })
        .start()
        .unwrap();
    connected(&mut connection.state()).await;
    for id in ["e-err", "e-panic"] {
        let n = hub.counters().acks + 1;
        hub.push(&event(id, "x.test_v1", json!({})), 1).await;
        counters(&hub, id, |c| c.acks >= n).await;
    }
    hub.push(&event("e-ok", "x.test_v1", json!({})), 1).await;
    counters(&hub, "third ack", |c| c.acks >= 3).await;
    let codes: Vec<i64> = hub.acks().iter().map(|a| a.code).collect();
    assert_eq!(codes, [500, 500, 200]);
    // Failed events are forgotten: the platform's redelivery runs the handler again.
    hub.push(&event("e-err", "x.test_v1", json!({})), 1).await;
    counters(&hub, "redelivery ack", |c| c.acks >= 4).await;
    assert_eq!(hub.acks()[3].code, 500);
    let c = hub.counters();
    assert_eq!((c.connections, c.open), (1, 1), "the connection survives");
    assert!(matches!(*connection.state().borrow(), ConnectionState::Connected { .. }));
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_delays_neither_pings_nor_other_events() {
    let (server, hub) = server().await;
    hub.pong_config(Some(json!({"PingInterval": 1})));
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let seen = Seen::default();
    let (gate, start, counted) = (release.clone(), started.clone(), seen.clone());
    let connection = builder(&server)
        .fallback(move |header, _| {
            let (gate, start, counted) = (gate.clone(), start.clone(), counted.clone());
            async move {
                if header.event_id == "e-slow" {
                    start.notify_one();
                    gate.notified().await;
                }
                counted.add(&header.event_id);
                Ok(())
            }
        })
        .start()
        .unwrap();
    connected(&mut connection.state()).await;
    hub.push(&event("e-slow", "x.test_v1", json!({})), 1).await;
    within("slow handler started", started.notified()).await;
    let pings = hub.counters().pings;
    hub.push(&event("e-fast", "x.test_v1", json!({})), 1).await;
    counters(&hub, "fast event acknowledged", |c| c.acks >= 1).await;
    counters(&hub, "pings go on", |c| c.pings >= pings + 2).await;
    assert_eq!((seen.get("e-fast"), seen.get("e-slow")), (1, 0));
    release.notify_one();
    counters(&hub, "slow event acknowledged", |c| c.acks >= 2).await;
    assert_eq!(seen.get("e-slow"), 1);
    connection.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_handlers_then_closes() {
    let (server, hub) = server().await;
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let (gate, start) = (release.clone(), started.clone());
    let connection = builder(&server)
        .fallback(move |_, _| {
            let (gate, start) = (gate.clone(), start.clone());
            async move {
                start.notify_one();
                gate.notified().await;
                Ok(())
            }
        })
        .start()
        .unwrap();
    let mut state = connection.state();
    connected(&mut state).await;
    hub.push(&event("e-running", "x.test_v1", json!({})), 1).await;
    within("handler started", started.notified()).await;
    connection.shutdown_handle().shutdown();
    let stopping = tokio::spawn(connection.shutdown());
    // Still connected and not acknowledged while the handler runs.
    assert!(!state.borrow().is_final());
    assert_eq!(hub.counters().acks, 0);
    release.notify_one();
    within("stopped", stopping).await.unwrap().unwrap();
    assert_eq!(*state.borrow(), ConnectionState::Stopped);
    let c = counters(&hub, "socket closed", |c| c.open == 0).await;
    assert_eq!(c.acks, 1, "the running handler was acknowledged before the socket closed");
    assert_eq!(hub.acks()[0].code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_is_not_in_debug_output() {
    let (server, _hub) = server().await;
    let builder = LongConnection::builder(APP_ID, "very-secret-value").domain(Domain::Custom(server.url()));
    let text = format!("{builder:?}");
    assert!(text.contains(APP_ID) && !text.contains("very-secret-value"), "{text}");
    let connection = builder.start().unwrap();
    assert!(!format!("{connection:?}").contains("very-secret-value"));
    let error = connection.wait().await.unwrap_err();
    assert!(!format!("{error:?}").contains("very-secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_at_start() {
    let error = LongConnection::builder("", APP_SECRET).start().unwrap_err();
    assert!(matches!(error, LongConnectionError::Config(_)), "{error:?}");
    let error =
        LongConnection::builder(APP_ID, APP_SECRET).domain(Domain::Custom("ftp://x".into())).start().unwrap_err();
    assert!(matches!(error, LongConnectionError::Config(_)), "{error:?}");
}
