//! Quickstart: a daily meeting report and the first rooms of the tenant.
//!
//! Without credentials it runs against an embedded local mock that answers every operation
//! with the spec's own response example. With `FEISHU_APP_ID` and `FEISHU_APP_SECRET` (a
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
    // Keep the mock alive for the whole run.
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
    let (client, _mock) = match real {
        Some(builder) => {
            println!("calling the real API at {}", domain.base_url());
            (builder.build()?, None)
        }
        None => {
            let mock = embedded_mock::start().await;
            println!("no credentials in the environment: using the embedded mock at {}", mock.uri());
            (Client::builder().base_url(mock.uri()).access_token("t-mock").build()?, Some(mock))
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

/// A local stand-in for the VC API built from the spec's examples.
mod embedded_mock {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SPEC: &str = include_str!("../../spec/openapi.yaml");

    /// Starts a server answering every operation of the spec with its response example.
    pub async fn start() -> MockServer {
        let server = MockServer::start().await;
        let spec: serde_json::Value = serde_yaml::from_str(SPEC).expect("the bundled spec is valid YAML");
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let pattern = format!("^{}$", path_to_regex(path));
            for (verb, op) in item.as_object().into_iter().flatten() {
                let Some(example) = op.pointer("/responses/200/content/application~1json/example") else { continue };
                Mock::given(method(verb.to_uppercase().as_str()))
                    .and(path_regex(pattern.as_str()))
                    .respond_with(ResponseTemplate::new(200).set_body_json(example))
                    .mount(&server)
                    .await;
            }
        }
        server
    }

    /// `/rooms/{room_id}` -> `/rooms/[^/]+`.
    fn path_to_regex(template: &str) -> String {
        template
            .split('/')
            .map(|segment| if segment.starts_with('{') { "[^/]+".to_owned() } else { regex_escape(segment) })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn regex_escape(text: &str) -> String {
        text.chars()
            .flat_map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { vec![c] } else { vec!['\\', c] })
            .collect()
    }
}
