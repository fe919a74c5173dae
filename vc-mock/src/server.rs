//! What the mock answers: routing by method and path template, the bearer token check, the
//! token endpoints, validation, and the spec's example as the answer.
//!
//! [`State::handle`] is plain code from a request to an [`Answer`], so it can be tested
//! without a socket; `Handler` plugs it into wiremock's server.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::events::{self, Events, PushError};
use crate::spec::{Operation, Spec};
use crate::validate;

/// Feishu's code for an invalid parameter.
pub const PARAM_ERROR: i64 = 121003;
/// The token endpoints' code for bad app credentials.
pub const APP_CREDENTIALS_INVALID: i64 = 10014;
/// The token endpoints' code for a bad or missing `app_ticket`.
pub const APP_TICKET_INVALID: i64 = 10012;
/// The token endpoints' code for a malformed token request.
pub const TOKEN_REQUEST_INVALID: i64 = 10003;
/// No `Authorization: Bearer` header.
pub const TOKEN_MISSING: i64 = 99991661;
/// A tenant access token that was not issued here, or has expired.
pub const TENANT_TOKEN_INVALID: i64 = 99991663;
/// An app access token that was not issued here, or has expired.
pub const APP_TOKEN_INVALID: i64 = 99991664;
/// A user access token was needed: the operation accepts only user tokens and got another
/// kind (Feishu's code for an invalid user access token).
pub const USER_TOKEN_INVALID: i64 = 99991668;

/// The bytes served as the file of `export_download`: the start of a zip (xlsx) archive and a
/// line saying where it comes from.
pub const FILE_BYTES: &[u8] = b"PK\x03\x04vc-mock: the exported file of a mock export task\n";

/// The largest number of [`Served`] entries kept.
const SERVED_LOG_LIMIT: usize = 1024;

/// One request the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The operation (or token endpoint) it was routed to, if any.
    pub operation: Option<String>,
    /// HTTP status of the answer.
    pub status: u16,
    /// Feishu code of the answer (0 for success and files), if it had one.
    pub code: Option<i64>,
}

/// A response, before it goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The Feishu code in the body, if any.
    pub code: Option<i64>,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json; charset=utf-8".to_owned(),
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            code: body.get("code").and_then(Value::as_i64),
        }
    }

    fn error(status: u16, code: i64, msg: impl Into<String>, log_id: &str) -> Answer {
        Answer::json(status, &json!({"code": code, "msg": msg.into(), "error": {"log_id": log_id}}))
    }

    fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8".to_owned(),
            headers: Vec::new(),
            body: text.as_bytes().to_vec(),
            code: None,
        }
    }
}

/// A request as the handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// What the server accepts: the app, its ticket, fixed tokens, and how long issued tokens live.
#[derive(Clone)]
pub struct Config {
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    pub(crate) app_ticket: String,
    pub(crate) tokens: Vec<String>,
    pub(crate) token_lifetime: Duration,
    pub(crate) webhook: events::WebhookTarget,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("app_secret", &"***")
            .field("app_ticket", &"***")
            .field("tokens", &format_args!("{} token(s)", self.tokens.len()))
            .field("token_lifetime", &self.token_lifetime)
            .field("webhook", &self.webhook)
            .finish()
    }
}

/// The server's state: its spec, configuration, issued tokens and request log.
pub struct State {
    spec: &'static Spec,
    config: Config,
    tenant_tokens: Mutex<HashMap<String, Instant>>,
    app_tokens: Mutex<HashMap<String, Instant>>,
    counter: AtomicU64,
    served: Mutex<VecDeque<Served>>,
    events: std::sync::Arc<Events>,
    long_connection: std::sync::OnceLock<crate::long_connection::LongConnHub>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The HTTP status of an error answer with `code` to `operation`: its `x-feishu-error-codes`
/// entry, by the same rule as vc-api's typed mocks ([`vc_api::mock::error_status`]).
fn error_status(operation: &Operation, code: i64) -> u16 {
    vc_api::mock::error_status(&operation.error_statuses, code)
}

/// The kinds of access token Feishu issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Tenant,
    User,
    App,
}

impl TokenKind {
    const ALL: [TokenKind; 3] = [TokenKind::Tenant, TokenKind::User, TokenKind::App];

