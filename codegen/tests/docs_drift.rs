//! docs-drift: the committed snapshots match the spec, and every kind of drift planted into an
//! in-memory copy of a seed page is reported (the files in spec/docs are never modified).

use std::path::{Path, PathBuf};

use codegen::docs_drift::page::{PageBody, RateLimit, Window};
use codegen::docs_drift::{self, DocsDriftError, Drift, Location, PageReport, SpecIndex, Subject};

const OPERATION_PAGE: &str = "000_2224196ddc768070.txt";
const OVERVIEW_PAGE: &str = "003_7feed91375387ea0.txt";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn spec() -> serde_yaml::Value {
    codegen::bundle::bundle_dir(&workspace_root().join("spec/src")).expect("the spec bundles")
}

fn seed(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("spec/docs").join(name)).unwrap()
}

/// The seed page with `from` replaced by `to` (once); fails if `from` is not on the page.
fn planted(name: &str, from: &str, to: &str) -> String {
    let text = seed(name);
    assert!(text.contains(from), "the seed page {name} contains {from:?}");
    text.replacen(from, to, 1)
}

fn check(name: &str, text: &str) -> PageReport {
    let doc = spec();
    let index = SpecIndex::new(&doc).unwrap();
    let page = docs_drift::parse_page(&Path::new("planted").join(name), text).expect("the planted page parses");
    index.compare(&page)
}

/// Asserts that the report holds exactly one finding, matching `expected`, and returns it.
fn only_drift(report: &PageReport) -> (Option<usize>, Drift) {
    assert_eq!(report.findings.len(), 1, "expected exactly one difference:\n{report}");
    let finding = &report.findings[0];
    (finding.line, finding.drift.clone())
}

#[test]
fn committed_snapshots_have_no_drift() {
    let report = docs_drift::check_workspace(&workspace_root()).expect("the snapshots parse");
    assert!(!report.has_drift(), "{report}");
    assert_eq!(report.pages.len(), 2);
    assert_eq!(
        report.pages[0].subject,
        Subject::Operation {
            id: "export_participant_list".into(),
            method: "POST".into(),
            path: "/open-apis/vc/v1/exports/participant_list".into(),
        }
    );
    assert_eq!(report.pages[1].subject, Subject::Overview { operations: 38, events: 9 });
    assert!(report.to_string().contains("no docs drift in 2 page(s)"));
}

#[test]
fn the_seed_operation_page_is_read_completely() {
    let page = docs_drift::parse_page(Path::new(OPERATION_PAGE), &seed(OPERATION_PAGE)).unwrap();
    assert_eq!(page.last_remote_update.as_ref().map(|v| v.value.as_str()), Some("2024-07-23"));
    let PageBody::Operation(op) = &page.body else { panic!("an operation page") };
    assert_eq!(
        (op.method.value.as_str(), op.path.value.as_str()),
        ("POST", "/open-apis/vc/v1/exports/participant_list")
    );
    assert_eq!(op.rate_limit.as_ref().map(|l| &l.value), Some(&RateLimit::Limits(vec![(100, Window::Minute)])));
    let tokens = op.token_types.as_ref().map(|t| t.value.clone());
    assert_eq!(tokens, Some(vec!["tenant_access_token".to_owned(), "user_access_token".to_owned()]));
    assert!(op.headers.is_empty() && op.path_params.is_empty());
    assert_eq!(op.query_params.len(), 1);
    assert_eq!(op.query_params[0].enum_values, ["open_id", "union_id", "user_id"]);
    let body: Vec<(&str, Option<bool>)> = op.request_body.iter().map(|f| (f.name.as_str(), f.required)).collect();
    assert_eq!(
        body,
        [
            ("meeting_start_time", Some(true)),
            ("meeting_end_time", Some(true)),
            ("meeting_status", Some(false)),
            ("meeting_no", Some(true)),
            ("user_id", Some(false)),
            ("room_id", Some(false)),
        ]
    );
    assert_eq!(op.request_body[2].enum_values, ["1", "2", "3"]);
    assert_eq!(op.request_body[2].line, 59);
    let response: Vec<&str> = op.response_body.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(response, ["code", "msg", "data"]);
    assert_eq!(op.response_body[2].children.len(), 1, "task_id is a child of data");
    assert_eq!(op.response_body[2].children[0].name, "task_id");
    let codes: Vec<(u16, i64)> = op.error_codes.iter().map(|e| (e.http_status, e.code)).collect();
    assert_eq!(codes, [(500, 121001), (400, 121002), (400, 121003), (404, 121004), (403, 121005)]);
}

