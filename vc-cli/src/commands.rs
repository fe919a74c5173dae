//! The command tree, built at run time from the embedded spec: one subcommand per tag, one
//! per operation under it (`vc reserve get`), a flag per path and query parameter
//! (`--reserve-id`), `--body` plus a flag per top-level scalar body field, and the options of
//! paginated, file and export operations. Reading the parsed flags back gives the untyped
//! request for `vc_api::Client::call_json`.

use std::collections::BTreeMap;

use clap::builder::ValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Value};
use vc_api::RawRequest;
use vc_api::export::ExportRequest;
use vc_mock::Spec;
use vc_mock::spec::{Location, Operation};

/// Flags of the `vc` command itself or of the operation modes. A parameter of the same name
/// gets the flag `--<name>-param`; a body field of the same name is set through `--body` only.
pub const RESERVED: [&str; 15] = [
    "format",
    "time",
    "domain",
    "mock",
    "compact",
    "verbose",
    "user-access-token",
    "body",
    "all",
    "output",
    "wait",
    "poll-interval",
    "timeout",
    "help",
    "version",
];

/// `meeting_recording` -> `meeting-recording`.
pub fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

/// The flag of a path or query parameter: its name in kebab case, with `-param` appended when
/// that name is one of the [`RESERVED`] flags.
pub fn param_flag(name: &str) -> String {
    let flag = kebab(name);
    if RESERVED.contains(&flag.as_str()) { format!("{flag}-param") } else { flag }
}

/// The action name of an operation under its tag: the operationId without the tag prefix
/// (`room_level_del` under `room_level` -> `del`), or the whole operationId.
pub fn action_name(op: &Operation) -> String {
    let prefix = format!("{}_", op.tag);
    kebab(op.id.strip_prefix(&prefix).filter(|rest| !rest.is_empty()).unwrap_or(&op.id))
}

/// How a flag's text becomes a value: its schema's type.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    /// An enum: `(wire value, variant name)`.
    Enum(Vec<(Value, String)>),
}

fn kind_of(spec: &Spec, schema: &Value) -> Option<Kind> {
    let resolved = spec.resolve(schema);
    if resolved.get("enum").is_some() {
        return Some(Kind::Enum(spec.enum_values(schema)));
    }
    match resolved.get("type").and_then(Value::as_str) {
        Some("string") | None => Some(Kind::String),
        Some("integer") => Some(Kind::Integer),
        Some("number") => Some(Kind::Number),
        Some("boolean") => Some(Kind::Boolean),
        _ => None,
    }
}

/// The flag shape of a parameter or top-level body field: its kind, and whether it repeats
/// (an array of scalars: one flag occurrence per element). Objects and arrays of objects get
/// no flag (they go through `--body`).
fn flag_shape(spec: &Spec, schema: &Value) -> Option<(Kind, bool)> {
    let resolved = spec.resolve(schema);
    match resolved.get("type").and_then(Value::as_str) {
        Some("array") => {
            let items = resolved.get("items")?;
            match spec.resolve(items).get("type").and_then(Value::as_str) {
                Some("object") | Some("array") => None,
                _ => kind_of(spec, items).map(|kind| (kind, true)),
            }
        }
        Some("object") => None,
        _ => kind_of(spec, schema).map(|kind| (kind, false)),
    }
}

/// `OpenId`, `open_id`, `open-id` and `openid` all name the variant `OpenId`.
fn loose(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).flat_map(|c| c.to_lowercase()).collect()
}

