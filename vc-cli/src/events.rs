//! `vc events ...`: receive events and print each one as a compact JSON line on standard
//! output, with state changes on standard error.
//!
//! `vc events listen` opens the long connection (`FEISHU_APP_ID`, `FEISHU_APP_SECRET` of a
//! self-built app); `vc events serve` runs vc-api's HTTP receiver (`FEISHU_ENCRYPT_KEY`,
//! `FEISHU_VERIFICATION_TOKEN`). With `--mock`, an embedded vc-mock sends them the events pushed
//! to its `POST /__mock/events`. With `--redis` / `FEISHU_REDIS_URL`, the memory of handled
//! events is shared through Redis, so that several processes handle each event once.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use clap::{Arg, ArgMatches, Command};
use serde_json::{Value, json};
use vc_api::long_connection::{ConnectionState, LongConnection};
use vc_api::webhook::{EventReceiver, WebhookResponse};

use crate::run::{Settings, domain};

/// The encrypt key and verification token `--mock` gives the embedded vc-mock and the
/// receiver.
const MOCK_ENCRYPT_KEY: &str = "vcmock-encrypt-key";
const MOCK_VERIFICATION_TOKEN: &str = "vcmock-verification-token";

/// The `events` command group.
pub fn command() -> Command {
    Command::new("events")
        .about("Receive events and print each as one JSON line (the v2 body) on standard output")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(Command::new("listen").about(
            "Receive events over the long connection (FEISHU_APP_ID + FEISHU_APP_SECRET of a self-built app, \
             or --mock): one compact JSON line per event on standard output, connection states on standard \
             error; exits 1 with the reason when refused for good",
        ))
        .subcommand(
            Command::new("serve")
                .about("Receive events through the HTTP receiver (the app's request URL)")
                .long_about(
                    "Receive events through the HTTP receiver: verifies the signature and the \
                     verification token, decrypts, drops duplicates and replays, and prints each \
                     event once. Set FEISHU_ENCRYPT_KEY and FEISHU_VERIFICATION_TOKEN as in the \
                     developer console. With --mock, an embedded vc-mock delivers to it: push \
                     events with `curl -X POST <mock URL>/__mock/events -d '{\"event_type\": \
                     \"vc.meeting.meeting_started_v1\"}'`.",
                )
                .arg(
                    Arg::new("addr")
                        .long("addr")
                        .value_name("ADDR")
                        .default_value("127.0.0.1:3000")
                        .value_parser(clap::value_parser!(SocketAddr))
                        .help("Address to listen on"),
                )
                .arg(
                    Arg::new("path")
                        .long("path")
                        .value_name("PATH")
                        .default_value("/webhook/event")
                        .help("Path of the request URL"),
                ),
        )
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// The shared memory of handled events, when `--redis` / `FEISHU_REDIS_URL` is set.
fn shared_memory(settings: &Settings) -> Result<Option<vc_api::redis_store::RedisEventMemory>, String> {
    let Some(url) = &settings.redis else { return Ok(None) };
    let app_id = settings.app_id.clone().unwrap_or_else(|| vc_api::redis_store::RedisStore::NO_APP_ID.to_owned());
    vc_api::redis_store::RedisStore::open(url.expose(), &app_id)
        .map(|store| Some(store.event_memory()))
        .map_err(|e| format!("cannot use the Redis of --redis: {e}"))
}

/// Runs `vc events <action>`.
pub fn run(matches: &ArgMatches, settings: &Settings) -> ExitCode {
    let memory = match shared_memory(settings) {
        Ok(memory) => memory,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match matches.subcommand() {
        Some(("listen", _)) => listen(settings, memory),
        Some(("serve", serve)) => serve_command(serve, settings.mock, memory),
        _ => ExitCode::from(2),
    }
}

fn serve_command(serve: &ArgMatches, mock: bool, memory: Option<vc_api::redis_store::RedisEventMemory>) -> ExitCode {
    let addr = serve.get_one::<SocketAddr>("addr").copied().unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
    let path = serve.get_one::<String>("path").cloned().unwrap_or_else(|| "/webhook/event".to_owned());
    if !path.starts_with('/') {
        eprintln!("error: --path must start with '/', not {path:?}");
        return ExitCode::from(2);
    }
    let (encrypt_key, token) = if mock {
        (Some(MOCK_ENCRYPT_KEY.to_owned()), Some(MOCK_VERIFICATION_TOKEN.to_owned()))
    } else {
        (env("FEISHU_ENCRYPT_KEY"), env("FEISHU_VERIFICATION_TOKEN"))
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_http(addr, &path, encrypt_key, token, mock, memory)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `vc events listen` until interrupted (exit 0) or refused for good (exit 1).
fn listen(settings: &Settings, memory: Option<vc_api::redis_store::RedisEventMemory>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_listen(settings, memory))
}

async fn run_listen(settings: &Settings, memory: Option<vc_api::redis_store::RedisEventMemory>) -> ExitCode {
    let mock = if settings.mock { Some(vc_mock::MockServer::start().await) } else { None };
    let (app_id, app_secret, target) = match (&mock, &settings.app_id, &settings.app_secret) {
        (Some(server), _, _) => {
            eprintln!(
                "vc: embedded mock at {0}; push an event with\n  curl -X POST {0}/__mock/events -d '{{\"event_type\": \"vc.meeting.meeting_started_v1\"}}'",
                server.url()
            );
            (vc_mock::APP_ID.to_owned(), vc_mock::APP_SECRET.into(), vc_api::Domain::Custom(server.url()))
        }
        (None, Some(app_id), Some(secret)) => (app_id.clone(), secret.clone(), domain(settings.domain.as_deref())),
        _ => {
            eprintln!(
                "error: no credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET (a self-built app), or use --mock"
            );
            return ExitCode::from(2);
        }
    };
    let mut builder = LongConnection::builder(app_id, app_secret).domain(target);
    if let Some(memory) = memory {
        builder = builder.memory(memory);
    }
    let started = builder
        .fallback(|header, event| async move {
            // The payload as delivered; re-encoded from the typed event only if it is missing.
            let delivered = vc_api::dispatch::delivered_json()
                .and_then(|json| compact_line(std::str::from_utf8(&json).ok()?).map(|(line, _)| line));
            let line =
                delivered.unwrap_or_else(|| json!({ "schema": "2.0", "header": header, "event": event }).to_string());
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").and_then(|()| out.flush())?;
            Ok(())
        })
        .start();
    let connection = match started {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut state = connection.state();
    let reporter = tokio::spawn(async move {
        loop {
            let now = state.borrow_and_update().clone();
            match &now {
                ConnectionState::Connecting => eprintln!("vc: connecting"),
                ConnectionState::Connected { conn_id } => eprintln!("vc: connected ({conn_id})"),
                ConnectionState::Reconnecting { attempt } => eprintln!("vc: reconnecting (attempt {attempt})"),
                ConnectionState::Failed(error) => eprintln!("vc: failed: {error}"),
                ConnectionState::Stopped => eprintln!("vc: stopped"),
                _ => eprintln!("vc: {now:?}"),
            }
            if now.is_final() || state.changed().await.is_err() {
                break;
            }
        }
    });
    let stop = connection.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.shutdown();
        }
    });
    let outcome = connection.wait().await;
    let _ = reporter.await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the axum handler needs: the receiver, the key to read handled bodies with, and the ids
/// of events whose handler ran and that are not printed yet.
struct Serve {
    receiver: EventReceiver,
    encrypt_key: Option<vc_api::Secret>,
    handled: Arc<Mutex<HashSet<String>>>,
}

async fn serve_http(
    addr: SocketAddr,
    path: &str,
    encrypt_key: Option<String>,
    token: Option<String>,
    mock: bool,
    memory: Option<vc_api::redis_store::RedisEventMemory>,
) -> Result<(), String> {
    let handled = Arc::new(Mutex::new(HashSet::new()));
    let record = handled.clone();
    let mut builder = EventReceiver::builder().fallback(move |header, _event| {
        record.lock().unwrap_or_else(PoisonError::into_inner).insert(header.event_id);
        async { Ok(()) }
    });
    if let Some(key) = &encrypt_key {
        builder = builder.encrypt_key(key.clone());
    }
    if let Some(token) = &token {
        builder = builder.verification_token(token.clone());
    }
    if let Some(memory) = memory {
        builder = builder.memory(memory);
    }
    if encrypt_key.is_none() && token.is_none() {
        return Err("set FEISHU_ENCRYPT_KEY, FEISHU_VERIFICATION_TOKEN or both, as the developer console shows \
                    them (or use --mock)"
            .to_owned());
    }
    let receiver = builder.build().map_err(|e| format!("cannot set up the receiver: {e}"))?;
    let state = Arc::new(Serve { receiver, encrypt_key: encrypt_key.map(vc_api::Secret::new), handled });
    let app = axum::Router::new().route(path, post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let url = format!("http://{local}{path}");
    eprintln!("vc events: receiving at {url}");
    // Kept alive while serving.
    let _mock = if mock {
        let server = vc_mock::MockServer::builder()
            .deliver_to(&url)
            .encrypt_key(MOCK_ENCRYPT_KEY)
            .verification_token(MOCK_VERIFICATION_TOKEN)
            .start()
            .await;
        eprintln!(
            "vc events: vc-mock delivers to it; push an event with\n  curl -X POST {}/__mock/events -d '{{\"event_type\": \"vc.meeting.meeting_started_v1\"}}'",
            server.url()
        );
        Some(server)
    } else {
        None
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server stopped: {e}"))?;
    eprintln!("vc events: stopped");
    Ok(())
}

/// Processes one delivery; once its handler has run, prints the delivered v2 body.
async fn handle(State(serve): State<Arc<Serve>>, headers: HeaderMap, body: Bytes) -> WebhookResponse {
    let response = serve.receiver.handle(&headers, &body).await;
    // Only a delivery the receiver accepted is read again here: it has passed the signature.
    if response.status == 200
        && let Some((line, event_id)) =
            plaintext(serve.encrypt_key.as_ref(), &body).and_then(|text| compact_line(&text))
        && serve.handled.lock().unwrap_or_else(PoisonError::into_inner).remove(&event_id)
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
    response
}

/// The delivery's JSON text: the body, or with an encrypt key, its decrypted `encrypt` field.
fn plaintext(key: Option<&vc_api::Secret>, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    match key {
        Some(key) => {
            let wrapper: Value = serde_json::from_str(text).ok()?;
            match wrapper.get("encrypt").and_then(Value::as_str) {
                Some(encrypted) => String::from_utf8(vc_api::webhook::decrypt(key, encrypted).ok()?).ok(),
                None => Some(text.to_owned()),
            }
        }
        None => Some(text.to_owned()),
    }
}

/// The JSON text on one line, members in the order sent, without the verification token
/// (`header.token`, a secret), and its `header.event_id`.
pub fn compact_line(text: &str) -> Option<(String, String)> {
    type Members = indexmap::IndexMap<String, Box<serde_json::value::RawValue>>;
    let mut top: Members = serde_json::from_str(text).ok()?;
    let mut header: Members = serde_json::from_str(top.get("header")?.get()).ok()?;
    let event_id: String = serde_json::from_str(header.get("event_id")?.get()).ok()?;
    if header.shift_remove("token").is_some() {
        let text = serde_json::to_string(&header).ok()?;
        top.insert("header".to_owned(), serde_json::value::RawValue::from_string(text).ok()?);
    }
    let text = serde_json::to_string(&top).ok()?;
    Some((minify(&text), event_id))
}

/// Removes the whitespace between JSON tokens, leaving strings untouched.
fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_member_order() {
        let text = "{\n  \"z\": \"a b \\\" c\",\n  \"a\": [1, 2]\n}";
        assert_eq!(minify(text), r#"{"z":"a b \" c","a":[1,2]}"#);
        let (line, id) = compact_line(r#"{ "header": { "event_id": "e 1" }, "b": 1 }"#).unwrap();
        assert_eq!((line.as_str(), id.as_str()), (r#"{"header":{"event_id":"e 1"},"b":1}"#, "e 1"));
        // The verification token is a secret: never printed; the rest keeps its order.
        let (line, _) =
            compact_line(r#"{"schema": "2.0", "header": {"z": 1, "token": "vt", "event_id": "e"}, "event": {"y": [1, 2], "a": "x y"}}"#)
                .unwrap();
        assert_eq!(line, r#"{"schema":"2.0","header":{"z":1,"event_id":"e"},"event":{"y":[1,2],"a":"x y"}}"#);
        assert!(compact_line("{\"header\": {}}").is_none());
        assert!(compact_line("not json").is_none());
    }
}