    /// The security scheme naming this kind in the spec.
    fn scheme(self) -> &'static str {
        match self {
            TokenKind::Tenant => "tenant_access_token",
            TokenKind::User => "user_access_token",
            TokenKind::App => "app_access_token",
        }
    }

    /// How Feishu's tokens of this kind start.
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Tenant => "t-",
            TokenKind::User => "u-",
            TokenKind::App => "a-",
        }
    }
}

/// Token endpoint paths (as vc-api calls them).
const TENANT_TOKEN_INTERNAL: &str = "/open-apis/auth/v3/tenant_access_token/internal";
const APP_TOKEN_INTERNAL: &str = "/open-apis/auth/v3/app_access_token/internal";
const APP_TOKEN: &str = "/open-apis/auth/v3/app_access_token";
const TENANT_TOKEN: &str = "/open-apis/auth/v3/tenant_access_token";
const APP_TICKET_RESEND: &str = "/open-apis/auth/v3/app_ticket/resend";

/// A routed request: the operation and its path parameters (decoded).
type Route = (&'static Operation, Vec<(String, String)>);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// A server state for `spec` and `config`.
    pub fn new(spec: &'static Spec, config: Config) -> State {
        State {
            spec,
            events: std::sync::Arc::new(Events::new(config.webhook.clone(), config.app_id.clone())),
            long_connection: std::sync::OnceLock::new(),
            config,
            tenant_tokens: Mutex::new(HashMap::new()),
            app_tokens: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            served: Mutex::new(VecDeque::new()),
        }
    }

    /// The most recent requests answered, oldest first.
    pub fn served(&self) -> Vec<Served> {
        lock(&self.served).iter().cloned().collect()
    }

    /// The event side: webhook target and delivery log.
    pub(crate) fn events(&self) -> &std::sync::Arc<Events> {
        &self.events
    }

    /// Serves the long connection's endpoint and pushes events through this hub.
    pub(crate) fn set_long_connection(&self, hub: crate::long_connection::LongConnHub) {
        let _ = self.long_connection.set(hub);
    }

    /// The long connection's hub, once set.
    pub(crate) fn long_connection(&self) -> Option<&crate::long_connection::LongConnHub> {
        self.long_connection.get()
    }

    /// The spec the server follows.
    pub(crate) fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// The control routes under `/__mock/`: `POST /__mock/events` pushes an event (the webhook
    /// delivery runs in the background on the current tokio runtime), `GET /__mock/deliveries`
    /// lists webhook deliveries. `None` for any other path.
    pub(crate) fn control(&self, request: Incoming<'_>) -> Option<Answer> {
        match (request.method, request.path) {
            ("POST", events::PUSH_PATH) => Some(self.push_route(request)),
            ("GET", events::DELIVERIES_PATH) => Some(Answer::json(200, &self.events.deliveries_json())),
            ("POST", vc_api::long_connection::ENDPOINT_PATH) => {
                self.long_connection().map(|hub| Answer::json(200, &hub.endpoint_answer(request.body)))
            }
            (_, events::PUSH_PATH | events::DELIVERIES_PATH) => Some(Answer::text(405, "405 method not allowed")),
            _ => None,
        }
    }

    fn push_route(&self, request: Incoming<'_>) -> Answer {
        let pushed = serde_json::from_slice::<Value>(request.body)
            .map_err(|e| PushError(format!("the body is not JSON: {e}")))
            .and_then(|value| Ok((self.events.body_for(self.spec, &value)?, events::fragments(request.query)?)));
        let (body, fragments) = match pushed {
            Ok(pushed) => pushed,
            Err(e) => return Answer::json(400, &json!({"error": e.0})),
        };
        let webhook = self.events.webhook_url().map(str::to_owned);
        if webhook.is_some() {
            let events = self.events.clone();
            let delivered = body.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { events.deliver(&delivered).await });
                }
                Err(_) => {
                    std::thread::spawn(move || {
                        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                            runtime.block_on(events.deliver(&delivered));
                        }
                    });
                }
            }
        }
        let clients = self.long_connection().map_or(0, |hub| hub.push_now(&body, fragments));
        Answer::json(
            200,
            &json!({
                "event_id": body.pointer("/header/event_id"),
                "event_type": body.pointer("/header/event_type"),
                "fragments": fragments,
                "long_connection_clients": clients,
                "webhook": webhook,
            }),
        )
    }

    /// Answers one request, and records it.
    pub fn handle(&self, request: Incoming<'_>) -> Answer {
        let serial = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let log_id = format!("vcmock{serial:012}");
        let (operation, mut answer) = self.answer(request, &log_id, serial);
        answer.headers.push(("x-tt-logid".to_owned(), log_id));
        let mut served = lock(&self.served);
        if served.len() == SERVED_LOG_LIMIT {
            served.pop_front();
        }
        served.push_back(Served {
            method: request.method.to_owned(),
            path: request.path.to_owned(),
            operation,
            status: answer.status,
            code: answer.code,
        });
        answer
    }

    fn answer(&self, request: Incoming<'_>, log_id: &str, serial: u64) -> (Option<String>, Answer) {
        if request.method == "POST" {
            let token_answer = match request.path {
                TENANT_TOKEN_INTERNAL => Some(self.self_built_token(request.body, serial, false)),
                APP_TOKEN_INTERNAL => Some(self.self_built_token(request.body, serial, true)),
                APP_TOKEN => Some(self.marketplace_app_token(request.body, serial)),
                TENANT_TOKEN => Some(self.marketplace_tenant_token(request.body, serial)),
                APP_TICKET_RESEND => Some(self.app_ticket_resend(request.body)),
                _ => None,
            };
            if let Some(answer) = token_answer {
                return (Some(request.path.trim_start_matches("/open-apis/").to_owned()), answer);
            }
        }
        let segments: Vec<String> = request.path.trim_start_matches('/').split('/').map(percent_decode).collect();
        let (operation, path_params) = match self.route(request.method, &segments) {
            Ok(found) => found,
            Err(status) => {
                let text = if status == 405 { "405 method not allowed" } else { "404 page not found" };
                return (None, Answer::text(status, text));
            }
        };
        let id = Some(operation.id.clone());
        if let Err(answer) = self.check_token(operation, request.authorization, log_id) {
            return (id, answer);
        }
        let body = match validate::check_params(self.spec, operation, &path_params, request.query)
            .and_then(|()| validate::check_body(self.spec, operation, request.body))
        {
            Ok(body) => body,
            Err(problem) => {
                let status = error_status(operation, PARAM_ERROR);
                return (id, Answer::error(status, PARAM_ERROR, format!("param error: {problem}"), log_id));
            }
        };
        (id, self.success(operation, request.query, body.as_ref()))
    }

    /// The operation whose method and path template match, preferring literal segments over
    /// parameters (`/exports/download` over `/exports/{task_id}`); 404 or 405 otherwise.
    fn route(&self, method: &str, segments: &[String]) -> Result<Route, u16> {
        let mut best: Option<(usize, Route)> = None;
        let mut path_known = false;
        for operation in self.spec.operations() {
            let template: Vec<&str> = operation.path.trim_start_matches('/').split('/').collect();
            if template.len() != segments.len() {
                continue;
            }
            let mut literals = 0;
            let mut params = Vec::new();
            let matched = template.iter().zip(segments).all(|(expected, actual)| {
                match expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => {
                        params.push((name.to_owned(), actual.clone()));
                        true
                    }
                    None => {
                        literals += 1;
                        expected == actual
                    }
                }
            });
            if !matched {
                continue;
            }
            path_known = true;
            if operation.method == method && best.as_ref().is_none_or(|(score, _)| literals > *score) {
                best = Some((literals, (operation, params)));
            }
        }
        match best {
            Some((_, route)) => Ok(route),
            None if path_known => Err(405),
            None => Err(404),
        }
    }

    /// The kind of a bearer token: issued here (tenant or app), or fixed (by its prefix, as
    /// Feishu's tokens have: `t-` tenant, `u-` user, `a-` app). `None` for an unknown, expired
    /// or empty token; `Some(None)` for a fixed token of no known kind (accepted anywhere).
    fn token_kind(&self, token: &str) -> Option<Option<TokenKind>> {
        let now = Instant::now();
        if lock(&self.tenant_tokens).get(token).is_some_and(|expiry| now < *expiry) {
            return Some(Some(TokenKind::Tenant));
        }
        if lock(&self.app_tokens).get(token).is_some_and(|expiry| now < *expiry) {
            return Some(Some(TokenKind::App));
        }
        if !self.config.tokens.iter().any(|t| t == token) {
            return None;
        }
        Some(TokenKind::ALL.into_iter().find(|kind| token.starts_with(kind.prefix())))
    }

    fn check_token(&self, operation: &Operation, authorization: Option<&str>, log_id: &str) -> Result<(), Answer> {
        let token = authorization
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty());
        let Some(token) = token else {
            return Err(Answer::error(
                error_status(operation, TOKEN_MISSING),
                TOKEN_MISSING,
                "Missing access token for authorization. Please make a request with token attached.",
                log_id,
            ));
        };
        let kind = match self.token_kind(token) {
            Some(Some(kind)) => kind,
            Some(None) => return Ok(()),
            None => {
                return Err(Answer::error(
                    error_status(operation, TENANT_TOKEN_INVALID),
                    TENANT_TOKEN_INVALID,
                    "Invalid access token for authorization. Please make a request with token attached.",
                    log_id,
                ));
            }
        };
        if operation.accepts_token_type(kind.scheme()) {
            return Ok(());
        }
        // The kind the operation wants decides the code: an invalid token of that kind.
        let code = if operation.accepts_token_type(TokenKind::Tenant.scheme()) {
            TENANT_TOKEN_INVALID
        } else {
            USER_TOKEN_INVALID
        };
        let msg = format!(
            "Invalid access token for authorization: {} accepts {}, not a {}.",
            operation.id,
            operation.token_types.join(" or "),
            kind.scheme()
        );
        Err(Answer::error(error_status(operation, code), code, msg, log_id))
    }

    fn success(&self, operation: &Operation, query: &[(String, String)], body: Option<&Value>) -> Answer {
        if let Some(media_type) = &operation.file_media_type {
            return Answer {
                status: 200,
                content_type: media_type.clone(),
                headers: vec![("content-disposition".to_owned(), "attachment; filename=\"export.xlsx\"".to_owned())],
                body: FILE_BYTES.to_vec(),
                code: Some(0),
            };
        }
        let mut example =
            operation.response_example.clone().unwrap_or_else(|| json!({"code": 0, "msg": "success", "data": {}}));
        if operation.pagination_items.is_some() {
            let asked = query
                .iter()
                .find(|(name, _)| name == "page_token")
                .map(|(_, token)| token.clone())
                .or_else(|| body?.get("page_token")?.as_str().map(str::to_owned));
            let next = example.pointer("/data/page_token").and_then(Value::as_str).map(str::to_owned);
            // The example is the first page; asking for the page after it gets the last page.
            if asked.is_some()
                && asked == next
                && let Some(data) = example.get_mut("data").and_then(Value::as_object_mut)
            {
                data.insert("has_more".to_owned(), Value::Bool(false));
                data.remove("page_token");
            }
        }
        Answer::json(200, &example)
    }

    fn issue(&self, store: &Mutex<HashMap<String, Instant>>, prefix: &str, serial: u64) -> String {
        let token = format!("{prefix}-vcmock-{serial:06}-{:08x}", nanos_now());
        let mut tokens = lock(store);
        let now = Instant::now();
        tokens.retain(|_, expiry| *expiry > now);
        tokens.insert(token.clone(), now + self.config.token_lifetime);
        token
    }

    fn credentials_ok(&self, body: &Value) -> Result<(), Answer> {
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        match (field("app_id"), field("app_secret")) {
            (Some(id), Some(secret)) if id == self.config.app_id && secret == self.config.app_secret => Ok(()),
            (Some(_), Some(_)) => Err(token_failure(APP_CREDENTIALS_INVALID, "app_id or app_secret is invalid")),
            _ => Err(token_failure(TOKEN_REQUEST_INVALID, "invalid param: app_id and app_secret are required")),
        }
    }

    fn self_built_token(&self, body: &[u8], serial: u64, app: bool) -> Answer {
        let body = match parse_token_request(body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        if let Err(answer) = self.credentials_ok(&body) {
            return answer;
        }
        let lifetime = self.config.token_lifetime.as_secs();
        if app {
            let token = self.issue(&self.app_tokens, "a", serial);
            Answer::json(200, &json!({"code": 0, "msg": "ok", "app_access_token": token, "expire": lifetime}))
        } else {
            let token = self.issue(&self.tenant_tokens, "t", serial);
            Answer::json(200, &json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": lifetime}))
        }
    }

    fn marketplace_app_token(&self, body: &[u8], serial: u64) -> Answer {
        let body = match parse_token_request(body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        if let Err(answer) = self.credentials_ok(&body) {
            return answer;
        }
        if body.get("app_ticket").and_then(Value::as_str) != Some(self.config.app_ticket.as_str()) {
            return token_failure(APP_TICKET_INVALID, "app_ticket is invalid");
        }
        let token = self.issue(&self.app_tokens, "a", serial);
        let lifetime = self.config.token_lifetime.as_secs();
        Answer::json(200, &json!({"code": 0, "msg": "ok", "app_access_token": token, "expire": lifetime}))
    }

    fn marketplace_tenant_token(&self, body: &[u8], serial: u64) -> Answer {
        let body = match parse_token_request(body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let app_token = body.get("app_access_token").and_then(Value::as_str);
        let tenant_key = body.get("tenant_key").and_then(Value::as_str).filter(|key| !key.is_empty());
        let (Some(app_token), Some(_)) = (app_token, tenant_key) else {
            return token_failure(TOKEN_REQUEST_INVALID, "invalid param: app_access_token and tenant_key are required");
        };
        if lock(&self.app_tokens).get(app_token).is_none_or(|expiry| Instant::now() >= *expiry) {
            return token_failure(APP_TOKEN_INVALID, "app_access_token is invalid");
        }
        let token = self.issue(&self.tenant_tokens, "t", serial);
        let lifetime = self.config.token_lifetime.as_secs();
        Answer::json(200, &json!({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": lifetime}))
    }

    fn app_ticket_resend(&self, body: &[u8]) -> Answer {
        match parse_token_request(body).and_then(|body| self.credentials_ok(&body)) {
            Ok(()) => Answer::json(200, &json!({"code": 0, "msg": "ok"})),
            Err(answer) => answer,
        }
    }
}

fn parse_token_request(body: &[u8]) -> Result<Value, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(token_failure(TOKEN_REQUEST_INVALID, "invalid param: the body must be a JSON object")),
    }
}

fn token_failure(code: i64, msg: &str) -> Answer {
    Answer::json(400, &json!({"code": code, "msg": msg}))
}

fn nanos_now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

/// Decodes `%XX` escapes (the `percent-encoding` crate): malformed escapes stay as they are,
/// invalid UTF-8 is replaced.
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Plugs [`State`] into wiremock's server: one catch-all mock answers everything.
pub(crate) struct Handler(pub(crate) std::sync::Arc<State>);

impl wiremock::Respond for Handler {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let authorization = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        let incoming = Incoming {
            method: request.method.as_str(),
            path: request.url.path(),
            query: &query,
            authorization,
            body: &request.body,
        };
        let answer = self.0.control(incoming).unwrap_or_else(|| self.0.handle(incoming));
        let mut template = wiremock::ResponseTemplate::new(answer.status);
        for (name, value) in &answer.headers {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        template.set_body_raw(answer.body, &answer.content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(
            Spec::embedded(),
            Config {
                app_id: "cli_a".into(),
                app_secret: "s".into(),
                app_ticket: "ticket".into(),
                tokens: vec!["t-fixed".into(), "u-fixed".into(), "fixed-of-any-kind".into()],
                token_lifetime: Duration::from_secs(60),
                webhook: events::WebhookTarget::default(),
            },
        )
    }

    fn call(state: &State, method: &str, path: &str, query: &[(&str, &str)], body: &str) -> (Answer, Value) {
        call_as(state, "fixed-of-any-kind", method, path, query, body)
    }

    fn call_as(
        state: &State,
        token: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> (Answer, Value) {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let authorization = format!("Bearer {token}");
        let answer = state.handle(Incoming {
            method,
            path,
            query: &query,
            authorization: Some(&authorization),
            body: body.as_bytes(),
        });
        let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer, json)
    }

    #[test]
    fn token_types_follow_each_operations_security() {
        let state = state();
        // meeting_end: user tokens only; room_list: tenant tokens only; meeting_get: both.
        let end = "/open-apis/vc/v1/meetings/M1/end";
        let (answer, json) = call_as(&state, "t-fixed", "PATCH", end, &[], "");
        assert_eq!((answer.status, answer.code), (400, Some(USER_TOKEN_INVALID)));
        assert!(json["msg"].as_str().unwrap().contains("meeting_end accepts user_access_token"), "{json}");
        assert_eq!(call_as(&state, "u-fixed", "PATCH", end, &[], "").0.code, Some(0));
        assert_eq!(call_as(&state, "fixed-of-any-kind", "PATCH", end, &[], "").0.code, Some(0));
        let rooms = "/open-apis/vc/v1/rooms";
        assert_eq!(call_as(&state, "u-fixed", "GET", rooms, &[], "").0.code, Some(TENANT_TOKEN_INVALID));
        assert_eq!(call_as(&state, "t-fixed", "GET", rooms, &[], "").0.code, Some(0));
        let meeting = "/open-apis/vc/v1/meetings/M1";
        for token in ["t-fixed", "u-fixed"] {
            assert_eq!(call_as(&state, token, "GET", meeting, &[], "").0.code, Some(0), "{token}");
        }
        // An issued app token is valid, but no VC operation takes one.
        let (_, app) = call(&state, "POST", APP_TOKEN_INTERNAL, &[], r#"{"app_id":"cli_a","app_secret":"s"}"#);
        let app_token = app["app_access_token"].as_str().unwrap();
        assert_eq!(call_as(&state, app_token, "GET", rooms, &[], "").0.code, Some(TENANT_TOKEN_INVALID));
        assert_eq!(call_as(&state, app_token, "PATCH", end, &[], "").0.code, Some(USER_TOKEN_INVALID));
    }

    #[test]
    fn operations_without_a_body_take_the_empty_object_official_sdks_send() {
        let state = state();
        for (method, path) in [
            ("GET", "/open-apis/vc/v1/exports/T1"),
            ("PATCH", "/open-apis/vc/v1/meetings/M1/end"),
            ("PATCH", "/open-apis/vc/v1/meetings/M1/recording/stop"),
            ("DELETE", "/open-apis/vc/v1/reserves/R1"),
        ] {
            assert_eq!(call(&state, method, path, &[], "{}").0.code, Some(0), "{method} {path}");
            let (answer, json) = call(&state, method, path, &[], r#"{"x":1}"#);
            assert_eq!((answer.status, answer.code), (400, Some(PARAM_ERROR)), "{method} {path}");
            assert!(json["msg"].as_str().unwrap().ends_with("takes no request body"), "{json}");
        }
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let state = state();
        let (answer, _) = call(&state, "GET", "/open-apis/vc/v1/exports/download", &[("file_token", "f")], "");
        assert_eq!((answer.status, answer.body.as_slice()), (200, FILE_BYTES));
        let (answer, json) = call(&state, "GET", "/open-apis/vc/v1/exports/T1", &[], "");
        assert_eq!((answer.status, json["data"]["status"].as_i64()), (200, Some(3)));
        assert_eq!(state.served().last().unwrap().operation.as_deref(), Some("export_get"));
    }

    #[test]
    fn unknown_paths_and_methods() {
        let state = state();
        assert_eq!(call(&state, "GET", "/open-apis/vc/v1/nothing", &[], "").0.status, 404);
        assert_eq!(call(&state, "DELETE", "/open-apis/vc/v1/exports/download", &[], "").0.status, 405);
        assert_eq!(call(&state, "GET", "/", &[], "").0.status, 404);
    }

    #[test]
    fn bad_requests_get_param_error() {
        let state = state();
        let (answer, json) = call(&state, "GET", "/open-apis/vc/v1/reserves/", &[], "");
        assert_eq!((answer.status, json["code"].as_i64()), (400, Some(PARAM_ERROR)));
        assert_eq!(json["msg"], "param error: path parameter reserve_id is required");
        assert!(json["error"]["log_id"].as_str().unwrap().starts_with("vcmock"));
        let (answer, _) = call(&state, "POST", "/open-apis/vc/v1/room_levels/mget", &[], "\u{0}\u{ff}");
        assert_eq!((answer.status, answer.code), (400, Some(PARAM_ERROR)));
    }

    #[test]
    fn the_page_after_the_example_is_the_last() {
        let state = state();
        let (_, first) = call(&state, "GET", "/open-apis/vc/v1/rooms", &[], "");
        assert_eq!(
            (first["data"]["has_more"].as_bool(), first["data"]["page_token"].as_str()),
            (Some(true), Some("50"))
        );
        let (_, last) = call(&state, "GET", "/open-apis/vc/v1/rooms", &[("page_token", "50")], "");
        assert_eq!(last["data"]["has_more"], false);
        assert!(last["data"].get("page_token").is_none());
        let (_, body_paged) =
            call(&state, "POST", "/open-apis/vc/v1/rooms/search", &[], r#"{"page_token": "50", "page_size": 10}"#);
        assert_eq!(body_paged["data"]["has_more"], false);
    }

    #[test]
    fn tokens_are_required_and_issued() {
        let state = state();
        let bare = state.handle(Incoming {
            method: "GET",
            path: "/open-apis/vc/v1/exports/T1",
            query: &[],
            authorization: None,
            body: b"",
        });
        assert_eq!((bare.status, bare.code), (400, Some(TOKEN_MISSING)));
        let (answer, json) = call(&state, "POST", TENANT_TOKEN_INTERNAL, &[], r#"{"app_id":"cli_a","app_secret":"s"}"#);
        assert_eq!((answer.status, json["expire"].as_u64()), (200, Some(60)));
        let token = json["tenant_access_token"].as_str().unwrap().to_owned();
        let authorization = format!("Bearer {token}");
        let with = |authorization: &str| {
            state.handle(Incoming {
                method: "GET",
                path: "/open-apis/vc/v1/exports/T1",
                query: &[],
                authorization: Some(authorization),
                body: b"",
            })
        };
        assert_eq!(with(&authorization).status, 200);
        assert_eq!(with("Bearer t-forged").code, Some(TENANT_TOKEN_INVALID));
        let (_, wrong) = call(&state, "POST", TENANT_TOKEN_INTERNAL, &[], r#"{"app_id":"cli_a","app_secret":"x"}"#);
        assert_eq!(wrong["code"].as_i64(), Some(APP_CREDENTIALS_INVALID));
        let (_, malformed) = call(&state, "POST", TENANT_TOKEN_INTERNAL, &[], "[1,");
        assert_eq!(malformed["code"].as_i64(), Some(TOKEN_REQUEST_INVALID));
    }

    #[test]
    fn marketplace_tokens_need_the_ticket_and_an_app_token() {
        let state = state();
        let (_, no_ticket) =
            call(&state, "POST", APP_TOKEN, &[], r#"{"app_id":"cli_a","app_secret":"s","app_ticket":"x"}"#);
        assert_eq!(no_ticket["code"].as_i64(), Some(APP_TICKET_INVALID));
        let (_, app) =
            call(&state, "POST", APP_TOKEN, &[], r#"{"app_id":"cli_a","app_secret":"s","app_ticket":"ticket"}"#);
        let app_token = app["app_access_token"].as_str().unwrap();
        let body = json!({"app_access_token": app_token, "tenant_key": "k"}).to_string();
        let (_, tenant) = call(&state, "POST", TENANT_TOKEN, &[], &body);
        assert!(tenant["tenant_access_token"].as_str().unwrap().starts_with("t-"));
        let (_, forged) = call(&state, "POST", TENANT_TOKEN, &[], r#"{"app_access_token":"a-x","tenant_key":"k"}"#);
        assert_eq!(forged["code"].as_i64(), Some(APP_TOKEN_INVALID));
        let (resend, _) = call(&state, "POST", APP_TICKET_RESEND, &[], r#"{"app_id":"cli_a","app_secret":"s"}"#);
        assert_eq!(resend.status, 200);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let text = format!("{:?}", state());
        assert!(!text.contains("ticket") || text.contains("app_ticket: \"***\""), "{text}");
        assert!(!text.contains("t-fixed") && !text.contains("\"s\""), "{text}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("%E4%BC%9A"), "会");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
