//! The `vc` binary against the embedded mock server: reads, writes, every page, an export run
//! to its file, a file download, API and usage errors, and the ways to authenticate.

use std::sync::OnceLock;

use assert_cmd::Command;
use serde_json::{Value, json};
use vc_api_tests::redis_server::RedisServer;
use vc_mock::{MockServer, Spec};

/// One mock server for the whole file, on a runtime of its own so that it answers while a
/// test blocks on the binary.
fn server() -> &'static MockServer {
    static SERVER: OnceLock<(tokio::runtime::Runtime, MockServer)> = OnceLock::new();
    let (_, server) = SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime.block_on(MockServer::start());
        (runtime, server)
    });
    server
}

/// `vc` with no FEISHU_* variables from the environment of the test run.
fn bare() -> Command {
    let mut command = Command::cargo_bin("vc").expect("the vc binary is built");
    for name in [
        "FEISHU_APP_ID",
        "FEISHU_APP_SECRET",
        "FEISHU_APP_TICKET",
        "FEISHU_TENANT_KEY",
        "FEISHU_ACCESS_TOKEN",
        "FEISHU_USER_ACCESS_TOKEN",
        "FEISHU_DOMAIN",
        "FEISHU_REDIS_URL",
    ] {
        command.env_remove(name);
    }
    command
}

/// `vc --domain <mock>` authenticated as the mock's app.
fn vc() -> Command {
    let mut command = bare();
    command
        .env("FEISHU_APP_ID", vc_mock::APP_ID)
        .env("FEISHU_APP_SECRET", vc_mock::APP_SECRET)
        .args(["--domain", &server().url()]);
    command
}

fn example_data(id: &str) -> Value {
    Spec::embedded().operation(id).unwrap().response_example.clone().unwrap()["data"].take()
}

fn stdout_json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "vc failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", output.stdout))
}

#[test]
fn a_read_prints_the_data_as_json() {
    let output = vc()
        .args(["reserve", "get", "--reserve-id", "6911188411934973028", "--user-id-type", "OpenId"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&output), example_data("reserve_get"));
}

#[test]
fn a_write_sends_flags_and_body_files() {
    let output = vc().args(["room-level", "create", "--name", "Floor 3", "--parent-id", "omb_1"]).output().unwrap();
    assert_eq!(stdout_json(&output), example_data("room_level_create"));
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, r#"{"level_ids": ["omb_1", "omb_2"]}"#).unwrap();
    let output = vc().args(["room-level", "mget", "--body", &format!("@{}", body.display())]).output().unwrap();
    assert_eq!(stdout_json(&output), example_data("room_level_mget"));
    let output =
        vc().args(["room-level", "mget", "--body", "@-"]).write_stdin(r#"{"level_ids": ["a"]}"#).output().unwrap();
    assert_eq!(stdout_json(&output), example_data("room_level_mget"));
}

#[test]
fn all_walks_every_page_by_query_and_by_body() {
    let per_page = example_data("room_list")["rooms"].as_array().unwrap().len();
    let output = vc().args(["room", "list", "--page-size", "10", "--all"]).output().unwrap();
    let rooms = stdout_json(&output);
    assert_eq!(rooms.as_array().unwrap().len(), 2 * per_page, "the example page, then the last page");
    assert_eq!(rooms[0], example_data("room_list")["rooms"][0]);
    let search = ["room", "search", "--keyword", "Atlas", "--page-size", "10", "--all"];
    let output = vc().args(search).args(["--user-access-token", vc_mock::USER_TOKEN]).output().unwrap();
    let per_page = example_data("room_search")["rooms"].as_array().unwrap().len();
    assert_eq!(stdout_json(&output).as_array().unwrap().len(), 2 * per_page);
}

#[test]
fn an_export_waits_and_saves_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("participants.xlsx");
    let body = json!({"meeting_start_time": "1655276858", "meeting_end_time": "1655276858", "meeting_no": "123456789"});
    let output = vc()
        .args(["export", "participant-list", "--body", &body.to_string(), "--user-id-type", "open_id"])
        .args(["--wait", "--poll-interval", "0.01", "--output"])
        .arg(&file)
        .output()
        .unwrap();
    let summary = stdout_json(&output);
    assert_eq!(summary["task_id"], example_data("export_participant_list")["task_id"]);
    assert_eq!(summary["bytes"], vc_mock::server::FILE_BYTES.len());
    assert_eq!(std::fs::read(&file).unwrap(), vc_mock::server::FILE_BYTES);
    let waited = vc()
        .args(["export", "meeting-list", "--start-time", "1655276858", "--end-time", "1655276958"])
        .args(["--wait", "--poll-interval", "0"])
        .output()
        .unwrap();
    assert_eq!(stdout_json(&waited)["file_token"], example_data("export_get")["file_token"]);
}

