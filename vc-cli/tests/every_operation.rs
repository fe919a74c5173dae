//! Every operation of the spec, called through `vc --mock` with arguments derived from the spec
//! alone: each parameter's example, else a value its schema allows (first enum value, lower
//! bound, a plain string), and the request example as the body. A parameter shape the command
//! line cannot express (a flag that does not exist, a value it drops) fails here.

use assert_cmd::Command;
use serde_json::Value;
use vc_mock::Spec;
use vc_mock::spec::Operation;

/// Flags of `vc` itself; a parameter named like one of them gets `--<name>-param`, as `vc
/// <tag> <action> --help` shows.
const RESERVED: [&str; 15] = [
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
    "format",
];

/// The text of a scalar as a flag value.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value the schema allows, when the parameter has no example.
fn from_schema(spec: &Spec, schema: &Value) -> Vec<String> {
    let schema = spec.resolve(schema);
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return vec![text(first)];
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => from_schema(spec, schema.get("items").unwrap_or(&Value::Null)),
        Some("integer") | Some("number") => {
            let low = schema.get("minimum").and_then(Value::as_i64);
            let high = schema.get("maximum").and_then(Value::as_i64);
            vec![low.unwrap_or_else(|| high.map_or(1, |h| h.min(1))).to_string()]
        }
        Some("boolean") => vec!["true".to_owned()],
        _ => vec!["x".to_owned()],
    }
}

/// The arguments of one operation: its command, every parameter, the body.
fn arguments(spec: &Spec, op: &Operation, command: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--mock".into(), "--compact".into()];
    args.extend(command.iter().cloned());
    for param in &op.params {
        let mut flag = param.name.replace('_', "-");
        if RESERVED.contains(&flag.as_str()) {
            flag.push_str("-param");
        }
        let values = match &param.example {
            Some(Value::Array(items)) => items.iter().map(text).collect(),
            Some(example) => vec![text(example)],
            None => from_schema(spec, &param.schema),
        };
        for value in values {
            args.push(format!("--{flag}"));
            args.push(value);
        }
    }
    if op.body.is_some() {
        match &op.body_example {
            Some(example) => {
                args.push("--body".into());
                args.push(example.to_string());
            }
            None => assert!(!op.body_required, "{}: a required body without a request example", op.id),
        }
    }
    args
}

/// `vc operations`: the command of each operation, by `METHOD path`.
fn commands() -> Vec<(String, Vec<String>)> {
    let output = Command::cargo_bin("vc").unwrap().arg("operations").output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (format!("{} {}", words[2], words[3]), vec![words[0].to_owned(), words[1].to_owned()])
        })
        .collect()
}

/// Runs `vc` with `args`; what went wrong, if anything.
fn call(op: &Operation, args: &[String]) -> Option<String> {
    let output = Command::cargo_bin("vc").unwrap().env_remove("FEISHU_USER_ACCESS_TOKEN").args(args).output();
    let output = output.unwrap();
    if !output.status.success() {
        return Some(format!("{}: vc {}\n{}", op.id, args.join(" "), String::from_utf8_lossy(&output.stderr)));
    }
    if op.file_media_type.is_some() {
        return output.stdout.is_empty().then(|| format!("{}: the download wrote nothing", op.id));
    }
    serde_json::from_slice::<Value>(&output.stdout)
        .err()
        .map(|e| format!("{}: stdout is not JSON ({e}): {:?}", op.id, String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn every_operation_succeeds_against_the_mock_with_spec_derived_arguments() {
    let spec = Spec::embedded();
    let commands = commands();
    assert_eq!(commands.len(), spec.operations().len());
    let jobs: Vec<(&Operation, Vec<String>)> = spec
        .operations()
        .iter()
        .map(|op| {
            let key = format!("{} {}", op.method, op.path);
            let (_, command) =
                commands.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("no command for {key}"));
            (op, arguments(spec, op, command))
        })
        .collect();
    let called = jobs.len();
    // A few processes at once: each starts its own mock server.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(4))
            .map(|chunk| scope.spawn(move || chunk.iter().filter_map(|(op, args)| call(op, args)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("a worker thread")).collect()
    });
    assert_eq!(called, 75, "the spec has 75 operations");
    assert!(failures.is_empty(), "{} of {called} operations failed:\n{}", failures.len(), failures.join("\n"));
}
