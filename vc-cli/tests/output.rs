//! `vc --format json|jsonl|table|csv` and `--all` streaming: every format against the
//! embedded mock, and a listing of many pages from a server that looks at `vc`'s output file
//! each time the next page is asked for, showing each page's items are written before the next
//! page is fetched (so nothing is collected in memory).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;

use assert_cmd::Command;
use serde_json::{Value, json};
use vc_mock::Spec;

fn example_data(id: &str) -> Value {
    Spec::embedded().operation(id).unwrap().response_example.clone().unwrap()["data"].take()
}

fn mock() -> Command {
    let mut command = Command::cargo_bin("vc").unwrap();
    command.env_remove("FEISHU_USER_ACCESS_TOKEN").env_remove("COLUMNS").arg("--mock");
    command
}

fn stdout(output: &std::process::Output) -> String {
    assert!(output.status.success(), "vc failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn jsonl_prints_one_line_per_item_of_the_list() {
    let rooms = example_data("room_list")["rooms"].as_array().unwrap().clone();
    let text = stdout(&mock().args(["--format", "jsonl", "room", "list"]).output().unwrap());
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, rooms);
    // A response without a list is one line.
    let text = stdout(&mock().args(["--format", "jsonl", "reserve", "get", "--reserve-id", "1"]).output().unwrap());
    assert_eq!(text.lines().count(), 1);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), example_data("reserve_get"));
}

#[test]
fn csv_has_a_header_and_one_record_per_item_with_exact_strings() {
    let records = example_data("meeting_list_get")["meeting_list"].as_array().unwrap().clone();
    let text = stdout(
        &mock()
            .args(["--format", "csv", "meeting-list", "get", "--start-time", "1", "--end-time", "2"])
            .output()
            .unwrap(),
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), records.len());
    for (row, record) in rows.iter().zip(&records) {
        for (name, text) in headers.iter().zip(row.iter()) {
            let expected = match &record[name] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(text, expected, "column {name}");
        }
    }
}

#[test]
fn table_aligns_columns_within_the_width() {
    let output = mock().env("COLUMNS", "100").args(["--format", "table", "room", "list"]).output().unwrap();
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let rooms = example_data("room_list")["rooms"].as_array().unwrap().len();
    assert_eq!(lines.len(), 1 + rooms, "a header and a row per room:\n{text}");
    assert!(lines[0].starts_with("capac"), "{text}");
    for line in &lines {
        let width: usize = line.chars().map(|c| if (c as u32) >= 0x2E80 && c != '…' { 2 } else { 1 }).sum();
        assert!(width <= 100, "wider than COLUMNS: {line:?}");
    }
    // The second column starts at the same place in the header and in every row.
    let column = |line: &str, text: &str| line.find(text).map(|at| line[..at].chars().count());
    let second = column(lines[0], "custom_room");
    assert!(second.is_some());
    for line in &lines[1..] {
        assert_eq!(column(line, "1234"), second, "{text}");
    }
    // Unix-second strings in time columns become dates when asked.
    let args = ["meeting-list", "get", "--start-time", "1", "--end-time", "2"];
    let narrow = mock().args(["--format", "table"]).args(args).output().unwrap();
    let text = stdout(&narrow);
    assert!(text.lines().all(|line| line.chars().count() <= 120), "120 without COLUMNS: {text}");
    let note = String::from_utf8_lossy(&narrow.stderr);
    assert!(note.contains("do not fit in 120 characters and are left out"), "{note}");
    let raw = stdout(&mock().env("COLUMNS", "1000").args(["--format", "table"]).args(args).output().unwrap());
    let meeting = &example_data("meeting_list_get")["meeting_list"][0];
    assert!(raw.contains(meeting["meeting_id"].as_str().unwrap()), "IDs stay exact: {raw}");
}

#[test]
fn time_renders_unix_seconds_in_tables() {
    let args = ["reserve", "get", "--reserve-id", "1"];
    let wide = || {
        let mut command = mock();
        command.env("COLUMNS", "1000");
        command
    };
    let text = stdout(&wide().args(["--format", "table", "--time", "utc"]).args(args).output().unwrap());
    assert_eq!(text.lines().count(), 2, "one row: the reserve\n{text}");
    assert!(text.contains("2020-12-25 08:02:02 UTC"), "end_time 1608883322 as a date: {text}");
    assert!(text.contains("6911188411934973028") && text.contains("112000358"), "IDs stay: {text}");
    let plain = stdout(&wide().args(["--format", "table"]).args(args).output().unwrap());
    assert!(plain.contains("1608883322"), "{plain}");
    let csv = stdout(&wide().args(["--format", "csv", "--time", "utc"]).args(args).output().unwrap());
    assert!(csv.contains("1608883322") && !csv.contains("2020-12-25"), "csv keeps the exact string: {csv}");
    let local = stdout(&wide().args(["--format", "table", "--time", "local"]).args(args).output().unwrap());
    assert!(local.contains("2020-12-2") && !local.contains("1608883322"), "{local}");
}

