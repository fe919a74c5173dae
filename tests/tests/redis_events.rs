//! Receivers sharing their event memory on a real Redis (`redis-server` on a free loopback
//! port): each event handled once across replicas, Redis stopped and started mid-run.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vc_api::redis_store::RedisEventMemory;
use vc_api::webhook::{EventReceiver, WebhookError, WebhookResponse};
use vc_api_tests::redis_server::RedisServer;

const TOKEN: &str = "vt-redis-test-token";
const APP_ID: &str = "cli_redis_test";
const NO_HEADERS: &[(&str, &str)] = &[];

fn event(event_id: &str) -> String {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "vc.meeting.meeting_ended_v1", "token": TOKEN,
                   "create_time": "1732190000000", "app_id": APP_ID, "tenant_key": "tenant-1"},
        "event": {"meeting": {"id": "6911188411934433028"}}
    })
    .to_string()
}

/// A replica: a receiver on its own connection to the shared Redis, counting runs per event id.
fn replica(url: &str, runs: &Arc<Mutex<HashMap<String, usize>>>, timeout: Duration) -> EventReceiver {
    let runs = runs.clone();
    EventReceiver::builder()
        .verification_token(TOKEN)
        .memory(RedisEventMemory::open_with_timeout(url, APP_ID, timeout).unwrap())
        .fallback(move |header, _| {
            *runs.lock().unwrap().entry(header.event_id).or_default() += 1;
            async { Ok(()) }
        })
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_given_every_delivery_run_each_handler_once() {
    let redis = RedisServer::start();
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let refused_in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for offset in [0usize, 0, 500] {
        let receiver = replica(&redis.url(), &runs, RedisEventMemory::DEFAULT_TIMEOUT);
        let refused = refused_in_flight.clone();
        tasks.push(tokio::spawn(async move {
            // Each replica gets all 1,000 deliveries (two of them in the same order, racing); a refused
            // one (in flight on another replica) comes again later, as the platform would send it.
            let mut queue: VecDeque<usize> = (0..1000).map(|i| (i + offset) % 1000).collect();
            while let Some(i) = queue.pop_front() {
                let body = event(&format!("ev-{i}"));
                match receiver.process(NO_HEADERS, body.as_bytes()).await {
                    Ok(answer) => assert_eq!(answer, WebhookResponse::ack()),
                    Err(WebhookError::InFlight { .. }) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        queue.push_back(i);
                    }
                    Err(other) => panic!("ev-{i}: {other:?}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 1000, "every event ran");
    assert!(
        runs.values().all(|&n| n == 1),
        "none ran twice: {:?}",
        runs.iter().filter(|(_, n)| **n != 1).collect::<Vec<_>>()
    );
    eprintln!("in-flight refusals (then delivered again): {}", refused_in_flight.load(Ordering::Relaxed));
}

/// One unsigned delivery of `id`, answered.
async fn deliver(receiver: &EventReceiver, id: &str) -> WebhookResponse {
    receiver.handle(NO_HEADERS, event(id).as_bytes()).await
}

#[tokio::test]
async fn redis_stopped_mid_run_refuses_new_events_and_recovers_without_restart() {
    let mut redis = RedisServer::start();
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let timeout = Duration::from_millis(500);
    let first = replica(&redis.url(), &runs, timeout);
    let other = replica(&redis.url(), &runs, timeout);
    for id in ["ev-1", "ev-2", "ev-3"] {
        assert_eq!(deliver(&first, id).await, WebhookResponse::ack());
    }

    redis.stop();
    // A new event: refused with 503 so that the platform delivers it again, never run blind.
    let refused = first.process(NO_HEADERS, event("ev-4").as_bytes()).await.unwrap_err();
    assert!(matches!(refused, WebhookError::Memory(_)), "{refused:?}");
    assert_eq!(refused.http_status(), 503);
    // This replica's own handled event is still recognised and acknowledged without running...
    assert_eq!(deliver(&first, "ev-1").await, WebhookResponse::ack());
    // ...while another replica, which cannot know, refuses it rather than run it again.
    assert_eq!(deliver(&other, "ev-2").await.status, 503);
    assert_eq!(runs.lock().unwrap().len(), 3);

    redis.restart();
    // The same replicas, no restart: the refused event comes again and runs (the first attempts
    // may still meet the dropped connection while it is re-established).
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = deliver(&first, "ev-4").await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(attempts < 50, "no recovery after {attempts} deliveries");
    }
    // The other replica sees the events handled before the outage (Redis kept them).
    for id in ["ev-1", "ev-2", "ev-3", "ev-4"] {
        let mut answer = deliver(&other, id).await;
        for _ in 0..50 {
            if answer.status == 200 {
                break;
            }
            answer = deliver(&other, id).await;
        }
        assert_eq!(answer, WebhookResponse::ack(), "{id}");
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs.values().all(|&n| n == 1), "no event handled twice: {runs:?}");
}

#[tokio::test]
async fn keys_are_namespaced_by_app_id_and_hold_no_secret() {
    let redis = RedisServer::start();
    let runs = Arc::new(Mutex::new(HashMap::new()));
    let receiver = replica(&redis.url(), &runs, RedisEventMemory::DEFAULT_TIMEOUT);
    for id in ["ev-a", "ev-b"] {
        assert_eq!(receiver.handle(NO_HEADERS, event(id).as_bytes()).await, WebhookResponse::ack());
    }
    let keys = redis.keys();
    assert_eq!(keys, [format!("vc:{APP_ID}:delivery:event:ev-a"), format!("vc:{APP_ID}:delivery:event:ev-b")]);
    for key in &keys {
        assert_eq!(redis.cli(&["GET", key]).trim(), "d");
        let ttl: i64 = redis.cli(&["PTTL", key]).trim().parse().unwrap();
        assert!(ttl > 0 && ttl <= 600_000, "expires with the retention window: {ttl}");
    }
    let debug = format!("{receiver:?}");
    assert!(!debug.contains(TOKEN) && debug.contains("RedisEventMemory"), "{debug}");
}
