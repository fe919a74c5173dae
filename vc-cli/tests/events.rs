//! `vc events serve`: the HTTP receiver on a port, fed by the embedded vc-mock, prints each
//! event once as a compact JSON line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Kills the server when the test ends, whatever happens.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.1 POST; returns the status line and the body.
fn post(url: &str, body: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).expect("the mock listens");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

#[test]
fn serve_with_the_mock_prints_each_pushed_event_once() {
    let child = Command::new(env!("CARGO_BIN_EXE_vc"))
        .args(["events", "serve", "--mock", "--addr", "127.0.0.1:0"])
        .env_remove("FEISHU_ENCRYPT_KEY")
        .env_remove("FEISHU_VERIFICATION_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vc starts");
    let mut server = Running(child);
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());

    // The mock's push URL, from the instructions on standard error.
    let mut push_url = None;
    let mut line = String::new();
    while push_url.is_none() {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "vc ended before announcing the mock");
        push_url = line.split_whitespace().find(|w| w.ends_with("/__mock/events")).map(str::to_owned);
    }
    let push_url = push_url.unwrap();

    let (status, answer) = post(&push_url, r#"{"event_type": "vc.meeting.meeting_started_v1"}"#);
    assert!(status.contains(" 200 "), "{status} {answer}");
    let chunked = answer.lines().find(|l| l.starts_with('{')).unwrap_or(&answer).to_owned();
    let answer: Value = serde_json::from_str(&chunked).expect("the push answer is JSON");
    let event_id = answer["event_id"].as_str().unwrap().to_owned();

    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
    let event: Value = serde_json::from_str(line.trim_end()).expect("one JSON line per event");
    assert_eq!(event["header"]["event_id"], event_id.as_str());
    assert_eq!(event["header"]["event_type"], "vc.meeting.meeting_started_v1");
    assert_eq!(event["event"]["meeting"]["id"], "6911188411934433028");
    assert!(!line.contains(": "), "compact: {line}");
    assert!(event["header"].get("token").is_none() && !line.contains("vcmock-verification-token"), "{line}");

    // A second event is the next line: the first was printed once.
    let (_, answer) = post(&push_url, r#"{"event_type": "vc.meeting.meeting_ended_v1"}"#);
    assert!(answer.contains("vc.meeting.meeting_ended_v1"), "{answer}");
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let event: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(event["header"]["event_type"], "vc.meeting.meeting_ended_v1");
}

#[test]
fn serve_on_a_busy_address_fails_with_the_reason() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_vc"))
        .args(["events", "serve", "--addr", &addr])
        .env("FEISHU_VERIFICATION_TOKEN", "vt")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

#[test]
fn serve_without_a_key_or_token_refuses_to_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_vc"))
        .args(["events", "serve", "--addr", "127.0.0.1:0"])
        .env_remove("FEISHU_ENCRYPT_KEY")
        .env_remove("FEISHU_VERIFICATION_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FEISHU_ENCRYPT_KEY") && stderr.contains("--mock"), "{stderr}");
}
