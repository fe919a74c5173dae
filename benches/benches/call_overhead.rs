//! Per-call overhead: `client.room_level_get().room_level_id(..).data()` against the same call
//! written with reqwest + serde by hand, both to the same loopback server answering the spec's
//! example, one call at a time and 64 at once. `cargo xtask bench` prints vc-api / baseline.
//! Measured twice: in wall time (`call_overhead/…`) and in the process's CPU time
//! (`call_overhead_cpu/…`, see [`ProcessCpuTime`](vc_api_benches::cpu_time::ProcessCpuTime)), which a busy machine disturbs less.

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use futures::future::join_all;
use vc_api_benches::{ApiServer, Callers, ROOM_LEVEL_ID, TOKEN, baseline, client_runtime};

const CONCURRENT: usize = 64;

fn call_overhead<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let runtime = client_runtime();
    let server = ApiServer::start();
    let Callers { url, client, http } = Callers::new(&server);

    // Both return the same room level (and warm up their connection pools).
    runtime.block_on(async {
        let ours = client.room_level_get().room_level_id(ROOM_LEVEL_ID).data().await.expect("vc-api call");
        let theirs = baseline::room_level_get(&http, &url, TOKEN, ROOM_LEVEL_ID).await.expect("baseline call");
        assert_eq!(ours.room_level.unwrap().name, theirs.room_level.unwrap().name);
    });

    let mut group = c.benchmark_group(format!("{name}/sequential"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("vc_api", |b| {
        b.to_async(&runtime)
            .iter(|| async { client.room_level_get().room_level_id(ROOM_LEVEL_ID).data().await.expect("vc-api call") })
    });
    group.bench_function("reqwest_serde", |b| {
        b.to_async(&runtime).iter(|| async {
            baseline::room_level_get(&http, &url, TOKEN, ROOM_LEVEL_ID).await.expect("baseline call")
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("{name}/concurrent_64"));
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.bench_function("vc_api", |b| {
        b.to_async(&runtime).iter(|| async {
            let calls = (0..CONCURRENT).map(|_| client.room_level_get().room_level_id(ROOM_LEVEL_ID).data());
            for result in join_all(calls).await {
                result.expect("vc-api call");
            }
        })
    });
    group.bench_function("reqwest_serde", |b| {
        b.to_async(&runtime).iter(|| async {
            let calls = (0..CONCURRENT).map(|_| baseline::room_level_get(&http, &url, TOKEN, ROOM_LEVEL_ID));
            for result in join_all(calls).await {
                result.expect("baseline call");
            }
        })
    });
    group.finish();
}

vc_api_benches::wall_and_cpu_main!(call_overhead, "call_overhead");
