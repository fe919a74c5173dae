//! `vc events listen` against vc-mock's fake long-connection server: events printed as JSON
//! lines, a final refusal ending the command with status 1 and its reason.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};
use vc_mock::long_connection::LongConnServer;

fn vc() -> Command {
    let mut command = Command::cargo_bin("vc").expect("the vc binary is built");
    for name in ["FEISHU_APP_ID", "FEISHU_APP_SECRET", "FEISHU_ACCESS_TOKEN", "FEISHU_DOMAIN"] {
        command.env_remove(name);
    }
    command
}

#[test]
fn listen_without_credentials_is_a_usage_error() {
    let output = vc().args(["events", "listen"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("FEISHU_APP_ID"));
}

#[test]
fn listen_ends_with_status_1_and_the_reason_when_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(LongConnServer::start());
    let output = vc()
        .args(["events", "listen", "--domain", &server.url()])
        .env("FEISHU_APP_ID", vc_mock::APP_ID)
        .env("FEISHU_APP_SECRET", "wrong-secret")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("vc: failed") && stderr.contains("10014"), "{stderr}");
    assert!(!stderr.contains("wrong-secret"));
    assert!(output.stdout.is_empty());
}

#[test]
fn listen_prints_each_event_as_one_compact_json_line() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(LongConnServer::start());
    let hub = server.hub();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("vc"))
        .args(["events", "listen", "--domain", &server.url()])
        .env_remove("FEISHU_DOMAIN")
        .env("FEISHU_APP_ID", vc_mock::APP_ID)
        .env("FEISHU_APP_SECRET", vc_mock::APP_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let connected = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), hub.wait_for(|c| c.connections == 1)).await });
    assert!(connected.is_ok(), "the command connected");
    let event = json!({"schema": "2.0",
        "header": {"event_id": "cli-1", "event_type": "vc.meeting.meeting_started_v1", "app_id": vc_mock::APP_ID,
                   "token": "the-verification-token"},
        "event": {"meeting": {"id": "6911188411932033028", "topic": "standup", "field_no_type_knows": [1]}}});
    assert_eq!(runtime.block_on(hub.push(&event, 2)), 1);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(line.ends_with('\n') && !line.trim_end().contains('\n'), "one line: {line:?}");
    let printed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["header"]["event_id"], "cli-1");
    assert_eq!(printed["header"]["event_type"], "vc.meeting.meeting_started_v1");
    assert_eq!(printed["event"]["meeting"]["topic"], "standup");
    // The payload as delivered (a field the typed event lacks included), without the token.
    assert_eq!(printed["event"]["meeting"]["field_no_type_knows"], json!([1]));
    assert!(!line.contains("the-verification-token") && printed["header"].get("token").is_none(), "{line}");
}
