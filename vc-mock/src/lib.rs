//! A local fake of the Feishu / Lark VC API v1, driven by the spec: every operation of
//! `spec/openapi.yaml` (embedded at build time) answers with its own response example, after
//! the request has been checked against the spec.
//!
//! - **Routing** by method and path template; an unknown path gets 404, a known path with
//!   another method 405 (plain text, as the real gateway does).
//! - **Authentication**: every operation needs `Authorization: Bearer <token>`, a token this
//!   server issued or one of the fixed tokens it accepts ([`TENANT_TOKEN`], [`USER_TOKEN`] and
//!   any added with [`MockServerBuilder::accept_token`]). A missing token gets code 99991661, an
//!   unknown or expired one 99991663 (HTTP 400).
//! - **Token types**: each operation takes the token types its `security` lists. A token's type
//!   is how it was issued (tenant or app token endpoint) or, for a fixed token, its prefix as
//!   Feishu's tokens have it (`t-` tenant, `u-` user, `a-` app; a fixed token with another
//!   prefix counts as every type). A user-only operation called with another type gets 99991668,
//!   a tenant-only one 99991663, with a message naming the accepted types.
//! - **Token endpoints**: `POST /open-apis/auth/v3/tenant_access_token/internal` (and
//!   `app_access_token/internal`) issue tokens for the app [`APP_ID`] / [`APP_SECRET`]; a
//!   marketplace app gets an app token from `POST /open-apis/auth/v3/app_access_token` with
//!   [`APP_TICKET`], then tenant tokens from `POST /open-apis/auth/v3/tenant_access_token`.
//! - **Validation** (see [`validate`]): path parameters present, required query parameters,
//!   query types, enums and ranges, the JSON body against the request schema (required fields,
//!   types, enums, ranges, lengths; fields the schema does not declare are rejected). A wrong
//!   request gets `{"code": 121003, "msg": "param error: <what is wrong>"}` with the HTTP status
//!   the operation's `x-feishu-error-codes` gives 121003 (400), by the rule of
//!   [`vc_api::mock::error_status`].
//! - **Events** (see [`events`]): `POST /__mock/events` takes a v2 event body, or
//!   `{"event_type": "..."}` filled from the spec's example, sends it down the long connection
//!   (`?fragments=N` splits it) and delivers it to the webhook URL set with
//!   [`MockServerBuilder::deliver_to`], encrypted and signed when an encrypt key is set;
//!   `GET /__mock/deliveries` lists what the receiver answered.
//! - **The long connection** (see [`long_connection`]): `POST /callback/ws/endpoint` answers
//!   the app's credentials with the WebSocket of a fake long-connection server started beside
//!   this one, so [`MockServer::url`] is the domain of both the API and the long connection.
//! - **Answers**: the 200 example of the operation; the file download serves a few bytes
//!   ([`server::FILE_BYTES`]). Paginated operations have two pages: the example, then (when
//!   the request carries the example's `page_token`) the example with `has_more: false`.
//!   Every answer has an `X-Tt-Logid` header.
//!
//! # How strict it is
//!
//! The mock is as strict as the spec where the spec is certain, and as lenient as the real
//! gateway is known to be where official clients rely on it. `cargo xtask official-clients`
//! checks that Feishu's own Node SDK gets code 0 for every operation, and the Python SDK for
//! every operation it has.
//!
//! **Accepted although the spec would not allow it:**
//! - an empty JSON object `{}` (or a blank body), with or without `Content-Type:
//!   application/json`, on an operation without a request body (GET, DELETE, and the PATCH
//!   operations `meeting_end` and `meeting_recording_stop`): the official SDKs send `{}` on every
//!   call, so the gateway takes it as no body. Any other body there is rejected;
//! - query booleans spelt `True` / `False` / `TRUE` / `FALSE` as well as `true` / `false` (the
//!   Python SDK writes Python's spelling);
//! - a fixed token of unknown prefix, for every operation (added with
//!   [`MockServerBuilder::accept_token`], for tests that need a token of no particular type).
//!
//! **Checked:** the route (method and path template), the bearer token and its type against the
//! operation's `security`, every path and query parameter (presence, repetition, type, enum,
//! range, length, no unknown query parameters) and the JSON body (required fields, types,
//! enums, ranges, lengths, item counts, no undeclared fields).
//!
//! **Not known to the mock, so not checked:** whether the IDs refer to anything (every
//! well-formed ID exists; answers are the examples whatever was asked), permissions and scopes
//! (no 121005 or 99991672), which user a user token stands for, rate limits, the conditional
//! rules the doc pages state in prose (a field required only for some `scope` value, a time
//! range no longer than some days), the real gateway's error texts and which exact code it
//! uses for a token of the wrong type (the pages do not say; the mock answers with the
//! invalid-token code of the type the operation wants), and state: nothing a call does
//! changes later answers.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = vc_mock::MockServer::start().await;
//! println!("the VC API answers at {}", server.url());
//! # }
//! ```
//!
//! The `vc-mock` binary serves the same on a port: `cargo run -p vc-mock -- --port 8080`.

