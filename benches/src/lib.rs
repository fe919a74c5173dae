//! What the benchmarks share: the hand-written reqwest + serde code vc-api is measured against
//! ([`baseline`]), a loopback server answering the spec's examples ([`ApiServer`]), and the
//! runtime the clients run on. `cargo xtask bench` runs the benchmarks and prints the ratios.

pub mod baseline;
pub mod cpu_time;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::join_all;
use vc_api_tests::loopback::{LoopbackServer, Reply, Request};
use vc_api_tests::{operation, room_list_page, tenant_token_answer};

/// The token the fixed-token clients send, and the one the token endpoint hands out.
pub const TOKEN: &str = "t-bench-token";
/// The room level every `room_level_get` asks for.
pub const ROOM_LEVEL_ID: &str = "omb_57c9cc7d9a81e27e54c8fabfd02759e7";
/// Items in the listing `room_list` walks through.
pub const LISTING_ITEMS: usize = 100_000;
/// Items per page of that listing.
pub const LISTING_PAGE_SIZE: usize = 100;

/// The path of the self-built app's token endpoint.
pub const TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";

/// A loopback server on a thread of its own answering `room_level_get` with the spec's
/// example, `room_list` with pages of [`LISTING_PAGE_SIZE`] rooms of a listing (built before the
/// server starts, so serving one costs a copy), and the token endpoint, counting its requests.
pub struct ApiServer {
    server: LoopbackServer,
    token_requests: Arc<AtomicUsize>,
}

impl ApiServer {
    /// Starts the server without the listing (`room_list` answers HTTP 400).
    pub fn start() -> Self {
        Self::start_with_listing(0)
    }

    /// Starts the server with a listing of `items` rooms (building its pages takes a moment).
    pub fn start_with_listing(items: usize) -> Self {
        let token_requests = Arc::new(AtomicUsize::new(0));
        let level: bytes::Bytes = serde_json::to_vec(&operation("room_level_get").response_example()).unwrap().into();
        let token: bytes::Bytes = tenant_token_answer(TOKEN, 7200).into();
        let pages: HashMap<usize, bytes::Bytes> = (0..items)
            .step_by(LISTING_PAGE_SIZE)
            .map(|first| {
                let next = first + LISTING_PAGE_SIZE;
                let next_token = (next < items).then(|| next.to_string());
                (first, room_list_page(first, LISTING_PAGE_SIZE, next_token.as_deref()).into())
            })
            .collect();
        let counter = token_requests.clone();
        let handler = move |request: &Request<'_>| match request.path {
            TOKEN_PATH => {
                counter.fetch_add(1, Ordering::SeqCst);
                Reply::json(token.clone())
            }
            "/open-apis/vc/v1/rooms" => {
                let first = request.query_param("page_token").map_or(0, |t| t.parse().expect("numeric page_token"));
                match pages.get(&first) {
                    Some(page) => Reply::json(page.clone()),
                    None => Reply::json(r#"{"code":121003,"msg":"param error"}"#).with_status(400),
                }
            }
            _ => Reply::json(level.clone()),
        };
        ApiServer { server: LoopbackServer::start_on_thread(handler, || {}), token_requests }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// Requests the token endpoint has answered so far.
    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }
}

/// The runtime the clients run on: single-threaded, so that the client and the server (on its
/// own thread) have one core each of the two this machine has.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// A vc-api client with the fixed [`TOKEN`].
pub fn vc_api_client(url: &str) -> vc_api::Client {
    vc_api::Client::builder().base_url(url).access_token(TOKEN).build().expect("client builds")
}

/// The two callers a comparison drives against one [`ApiServer`]: vc-api's client with the fixed
/// [`TOKEN`] and the hand-written baseline's reqwest client.
pub struct Callers {
    /// The server's base URL.
    pub url: String,
    /// The vc-api client.
    pub client: vc_api::Client,
    /// The baseline's HTTP client.
    pub http: reqwest::Client,
}

impl Callers {
    /// Both callers, pointed at `server`.
    pub fn new(server: &ApiServer) -> Self {
        let url = server.url().to_owned();
        Callers { client: vc_api_client(&url), http: baseline::http_client(), url }
    }

    /// One round of `width` concurrent `room_level_get` calls, through vc-api (`vc`) or the
    /// baseline; panics if a call fails.
    pub async fn room_level_round(&self, vc: bool, width: usize) {
        if vc {
            let calls = (0..width).map(|_| self.client.room_level_get().room_level_id(ROOM_LEVEL_ID).data());
            join_all(calls).await.into_iter().for_each(|r| drop(r.expect("vc-api call")));
        } else {
            let calls = (0..width).map(|_| baseline::room_level_get(&self.http, &self.url, TOKEN, ROOM_LEVEL_ID));
            join_all(calls).await.into_iter().for_each(|r| drop(r.expect("baseline call")));
        }
    }
}

/// The `main` of a criterion benchmark measured twice: `$bench(c, $name)` in wall time, then
/// `$bench(c, "<$name>_cpu")` in the process's CPU time
/// ([`ProcessCpuTime`](crate::cpu_time::ProcessCpuTime)), which a busy machine disturbs less.
/// `$bench` is generic over criterion's `Measurement`.
#[macro_export]
macro_rules! wall_and_cpu_main {
    ($bench:ident, $name:literal) => {
        fn wall_time(c: &mut ::criterion::Criterion) {
            $bench(c, $name);
        }

        fn cpu_time(c: &mut ::criterion::Criterion<$crate::cpu_time::ProcessCpuTime>) {
            $bench(c, concat!($name, "_cpu"));
        }

        ::criterion::criterion_group!(wall, wall_time);
        ::criterion::criterion_group! {
            name = cpu;
            config = ::criterion::Criterion::default().with_measurement($crate::cpu_time::ProcessCpuTime);
            targets = cpu_time
        }
        ::criterion::criterion_main!(wall, cpu);
    };
}
