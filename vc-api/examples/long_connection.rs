//! Events over the long connection: no public URL, the same typed handlers as the webhook
//! receiver. Prints every event and every connection state.
//!
//! ```sh
//! FEISHU_APP_ID=cli_... FEISHU_APP_SECRET=... \
//!   cargo run -p vc-api --features long-connection --example long_connection            # until Ctrl-C
//! cargo run -p vc-api --features long-connection --example long_connection -- --mock  # vc-mock's fake server, one event, exits
//! ```
//!
//! `FEISHU_DOMAIN` (`lark` or a base URL) changes the domain. With `FEISHU_REDIS_URL` set (and
//! `--features long-connection,redis`), the memory of handled events is shared on Redis, so that
//! several replicas (or this and an HTTP receiver) run each event's handler once between them.

use std::sync::Arc;

use tokio::sync::Notify;
use vc_api::Domain;
use vc_api::long_connection::LongConnection;
use vc_api::types::{MeetingMeetingEndedV1Event, MeetingMeetingStartedV1Event};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).init();
    let mock = std::env::args().any(|arg| arg == "--mock");
    let server = if mock { Some(vc_mock::long_connection::LongConnServer::start().await) } else { None };
    let (app_id, app_secret, domain) = match &server {
        Some(server) => (vc_mock::APP_ID.to_owned(), vc_mock::APP_SECRET.to_owned(), Domain::Custom(server.url())),
        None => {
            let domain = match env("FEISHU_DOMAIN").as_deref() {
                None | Some("feishu") => Domain::Feishu,
                Some("lark") => Domain::Lark,
                Some(url) => Domain::Custom(url.to_owned()),
            };
            let (Some(id), Some(secret)) = (env("FEISHU_APP_ID"), env("FEISHU_APP_SECRET")) else {
                return Err("set FEISHU_APP_ID and FEISHU_APP_SECRET (a self-built app), or pass --mock".into());
            };
            (id, secret, domain)
        }
    };

    let received = Arc::new(Notify::new());
    let notify = received.clone();
    #[allow(unused_mut)]
    let mut builder = LongConnection::builder(app_id.clone(), app_secret).domain(domain);
    if env("FEISHU_REDIS_URL").is_some() {
        // Several replicas: the memory of handled events on Redis, so each runs once in all.
        #[cfg(feature = "redis")]
        {
            let url = env("FEISHU_REDIS_URL").unwrap_or_default();
            builder = builder.memory(vc_api::redis_store::RedisEventMemory::open(&url, &app_id)?);
            println!("event memory on Redis (shared with every replica of {app_id})");
        }
        #[cfg(not(feature = "redis"))]
        return Err("FEISHU_REDIS_URL needs the example built with `--features long-connection,redis`".into());
    }
    let connection = builder
        .on(|header, started: MeetingMeetingStartedV1Event| async move {
            let topic = started.meeting.and_then(|m| m.topic).unwrap_or_default();
            println!("meeting started: {topic:?} (event {})", header.event_id);
            Ok(())
        })
        .on(|header, ended: MeetingMeetingEndedV1Event| async move {
            println!("meeting ended (event {}): {ended:?}", header.event_id);
            Ok(())
        })
        .fallback(move |header, event| {
            let notify = notify.clone();
            async move {
                println!("{} (event {})", event.event_type(), header.event_id);
                notify.notify_one();
                Ok(())
            }
        })
        .start()?;

    let mut state = connection.state();
    tokio::spawn(async move {
        loop {
            let now = state.borrow_and_update().clone();
            eprintln!("state: {now:?}");
            if now.is_final() || state.changed().await.is_err() {
                break;
            }
        }
    });

    if let Some(server) = &server {
        let hub = server.hub();
        hub.wait_for(|c| c.connections == 1).await;
        let event = serde_json::json!({"schema": "2.0",
            "header": {"event_id": "example-1", "event_type": "vc.room.room_created_v1", "app_id": vc_mock::APP_ID},
            "event": {"room": {"room_id": "omm_1", "name": "Room 1"}}});
        hub.push(&event, 3).await;
        received.notified().await;
        hub.wait_for(|c| c.acks == 1).await;
        println!("acknowledged with code {}", hub.acks()[0].code);
        connection.shutdown().await?;
        return Ok(());
    }
    let stop = connection.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.shutdown();
        }
    });
    connection.wait().await?;
    Ok(())
}