#![deny(missing_docs)]

pub mod events;
pub mod long_connection;
pub mod server;
pub mod validate;

/// The bundled spec as the mock reads it: the workspace's one spec reader, the `vc-spec` crate.
pub use vc_spec as spec;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

pub use server::Served;
use server::{Config, Handler, State};
pub use spec::Spec;

/// The app id the server issues tokens to.
pub const APP_ID: &str = "cli_vcmock";
/// The secret of [`APP_ID`].
pub const APP_SECRET: &str = "vcmock-app-secret";
/// The `app_ticket` a marketplace app must present.
pub const APP_TICKET: &str = "vcmock-app-ticket";
/// A fixed tenant access token accepted by default.
pub const TENANT_TOKEN: &str = "t-vcmock-tenant";
/// A fixed user access token accepted by default.
pub const USER_TOKEN: &str = "u-vcmock-user";

/// A running mock server. It stops when dropped.
pub struct MockServer {
    server: wiremock::MockServer,
    state: Arc<State>,
    long_connection: long_connection::LongConnServer,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer").field("url", &self.url()).field("state", &self.state).finish()
    }
}

impl MockServer {
    /// Starts a server with the default configuration on a free port of 127.0.0.1.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await
    }

    /// Configures a server.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The base URL (`http://127.0.0.1:<port>`), for `Client::builder().base_url(..)`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// The most recent requests answered (at most 1024), oldest first.
    pub fn served(&self) -> Vec<Served> {
        self.state.served()
    }

    /// Sends an event as the platform would, and waits for the webhook delivery: `event` is a
    /// whole v2 body (`schema`, `header`, `event`), sent unchanged, or `{"event_type": "..."}`
    /// (optionally with `"event"`), which gets a fresh header and, without `event`, the spec's
    /// example. The same as `POST /__mock/events`, except that this waits for the delivery.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = vc_mock::MockServer::start().await;
    /// let pushed = server.push_event(serde_json::json!({"event_type": "vc.meeting.meeting_ended_v1"})).await.unwrap();
    /// assert_eq!(pushed.body["header"]["event_type"], "vc.meeting.meeting_ended_v1");
    /// assert!(pushed.webhook.is_none()); // no webhook URL configured
    /// # }
    /// ```
    pub async fn push_event(&self, event: serde_json::Value) -> Result<events::Pushed, events::PushError> {
        let body = self.state.events().body_for(self.state.spec(), &event)?;
        let long_connection_clients = self.long_connection.hub().push(&body, 1).await;
        let webhook = self.state.events().deliver(&body).await;
        Ok(events::Pushed { body, webhook, long_connection_clients })
    }

    /// The fake long-connection server's hub: push events (in parts, in any order), read the
    /// acknowledgements, inject faults. Long-connection clients connect with the server's
    /// [`url`](Self::url) as their domain: it answers `POST /callback/ws/endpoint` with the
    /// WebSocket of the fake server.
    pub fn long_connection(&self) -> long_connection::LongConnHub {
        self.long_connection.hub()
    }

    /// The webhook deliveries made so far (at most the last 1,024), oldest first.
    pub fn deliveries(&self) -> Vec<events::WebhookDelivery> {
        self.state.events().deliveries()
    }
}

