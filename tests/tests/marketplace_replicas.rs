//! A marketplace (store) app run as two replicas sharing their tokens on a real Redis
//! (`redis-server` on a free loopback port), against a fake Feishu that issues app tokens for
//! the right `app_ticket`, tenant tokens per tenant key for a valid app token, and rejects the
//! tokens a test revokes: one fetch of each tenant's token for both replicas, a rejected token
//! evicted for every replica (and only that tenant's), and the app token shared, even with a
//! replica that never received the `app_ticket`, which the replica that did shares (sealed).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use vc_api::redis_store::RedisStore;
use vc_api::token_store::{FetchedToken, TokenKey, TokenKind, TokenStore};
use vc_api::{CallOptions, Client, Error, Secret};
use vc_api_tests::loopback::{LoopbackServer, Reply, Request};
use vc_api_tests::operation;
use vc_api_tests::redis_server::RedisServer;

const APP_ID: &str = "cli_store_app";
const SECRET: &str = "store-app-secret";
const TICKET: &str = "ticket-from-the-event";
const APP_TOKEN_PATH: &str = "/open-apis/auth/v3/app_access_token";
const MARKETPLACE_TENANT_TOKEN_PATH: &str = "/open-apis/auth/v3/tenant_access_token";
const APP_TICKET_RESEND_PATH: &str = "/open-apis/auth/v3/app_ticket/resend";

/// What the fake Feishu issued and saw.
#[derive(Default)]
struct Seen {
    /// App tokens issued, in order (`app-1`, `app-2`, ...).
    app_tokens: Vec<String>,
    /// Tenant tokens issued per tenant key, in order (`t1-1`, `t1-2`, ...).
    tenant_tokens: BTreeMap<String, Vec<String>>,
    /// Tokens the API now rejects (tenant tokens with 99991663, app tokens with 99991664).
    revoked: HashSet<String>,
    /// Requests to resend the `app_ticket`.
    resends: usize,
    /// The token each API call carried, in arrival order.
    calls: Vec<String>,
}

struct FakeFeishu {
    server: LoopbackServer,
    seen: Arc<Mutex<Seen>>,
}

fn body(request: &Request<'_>) -> Value {
    serde_json::from_slice(request.body).unwrap_or(Value::Null)
}

fn failure(code: i64, msg: &str) -> Reply {
    Reply::json(serde_json::to_vec(&json!({"code": code, "msg": msg})).unwrap())
}

impl FakeFeishu {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let level = serde_json::to_vec(&operation("room_level_get").response_example()).unwrap();
        let server = {
            let seen = seen.clone();
            LoopbackServer::start(move |request: &Request<'_>| {
                let mut seen = seen.lock().unwrap();
                match request.path {
                    APP_TOKEN_PATH => {
                        let body = body(request);
                        if body != json!({"app_id": APP_ID, "app_secret": SECRET, "app_ticket": TICKET}) {
                            return failure(10012, "app_ticket is invalid");
                        }
                        let token = format!("app-{}", seen.app_tokens.len() + 1);
                        seen.app_tokens.push(token.clone());
                        let answer = json!({"code": 0, "msg": "ok", "app_access_token": token, "expire": 7200});
                        Reply::json(serde_json::to_vec(&answer).unwrap())
                    }
                    MARKETPLACE_TENANT_TOKEN_PATH => {
                        let body = body(request);
                        let app_token = body["app_access_token"].as_str().unwrap_or_default().to_owned();
                        if !seen.app_tokens.contains(&app_token) || seen.revoked.contains(&app_token) {
                            return failure(99991664, "app access token invalid");
                        }
                        let tenant = body["tenant_key"].as_str().unwrap_or_default().to_owned();
                        let issued = seen.tenant_tokens.entry(tenant.clone()).or_default();
                        let token = format!("{tenant}-{}", issued.len() + 1);
                        issued.push(token.clone());
                        let answer = json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200});
                        Reply::json(serde_json::to_vec(&answer).unwrap())
                    }
                    APP_TICKET_RESEND_PATH => {
                        seen.resends += 1;
                        failure(0, "ok")
                    }
                    _ => {
                        let token = request.authorization.unwrap_or_default().trim_start_matches("Bearer ").to_owned();
                        let rejected = seen.revoked.contains(&token);
                        seen.calls.push(token);
                        if rejected {
                            return failure(99991663, "tenant access token invalid").with_status(400);
                        }
                        Reply::json(level.clone())
                    }
                }
            })
            .await
        };
        Self { server, seen }
    }

    fn seen<T>(&self, read: impl FnOnce(&Seen) -> T) -> T {
        read(&self.seen.lock().unwrap())
    }

    fn tenant_tokens(&self, tenant: &str) -> Vec<String> {
        self.seen(|seen| seen.tenant_tokens.get(tenant).cloned().unwrap_or_default())
    }

    fn revoke(&self, token: &str) {
        self.seen.lock().unwrap().revoked.insert(token.to_owned());
    }
}