#[test]
fn a_download_goes_to_standard_output() {
    let output = vc().args(["export", "download", "--file-token", "f-1"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, vc_mock::server::FILE_BYTES);
}

#[test]
fn a_bad_parameter_prints_the_feishu_error_and_fails() {
    let output = vc()
        .args(["report", "get-top-user", "--start-time", "1", "--end-time", "2", "--limit", "500"])
        .args(["--order-by", "MeetingCount"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Feishu error 121003"), "{stderr}");
    assert!(stderr.contains("code:   121003"), "{stderr}");
    assert!(stderr.contains("msg:    param error: query parameter limit: 500 is above the maximum 100"), "{stderr}");
    assert!(stderr.contains("log_id: vcmock"), "{stderr}");
    let body = r#"{"start_time": "1", "end_time": "2", "colour": 1}"#;
    let output = vc().args(["export", "meeting-list", "--body", body]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("body.colour is not a field"));
}

#[test]
fn integer_enums_take_names_or_numbers() {
    let base = ["report", "get-top-user", "--start-time", "1", "--end-time", "2", "--limit", "5"];
    let by_name = vc().args(base).args(["--order-by", "meeting-duration", "--unit", "0"]).output().unwrap();
    assert_eq!(stdout_json(&by_name), example_data("report_get_top_user"));
    let by_number = vc().args(base).args(["--order-by", "2"]).output().unwrap();
    assert_eq!(stdout_json(&by_number), example_data("report_get_top_user"));
    // An unlisted number passes the command line (enums are open) and the server rejects it.
    let unlisted = vc().args(base).args(["--order-by", "9"]).output().unwrap();
    assert_eq!(unlisted.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unlisted.stderr).contains("order_by: 9 is not one of"));
}

#[test]
fn usage_errors_exit_with_2() {
    let missing = vc().args(["reserve", "get"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--reserve-id"));
    let bad_json = vc().args(["room-level", "mget", "--body", "{nope"]).output().unwrap();
    assert_eq!(bad_json.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_json.stderr).contains("--body is not valid JSON"));
    let no_credentials = bare().args(["--domain", &server().url(), "reserve", "get", "--reserve-id", "1"]).output();
    let no_credentials = no_credentials.unwrap();
    assert_eq!(no_credentials.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_credentials.stderr).contains("no credentials"));
}

#[test]
fn fixed_and_user_tokens_and_the_embedded_mock() {
    let mut fixed = bare();
    fixed.env("FEISHU_ACCESS_TOKEN", vc_mock::TENANT_TOKEN).args(["--domain", &server().url()]);
    assert_eq!(
        stdout_json(&fixed.args(["export", "get", "--task-id", "T1"]).output().unwrap()),
        example_data("export_get")
    );
    let mut forged = bare();
    forged.env("FEISHU_ACCESS_TOKEN", "t-forged").args([
        "--domain",
        &server().url(),
        "export",
        "get",
        "--task-id",
        "T1",
    ]);
    let output = forged.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("code:   99991663"));
    let as_user =
        vc().args(["meeting", "end", "--meeting-id", "M1", "--user-access-token", vc_mock::USER_TOKEN]).output();
    assert_eq!(stdout_json(&as_user.unwrap()), json!({}));
    let mocked = bare().args(["--mock", "--compact", "meeting", "end", "--meeting-id", "M1"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&mocked.stdout), "{}\n");
}

/// `--redis` (before or after the subcommand) and `FEISHU_REDIS_URL`: separate `vc` processes
/// share one token; without it each fetches its own.
#[test]
fn processes_given_one_redis_share_one_token() {
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let server = runtime.block_on(MockServer::start());
    let token_requests =
        || server.served().iter().filter(|s| s.path == "/open-apis/auth/v3/tenant_access_token/internal").count();
    let vc = || {
        let mut command = bare();
        command
            .env("FEISHU_APP_ID", vc_mock::APP_ID)
            .env("FEISHU_APP_SECRET", vc_mock::APP_SECRET)
            .args(["--domain", &server.url()]);
        command
    };
    let url = redis.url();
    let export_get = ["export", "get", "--task-id", "T1"];
    let before = vc().args(["--redis", &url]).args(export_get).output().unwrap();
    assert_eq!(stdout_json(&before), example_data("export_get"));
    let after = vc().args(export_get).args(["--redis", &url, "--client-rate-limit"]).output().unwrap();
    assert_eq!(stdout_json(&after), example_data("export_get"));
    let from_env = vc().env("FEISHU_REDIS_URL", &url).args(export_get).output().unwrap();
    assert_eq!(stdout_json(&from_env), example_data("export_get"));
    assert_eq!(token_requests(), 1, "three processes, one token");

    let alone = vc().args(export_get).arg("--client-rate-limit").output().unwrap();
    assert_eq!(stdout_json(&alone), example_data("export_get"));
    assert_eq!(token_requests(), 2, "without Redis a process fetches its own");

    let invalid = vc().env("FEISHU_REDIS_URL", "not a url").args(export_get).output().unwrap();
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("Redis URL"), "{invalid:?}");
}

