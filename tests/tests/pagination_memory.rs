//! Memory: streaming 100,000 rooms with `room_list().stream()` over 1,000 pages of 100 keeps
//! the heap at about one page. A counting global allocator records the peak of live heap bytes
//! of the client while the items are consumed one by one. The loopback server builds each page
//! when it is asked for, on a thread of its own whose allocations are not counted.
//! (This file holds one test so that no other test's allocations are counted.)

use futures::TryStreamExt;
use vc_api_tests::counting_alloc::{CountingAllocator, leave_thread_uncounted};
use vc_api_tests::loopback::{LoopbackServer, Reply, Request};
use vc_api_tests::room_list_page;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator::new();

const ITEMS: usize = 100_000;
const PAGE_SIZE: usize = 100;

/// Answers `room_list` with the page starting at the offset in `page_token` (0 when absent).
fn page(request: &Request<'_>) -> Reply {
    assert_eq!(request.path, "/open-apis/vc/v1/rooms");
    assert_eq!(request.query_param("page_size"), Some("100"));
    let first: usize = request.query_param("page_token").map_or(0, |t| t.parse().expect("numeric page_token"));
    let count = PAGE_SIZE.min(ITEMS - first);
    let next = first + count;
    let next_token = (next < ITEMS).then(|| next.to_string());
    Reply::json(room_list_page(first, count, next_token.as_deref()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_100_000_items_holds_about_one_page() {
    let server = LoopbackServer::start_on_thread(page, leave_thread_uncounted);
    let client = vc_api::Client::builder().base_url(server.url()).access_token("t-test").build().unwrap();
    let page_bytes = room_list_page(0, PAGE_SIZE, Some("100")).len();

    let baseline = ALLOCATOR.baseline();
    let mut rooms = std::pin::pin!(client.room_list().page_size(PAGE_SIZE as i32).stream());
    let mut seen = 0usize;
    let mut peak_after_100_pages = 0;
    while let Some(room) = rooms.try_next().await.expect("every page arrives") {
        assert_eq!(room.room_id.as_deref(), Some(format!("omm_{seen:032x}").as_str()), "items in order");
        seen += 1;
        if seen == 100 * PAGE_SIZE {
            peak_after_100_pages = ALLOCATOR.peak_growth(baseline);
        }
    }
    let peak = ALLOCATOR.peak_growth(baseline);

    assert_eq!(seen, ITEMS);
    let mib = |bytes: usize| bytes as f64 / 1_048_576.0;
    eprintln!(
        "100,000 items in 1,000 pages: one page is {page_bytes} bytes of JSON ({:.1} MiB for all pages); \
         peak heap growth {peak} bytes ({:.2} MiB, {:.1} pages), {peak_after_100_pages} bytes after the first 100 pages",
        mib(page_bytes * ITEMS / PAGE_SIZE),
        mib(peak),
        peak as f64 / page_bytes as f64,
    );
    // Bounded by a page, not by the listing: the decoded page, its body, and the connection's
    // read buffer (hyper grows it up to ~400 KiB when reads fill it) at most.
    assert!(peak < 16 * page_bytes, "peak heap growth {peak} bytes is more than 16 pages of {page_bytes} bytes");
}