/// Parses a flag's text into the JSON value sent: integers and numbers as numbers, booleans,
/// enum variants by name or wire value (values the spec does not list pass through, as the
/// API's enums are open).
fn parse_value(kind: &Kind, text: &str) -> Result<Value, String> {
    match kind {
        Kind::String => Ok(Value::String(text.to_owned())),
        Kind::Integer => text.trim().parse::<i64>().map(Value::from).map_err(|_| format!("{text:?} is not an integer")),
        Kind::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Kind::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        Kind::Enum(values) => {
            let wanted = loose(text);
            if let Some((wire, _)) = values.iter().find(|(_, name)| loose(name) == wanted) {
                return Ok(wire.clone());
            }
            let integer = values.first().is_some_and(|(wire, _)| wire.is_number());
            if integer {
                text.trim().parse::<i64>().map(Value::from).map_err(|_| {
                    let names: Vec<String> = values.iter().map(|(wire, name)| format!("{name} ({wire})")).collect();
                    format!("{text:?} is neither a variant name nor an integer; one of {}", names.join(", "))
                })
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
    }
}

/// The value as it goes into a path or query string.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn enum_help(values: &[(Value, String)]) -> String {
    let listed: Vec<String> = values
        .iter()
        .map(|(wire, name)| if wire.is_string() { format!("{wire}") } else { format!("{name} ({wire})") })
        .collect();
    format!("[one of: {}]", listed.join(", ").replace('"', ""))
}

fn value_arg(id: String, kind: &Kind, help: String) -> Arg {
    let parser_kind = kind.clone();
    let mut help = help;
    let mut arg = Arg::new(id.clone()).long(id).value_name("VALUE");
    match kind {
        Kind::Enum(values) => help = format!("{help} {}", enum_help(values)),
        Kind::Boolean => {
            arg = arg.num_args(0..=1).default_missing_value("true").value_name("true|false");
        }
        Kind::Integer => arg = arg.value_name("INTEGER"),
        Kind::Number => arg = arg.value_name("NUMBER"),
        Kind::String => {}
    }
    arg.help(help).value_parser(ValueParser::new(move |text: &str| parse_value(&parser_kind, text)))
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    match line.find(". ") {
        Some(end) => line[..=end].to_owned(),
        None => line,
    }
}

/// The top-level scalar fields of an operation's body that get their own flag: name, kind
/// and whether it repeats (an array of scalars).
fn body_fields(spec: &Spec, op: &Operation) -> Vec<(String, Kind, bool, String)> {
    let Some(schema) = &op.body else { return Vec::new() };
    let schema = spec.resolve(schema);
    let mut out = Vec::new();
    for (name, field) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let flag = kebab(name);
        if RESERVED.contains(&flag.as_str()) || op.params.iter().any(|p| param_flag(&p.name) == flag) {
            continue;
        }
        let resolved = spec.resolve(field);
        let description = first_sentence(resolved.get("description").and_then(Value::as_str).unwrap_or_default());
        let Some((kind, repeated)) = flag_shape(spec, field) else { continue };
        out.push((name.clone(), kind, repeated, description));
    }
    out
}