/// One replica: the marketplace app on its own connection to the shared Redis, with the
/// `app_ticket` if the ticket event reached it.
fn replica(api: &FakeFeishu, redis: &RedisServer, ticket: Option<&str>) -> Client {
    let builder = Client::builder()
        .base_url(api.server.url())
        .marketplace_app(APP_ID, SECRET)
        .redis(redis.url())
        .client_side_rate_limit(false);
    let builder = match ticket {
        Some(ticket) => builder.app_ticket(ticket),
        None => builder,
    };
    builder.build().unwrap()
}

async fn call(client: &Client, tenant: &str) -> Result<(), Error> {
    let options = CallOptions::new().tenant_key(tenant);
    client.room_level_get().room_level_id("omb_1").data_with(options).await.map(drop)
}

/// The value Redis holds for the token `name` (sealed: neither the token nor the secret).
fn stored(redis: &RedisServer, name: &str) -> String {
    redis.cli(&["GET", &format!("vc:{APP_ID}:token:v2:{name}")]).trim().to_owned()
}

/// The token Redis holds for the app token (`tenant` `None`) or a tenant's token, as a replica
/// with the app secret opens it (`nothing stored` if there is none that opens).
async fn read_back(redis: &RedisServer, tenant: Option<&str>) -> String {
    let store = RedisStore::open(&redis.url(), APP_ID).unwrap().token_store_sealed(&Secret::new(SECRET));
    let key = match tenant {
        Some(tenant) => TokenKey::new(APP_ID, TokenKind::Tenant, Some(tenant.to_owned())),
        None => TokenKey::new(APP_ID, TokenKind::App, None),
    };
    // An answer that expires at once (within the margin), so that it is never stored.
    let nothing = FetchedToken { token: Secret::new("nothing stored"), lifetime: Duration::ZERO };
    let fetch = Box::pin(async move { Ok(nothing) });
    store.get_or_fetch(&key, Duration::from_secs(300), fetch).await.unwrap().token.expose().to_owned()
}

/// Point 1: both replicas calling at once in tenant t1 make one t1 token request in total;
/// tenant t2 gets its own token, under its own key; no key or value holds a token, the app
/// secret or the ticket (the tokens are sealed: a replica with the secret opens them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_fetch_each_tenants_token_once_under_its_own_key() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (a, b) = (replica(&api, &redis, Some(TICKET)), replica(&api, &redis, Some(TICKET)));

    let t1 = (0..10).flat_map(|_| [call(&a, "t1"), call(&b, "t1")]);
    assert!(futures::future::join_all(t1).await.iter().all(Result::is_ok));
    let t2 = (0..5).flat_map(|_| [call(&a, "t2"), call(&b, "t2")]);
    assert!(futures::future::join_all(t2).await.iter().all(Result::is_ok));

    assert_eq!(api.tenant_tokens("t1"), ["t1-1"], "one t1 token request for both replicas");
    assert_eq!(api.tenant_tokens("t2"), ["t2-1"], "t2 has a token of its own");
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1"], "one app token for both replicas");
    let calls = api.seen(|s| s.calls.clone());
    assert_eq!(calls.iter().filter(|t| *t == "t1-1").count(), 20);
    assert_eq!(calls.iter().filter(|t| *t == "t2-1").count(), 10);
    assert_eq!(calls.len(), 30);

    let expected: Vec<String> =
        ["app", "tenant:t1", "tenant:t2"].iter().map(|name| format!("vc:{APP_ID}:token:v2:{name}")).collect();
    assert_eq!(redis.keys(), expected);
    let values = [stored(&redis, "app"), stored(&redis, "tenant:t1"), stored(&redis, "tenant:t2")];
    let everything = format!("{expected:?} {values:?}");
    for secret in [SECRET, TICKET, "app-1", "t1-1", "t2-1"] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
    let opened =
        [read_back(&redis, None).await, read_back(&redis, Some("t1")).await, read_back(&redis, Some("t2")).await];
    assert_eq!(opened, ["app-1", "t1-1", "t2-1"]);
}

