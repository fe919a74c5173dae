//! A fixed amount of per-call work for profilers: `room_level_get` through vc-api or through
//! the reqwest + serde baseline, one call at a time or 64 at once, against the loopback server.
//! Counts heap allocations per call (server included, the same for both) and, run under
//! callgrind twice (0 and N rounds), gives exact instructions per call:
//!
//! ```sh
//! cargo bench -p vc-api-benches --bench call_profile --no-run
//! ROUNDS=200 valgrind --tool=callgrind target/release/deps/call_profile-<hash> vc 1
//! ```
//!
//! Arguments: `vc` or `baseline`, then the calls per round (default 1); or `sizes`, which prints
//! the size of one call's future for both. `cargo bench` runs both with 1 and 64 and prints the
//! allocation counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use vc_api_benches::{ApiServer, Callers, ROOM_LEVEL_ID, TOKEN, baseline, client_runtime};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `rounds` rounds of `width` concurrent calls; returns allocations per call.
fn profile(server: &ApiServer, vc: bool, width: usize, rounds: usize) -> f64 {
    let runtime = client_runtime();
    let callers = Callers::new(server);
    runtime.block_on(async {
        let round = || callers.room_level_round(vc, width);
        round().await; // connections open
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..rounds {
            round().await;
        }
        (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / (rounds * width).max(1) as f64
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let server = ApiServer::start();
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(200);
    match args.first().map(String::as_str) {
        Some("sizes") => {
            let Callers { url, client, http } = Callers::new(&server);
            let ours = client.room_level_get().room_level_id(ROOM_LEVEL_ID).data();
            let theirs = baseline::room_level_get(&http, &url, TOKEN, ROOM_LEVEL_ID);
            println!(
                "call_profile: the future of one call is {} bytes with vc-api, {} bytes by hand",
                std::mem::size_of_val(&ours),
                std::mem::size_of_val(&theirs)
            );
        }
        Some(which @ ("vc" | "baseline")) => {
            let width = args.get(1).and_then(|w| w.parse().ok()).unwrap_or(1);
            let per_call = profile(&server, which == "vc", width, rounds);
            eprintln!("{which}, {width} at once, {rounds} rounds: {per_call:.1} allocations per call");
        }
        _ => {
            for width in [1, 64] {
                let ours = profile(&server, true, width, rounds);
                let theirs = profile(&server, false, width, rounds);
                println!(
                    "call_profile: {width} at once: {ours:.1} heap allocations per call with vc-api, \
                     {theirs:.1} with reqwest + serde (the server's included in both)"
                );
            }
        }
    }
}
