//! The state every call carries. A call's future holds its request builder (the parameters as
//! given) and the runtime's own state; the runtime's part stays under a fixed bound whatever the
//! operation, so a simple read's whole future stays under 1 KiB and is served from the
//! allocator's small per-thread caches (BENCHMARKS.md §1; the layout rules are in
//! `vc-api/src/call.rs`).

use vc_api::builder;
use vc_api::types::{ReserveApplyRequest, RoomConfigSetRequest, UserIdType};

/// What the runtime may add to the builder's own size.
const RUNTIME_LIMIT: usize = 640;

/// What a simple read's whole future may take: glibc's per-thread cache serves up to 1,032
/// bytes, and `join_all` or a spawned task adds a header of its own.
const READ_LIMIT: usize = 960;

fn check(name: &str, future: usize, builder: usize) {
    println!("{name}: the future is {future} bytes, its builder {builder}");
    assert!(
        future - builder <= RUNTIME_LIMIT,
        "{name}: the runtime's part of the future is {} bytes, more than {RUNTIME_LIMIT}",
        future - builder
    );
}

#[test]
fn a_calls_future_is_its_builder_and_a_small_fixed_state() {
    let client = vc_api::Client::builder().base_url("http://127.0.0.1:9").access_token("t-x").build().unwrap();
    let get = client.room_level_get().room_level_id("omb_1").data();
    check("room_level_get", size_of_val(&get), size_of::<builder::RoomLevelGet<'_>>());
    assert!(size_of_val(&get) <= READ_LIMIT, "room_level_get's future is {} bytes", size_of_val(&get));
    let list = client.room_list().page_size(20).data();
    check("room_list", size_of_val(&list), size_of::<builder::RoomList<'_>>());
    assert!(size_of_val(&list) <= READ_LIMIT, "room_list's future is {} bytes", size_of_val(&list));
    let apply = client
        .reserve_apply()
        .user_id_type(UserIdType::OpenId)
        .body(ReserveApplyRequest::builder().end_time("1608883322"))
        .data_with_meta(vc_api::CallOptions::new());
    check("reserve_apply", size_of_val(&apply), size_of::<builder::ReserveApply<'_>>());
    // The largest builder of all.
    let set = client.room_config_set().body(RoomConfigSetRequest::builder().scope(1)).data();
    check("room_config_set", size_of_val(&set), size_of::<builder::RoomConfigSet<'_>>());
}