/// Point 2: a t1 token the API rejects is evicted from Redis by the replica that saw it
/// rejected (its retry fetches a new one instead of reading the old one back); the other
/// replica, its own copy rejected in turn, takes the new one from Redis without a fetch, and a
/// new replica never sees the old one. t2's token stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_tenant_token_is_evicted_for_every_replica_and_only_in_its_tenant() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (a, b) = (replica(&api, &redis, Some(TICKET)), replica(&api, &redis, Some(TICKET)));
    for (client, tenant) in [(&a, "t1"), (&b, "t1"), (&a, "t2"), (&b, "t2")] {
        call(client, tenant).await.unwrap();
    }
    let t2_before = stored(&redis, "tenant:t2");

    api.revoke("t1-1");
    call(&a, "t1").await.expect("replica A gets a new t1 token after the rejection");
    assert_eq!(api.tenant_tokens("t1"), ["t1-1", "t1-2"]);
    assert_eq!(read_back(&redis, Some("t1")).await, "t1-2", "Redis holds the new token");
    assert_eq!(api.seen(|s| s.calls[4..].to_vec()), ["t1-1", "t1-2"]);

    call(&b, "t1").await.expect("replica B moves to the new token");
    assert_eq!(api.seen(|s| s.calls[6..].to_vec()), ["t1-1", "t1-2"], "B's old copy, then Redis' new token");
    assert_eq!(api.tenant_tokens("t1"), ["t1-1", "t1-2"], "B fetched nothing: its eviction left A's new token");
    call(&b, "t1").await.unwrap();
    let c = replica(&api, &redis, Some(TICKET));
    call(&c, "t1").await.unwrap();
    assert_eq!(
        api.seen(|s| s.calls[8..].to_vec()),
        ["t1-2", "t1-2"],
        "B keeps the new token; a new replica starts on it"
    );

    for client in [&a, &b, &c] {
        call(client, "t2").await.unwrap();
    }
    assert_eq!(api.seen(|s| s.calls[10..].to_vec()), ["t2-1", "t2-1", "t2-1"]);
    assert_eq!(api.tenant_tokens("t2"), ["t2-1"], "t2's token was not touched");
    assert_eq!(stored(&redis, "tenant:t2"), t2_before);
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1"]);
}

/// Point 2, at once: both replicas' calls rejected together (each replica evicting the old
/// token, in whichever order) still make one new t1 token request in total, and every call
/// succeeds on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_on_both_replicas_at_once_make_one_new_token_request() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (a, b) = (replica(&api, &redis, Some(TICKET)), replica(&api, &redis, Some(TICKET)));
    call(&a, "t1").await.unwrap();
    call(&b, "t1").await.unwrap();

    api.revoke("t1-1");
    let calls = (0..10).flat_map(|_| [call(&a, "t1"), call(&b, "t1")]);
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(api.tenant_tokens("t1"), ["t1-1", "t1-2"], "one new token for both replicas");
    assert_eq!(read_back(&redis, Some("t1")).await, "t1-2");
    let accepted = api.seen(|s| s.calls.iter().filter(|token| *token == "t1-2").count());
    assert_eq!(accepted, 20, "every call ended on the new token");
}

/// Point 3, the ticket: Feishu pushes the `app_ticket` event to one replica. A replica without
/// it and with nothing in Redis asks for a resend and fails naming the ticket; once the replica
/// with the ticket has stored an app token, the other one fetches tenant tokens with it (no
/// ticket, no app token request, no resend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_the_ticket_uses_the_app_token_another_replica_stored() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (with_ticket, without) = (replica(&api, &redis, Some(TICKET)), replica(&api, &redis, None));

    let error = call(&without, "t1").await.unwrap_err();
    assert!(matches!(&error, Error::Auth { message, .. } if message.contains("app_ticket")), "{error:?}");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (1, 0));
    assert!(redis.keys().is_empty(), "a failed fetch stores nothing: {:?}", redis.keys());

    call(&with_ticket, "t1").await.unwrap();
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1"]);
    call(&without, "t2").await.expect("the stored app token serves the replica without the ticket");
    assert_eq!(api.tenant_tokens("t2"), ["t2-1"]);
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (1, 1), "no resend, no app token request");
}

/// Point 3, the app token itself: one replica's app token rejected by the tenant token
/// endpoint (99991664) is evicted from Redis and replaced once; the other replica, its own copy
/// rejected in turn, takes the replacement from Redis; tenant tokens already held stay in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_app_token_is_replaced_once_for_every_replica() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (a, b) = (replica(&api, &redis, Some(TICKET)), replica(&api, &redis, Some(TICKET)));
    call(&a, "t1").await.unwrap();
    call(&b, "t2").await.unwrap();
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1"], "B took A's app token from Redis");

    api.revoke("app-1");
    call(&a, "t3").await.expect("A replaces the rejected app token and gets t3's token");
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1", "app-2"]);
    assert_eq!(read_back(&redis, None).await, "app-2", "Redis holds the new app token");
    call(&b, "t4").await.expect("B moves to the new app token");
    assert_eq!(api.seen(|s| s.app_tokens.clone()), ["app-1", "app-2"], "B fetched no app token");
    assert_eq!((api.tenant_tokens("t3"), api.tenant_tokens("t4")), (vec!["t3-1".to_owned()], vec!["t4-1".to_owned()]));

    call(&a, "t1").await.unwrap();
    call(&b, "t2").await.unwrap();
    assert_eq!((api.tenant_tokens("t1").len(), api.tenant_tokens("t2").len()), (1, 1), "tenant tokens stay valid");
}