/// A server of `pages` pages of `room_list`, each of `per_page` rooms. When page k > 0 is asked
/// for, it reads `output` (vc's standard output, a file) and sends `(k, contents)` on `seen`.
fn paging_server(pages: usize, per_page: usize, output: PathBuf, seen: mpsc::Sender<(usize, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                    break;
                }
            }
            let page = request_line
                .split_whitespace()
                .nth(1)
                .and_then(|target| target.split("page_token=p").nth(1))
                .and_then(|rest| rest.split('&').next())
                .map_or(0, |k| k.parse::<usize>().unwrap());
            if page > 0 {
                let mut written = String::new();
                std::fs::File::open(&output).unwrap().read_to_string(&mut written).unwrap();
                seen.send((page, written)).unwrap();
            }
            let rooms: Vec<Value> = (0..per_page).map(|i| room(page, i)).collect();
            let more = page + 1 < pages;
            let body = json!({"code": 0, "msg": "success", "data": {
                "rooms": rooms, "has_more": more, "page_token": if more { format!("p{}", page + 1) } else { String::new() }
            }})
            .to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).unwrap();
        }
    });
    url
}

fn room(page: usize, i: usize) -> Value {
    json!({"room_id": format!("omm_{page}_{i}"), "name": format!("Room {i}, floor {page}"), "capacity": i})
}

/// Runs `vc --format <format> room list --all` against a paging server; returns the output
/// and what the output file held when each later page was asked for.
fn list_all(format: &str, pages: usize, per_page: usize) -> (String, Vec<(usize, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let file = std::fs::File::create(&path).unwrap();
    let (sender, seen) = mpsc::channel();
    let url = paging_server(pages, per_page, path.clone(), sender);
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("vc"))
        .env_remove("FEISHU_APP_ID")
        .env_remove("FEISHU_APP_SECRET")
        .env_remove("FEISHU_USER_ACCESS_TOKEN")
        .env("FEISHU_ACCESS_TOKEN", "t-fixed")
        .args(["--domain", &url, "--format", format, "room", "list", "--page-size", "50", "--all"])
        .stdout(Stdio::from(file))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(status.stderr.is_empty(), "no progress when stderr is not a terminal: {:?}", status.stderr);
    let snapshots: Vec<(usize, String)> = seen.try_iter().collect();
    (std::fs::read_to_string(&path).unwrap(), snapshots)
}

#[test]
fn all_writes_each_page_before_fetching_the_next() {
    let (pages, per_page) = (40, 5);
    let expected: Vec<Value> = (0..pages).flat_map(|p| (0..per_page).map(move |i| room(p, i))).collect();

    let (text, snapshots) = list_all("jsonl", pages, per_page);
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, expected);
    assert_eq!(snapshots.len(), pages - 1);
    for (page, written) in &snapshots {
        assert_eq!(written.lines().count(), page * per_page, "items of the pages before page {page}");
    }

    let (text, snapshots) = list_all("json", pages, per_page);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), Value::Array(expected.clone()));
    assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&expected).unwrap()), "same text as one array");
    for (page, written) in &snapshots {
        assert!(written.starts_with('['));
        assert!(written.contains(&format!("\"omm_{}_{}\"", page - 1, per_page - 1)), "page {page}: {written}");
        assert!(!written.contains(&format!("\"omm_{page}_0\"")));
    }

    let (text, snapshots) = list_all("csv", pages, per_page);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), pages * per_page);
    assert_eq!(&rows[7], &csv::StringRecord::from(vec!["2", "Room 2, floor 1", "omm_1_2"]));
    for (page, written) in &snapshots {
        assert_eq!(written.lines().count(), 1 + page * per_page, "header and rows before page {page}");
    }

    let (text, _) = list_all("table", 3, per_page);
    assert_eq!(text.lines().count(), 1 + 3 * per_page);
}