#[test]
fn a_removed_field_is_reported() {
    let text = planted(
        OPERATION_PAGE,
        "room_id | string | 否 | 按参会Rooms筛选（最多一个筛选条件）  \n**示例值**：\"omm_eada1d61a550955240c28757e7dec3af\"\n",
        "",
    );
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, None, "the field is not on the page");
    assert_eq!(
        drift,
        Drift::ExtraInSpec { location: Location::RequestBody, field: "room_id".into(), spec_type: "string".into() }
    );

    // A removed nested response field is reported with its path, at its parent's line.
    let text = planted(OPERATION_PAGE, "task_id | string | 任务id\n", "");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(92), "the line of the `data` row");
    assert_eq!(
        drift,
        Drift::ExtraInSpec {
            location: Location::ResponseBody,
            field: "data.task_id".into(),
            spec_type: "string".into()
        }
    );
}

#[test]
fn an_added_field_is_reported() {
    let text = planted(
        OPERATION_PAGE,
        "task_id | string | 任务id\n",
        "task_id | string | 任务id\nexpire_at | int64 | 过期时间\n",
    );
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(94));
    assert_eq!(
        drift,
        Drift::MissingFromSpec {
            location: Location::ResponseBody,
            field: "data.expire_at".into(),
            page_type: "int64".into()
        }
    );
}

#[test]
fn a_changed_type_is_reported() {
    let text = planted(OPERATION_PAGE, "meeting_no | string | 是", "meeting_no | int | 是");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(65));
    assert_eq!(
        drift,
        Drift::Type {
            location: Location::RequestBody,
            field: "meeting_no".into(),
            page: "int".into(),
            spec: "string".into()
        }
    );
}

#[test]
fn an_added_enum_value_is_reported() {
    let text = planted(OPERATION_PAGE, "- 3：待召开\n", "- 3：待召开  \n- 4：已取消\n");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(59), "the line of the meeting_status row");
    assert_eq!(
        drift,
        Drift::EnumValues {
            location: Location::RequestBody,
            field: "meeting_status".into(),
            page_only: vec!["4".into()],
            spec_only: vec![],
        }
    );

    // A value removed from a query parameter's list.
    let start = "- union_id：";
    let text = seed(OPERATION_PAGE);
    let from = text.find(start).unwrap();
    let to = from + text[from..].find("\n- user_id：").unwrap() + 1;
    let text = format!("{}{}", &text[..from], &text[to..]);
    let (_, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(
        drift,
        Drift::EnumValues {
            location: Location::QueryParameter,
            field: "user_id_type".into(),
            page_only: vec![],
            spec_only: vec!["union_id".into()],
        }
    );
}

#[test]
fn a_flipped_required_flag_is_reported() {
    let text = planted(OPERATION_PAGE, "user_id | string | 否", "user_id | string | 是");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(67));
    assert_eq!(
        drift,
        Drift::Required { location: Location::RequestBody, field: "user_id".into(), page: true, spec: false }
    );
}

#[test]
fn an_added_error_code_is_reported() {
    let text = planted(
        OPERATION_PAGE,
        "404 | 121004 | data not exist |",
        "400 | 121006 | data conflict | 数据冲突\n404 | 121004 | data not exist |",
    );
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(113));
    assert_eq!(drift, Drift::ErrorCodeNotInSpec { http_status: 400, code: 121006, msg: "data conflict".into() });
}

#[test]
fn a_differing_rate_limit_is_reported() {
    let text = planted(OPERATION_PAGE, "[100 次/分钟]", "[1000 次/分钟、50 次/秒]");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(18));
    assert_eq!(
        drift,
        Drift::RateLimit { page: Some("50/second + 1000/minute".into()), spec: Some("100/minute".into()) }
    );

    let text = planted(OPERATION_PAGE, "[100 次/分钟]", "[特殊频控]");
    let (_, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(drift, Drift::RateLimit { page: Some("special tier".into()), spec: Some("100/minute".into()) });
}

