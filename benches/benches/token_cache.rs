//! 1,000 concurrent calls on a cold token cache: a new client with app credentials per
//! iteration, so every iteration starts without a token, and exactly one token request is
//! made for the 1,000 calls (asserted on every iteration). Reported as calls per second next
//! to the same 1,000 calls by a new client with a fixed token, and by a new reqwest client
//! (each of the three opens its connections anew).

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use vc_api_benches::{ApiServer, ROOM_LEVEL_ID, TOKEN, baseline, client_runtime, vc_api_client};

const CALLS: usize = 1_000;

fn token_cache(c: &mut Criterion) {
    let runtime = client_runtime();
    let server = ApiServer::start();
    let url = server.url().to_owned();

    let mut group = c.benchmark_group("token_cache/1000_calls");
    group.throughput(Throughput::Elements(CALLS as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("vc_api_cold_token", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (server, url) = (&server, &url);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let client =
                        vc_api::Client::builder().base_url(url).app_credentials("cli_bench", "secret").build().unwrap();
                    let before = server.token_requests();
                    let start = Instant::now();
                    let calls = (0..CALLS).map(|_| client.room_level_get().room_level_id(ROOM_LEVEL_ID).data());
                    for result in join_all(calls).await {
                        result.expect("vc-api call");
                    }
                    total += start.elapsed();
                    assert_eq!(server.token_requests() - before, 1, "one token request for {CALLS} calls");
                }
                total
            }
        })
    });
    group.bench_function("vc_api_fixed_token", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let url = &url;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let client = vc_api_client(url);
                    let start = Instant::now();
                    let calls = (0..CALLS).map(|_| client.room_level_get().room_level_id(ROOM_LEVEL_ID).data());
                    for result in join_all(calls).await {
                        result.expect("vc-api call");
                    }
                    total += start.elapsed();
                }
                total
            }
        })
    });
    group.bench_function("reqwest_serde", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let url = &url;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let http = baseline::http_client();
                    let start = Instant::now();
                    let calls = (0..CALLS).map(|_| baseline::room_level_get(&http, url, TOKEN, ROOM_LEVEL_ID));
                    for result in join_all(calls).await {
                        result.expect("baseline call");
                    }
                    total += start.elapsed();
                }
                total
            }
        })
    });
    group.finish();
}

criterion_group!(benches, token_cache);
criterion_main!(benches);