/// Configures a [`MockServer`]: the app it knows, the tokens it accepts, where it listens.
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct MockServerBuilder {
    config: Config,
    listener: Option<TcpListener>,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            config: Config {
                app_id: APP_ID.to_owned(),
                app_secret: APP_SECRET.to_owned(),
                app_ticket: APP_TICKET.to_owned(),
                tokens: vec![TENANT_TOKEN.to_owned(), USER_TOKEN.to_owned()],
                token_lifetime: Duration::from_secs(7200),
                webhook: events::WebhookTarget::default(),
            },
            listener: None,
        }
    }
}

impl MockServerBuilder {
    /// The app whose credentials the token endpoints accept (default [`APP_ID`], [`APP_SECRET`]).
    pub fn app_credentials(mut self, app_id: impl Into<String>, app_secret: impl Into<String>) -> Self {
        self.config.app_id = app_id.into();
        self.config.app_secret = app_secret.into();
        self
    }

    /// The `app_ticket` a marketplace app must present (default [`APP_TICKET`]).
    pub fn app_ticket(mut self, ticket: impl Into<String>) -> Self {
        self.config.app_ticket = ticket.into();
        self
    }

    /// Accepts this bearer token too, for as long as the server runs.
    pub fn accept_token(mut self, token: impl Into<String>) -> Self {
        self.config.tokens.push(token.into());
        self
    }

    /// Accepts only tokens the server issues (drops [`TENANT_TOKEN`], [`USER_TOKEN`] and any
    /// added before).
    pub fn only_issued_tokens(mut self) -> Self {
        self.config.tokens.clear();
        self
    }

    /// How long issued tokens are valid (default 2 hours); the `expire` the endpoints report.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.token_lifetime = lifetime;
        self
    }

    /// Delivers pushed events (`POST /__mock/events`, [`MockServer::push_event`]) to this URL,
    /// as the platform delivers to an app's request URL.
    pub fn deliver_to(mut self, url: impl Into<String>) -> Self {
        self.config.webhook.url = Some(url.into());
        self
    }

    /// Encrypts and signs webhook deliveries with this key, as the platform does when the app
    /// has an encrypt key (default: plain, unsigned JSON).
    pub fn encrypt_key(mut self, key: impl Into<String>) -> Self {
        self.config.webhook.encrypt_key = Some(vc_api::Secret::new(key));
        self
    }

    /// The verification token put in the `header.token` of events the mock fills in (default
    /// empty).
    pub fn verification_token(mut self, token: impl Into<String>) -> Self {
        self.config.webhook.verification_token = Some(vc_api::Secret::new(token));
        self
    }

    /// Listens on this socket instead of a free port of 127.0.0.1.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Starts the server.
    pub async fn start(self) -> MockServer {
        let (app_id, app_secret) = (self.config.app_id.clone(), self.config.app_secret.clone());
        let state = Arc::new(State::new(Spec::embedded(), self.config));
        let mut builder = wiremock::MockServer::builder().disable_request_recording();
        if let Some(listener) = self.listener {
            builder = builder.listener(listener);
        }
        let server = builder.start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(Handler(state.clone()))
            .named("vc-mock: the VC API from the spec")
            .mount(&server)
            .await;
        let long_connection = long_connection::LongConnServer::start_for(&app_id, &app_secret).await;
        state.set_long_connection(long_connection.hub());
        MockServer { server, state, long_connection }
    }
}