/// The subcommand of one operation.
fn operation_command(spec: &Spec, op: &Operation) -> Command {
    let about = format!("{} ({} {})", op.summary, op.method, op.path);
    let mut command = Command::new(action_name(op)).about(about).long_about(format!(
        "{}\n\n{}\n\nOperation {} ({} {}).",
        op.summary, op.description, op.id, op.method, op.path
    ));
    for param in &op.params {
        let Some((kind, repeated)) = flag_shape(spec, &param.schema) else { continue };
        let flag = param_flag(&param.name);
        let what = match param.location {
            Location::Path => "Path parameter",
            Location::Query => "Query parameter",
        };
        let again = if repeated { " (repeat for several)" } else { "" };
        let help = format!("{what} {}{again}: {}", param.name, first_sentence(&param.description));
        let mut arg = value_arg(flag, &kind, help).required(param.required);
        if repeated {
            arg = arg.action(ArgAction::Append);
        }
        command = command.arg(arg);
    }
    if op.body.is_some() {
        command = command.arg(
            Arg::new("body")
                .long("body")
                .value_name("JSON|@FILE|@-")
                .help("The JSON request body, inline, from a file (@path) or from standard input (@-); the field flags below override its fields")
                .required(false),
        );
        for (name, kind, repeated, description) in body_fields(spec, op) {
            let help = format!("Body field {name}: {description}");
            let mut arg = value_arg(kebab(&name), &kind, help);
            if repeated {
                arg = arg
                    .action(ArgAction::Append)
                    .help(format!("Body field {name} (repeat for several): {description}"));
            }
            command = command.arg(arg);
        }
    }
    if op.pagination_items.is_some() {
        command =
            command.arg(Arg::new("all").long("all").action(ArgAction::SetTrue).help(
                "Walk every page, writing the items as they arrive (a JSON array, or lines or rows with --format)",
            ));
    }
    let export = ExportRequest::OPERATIONS.contains(&op.id.as_str());
    if op.file_media_type.is_some() || export {
        let help = if export {
            "Wait for the export and save its file here (implies --wait)"
        } else {
            "Save the file here instead of writing it to standard output"
        };
        command = command.arg(Arg::new("output").long("output").short('o').value_name("FILE").help(help));
    }
    if export {
        command = command
            .arg(
                Arg::new("wait")
                    .long("wait")
                    .action(ArgAction::SetTrue)
                    .help("Poll the export task until it is done and print where its file is"),
            )
            .arg(
                Arg::new("poll-interval")
                    .long("poll-interval")
                    .value_name("SECONDS")
                    .value_parser(clap::value_parser!(f64))
                    .help("Wait before the first status check, doubled up to 10 s between checks [default: 1]"),
            )
            .arg(
                Arg::new("timeout")
                    .long("timeout")
                    .value_name("SECONDS")
                    .value_parser(clap::value_parser!(f64))
                    .help("Give up waiting after this long [default: 600]"),
            );
    }
    command
}

