//! Several replicas of one app sharing their token cache and rate budget on a real Redis
//! (`redis-server` on a free loopback port): separate processes (the `vc_replica` binary)
//! against one counting fake server, and Redis stopped and started again under running
//! clients.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vc_api::Secret;
use vc_api::rate_limit::RateLimit;
use vc_api::redis_store::RedisStore;
use vc_api::token_store::{FetchedToken, TokenKey, TokenKind, TokenStore};
use vc_api_tests::loopback::{LoopbackServer, Reply, Request};
use vc_api_tests::redis_server::RedisServer;
use vc_api_tests::{CapturedLogs, operation, tenant_token_answer};

const TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token/internal";
/// The app of the `vc_replica` binary.
const APP_ID: &str = "cli_replicas";
const SECRET: &str = "replica-secret";

/// The fake API: counts token requests (answering `t-1`, `t-2`, ... in turn), records when each
/// other request arrived and with which token, and answers it with `room_level_get`'s example.
struct FakeApi {
    server: LoopbackServer,
    token_requests: Arc<AtomicUsize>,
    calls: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl FakeApi {
    async fn start() -> Self {
        let token_requests = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let level = serde_json::to_vec(&operation("room_level_get").response_example()).unwrap();
        let server = {
            let (token_requests, calls) = (token_requests.clone(), calls.clone());
            LoopbackServer::start(move |request: &Request<'_>| {
                if request.path == TOKEN_PATH {
                    let n = token_requests.fetch_add(1, Ordering::SeqCst) + 1;
                    return Reply::json(tenant_token_answer(&format!("t-{n}"), 7200));
                }
                let token = request.authorization.unwrap_or_default().trim_start_matches("Bearer ").to_owned();
                calls.lock().unwrap().push((Instant::now(), token));
                Reply::json(level.clone())
            })
            .await
        };
        Self { server, token_requests, calls }
    }

    fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    fn calls(&self) -> Vec<(Instant, String)> {
        self.calls.lock().unwrap().clone()
    }
}

/// Runs `processes` replicas (`vc_replica <api> <redis> <calls> [limit]`): starts them all,
/// waits until each is ready, then tells them all to go at once; fails unless every call of
/// every replica succeeded.
fn run_replicas(processes: usize, api: &str, redis: &str, calls: usize, limit: Option<&str>) {
    let mut children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_vc_replica"))
                .args([api, redis, &calls.to_string()])
                .args(limit)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the vc_replica binary starts")
        })
        .collect();
    let mut outputs: Vec<_> = children.iter_mut().map(|c| BufReader::new(c.stdout.take().unwrap())).collect();
    for output in &mut outputs {
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    }
    for child in &mut children {
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    }
    for (child, output) in children.iter_mut().zip(outputs) {
        let lines: Vec<String> = output.lines().map(Result::unwrap).collect();
        assert!(child.wait().unwrap().success(), "a replica failed: {lines:?}");
        assert_eq!(lines, [format!("ok {calls}")]);
    }
}

