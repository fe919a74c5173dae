//! State shared by replicas on a real Redis (started for the run, in memory only), side by
//! side with the in-process defaults:
//!
//! - `shared_state/call`: one `room_level_get` by a warm client whose token came through the
//!   Redis token store (`token_in_redis`, sealed as `ClientBuilder::redis` stores it) or the default store (`token_in_memory`). Either way
//!   the client holds its token in process, so Redis is not on a warm call's path.
//! - `shared_state/first_call`: the first call of a new client (no token yet; one shared HTTP
//!   client and one shared Redis connection): the token read from Redis (`token_from_redis`) against fetched from the
//!   loopback token endpoint (`token_from_endpoint`; a real endpoint is much farther away).
//! - `shared_state/rate_budget`: taking and handing back one place of a limit that never binds,
//!   in a `RedisRateBudget` (one script each way) or a `LocalRateBudget`.
//!
//! `cargo xtask bench` prints Redis against in-process as ratios.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vc_api::rate_limit::{LocalRateBudget, RateBudget, RateLimit};
use vc_api::redis_store::RedisStore;
use vc_api_benches::{ApiServer, ROOM_LEVEL_ID, client_runtime};
use vc_api_tests::redis_server::RedisServer;

const APP_ID: &str = "cli_bench";
const SECRET: &str = "secret";

async fn call(client: &vc_api::Client) {
    client.room_level_get().room_level_id(ROOM_LEVEL_ID).data().await.expect("vc-api call");
}

fn shared_state(c: &mut Criterion) {
    let runtime = client_runtime();
    let redis = RedisServer::start_in_memory();
    let server = ApiServer::start();
    let url = server.url().to_owned();
    let store = runtime.block_on(async { RedisStore::open(&redis.url(), APP_ID).unwrap() });
    // One HTTP client for every vc-api client: a new client costs no TLS setup, so a first
    // call measures where its token comes from.
    // (Building a vc-api client first installs the TLS provider that client needs.)
    drop(vc_api::Client::builder().base_url(&url).build().unwrap());
    let http = vc_api_benches::baseline::http_client();
    let builder = || vc_api::Client::builder().base_url(&url).app_credentials(APP_ID, SECRET).http_client(http.clone());
    // The store the client builds for `.redis(url)`: tokens sealed with the app secret.
    let tokens = store.token_store_sealed(&vc_api::Secret::new(SECRET));
    let in_memory = builder().build().unwrap();
    let in_redis = builder().token_store(tokens.clone()).build().unwrap();
    // Warm both (the Redis one stores the token there), and check the token is shared.
    runtime.block_on(async {
        call(&in_memory).await;
        call(&in_redis).await;
        let before = server.token_requests();
        call(&builder().token_store(tokens.clone()).build().unwrap()).await;
        assert_eq!(server.token_requests(), before, "a new client took the token from Redis");
    });

    let mut group = c.benchmark_group("shared_state/call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("token_in_memory", |b| b.to_async(&runtime).iter(|| call(&in_memory)));
    group.bench_function("token_in_redis", |b| b.to_async(&runtime).iter(|| call(&in_redis)));
    group.finish();

    let mut group = c.benchmark_group("shared_state/first_call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("token_from_endpoint", |b| {
        b.to_async(&runtime).iter(|| async { call(&builder().build().unwrap()).await })
    });
    group.bench_function("token_from_redis", |b| {
        b.to_async(&runtime).iter(|| async { call(&builder().token_store(tokens.clone()).build().unwrap()).await })
    });
    group.finish();

    let limits = [RateLimit::new(u32::MAX, Duration::from_secs(1))];
    let local = LocalRateBudget::new();
    let shared = store.rate_budget();
    let mut group = c.benchmark_group("shared_state/rate_budget");
    group.throughput(Throughput::Elements(1));
    group.bench_function("local", |b| {
        b.to_async(&runtime).iter(|| async {
            let grant = local.acquire("room_level_get", &limits).await;
            local.answered(grant).await;
        })
    });
    group.bench_function("redis", |b| {
        b.to_async(&runtime).iter(|| async {
            let grant = shared.acquire("room_level_get", &limits).await;
            assert!(grant.id().is_some_and(|id| !id.starts_with('l')), "a Redis place");
            shared.answered(grant).await;
        })
    });
    group.finish();
}

criterion_group!(benches, shared_state);
criterion_main!(benches);