/// The whole `vc` command: global options, then one subcommand per tag.
pub fn command(spec: &Spec) -> Command {
    let mut tags: BTreeMap<String, Vec<&Operation>> = BTreeMap::new();
    for op in spec.operations() {
        tags.entry(op.tag.clone()).or_default().push(op);
    }
    let descriptions: BTreeMap<String, String> = spec
        .document()
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            Some((tag.get("name")?.as_str()?.to_owned(), first_sentence(tag.get("description")?.as_str()?)))
        })
        .collect();
    let mut root = Command::new("vc")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Call any operation of the Feishu / Lark Video Conferencing API v1 from the command line")
        .after_help(AUTH_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("domain")
                .long("domain")
                .global(true)
                .value_name("feishu|lark|URL")
                .env("FEISHU_DOMAIN")
                .help("Where the API is: feishu (default), lark, or a base URL"),
        )
        .arg(
            Arg::new("mock")
                .long("mock")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Run against an embedded mock of the API (the spec's examples; no credentials needed)"),
        )
        .arg(
            Arg::new("user-access-token")
                .long("user-access-token")
                .global(true)
                .value_name("TOKEN")
                .env("FEISHU_USER_ACCESS_TOKEN")
                .hide_env_values(true)
                .help("A user_access_token for this call (operations such as `meeting end` accept only user tokens)"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .global(true)
                .value_name("FORMAT")
                .value_parser(clap::value_parser!(crate::output::Format))
                .help("Output format [default: json]: json, jsonl (one line per item), table or csv (one row per item of the list a response holds)"),
        )
        .arg(
            Arg::new("redis")
                .long("redis")
                .global(true)
                .value_name("URL")
                .env("FEISHU_REDIS_URL")
                .hide_env_values(true)
                .help("Share the token cache and the rate budget with every other process of the app through this Redis (redis://host:port/db); turns the client-side rate limit on"),
        )
        .arg(
            Arg::new("client-rate-limit")
                .long("client-rate-limit")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Keep every operation within its documented rate limits by waiting before each request (each page of --all counts)"),
        )
        .arg(Arg::new("compact").long("compact").global(true).action(ArgAction::SetTrue).help("Print JSON on one line"))
        .arg(
            Arg::new("time")
                .long("time")
                .global(true)
                .value_name("ZONE")
                .value_parser(clap::value_parser!(crate::output::TimeZone))
                .help("In tables, show unix-second timestamps of *time columns as dates in this zone (local or utc)"),
        )
        .arg(Arg::new("verbose").long("verbose").short('v').global(true).action(ArgAction::SetTrue).help(
            "Log each call when it ends (operation, attempts, status, code, log id, elapsed time) to standard error",
        ))
        .subcommand(Command::new("operations").about("List every operation: command, method, path and summary"))
        .subcommand(
            Command::new("completions").about("Print a shell completion script (e.g. `vc completions bash > ~/.local/share/bash-completion/completions/vc`)").arg(
                Arg::new("shell")
                    .required(true)
                    .value_name("SHELL")
                    .value_parser(["bash", "zsh", "fish", "powershell"])
                    .help("The shell: bash, zsh, fish or powershell"),
            ),
        )
        .subcommand(Command::new("man").about("Print the man page (roff), e.g. `vc man > vc.1`"))
        .subcommand(crate::events::command());
    for (tag, ops) in tags {
        let mut group = Command::new(kebab(&tag))
            .about(descriptions.get(&tag).cloned().unwrap_or_else(|| format!("Operations of {tag}")))
            .subcommand_required(true)
            .arg_required_else_help(true);
        for op in ops {
            group = group.subcommand(operation_command(spec, op));
        }
        root = root.subcommand(group);
    }
    root
}

const AUTH_HELP: &str = "Authentication (from the environment):
  FEISHU_APP_ID + FEISHU_APP_SECRET   a self-built app; its tenant token is fetched and cached
    + FEISHU_APP_TICKET + FEISHU_TENANT_KEY   for a marketplace app
  FEISHU_ACCESS_TOKEN                 a fixed tenant or user access token
  FEISHU_USER_ACCESS_TOKEN            a user token for this call (or --user-access-token)
  FEISHU_REDIS_URL                    a Redis shared by the app's processes: one token, one rate budget (or --redis)
Output is the response's `data` as JSON (see --format). Errors print the Feishu code, message and log id
and exit with status 1 (2 for usage errors).";

/// What the parsed flags ask for.
#[derive(Debug)]
pub struct Invocation {
    /// The operation.
    pub operation: &'static Operation,
    /// Parameters and body.
    pub request: RawRequest,
    /// `--all`.
    pub all: bool,
    /// `--output`.
    pub output: Option<std::path::PathBuf>,
    /// `--wait` (or `--output` on an export).
    pub wait: bool,
    /// `--poll-interval`, seconds.
    pub poll_interval: Option<f64>,
    /// `--timeout`, seconds.
    pub timeout: Option<f64>,
}

/// Finds the operation of the parsed subcommands and reads its flags into a request.
/// `read_body` resolves `@file` / `@-` for `--body`.
pub fn invocation(
    spec: &'static Spec,
    tag: &str,
    action: &str,
    matches: &ArgMatches,
    read_body: impl Fn(&str) -> Result<String, String>,
) -> Result<Invocation, String> {
    let operation = spec
        .operations()
        .iter()
        .find(|op| kebab(&op.tag) == tag && action_name(op) == action)
        .ok_or_else(|| format!("no operation {tag} {action}"))?;
    let mut request = RawRequest::new();
    for param in &operation.params {
        if flag_shape(spec, &param.schema).is_none() {
            continue;
        }
        // A repeated flag sends the query parameter once per value (`room_ids=a&room_ids=b`).
        for value in matches.get_many::<Value>(&param_flag(&param.name)).into_iter().flatten() {
            request = match param.location {
                Location::Path => request.path_param(&param.name, as_text(value)),
                Location::Query => request.query(&param.name, as_text(value)),
            };
        }
    }
    if operation.body.is_some() {
        let mut body = match matches.get_one::<String>("body") {
            Some(text) => {
                let text = read_body(text)?;
                serde_json::from_str::<Value>(&text).map_err(|e| format!("--body is not valid JSON: {e}"))?
            }
            None => Value::Null,
        };
        let mut fields = Map::new();
        for (name, _, repeated, _) in body_fields(spec, operation) {
            let flag = kebab(&name);
            if repeated {
                if let Some(values) = matches.get_many::<Value>(&flag) {
                    fields.insert(name, Value::Array(values.cloned().collect()));
                }
            } else if let Some(value) = matches.get_one::<Value>(&flag) {
                fields.insert(name, value.clone());
            }
        }
        if !fields.is_empty() {
            match &mut body {
                Value::Null => body = Value::Object(fields),
                Value::Object(object) => object.extend(fields),
                _ => return Err("--body must be a JSON object when body field flags are given".to_owned()),
            }
        }
        if !body.is_null() {
            request = request.body(body);
        }
    }
    let flag = |name: &str| matches.try_get_one::<bool>(name).ok().flatten().copied().unwrap_or(false);
    let output = matches.try_get_one::<String>("output").ok().flatten().map(std::path::PathBuf::from);
    let number = |name: &str| matches.try_get_one::<f64>(name).ok().flatten().copied();
    Ok(Invocation {
        all: flag("all"),
        wait: flag("wait") || (output.is_some() && ExportRequest::OPERATIONS.contains(&operation.id.as_str())),
        poll_interval: number("poll-interval"),
        timeout: number("timeout"),
        output,
        operation,
        request,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(args: &[&str]) -> Result<Invocation, String> {
        let spec = Spec::embedded();
        let matches = command(spec).try_get_matches_from(args).map_err(|e| e.to_string())?;
        let (tag, group) = matches.subcommand().unwrap();
        let (action, op_matches) = group.subcommand().unwrap();
        invocation(spec, tag, action, op_matches, |text| Ok(text.to_owned()))
    }

    /// Subcommands that are not operations: they describe `vc` itself, or receive events.
    const LOCAL: [&str; 4] = ["operations", "completions", "man", "events"];

    #[test]
    fn the_command_tree_is_valid_and_covers_every_operation() {
        let spec = Spec::embedded();
        let root = command(spec);
        root.clone().debug_assert();
        let count: usize = root
            .get_subcommands()
            .filter(|c| !LOCAL.contains(&c.get_name()))
            .map(|c| c.get_subcommands().count())
            .sum();
        assert_eq!(count, spec.operations().len());
    }

    #[test]
    fn parameters_named_like_reserved_flags_get_a_suffix() {
        assert_eq!(param_flag("page_token"), "page-token");
        assert_eq!(param_flag("body"), "body-param");
        assert_eq!(param_flag("all"), "all-param");
    }

    #[test]
    fn names_come_from_tags_and_operation_ids() {
        let spec = Spec::embedded();
        assert_eq!(action_name(spec.operation("room_level_del").unwrap()), "del");
        assert_eq!(action_name(spec.operation("meeting_list_by_no").unwrap()), "list-by-no");
        assert_eq!(action_name(spec.operation("meeting_recording_set_permission").unwrap()), "set-permission");
    }

    /// `vc report get-top-user` over days 1 to 2 with `--limit` and `--order-by` as given.
    fn top_user(limit: &str, order_by: &str) -> Result<Invocation, String> {
        parse(&[
            "vc",
            "report",
            "get-top-user",
            "--start-time",
            "1",
            "--end-time",
            "2",
            "--limit",
            limit,
            "--order-by",
            order_by,
        ])
    }

    #[test]
    fn parameters_become_typed_request_values() {
        let call = parse(&["vc", "reserve", "get", "--reserve-id", "R1", "--user-id-type", "UnionId"]).unwrap();
        assert_eq!(call.operation.id, "reserve_get");
        let expected = RawRequest::new().path_param("reserve_id", "R1").query("user_id_type", "union_id");
        assert_eq!(call.request, expected);
        let call = top_user("5", "meeting_count");
        let query = call.unwrap().request.query_pairs().to_vec();
        assert!(query.contains(&("order_by".to_owned(), "1".to_owned())), "{query:?}");
        let by_number = top_user("5", "2");
        assert!(by_number.unwrap().request.query_pairs().contains(&("order_by".to_owned(), "2".to_owned())));
    }

    #[test]
    fn bad_values_and_missing_flags_are_usage_errors() {
        let missing = parse(&["vc", "reserve", "get"]).unwrap_err();
        assert!(missing.contains("--reserve-id"), "{missing}");
        let not_int = top_user("x", "1");
        assert!(not_int.unwrap_err().contains("is not an integer"));
        let bad_enum = top_user("1", "loudest");
        assert!(bad_enum.unwrap_err().contains("neither a variant name nor an integer"));
    }

    #[test]
    fn body_flags_override_the_body() {
        let call = parse(&[
            "vc",
            "export",
            "participant-list",
            "--body",
            r#"{"meeting_no": "1", "meeting_start_time": "1"}"#,
            "--meeting-no",
            "2",
            "--meeting-end-time",
            "9",
            "--meeting-status",
            "past",
        ])
        .unwrap();
        let body = call.request.json_body().unwrap();
        assert_eq!(
            body,
            &json!({"meeting_no": "2", "meeting_start_time": "1", "meeting_end_time": "9", "meeting_status": 2})
        );
        let arrays = parse(&["vc", "room-level", "mget", "--level-ids", "a", "--level-ids", "b"]).unwrap();
        assert_eq!(arrays.request.json_body().unwrap(), &json!({"level_ids": ["a", "b"]}));
        let not_object = parse(&["vc", "room-level", "mget", "--body", "[1]", "--level-ids", "a"]).unwrap_err();
        assert!(not_object.contains("must be a JSON object"));
    }

    #[test]
    fn modes_of_paginated_file_and_export_operations() {
        assert!(parse(&["vc", "room", "list", "--all"]).unwrap().all);
        let export =
            parse(&["vc", "export", "meeting-list", "--start-time", "1", "--end-time", "2", "-o", "x.xlsx"]).unwrap();
        assert!(export.wait && export.output.is_some());
        assert!(
            parse(&["vc", "reserve", "get", "--reserve-id", "1", "--all"]).is_err(),
            "--all only on paginated operations"
        );
        let download = parse(&["vc", "export", "download", "--file-token", "f", "--output", "f.xlsx"]).unwrap();
        assert!(!download.wait && download.output.is_some());
    }

    #[test]
    fn array_parameters_are_repeatable_flags_sent_as_repeated_query_values() {
        let call = parse(&[
            "vc",
            "resource-reservation-list",
            "get",
            "--room-level-id",
            "omb_1",
            "--room-ids",
            "omm_a",
            "--room-ids",
            "omm_b",
            "--start-time",
            "1",
            "--end-time",
            "2",
        ]);
        let query = call.unwrap().request.query_pairs().to_vec();
        let rooms: Vec<&str> = query.iter().filter(|(n, _)| n == "room_ids").map(|(_, v)| v.as_str()).collect();
        assert_eq!(rooms, ["omm_a", "omm_b"]);
    }

    #[test]
    fn booleans_work_as_switches_and_with_values() {
        let on = parse(&["vc", "meeting", "get", "--meeting-id", "1", "--with-participants"]).unwrap();
        assert!(on.request.query_pairs().contains(&("with_participants".to_owned(), "true".to_owned())));
        let off = parse(&["vc", "meeting", "get", "--meeting-id", "1", "--with-participants", "false"]).unwrap();
        assert!(off.request.query_pairs().contains(&("with_participants".to_owned(), "false".to_owned())));
    }
}