/// The largest number of `times` inside any window of length `window` (starting at one of them).
fn busiest_window(times: &mut [Instant], window: Duration) -> usize {
    times.sort();
    (0..times.len()).map(|i| times[i..].iter().take_while(|t| **t < times[i] + window).count()).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_a_cold_cache_make_one_token_request() {
    let redis = RedisServer::start();
    let api = FakeApi::start().await;
    let (url, redis_url) = (api.server.url().to_owned(), redis.url());
    tokio::task::spawn_blocking(move || run_replicas(4, &url, &redis_url, 250, None)).await.unwrap();

    assert_eq!(api.token_requests(), 1, "one token request for 4 processes x 250 calls");
    let calls = api.calls();
    assert_eq!(calls.len(), 1000);
    assert!(calls.iter().all(|(_, token)| token == "t-1"), "every call carried the one token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_sharing_a_limit_never_exceed_it_in_any_window() {
    // 100 per window, as `room_level_get` would have at 100/minute, on a 2-second window so
    // that 300 calls (3 windows' worth) take seconds rather than minutes.
    const WINDOW: Duration = Duration::from_secs(2);
    let redis = RedisServer::start();
    let api = FakeApi::start().await;
    let (url, redis_url) = (api.server.url().to_owned(), redis.url());
    let limit = format!("100/{}", WINDOW.as_millis());
    tokio::task::spawn_blocking(move || run_replicas(4, &url, &redis_url, 75, Some(&limit))).await.unwrap();

    let mut arrivals: Vec<Instant> = api.calls().into_iter().map(|(at, _)| at).collect();
    assert_eq!(arrivals.len(), 300);
    let busiest = busiest_window(&mut arrivals, WINDOW);
    assert!(busiest <= 100, "{busiest} requests reached the server within one window of {WINDOW:?}");
    eprintln!("busiest window: {busiest} requests; 300 calls over {:?}", arrivals[299] - arrivals[0]);
    assert_eq!(api.token_requests(), 1);
}

/// The in-process limiter holds the same limit on the server's clock: a request counts until
/// one window after its answer, so a late first request cannot share a window with the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_with_the_local_limiter_never_exceeds_it_in_any_window() {
    const WINDOW: Duration = Duration::from_secs(2);
    let api = FakeApi::start().await;
    let client = vc_api::Client::builder()
        .base_url(api.server.url())
        .app_credentials(APP_ID, SECRET)
        .rate_limit_override("room_level_get", [RateLimit::new(100, WINDOW)])
        .client_side_rate_limit(true)
        .build()
        .unwrap();
    let calls = (0..300).map(|_| client.room_level_get().room_level_id("omb_1").data());
    assert!(futures::future::join_all(calls).await.iter().all(Result::is_ok));
    let mut arrivals: Vec<Instant> = api.calls().into_iter().map(|(at, _)| at).collect();
    assert_eq!(arrivals.len(), 300);
    let busiest = busiest_window(&mut arrivals, WINDOW);
    assert!(busiest <= 100, "{busiest} requests reached the server within one window of {WINDOW:?}");
}

/// A token stored for the app: its key is namespaced by the app id (and by the sealed format,
/// `v2`), its value shows neither the token nor the app secret, another client of the app
/// opens it (no second fetch), and it expires with the refresh margin still left on the token.
#[tokio::test]
async fn the_shared_token_is_namespaced_holds_no_secret_and_expires_before_the_margin() {
    let redis = RedisServer::start();
    let api = FakeApi::start().await;
    let client = vc_api::Client::builder()
        .base_url(api.server.url())
        .app_credentials(APP_ID, SECRET)
        .token_refresh_margin(Duration::from_secs(300))
        .redis(redis.url())
        .build()
        .unwrap();
    client.room_level_get().room_level_id("omb_1").data().await.unwrap();

    let keys = redis.keys();
    assert_eq!(keys, [format!("vc:{APP_ID}:rate:room_level_get"), format!("vc:{APP_ID}:token:v2:tenant")]);
    let token_key = &keys[1];
    let value = redis.cli(&["GET", token_key]);
    assert!(value.trim().len() > 40 && !value.contains("t-1") && !value.contains(SECRET), "{value}");
    let other = vc_api::Client::builder()
        .base_url(api.server.url())
        .app_credentials(APP_ID, SECRET)
        .redis(redis.url())
        .build()
        .unwrap();
    other.room_level_get().room_level_id("omb_1").data().await.unwrap();
    assert_eq!(api.token_requests(), 1, "the second client opened the stored token");
    assert_eq!(api.calls().last().unwrap().1, "t-1");
    let ttl: u64 = redis.cli(&["PTTL", token_key]).trim().parse().unwrap();
    assert!(ttl <= (7200 - 300) * 1000 && ttl > (7200 - 300 - 60) * 1000, "expires at the margin: {ttl} ms");
}

/// A Redis URL may hold a password: neither the builder nor the client shows it.
#[tokio::test]
async fn the_redis_url_is_not_shown() {
    let builder = vc_api::Client::builder().app_credentials(APP_ID, SECRET).redis("redis://:hunter2@127.0.0.1:1/");
    let shown = format!("{builder:?}");
    let client = builder.build().unwrap();
    let shown = format!("{shown} {client:?}");
    assert!(!shown.contains("hunter2") && !shown.contains(SECRET), "{shown}");
}

fn key() -> TokenKey {
    TokenKey::new(APP_ID, TokenKind::Tenant, None)
}

fn fetched(token: &str) -> FetchedToken {
    FetchedToken { token: Secret::new(token), lifetime: Duration::from_secs(7200) }
}

/// Asks `store` for the token; `fetch` is what the token endpoint would answer (counted in `fetches`).
async fn get(store: &dyn TokenStore, fetch: &str, fetches: &AtomicUsize) -> String {
    get_key(store, &key(), fetch, fetches).await
}

/// Like [`get`], for the token `key`.
async fn get_key(store: &dyn TokenStore, key: &TokenKey, fetch: &str, fetches: &AtomicUsize) -> String {
    let fetch = Box::pin(async move {
        fetches.fetch_add(1, Ordering::SeqCst);
        Ok(fetched(fetch))
    });
    store.get_or_fetch(key, Duration::from_secs(300), fetch).await.unwrap().token.expose().to_owned()
}

/// The app's sealed token store on `redis`, with the app secret `secret`.
fn sealed(redis: &RedisServer, secret: &str) -> vc_api::redis_store::RedisTokenStore {
    RedisStore::open(&redis.url(), APP_ID).unwrap().token_store_sealed(&Secret::new(secret))
}

/// A replica evicting a token it saw rejected deletes it only while it is still the one stored:
/// a late eviction of an old token leaves the newer one (plain store).
#[tokio::test]
async fn only_the_rejected_token_is_evicted() {
    let redis = RedisServer::start();
    evicts_only_the_rejected_token(&RedisStore::open(&redis.url(), APP_ID).unwrap().token_store()).await;
}

/// The same with sealed tokens: the eviction compares fingerprints.
#[tokio::test]
async fn only_the_rejected_sealed_token_is_evicted() {
    let redis = RedisServer::start();
    evicts_only_the_rejected_token(&sealed(&redis, SECRET)).await;
    assert_eq!(redis.keys(), [format!("vc:{APP_ID}:token:v2:tenant")]);
}

async fn evicts_only_the_rejected_token(store: &dyn TokenStore) {
    let fetches = AtomicUsize::new(0);
    assert_eq!(get(store, "t-new", &fetches).await, "t-new");
    store.evict(&key(), &Secret::new("t-old")).await;
    assert_eq!(get(store, "t-unwanted", &fetches).await, "t-new", "a stale eviction changes nothing");
    store.evict(&key(), &Secret::new("t-new")).await;
    assert_eq!(get(store, "t-next", &fetches).await, "t-next", "the rejected token is gone");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

/// Every Redis value, one per key, as `key value` lines.
fn dump(redis: &RedisServer) -> String {
    redis.keys().iter().map(|key| format!("{key} {}", redis.cli(&["GET", key]).trim())).collect::<Vec<_>>().join("\n")
}

/// A value sealed with another app secret (another app under the same app id, or a replica
/// given the wrong secret) does not open: the replica fetches its own token and overwrites it,
/// and neither token nor secret shows in Redis.
#[tokio::test]
async fn a_token_sealed_with_another_secret_is_not_used() {
    let redis = RedisServer::start();
    let (foreign, own) = (sealed(&redis, "another-secret"), sealed(&redis, SECRET));
    let fetches = AtomicUsize::new(0);
    assert_eq!(get(&foreign, "t-foreign", &fetches).await, "t-foreign");
    assert_eq!(get(&own, "t-own", &fetches).await, "t-own", "the foreign value is not used");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(get(&sealed(&redis, SECRET), "t-unwanted", &fetches).await, "t-own", "it was overwritten");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    let everything = dump(&redis);
    for secret in ["t-foreign", "t-own", "another-secret", SECRET] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
}

/// Rolling upgrade: a plain value of the previous version (`vc:{app}:token:tenant`) is not
/// read by a sealed store, which fetches and stores its own under the `v2` key, leaving the old
/// replicas theirs; a plain or garbage value found under the `v2` key counts as absent and is
/// overwritten.
#[tokio::test]
async fn a_plain_value_of_the_previous_version_is_ignored() {
    let redis = RedisServer::start();
    let plain = RedisStore::open(&redis.url(), APP_ID).unwrap().token_store();
    let fetches = AtomicUsize::new(0);
    assert_eq!(get(&plain, "t-plain", &fetches).await, "t-plain");
    let old_key = format!("vc:{APP_ID}:token:tenant");
    assert_eq!(redis.cli(&["GET", &old_key]).trim(), "300000:t-plain", "the previous version's format");

    assert_eq!(get(&sealed(&redis, SECRET), "t-sealed", &fetches).await, "t-sealed");
    assert_eq!(get(&plain, "t-unwanted", &fetches).await, "t-plain", "old replicas keep theirs");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    let new_key = format!("vc:{APP_ID}:token:v2:tenant");
    for (n, value) in ["300000:t-plain", "300000:00:AAAA", "garbage", ""].into_iter().enumerate() {
        assert_eq!(redis.cli(&["SET", &new_key, value, "PX", "600000"]).trim(), "OK");
        let fetch = format!("t-fetched-{n}");
        assert_eq!(get(&sealed(&redis, SECRET), &fetch, &fetches).await, fetch, "{value:?} is not used");
        assert_eq!(get(&sealed(&redis, SECRET), "t-unwanted", &fetches).await, fetch, "{value:?} was overwritten");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 6);
}

/// The Redis key is the sealed value's associated data: a value copied under another token's
/// key does not open there; the replica fetches that token.
#[tokio::test]
async fn a_sealed_value_copied_to_another_tokens_key_does_not_open() {
    let redis = RedisServer::start();
    let store = sealed(&redis, SECRET);
    let fetches = AtomicUsize::new(0);
    let t1 = TokenKey::new(APP_ID, TokenKind::Tenant, Some("t1".to_owned()));
    let t2 = TokenKey::new(APP_ID, TokenKind::Tenant, Some("t2".to_owned()));
    assert_eq!(get_key(&store, &t1, "t1-token", &fetches).await, "t1-token");
    let value = redis.cli(&["GET", &format!("vc:{APP_ID}:token:v2:tenant:t1")]);
    let copied = redis.cli(&["SET", &format!("vc:{APP_ID}:token:v2:tenant:t2"), value.trim(), "PX", "600000"]);
    assert_eq!(copied.trim(), "OK");
    assert_eq!(get_key(&store, &t2, "t2-token", &fetches).await, "t2-token", "t1's token is not served for t2");
    assert_eq!(get_key(&store, &t1, "t-unwanted", &fetches).await, "t1-token");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

/// Redis stopped under running clients: calls go on, tokens are fetched by each process, each
/// applies its own limiter, each store logs the outage once; Redis started again: the same
/// store objects share again, without a restart.
#[tokio::test]
async fn redis_stopped_mid_run_falls_back_and_recovers_without_restart() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let mut redis = RedisServer::start();
    let api = FakeApi::start().await;
    let store = RedisStore::open_with_timeout(&redis.url(), APP_ID, Duration::from_millis(500)).unwrap();
    let (tokens, budget) = (store.token_store(), store.rate_budget());
    let client = || {
        vc_api::Client::builder()
            .base_url(api.server.url())
            .app_credentials(APP_ID, SECRET)
            .token_store(tokens.clone())
            .rate_budget(budget.clone())
            .rate_limit_override("room_level_get", [RateLimit::new(1000, Duration::from_secs(60))])
            .build()
            .unwrap()
    };
    let call = |client: vc_api::Client| async move { client.room_level_get().room_level_id("omb_1").data().await };
    call(client()).await.unwrap();
    assert_eq!(api.token_requests(), 1);

    redis.stop();
    let during = client();
    for _ in 0..3 {
        call(during.clone()).await.expect("calls go on during the outage");
    }
    call(client()).await.unwrap();
    assert_eq!(api.token_requests(), 3, "each new client fetched its own token");
    let text = logs.text();
    assert_eq!(text.matches("Redis unreachable for the token cache; tokens are fetched locally").count(), 1, "{text}");
    assert_eq!(
        text.matches("Redis unreachable for the rate budget; each process applies its own limiter").count(),
        1,
        "{text}"
    );

    redis.restart();
    // The same store objects: once the connection is back (its first use after the restart
    // may still meet the dropped one), a new client takes the token stored before the outage.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = api.token_requests();
        call(client()).await.unwrap();
        if api.token_requests() == before {
            break;
        }
        assert!(attempts < 50, "no recovery after {attempts} clients");
    }
    let last = api.calls().last().cloned().unwrap();
    assert_eq!(last.1, "t-1", "the token shared before the outage is in use again");
    call(during.clone()).await.unwrap();
    let text = logs.text();
    assert!(text.contains("Redis reachable again; the token cache is shared again"), "{text}");
    assert!(text.contains("Redis reachable again; the rate budget is shared again"), "{text}");
}
