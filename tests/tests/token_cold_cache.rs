//! Single-flight on a cold token cache: 1,000 calls started at once by a client with app
//! credentials and no token yet make exactly one token request, and every call carries the
//! token it returned. The servers are the loopback server of the benchmarks, so this is the
//! assertion behind the `token_cache` benchmark.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use vc_api_tests::loopback::{LoopbackServer, Reply, Request};
use vc_api_tests::{operation, tenant_token_answer};

const CALLS: usize = 1_000;
const TOKEN: &str = "t-cold-cache";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_on_a_cold_cache_make_one_token_request() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let unauthorized = Arc::new(AtomicUsize::new(0));
    let level = serde_json::to_vec(&operation("room_level_get").response_example()).unwrap();
    let server = {
        let (token_requests, unauthorized) = (token_requests.clone(), unauthorized.clone());
        LoopbackServer::start(move |request: &Request<'_>| {
            if request.path == "/open-apis/auth/v3/tenant_access_token/internal" {
                assert_eq!(request.method, "POST");
                token_requests.fetch_add(1, Ordering::SeqCst);
                return Reply::json(tenant_token_answer(TOKEN, 7200));
            }
            if request.authorization != Some("Bearer t-cold-cache") {
                unauthorized.fetch_add(1, Ordering::SeqCst);
            }
            Reply::json(level.clone())
        })
        .await
    };
    let client =
        vc_api::Client::builder().base_url(server.url()).app_credentials("cli_bench", "secret").build().unwrap();

    // join_all polls every call once before any can finish, so all 1,000 ask for the token
    // while the first request for it is still in flight.
    let calls = (0..CALLS).map(|_| client.room_level_get().room_level_id("omb_1").data());
    let results = futures::future::join_all(calls).await;

    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).take(3).collect();
    assert!(failed.is_empty(), "calls failed: {failed:?}");
    assert_eq!(token_requests.load(Ordering::SeqCst), 1, "exactly one token request for {CALLS} calls");
    assert_eq!(unauthorized.load(Ordering::SeqCst), 0, "every call carried the fetched token");
}