#[test]
fn operations_lists_every_operation() {
    let output = bare().arg("operations").output().unwrap();
    let listing = String::from_utf8_lossy(&output.stdout);
    assert_eq!(listing.lines().count(), Spec::embedded().operations().len());
    assert!(listing.lines().any(|l| l.starts_with("meeting-recording set-permission") && l.contains("PATCH")));
}

#[test]
fn verbose_logs_every_call_once_when_it_ends() {
    let output = vc().args(["-v", "reserve", "get", "--reserve-id", "6911188411934973028"]).output().unwrap();
    assert_eq!(stdout_json(&output), example_data("reserve_get"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let calls: Vec<&str> = stderr.lines().filter(|l| l.starts_with("vc: call ")).collect();
    assert_eq!(calls.len(), 1, "{stderr}");
    assert!(calls[0].starts_with("vc: call reserve_get attempts=1 status=200 code=0 log_id="), "{stderr}");
    assert!(calls[0].contains(" elapsed=") && calls[0].ends_with("ms"), "{stderr}");
    // Every page is a call of its own.
    let output = vc().args(["--verbose", "room", "list", "--page-size", "10", "--all"]).output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("vc: call room_list attempts=1 status=200")).count(),
        2,
        "{stderr}"
    );
    // A failed call: its status, code and log id.
    let output = vc()
        .args(["-v", "report", "get-top-user", "--start-time", "1", "--end-time", "2", "--limit", "500"])
        .args(["--order-by", "MeetingCount"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.starts_with("vc: call report_get_top_user")).expect(&stderr);
    assert!(line.contains("status=400 code=121003 log_id=vcmock"), "{line}");
    // Without -v, nothing of the kind.
    let quiet = vc().args(["reserve", "get", "--reserve-id", "1"]).output().unwrap();
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
}

#[test]
fn completions_for_every_shell_know_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = bare().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        let script = String::from_utf8_lossy(&output.stdout);
        for known in ["resource-reservation-list", "room-ids", "reserve-id", "format"] {
            assert!(script.contains(known), "{shell} completion lacks {known}");
        }
    }
    let unknown = bare().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn man_prints_a_roff_page() {
    let output = bare().arg("man").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.starts_with(".ie") || page.contains(".TH vc"), "{page}");
    for known in ["\\-\\-format", "\\-\\-mock", "reserve", "completions", "FEISHU_APP_ID"] {
        assert!(page.contains(known), "the man page lacks {known}");
    }
}
