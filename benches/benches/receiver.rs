//! Receiving events: one signed delivery through `EventReceiver::handle` (signature, timestamp,
//! decode, nonce and event id claimed and completed, a handler that does nothing), with the
//! memory of deliveries in process (`local_memory`) and on a real Redis started for the run,
//! in memory only (`redis_memory`), against verification and dispatch without any memory
//! (`verify_and_dispatch`). Every delivery is new (fresh nonce and event id). `cargo xtask bench`
//! prints each memory's throughput against the memory-less path, and Redis against in-process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vc_api::Secret;
use vc_api::event_memory::LocalEventMemory;
use vc_api::redis_store::RedisEventMemory;
use vc_api::webhook::{Delivery, EventDispatcher, EventReceiver, EventReceiverBuilder, WebhookResponse};
use vc_api_benches::client_runtime;
use vc_api_tests::redis_server::RedisServer;

const KEY: &str = "bench-encrypt-key";
const TOKEN: &str = "bench-verification-token";

fn builder() -> EventReceiverBuilder {
    EventReceiver::builder().encrypt_key(KEY).verification_token(TOKEN).fallback(|_, _| async { Ok(()) })
}

/// A new signed delivery (headers, body) for sequence number `n`, timestamped now.
fn delivery(n: u64) -> (Vec<(String, String)>, Vec<u8>) {
    let body = serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": format!("bench-{n}"), "event_type": "vc.meeting.meeting_ended_v1",
                   "create_time": "1700000000000", "token": TOKEN, "app_id": "cli_bench"},
        "event": {"meeting": {"id": "6911188411934433028", "topic": "weekly"}}
    })
    .to_string()
    .into_bytes();
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string();
    let nonce = format!("nonce-{n}");
    let signature = vc_api::webhook::signature(&timestamp, &nonce, &Secret::new(KEY), &body);
    let headers = vec![
        ("X-Lark-Request-Timestamp".to_owned(), timestamp),
        ("X-Lark-Request-Nonce".to_owned(), nonce),
        ("X-Lark-Signature".to_owned(), signature),
    ];
    (headers, body)
}

fn receiver(c: &mut Criterion) {
    let runtime = client_runtime();
    let redis = RedisServer::start_in_memory();
    let sequence = AtomicU64::new(0);
    let next = || delivery(sequence.fetch_add(1, Ordering::Relaxed));

    // Room for every delivery of the run: the bench measures the memory, not its refusals.
    let local = builder().memory(LocalEventMemory::new(usize::MAX)).build().unwrap();
    let shared = runtime.block_on(async {
        let memory = RedisEventMemory::open(&redis.url(), "cli_bench").unwrap();
        builder().memory(memory).build().unwrap()
    });
    let verifier = builder().build().unwrap();
    let dispatcher = EventDispatcher::new().fallback(|_, _| async { Ok(()) });
    runtime.block_on(async {
        for receiver in [&local, &shared] {
            let (headers, body) = next();
            assert_eq!(receiver.handle(&headers, &body).await, WebhookResponse::ack());
        }
    });

    let mut group = c.benchmark_group("receiver/signed_event");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("verify_and_dispatch", |b| {
        b.to_async(&runtime).iter(|| async {
            let (headers, body) = next();
            let Ok(Delivery::Event(callback)) = verifier.receive(&headers, &body) else { panic!("an event") };
            let callback = *callback;
            dispatcher.dispatch(callback.header, callback.event).await.unwrap();
        })
    });
    group.bench_function("local_memory", |b| {
        b.to_async(&runtime).iter(|| async {
            let (headers, body) = next();
            assert_eq!(local.handle(&headers, &body).await.status, 200);
        })
    });
    group.bench_function("redis_memory", |b| {
        b.to_async(&runtime).iter(|| async {
            let (headers, body) = next();
            assert_eq!(shared.handle(&headers, &body).await.status, 200);
        })
    });
    group.finish();
}

criterion_group!(benches, receiver);
criterion_main!(benches);
