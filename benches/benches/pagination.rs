//! Paginating 100,000 rooms, 100 per page, from a loopback server: `room_list().stream()`
//! against a hand-written page loop with reqwest + serde. Throughput in items per second;
//! memory is measured by the test `tests/tests/pagination_memory.rs`. Measured in wall time
//! (`pagination/…`) and in CPU time (`pagination_cpu/…`, see [`ProcessCpuTime`](vc_api_benches::cpu_time::ProcessCpuTime)).

use criterion::measurement::Measurement;
use criterion::{Criterion, SamplingMode, Throughput};
use futures::TryStreamExt;
use vc_api_benches::{ApiServer, Callers, LISTING_ITEMS, LISTING_PAGE_SIZE, TOKEN, baseline, client_runtime};

fn pagination<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let runtime = client_runtime();
    let server = ApiServer::start_with_listing(LISTING_ITEMS);
    let Callers { url, client, http } = Callers::new(&server);

    let mut group = c.benchmark_group(format!("{name}/100000_items"));
    group.throughput(Throughput::Elements(LISTING_ITEMS as u64)).sample_size(10).sampling_mode(SamplingMode::Flat);
    group.bench_function("vc_api", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut rooms = std::pin::pin!(client.room_list().page_size(LISTING_PAGE_SIZE as i32).stream());
            let mut count = 0;
            while let Some(room) = rooms.try_next().await.expect("every page arrives") {
                std::hint::black_box(room);
                count += 1;
            }
            assert_eq!(count, LISTING_ITEMS);
        })
    });
    group.bench_function("reqwest_serde", |b| {
        b.to_async(&runtime).iter(|| async {
            let count = baseline::room_list_all(&http, &url, TOKEN, LISTING_PAGE_SIZE, |room| {
                std::hint::black_box(room);
            })
            .await
            .expect("every page arrives");
            assert_eq!(count, LISTING_ITEMS);
        })
    });
    group.finish();
}

vc_api_benches::wall_and_cpu_main!(pagination, "pagination");
