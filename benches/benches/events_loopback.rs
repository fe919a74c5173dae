//! Events per second through both transports on loopback, side by side, batches of 100:
//! - `long_connection`: vc-mock's fake server pushes 100 events (one frame each) down the
//!   WebSocket, the client decodes, claims each event id in a `LocalEventMemory`, runs a handler
//!   that does nothing, and acknowledges; the batch ends when the server has every ack;
//! - `webhook_http`: 100 signed (unencrypted) deliveries POSTed at once with reqwest to
//!   `webhook::axum::router` on 127.0.0.1, each checked, decoded, claimed (nonce and event id)
//!   and dispatched to the same handler; the batch ends when every answer is in.
//!
//! Both sides (server and client) run on the same current-thread runtime, so the time per
//! event includes the sender's work too. Every event is new (fresh event id and nonce).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vc_api::Secret;
use vc_api::event_memory::LocalEventMemory;
use vc_api::long_connection::LongConnection;
use vc_api::webhook::EventReceiver;
use vc_api_benches::client_runtime;
use vc_mock::long_connection::LongConnServer;

const BATCH: u64 = 100;
const KEY: &str = "bench-encrypt-key";

fn body(n: u64) -> serde_json::Value {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": format!("bench-{n}"), "event_type": "vc.meeting.meeting_ended_v1",
                   "create_time": "1700000000000", "app_id": "cli_bench"},
        "event": {"meeting": {"id": "6911188411934433028", "topic": "weekly"}}
    })
}

fn events_loopback(c: &mut Criterion) {
    let runtime = client_runtime();
    let sequence = Arc::new(AtomicU64::new(0));

    let (server, connection) = runtime.block_on(async {
        let server = LongConnServer::start().await;
        let connection = LongConnection::builder(vc_mock::APP_ID, vc_mock::APP_SECRET)
            .domain(vc_api::Domain::Custom(server.url()))
            .memory(LocalEventMemory::new(usize::MAX))
            .fallback(|_, _| async { Ok(()) })
            .start()
            .unwrap();
        server.hub().wait_for(|c| c.connections == 1).await;
        (server, connection)
    });
    let hub = server.hub();

    let receiver = EventReceiver::builder()
        .encrypt_key(KEY)
        .memory(LocalEventMemory::new(usize::MAX))
        .fallback(|_, _| async { Ok(()) })
        .build()
        .unwrap();
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook/event", listener.local_addr().unwrap());
        let app = vc_api::webhook::axum::router(Arc::new(receiver), "/webhook/event");
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    });
    let http = reqwest::Client::new();

    let mut group = c.benchmark_group("events_loopback");
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("long_connection", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (hub, sequence) = (hub.clone(), sequence.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let acks = hub.counters().acks;
                    for _ in 0..BATCH {
                        hub.push(&body(sequence.fetch_add(1, Ordering::Relaxed)), 1).await;
                    }
                    hub.wait_for(|c| c.acks >= acks + BATCH).await;
                    assert!(hub.take_acks().iter().all(|a| a.code == 200));
                }
                start.elapsed()
            }
        })
    });
    group.bench_function("webhook_http", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (http, url, sequence) = (http.clone(), url.clone(), sequence.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let requests = (0..BATCH).map(|_| {
                        let n = sequence.fetch_add(1, Ordering::Relaxed);
                        let body = body(n).to_string().into_bytes();
                        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
                        let nonce = format!("nonce-{n}");
                        let signature = vc_api::webhook::signature(&timestamp, &nonce, &Secret::new(KEY), &body);
                        http.post(&url)
                            .header("X-Lark-Request-Timestamp", timestamp)
                            .header("X-Lark-Request-Nonce", nonce)
                            .header("X-Lark-Signature", signature)
                            .body(body)
                            .send()
                    });
                    for answer in futures::future::join_all(requests).await {
                        assert_eq!(answer.unwrap().status(), 200);
                    }
                }
                start.elapsed()
            }
        })
    });
    group.finish();
    runtime.block_on(async { connection.shutdown().await.unwrap() });
}

criterion_group!(benches, events_loopback);
criterion_main!(benches);