#[test]
fn a_newer_page_version_is_reported() {
    let text = planted(OPERATION_PAGE, "last_remote_update: 2024-07-23", "last_remote_update: 2025-01-02");
    let (line, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(line, Some(4));
    assert_eq!(drift, Drift::PageVersion { page: "2025-01-02".into(), spec: Some("2024-07-23".into()) });
}

#[test]
fn an_operation_page_the_spec_lacks_is_reported() {
    let text = planted(OPERATION_PAGE, "exports/participant_list\n", "exports/participant_summary\n")
        .replace("export/participant_list", "export/participant_summary");
    let report = check(OPERATION_PAGE, &text);
    let (line, drift) = only_drift(&report);
    assert_eq!(line, Some(16));
    assert_eq!(
        drift,
        Drift::OperationNotInSpec {
            method: "POST".into(),
            path: "/open-apis/vc/v1/exports/participant_summary".into()
        }
    );
    assert!(matches!(report.subject, Subject::UnknownOperation { .. }));
}

#[test]
fn nesting_markers_and_indentation_are_understood() {
    // `∟` markers: the same facts as the flat seed layout.
    let marked = planted(OPERATION_PAGE, "task_id | string | 任务id", "∟ task_id | string | 任务id");
    assert!(check(OPERATION_PAGE, &marked).findings.is_empty(), "{}", check(OPERATION_PAGE, &marked));
    // Indentation (two spaces per level).
    let indented = planted(OPERATION_PAGE, "task_id | string | 任务id", "  task_id | string | 任务id");
    assert!(check(OPERATION_PAGE, &indented).findings.is_empty());
    // With markers, a row at the top level after `data` is not one of its children.
    let text =
        planted(OPERATION_PAGE, "task_id | string | 任务id", "∟ task_id | string | 任务id\nextra | string | 额外");
    let (_, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(
        drift,
        Drift::MissingFromSpec { location: Location::ResponseBody, field: "extra".into(), page_type: "string".into() }
    );
    // A nested child of a child: reported with its full path.
    let text =
        planted(OPERATION_PAGE, "task_id | string | 任务id", "∟ task_id | string | 任务id\n∟∟ part | int | 分片");
    let (_, drift) = only_drift(&check(OPERATION_PAGE, &text));
    assert_eq!(
        drift,
        Drift::MissingFromSpec {
            location: Location::ResponseBody,
            field: "data.task_id.part".into(),
            page_type: "int".into()
        }
    );
}

#[test]
fn a_new_operation_on_the_overview_is_reported() {
    let text = planted(
        OVERVIEW_PAGE,
        "[导出会议室预定数据]",
        "[导出录制明细](https://open.feishu.cn/document/uAjLw4CM/ukTMukTMukTM/reference/vc-v1/export/recording_list)  \n\
         `POST` /open-apis/vc/v1/exports/recording_list  \n\
         >导出录制明细 | 导出视频会议信息 | `tenant_access_token` | **✓** | **✓**\n\
         [导出会议室预定数据]",
    );
    let (line, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert!(line.is_some());
    assert_eq!(
        drift,
        Drift::OperationNotInSpec { method: "POST".into(), path: "/open-apis/vc/v1/exports/recording_list".into() }
    );
}

#[test]
fn a_changed_method_or_path_on_the_overview_is_reported() {
    let text =
        planted(OVERVIEW_PAGE, "`GET` /open-apis/vc/v1/reports/get_daily", "`POST` /open-apis/vc/v1/reports/get_daily");
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert_eq!(drift, Drift::Method { id: "report_get_daily".into(), page: "POST".into(), spec: "GET".into() });

    let text = planted(OVERVIEW_PAGE, "/open-apis/vc/v1/reports/get_daily", "/open-apis/vc/v1/reports/daily");
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert_eq!(
        drift,
        Drift::Path {
            id: "report_get_daily".into(),
            page: "/open-apis/vc/v1/reports/daily".into(),
            spec: "/open-apis/vc/v1/reports/get_daily".into(),
        }
    );

    // A removed line: the spec operation is no longer listed.
    let text = planted(OVERVIEW_PAGE, "`GET` /open-apis/vc/v1/reports/get_daily", "");
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert!(matches!(drift, Drift::OperationNotOnOverview { ref id, .. } if id == "report_get_daily"), "{drift:?}");
}

#[test]
fn only_the_acknowledged_overview_difference_is_accepted() {
    // The spec acknowledges POST for room_levels/search (x-feishu-overview); another method is new drift.
    let text = planted(
        OVERVIEW_PAGE,
        "`POST` /open-apis/vc/v1/room_levels/search",
        "`PUT` /open-apis/vc/v1/room_levels/search",
    );
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert_eq!(drift, Drift::Method { id: "room_level_search".into(), page: "PUT".into(), spec: "POST".into() });

    // When the overview is fixed, the acknowledgement is stale and must go.
    let text = planted(
        OVERVIEW_PAGE,
        "`POST` /open-apis/vc/v1/room_levels/search",
        "`GET` /open-apis/vc/v1/room_levels/search",
    );
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert_eq!(
        drift,
        Drift::StaleAcknowledgement {
            id: "room_level_search".into(),
            key: "method".into(),
            acknowledged: "POST".into()
        }
    );
}

#[test]
fn a_new_event_on_the_overview_is_reported() {
    let text = planted(
        OVERVIEW_PAGE,
        "[屏幕共享结束]",
        "[举手](https://open.feishu.cn/document/uAjLw4CM/ukTMukTMukTM/reference/vc-v1/meeting/events/hand_raised) | 有参会人举手时 | 获取会议信息 | vc.meeting.hand_raised_v1 | **✓** | **✓**\n[屏幕共享结束]",
    );
    let (_, drift) = only_drift(&check(OVERVIEW_PAGE, &text));
    assert_eq!(drift, Drift::EventNotInSpec { event_type: "vc.meeting.hand_raised_v1".into() });

    let text = planted(OVERVIEW_PAGE, "vc.meeting.share_ended_v1", "vc.meeting.share_stopped_v1");
    let report = check(OVERVIEW_PAGE, &text);
    let drifts: Vec<&Drift> = report.findings.iter().map(|f| &f.drift).collect();
    assert_eq!(
        drifts,
        [
            &Drift::EventNotInSpec { event_type: "vc.meeting.share_stopped_v1".into() },
            &Drift::EventNotOnOverview { event_type: "vc.meeting.share_ended_v1".into() },
        ]
    );
}

#[test]
fn the_report_names_file_line_and_difference() {
    let text = planted(OPERATION_PAGE, "meeting_no | string | 是", "meeting_no | int | 是");
    let report = docs_drift::Report { pages: vec![check(OPERATION_PAGE, &text)] };
    assert!(report.has_drift());
    let shown = report.to_string();
    assert!(
        shown.contains(
            "planted/000_2224196ddc768070.txt:65: request body field `meeting_no`: type differs: page int, spec string"
        ),
        "{shown}"
    );
    assert!(shown.contains("docs drift: 1 difference(s) in 1 of 1 page(s)"), "{shown}");
}

fn parse_error(text: &str) -> (PathBuf, usize, String) {
    match docs_drift::parse_page(Path::new("spec/docs/broken.txt"), text) {
        Err(DocsDriftError::Parse { file, line, message }) => (file, line, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn an_unparseable_page_names_the_file_and_line() {
    let text = planted(OPERATION_PAGE, "meeting_no | string | 是", "meeting_no | string | 可能");
    let (file, line, message) = parse_error(&text);
    assert_eq!((file.as_path(), line), (Path::new("spec/docs/broken.txt"), 65));
    assert!(message.contains("必填") && message.contains("可能"), "{message}");
    let shown = docs_drift::parse_page(Path::new("spec/docs/broken.txt"), &text).unwrap_err().to_string();
    assert!(shown.starts_with("spec/docs/broken.txt:65: cannot parse the doc page:"), "{shown}");

    // No front matter.
    let (_, line, message) = parse_error("# 导出参会人明细\n");
    assert_eq!(line, 1);
    assert!(message.contains("front matter"), "{message}");

    // An unreadable rate limit.
    let (_, line, _) = parse_error(&planted(OPERATION_PAGE, "[100 次/分钟]", "[很多]"));
    assert_eq!(line, 18);

    // A row nested two levels below its predecessor.
    let (_, line, message) =
        parse_error(&planted(OPERATION_PAGE, "task_id | string | 任务id", "∟∟ task_id | string | 任务id"));
    assert_eq!(line, 93);
    assert!(message.contains("task_id"), "{message}");

    // A row with too few columns.
    let (_, line, _) = parse_error(&planted(OPERATION_PAGE, "user_id | string | 否 |", "user_id | string |"));
    assert_eq!(line, 67);

    // An error code that is not a number.
    let (_, line, _) = parse_error(&planted(OPERATION_PAGE, "400 | 121002 |", "400 | E121002 |"));
    assert_eq!(line, 111);

    // Neither an operation page nor an overview.
    let (_, line, message) = parse_error("---\ntitle: x\nsource_url: https://example.invalid\n---\nhello\n");
    assert_eq!(line, 5);
    assert!(message.contains("neither"), "{message}");
}

#[test]
fn check_files_reads_pages_and_names_missing_ones() {
    let doc = spec();
    let seed_file = workspace_root().join("spec/docs").join(OPERATION_PAGE);
    let report = docs_drift::check_files(&doc, &[seed_file]).unwrap();
    assert!(!report.has_drift(), "{report}");
    let missing = workspace_root().join("spec/docs/no-such-page.txt");
    let err = docs_drift::check_files(&doc, &[missing]).unwrap_err();
    assert!(matches!(err, DocsDriftError::Io { .. }));
    assert!(err.to_string().contains("no-such-page.txt"), "{err}");
}

#[test]
fn damaged_pages_give_errors_or_reports_never_panics() {
    let doc = spec();
    let index = SpecIndex::new(&doc).unwrap();
    for name in [OPERATION_PAGE, OVERVIEW_PAGE] {
        let text = seed(name);
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            let without_line: Vec<&str> = lines.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect();
            let truncated = lines[..i].join("\n");
            let doubled: Vec<&str> =
                lines.iter().enumerate().flat_map(|(j, l)| if j == i { vec![*l, *l] } else { vec![*l] }).collect();
            for variant in [without_line.join("\n"), truncated, doubled.join("\n")] {
                if let Ok(page) = docs_drift::parse_page(Path::new(name), &variant) {
                    let _ = index.compare(&page).to_string();
                }
            }
        }
    }
}

/// A reserve_apply page in the `∟` layout, listing only part of the nested request body.
const NESTED_PAGE: &str = "---
title: \"预约会议\"
source_url: https://open.feishu.cn/document/server-docs/vc-v1/reserve/apply
last_remote_update: 2024-09-09
---
## 请求
名称 | 值
---|---
HTTP URL | https://open.feishu.cn/open-apis/vc/v1/reserves/apply
HTTP Method | POST

### 请求体

名称 | 类型 | 必填 | 描述
--- | --- | --- | ---
meeting_settings | reserve_meeting_setting | 是 | 会议设置
∟ action_permissions | reserve_action_permission[] | 否 | 权限
  ∟ permission | int | 是 | 权限项  
**可选值有**：  
- 1：是否能成为主持人  
- 2：是否能邀请参会人  
- 3：是否能加入会议
  ∟ permission_checkers | reserve_permission_checker[] | 是 | 权限检查器列表
    ∟ check_field | int | 是 | 检查字段类型  
**可选值有**：  
- 1：用户ID  
- 2：用户类型  
- 3：租户ID
    ∟ check_mode | string | 是 | 检查方式  
**可选值有**：  
- 1：在范围内  
- 2：不在范围内
    ∟ check_list | string[] | 是 | 检查字段列表
    ∟ check_scope | int | 否 | 检查范围
";

#[test]
fn nested_request_fields_are_compared_along_their_path() {
    let report = check("nested.txt", NESTED_PAGE);
    let at = |field: &str| -> Vec<Drift> {
        report
            .findings
            .iter()
            .map(|f| f.drift.clone())
            .filter(|d| match d {
                Drift::MissingFromSpec { field: f, .. }
                | Drift::ExtraInSpec { field: f, .. }
                | Drift::Type { field: f, .. }
                | Drift::Required { field: f, .. }
                | Drift::EnumValues { field: f, .. } => f == field,
                _ => false,
            })
            .collect()
    };
    let base = "meeting_settings.action_permissions";
    // Fields that match the spec at depth 2 and 3 give nothing.
    assert!(at(&format!("{base}.permission")).is_empty(), "{report}");
    assert!(at(&format!("{base}.permission_checkers")).is_empty(), "{report}");
    assert!(at(&format!("{base}.permission_checkers.check_field")).is_empty(), "{report}");
    assert!(at(&format!("{base}.permission_checkers.check_list")).is_empty(), "{report}");
    // A wrong type and an unknown field at depth 3.
    assert_eq!(
        at(&format!("{base}.permission_checkers.check_mode")),
        [Drift::Type {
            location: Location::RequestBody,
            field: format!("{base}.permission_checkers.check_mode"),
            page: "string".into(),
            spec: "int".into(),
        }]
    );
    assert_eq!(
        at(&format!("{base}.permission_checkers.check_scope")),
        [Drift::MissingFromSpec {
            location: Location::RequestBody,
            field: format!("{base}.permission_checkers.check_scope"),
            page_type: "int".into(),
        }]
    );
    // Spec fields the page leaves out, at each level.
    assert!(matches!(at("meeting_settings.topic").as_slice(), [Drift::ExtraInSpec { .. }]), "{report}");
    assert!(matches!(at("end_time").as_slice(), [Drift::ExtraInSpec { .. }]), "{report}");
}
