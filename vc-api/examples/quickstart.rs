//! Quickstart: a daily meeting report and the first rooms of the tenant.
//!
//! Without credentials it runs against the embedded mock server (`vc-mock`), which issues a
//! tenant token, checks every request against the spec and answers with the spec's examples. With `FEISHU_APP_ID` and `FEISHU_APP_SECRET` (a
//! self-built app) or `FEISHU_ACCESS_TOKEN` (a tenant access token) it calls the real API;
//! `FEISHU_DOMAIN` picks `feishu` (default), `lark` or a URL.
//!
//! ```sh
//! cargo run -p vc-api --example quickstart
//! FEISHU_APP_ID=cli_... FEISHU_APP_SECRET=... FEISHU_DOMAIN=lark cargo run -p vc-api --example quickstart
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use vc_api::types::ReportUnit;
use vc_api::{Client, Domain};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let domain = match env("FEISHU_DOMAIN").as_deref() {
        None | Some("feishu") => Domain::Feishu,
        Some("lark") => Domain::Lark,
        Some(url) => Domain::Custom(url.to_owned()),
    };
    let real = match (env("FEISHU_APP_ID"), env("FEISHU_APP_SECRET"), env("FEISHU_ACCESS_TOKEN")) {
        (Some(app_id), Some(secret), _) => {
            Some(Client::builder().domain(domain.clone()).app_credentials(app_id, secret))
        }
        (_, _, Some(token)) => Some(Client::builder().domain(domain.clone()).access_token(token)),
        _ => None,
    };
    // `_mock` keeps the mock server alive for the whole run.
    let (client, _mock) = match real {
        Some(builder) => {
            println!("calling the real API at {}", domain.base_url());
            (builder.build()?, None)
        }
        None => {
            // The spec-driven mock: it issues a tenant token to its own app, validates every
            // request against the spec and answers with the spec's examples.
            let mock = vc_mock::MockServer::start().await;
            println!("no credentials in the environment: using the embedded mock at {}", mock.url());
            let client = Client::builder().base_url(mock.url()).app_credentials(vc_mock::APP_ID, vc_mock::APP_SECRET);
            (client.build()?, Some(mock))
        }
    };

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let week_ago = now - 7 * 24 * 3600;
    let report = client
        .report_get_daily()
        .start_time(week_ago.to_string())
        .end_time(now.to_string())
        .unit(ReportUnit::from(0))
        .data()
        .await?;
    let report = report.meeting_report.unwrap_or_default();
    println!(
        "last 7 days: {} meetings, {} participants, {} daily rows",
        report.total_meeting_count.as_deref().unwrap_or("?"),
        report.total_participant_count.as_deref().unwrap_or("?"),
        report.daily_report.len()
    );

    let rooms = client.room_list().page_size(5).data().await?;
    for room in &rooms.rooms {
        println!(
            "room {} ({}): capacity {}",
            room.name.as_deref().unwrap_or("?"),
            room.room_id.as_deref().unwrap_or("?"),
            room.capacity.map_or("?".to_owned(), |c| c.to_string())
        );
    }
    println!("more rooms: {}", rooms.has_more.unwrap_or(false));
    Ok(())
}