/// The ticket shared: the replica the `app_ticket` event reached shares it
/// (`Client::share_app_ticket`, what the webhook receiver calls), sealed in Redis. A replica
/// that never received it fetches the app token with it (no resend), and again when that app
/// token is rejected, with no other replica involved; without the shared ticket that replica
/// could only ask for a resend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_ticket_lets_a_replica_without_it_fetch_the_app_token() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (receiver, other) = (replica(&api, &redis, None), replica(&api, &redis, None));

    receiver.share_app_ticket(TICKET).await;
    let ticket_key = format!("vc:{APP_ID}:token:v2:app_ticket");
    assert_eq!(redis.keys(), std::slice::from_ref(&ticket_key));
    let sealed = redis.cli(&["GET", &ticket_key]);
    assert!(sealed.trim().len() > 40 && !sealed.contains(TICKET) && !sealed.contains(SECRET), "{sealed}");
    let ttl: u64 = redis.cli(&["PTTL", &ticket_key]).trim().parse().unwrap();
    assert!(ttl <= 12 * 3600 * 1000 && ttl > 12 * 3600 * 1000 - 60_000, "kept for 12 hours: {ttl} ms");

    call(&other, "t1").await.expect("the replica without the ticket fetches the app token with the shared one");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.clone())), (0, vec!["app-1".to_owned()]));
    assert_eq!(api.tenant_tokens("t1"), ["t1-1"]);

    api.revoke("app-1");
    call(&other, "t2").await.expect("and replaces a rejected app token on its own");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.clone())), (0, vec!["app-1".to_owned(), "app-2".to_owned()]));
    call(&receiver, "t3").await.expect("the receiving replica takes the new app token from Redis");
    assert_eq!(api.seen(|s| s.app_tokens.len()), 2);
}

/// A newer ticket replaces the shared one; a value sealed with another app secret is not
/// used (the replica asks for a resend, as with no ticket at all); a client with no shared
/// store keeps the ticket for itself only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_ticket_is_shared_and_a_foreign_one_is_not_used() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let a = replica(&api, &redis, None);
    a.share_app_ticket("an-older-ticket").await;
    a.share_app_ticket(TICKET).await;
    call(&replica(&api, &redis, None), "t1").await.expect("the newest ticket is the one used");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (0, 1));

    let redis2 = RedisServer::start();
    let foreign = Client::builder()
        .base_url(api.server.url())
        .marketplace_app(APP_ID, "another-secret")
        .redis(redis2.url())
        .build()
        .unwrap();
    foreign.share_app_ticket(TICKET).await;
    let error = call(&replica(&api, &redis2, None), "t1").await.unwrap_err();
    assert!(matches!(&error, Error::Auth { message, .. } if message.contains("app_ticket")), "{error:?}");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (1, 1));

    let alone = Client::builder().base_url(api.server.url()).marketplace_app(APP_ID, SECRET).build().unwrap();
    alone.share_app_ticket(TICKET).await;
    call(&alone, "t4").await.expect("its own ticket serves a client without a store");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (1, 2));
}

/// The same through the webhook receiver: the `app_ticket` event delivered to one replica's
/// receiver (`app_ticket_client`) serves the other replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_delivered_to_one_replicas_receiver_serves_the_other() {
    let redis = RedisServer::start();
    let api = FakeFeishu::start().await;
    let (receiving, other) = (replica(&api, &redis, None), replica(&api, &redis, None));
    let receiver = vc_api::webhook::EventReceiver::builder()
        .verification_token("verification-token")
        .app_ticket_client(receiving)
        .build()
        .unwrap();
    let delivery = json!({
        "schema": "2.0",
        "header": {"event_id": "ev-ticket", "event_type": "app_ticket", "token": "verification-token", "app_id": APP_ID},
        "event": {"app_id": APP_ID, "app_ticket": TICKET, "type": "app_ticket"}
    })
    .to_string();
    let no_headers: &[(&str, &str)] = &[];
    assert_eq!(receiver.handle(no_headers, delivery.as_bytes()).await.status, 200);
    call(&other, "t1").await.expect("the other replica fetches the app token with the delivered ticket");
    assert_eq!(api.seen(|s| (s.resends, s.app_tokens.len())), (0, 1));
}
