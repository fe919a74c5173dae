//! Decoding a large response: a 5,000-room `room_list` page (the spec's example room, numbered)
//! through vc-api's envelope decoding into the generated types, against hand-written serde
//! structs with the same fields. Throughput in bytes of JSON; `cargo xtask bench` prints
//! vc-api / baseline throughput. A third case puts `data` before `code` in the body, which
//! vc-api buffers as raw JSON until it knows the code (reported, no target). Measured in wall
//! time (`decode/…`) and in CPU time (`decode_cpu/…`, see [`ProcessCpuTime`](vc_api_benches::cpu_time::ProcessCpuTime)).

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use vc_api::Envelope;
use vc_api::types::RoomListData;
use vc_api_benches::baseline;

const ROOMS: usize = 5_000;

/// What vc-api does with a 200 body: decode the envelope, then take `data` if `code` is 0.
fn vc_api_decode(body: &[u8]) -> RoomListData {
    let envelope: Envelope<RoomListData> = serde_json::from_slice(body).expect("decodes");
    match envelope.data {
        Some(data) if envelope.code == 0 => data,
        _ => panic!("code {}", envelope.code),
    }
}

fn decode<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let body = vc_api_tests::room_list_page(0, ROOMS, Some("5000"));
    // The same page with `data` first: {"data":...,"code":0,"msg":"success"}.
    let data_first = {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let data = serde_json::to_string(&value["data"]).unwrap();
        format!(r#"{{"data":{data},"code":0,"msg":"success"}}"#).into_bytes()
    };
    assert_eq!(vc_api_decode(&body).rooms.len(), ROOMS);
    assert_eq!(vc_api_decode(&data_first), vc_api_decode(&body));
    let hand: baseline::RoomListData = baseline::decode(&body).unwrap();
    assert_eq!(hand.rooms.len(), ROOMS);

    let mut group = c.benchmark_group(format!("{name}/room_list_5000"));
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("vc_api", |b| b.iter(|| vc_api_decode(std::hint::black_box(&body))));
    group.bench_function("hand_written", |b| {
        b.iter(|| baseline::decode::<baseline::RoomListData>(std::hint::black_box(&body)).unwrap())
    });
    group.bench_function("vc_api_data_before_code", |b| b.iter(|| vc_api_decode(std::hint::black_box(&data_first))));
    group.finish();
}

vc_api_benches::wall_and_cpu_main!(decode, "decode");
