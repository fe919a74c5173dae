//! An event receiver on axum: verifies, decrypts and deduplicates deliveries, answers the URL
//! verification, prints every event, and gives `app_ticket` to a marketplace client.
//!
//! ```sh
//! FEISHU_ENCRYPT_KEY=... FEISHU_VERIFICATION_TOKEN=... \
//!   cargo run -p vc-api --features axum --example webhook_server          # serves 127.0.0.1:3000/webhook/event
//! cargo run -p vc-api --features axum --example webhook_server -- --check # sends itself two requests and exits
//! ```
//!
//! `WEBHOOK_ADDR` changes the address. With `FEISHU_APP_ID` and `FEISHU_APP_SECRET` set, a
//! marketplace-app client is configured and receives every `app_ticket`. With
//! `FEISHU_REDIS_URL` set (and `--features axum,redis`), the memory of handled events is shared
//! on Redis, so that several replicas run each event's handler once between them.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use vc_api::Secret;
use vc_api::events::Event;
use vc_api::types::{MeetingMeetingEndedV1Event, MeetingMeetingStartedV1Event};
use vc_api::webhook::{self, EventReceiver};

const PATH: &str = "/webhook/event";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).init();
    let check = std::env::args().any(|arg| arg == "--check");
    let encrypt_key = env("FEISHU_ENCRYPT_KEY").unwrap_or_else(|| "demo-encrypt-key".to_owned());
    let token = env("FEISHU_VERIFICATION_TOKEN").unwrap_or_else(|| "demo-verification-token".to_owned());

    let mut receiver = EventReceiver::builder()
        .encrypt_key(encrypt_key.as_str())
        .verification_token(token.as_str())
        .on(|header, started: MeetingMeetingStartedV1Event| async move {
            println!("meeting started (event {}): {}", header.event_id, serde_json::to_string(&started)?);
            Ok(())
        })
        .on(|header, ended: MeetingMeetingEndedV1Event| async move {
            println!("meeting ended (event {}): {}", header.event_id, serde_json::to_string(&ended)?);
            Ok(())
        })
        .fallback(|header, event: Event| async move {
            println!("{} (event {}): {}", event.event_type(), header.event_id, serde_json::to_string(&event)?);
            Ok(())
        });
    if let Some(url) = env("FEISHU_REDIS_URL") {
        // Several replicas: the memory of handled events on Redis, so each runs once in all.
        #[cfg(feature = "redis")]
        {
            let app_id = env("FEISHU_APP_ID").unwrap_or_else(|| "default-app".to_owned());
            receiver = receiver.memory(vc_api::redis_store::RedisEventMemory::open(&url, &app_id)?);
            println!("event memory on Redis (shared with every replica of {app_id})");
        }
        #[cfg(not(feature = "redis"))]
        return Err({
            let _ = url; // never printed: it may hold a password
            "FEISHU_REDIS_URL needs the example built with `--features axum,redis`".into()
        });
    }
    if let (Some(app_id), Some(app_secret)) = (env("FEISHU_APP_ID"), env("FEISHU_APP_SECRET")) {
        let client = vc_api::Client::builder().marketplace_app(app_id, app_secret).build()?;
        receiver = receiver.app_ticket_client(client);
    }
    let app = webhook::axum::router(Arc::new(receiver.build()?), PATH);

    let addr = if check { "127.0.0.1:0".to_owned() } else { env("WEBHOOK_ADDR").unwrap_or("127.0.0.1:3000".into()) };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    if !check {
        println!("listening on http://{local}{PATH}");
        axum::serve(listener, app).await?;
        return Ok(());
    }
    tokio::spawn(async move { axum::serve(listener, app).await });
    self_check(local, &encrypt_key, &token).await
}

/// Sends the server a URL verification and a signed event, and prints the answers.
async fn self_check(addr: SocketAddr, encrypt_key: &str, token: &str) -> Result<(), Box<dyn std::error::Error>> {
    let challenge = serde_json::json!({"type": "url_verification", "challenge": "check-123", "token": token});
    let (status, body) = post(addr, &[], &challenge.to_string()).await?;
    println!("url_verification -> {status} {body}");

    let event = serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": "check-event-1", "event_type": "vc.meeting.meeting_started_v1",
                   "create_time": "1700000000000", "token": token, "app_id": "cli_demo"},
        "event": {"meeting": {"id": "6911188411934433028"}}
    })
    .to_string();
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs().to_string();
    let signature = webhook::signature(&timestamp, "check-nonce", &Secret::new(encrypt_key), event.as_bytes());
    let headers = [
        ("X-Lark-Request-Timestamp", timestamp.as_str()),
        ("X-Lark-Request-Nonce", "check-nonce"),
        ("X-Lark-Signature", signature.as_str()),
    ];
    let (status, body) = post(addr, &headers, &event).await?;
    println!("signed event -> {status} {body}");
    if status != 200 {
        return Err("the signed event was refused".into());
    }
    Ok(())
}

/// A minimal HTTP/1.1 POST of a JSON body; returns the status and the body.
async fn post(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or("no HTTP status line")?;
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}
