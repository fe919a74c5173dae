//! Generator tests on small fixture specs: snapshots of every output, determinism, and the
//! errors a maintainer sees for a bad spec.

use std::path::{Path, PathBuf};

use codegen::{CodegenError, GeneratedFile, bundle};
use expect_test::expect_file;
use serde_yaml::Value;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn generate_fixture(name: &str) -> Vec<GeneratedFile> {
    let doc = bundle::bundle_dir(&fixture_dir(name)).expect("fixture bundles");
    codegen::generate(&doc).expect("fixture generates")
}

fn output<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    &files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no output {path}")).contents
}

#[test]
fn minimal_fixture_snapshots() {
    let files = generate_fixture("minimal");
    expect_file!["snapshots/minimal_openapi.yaml"].assert_eq(output(&files, codegen::paths::BUNDLED_SPEC));
    expect_file!["snapshots/minimal_client.rs"].assert_eq(output(&files, codegen::paths::CLIENT));
    expect_file!["snapshots/minimal_enums.rs"].assert_eq(output(&files, codegen::paths::ENUMS));
    expect_file!["snapshots/minimal_operations.rs"].assert_eq(output(&files, codegen::paths::OPERATIONS));
    expect_file!["snapshots/minimal_events.rs"].assert_eq(output(&files, codegen::paths::EVENTS));
    expect_file!["snapshots/minimal_mocks.rs"].assert_eq(output(&files, codegen::paths::MOCKS));
}

#[test]
fn minimal_fixture_uses_runtime_types() {
    let files = generate_fixture("minimal");
    let client = output(&files, codegen::paths::CLIENT);
    assert!(client.contains("crate::response::Json<types::ThingGetData>"), "the runtime reads the envelope");
    assert!(!client.contains("api-version"), "no `api-version` header is built");
    assert!(!client.contains("async fn send"), "progenitor's send() is cut down to building the request");
    assert!(client.contains("fn request(&self) -> Result<::reqwest::Request, Error<()>>"), "built by reference");
    assert!(client.contains("::vc_api::types::ThingStatus"), "open enum swapped in");
    assert!(!client.contains("pub enum ThingStatus"), "typify's closed enum is not generated");
    assert!(!client.contains("NonZero"), "integer bounds do not turn into NonZero types");
    assert!(!client.contains("400u16"), "error responses are left to the runtime");
    let enums = output(&files, codegen::paths::ENUMS);
    assert!(enums.contains("Unknown(i32)") && enums.contains("Unknown(String)"));
}

#[test]
fn generating_twice_gives_identical_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let first = codegen::generate_workspace(root).expect("the workspace spec generates");
    let second = codegen::generate_workspace(root).expect("the workspace spec generates");
    assert_eq!(first, second);
    for file in &first {
        assert!(!file.contents.contains('\r'), "{} has CR line endings", file.path);
        if file.path == codegen::paths::README_COPY {
            // A copy of the hand-written README, which is the crate's documentation: no header.
            let readme = std::fs::read_to_string(root.join(codegen::paths::README)).unwrap();
            assert_eq!(file.contents, readme, "{} is the README byte for byte", file.path);
            continue;
        }
        let header = if file.path.ends_with(".rs") { codegen::render::RUST_HEADER } else { bundle::BUNDLE_HEADER };
        assert!(file.contents.starts_with(header), "{} lacks the generated header", file.path);
    }
}

fn with_thing_op(edit: impl FnOnce(&mut Value)) -> Result<Vec<GeneratedFile>, CodegenError> {
    let mut doc = bundle::bundle_dir(&fixture_dir("minimal")).unwrap();
    edit(doc.get_mut("paths").unwrap().get_mut("/things/{thing_id}").unwrap().get_mut("get").unwrap());
    codegen::generate(&doc)
}

#[test]
fn a_progenitor_panic_names_the_operation() {
    let err = with_thing_op(|op| {
        // Two success responses with different types make progenitor panic.
        let extra: Value = serde_yaml::from_str(
            "description: Other.\ncontent:\n  application/json:\n    schema: {type: object, properties: {x: {type: string}}}",
        )
        .unwrap();
        op["responses"].as_mapping_mut().unwrap().insert("201".into(), extra);
    })
    .unwrap_err();
    match &err {
        CodegenError::Progenitor { operation, .. } => assert_eq!(operation.as_deref(), Some("thing_get")),
        other => panic!("expected a progenitor error, got {other}"),
    }
    assert!(err.to_string().contains("on operation `thing_get`"), "{err}");
}

#[test]
fn an_inline_enum_breaks_a_convention() {
    let err = with_thing_op(|op| {
        op["parameters"][0]["schema"] = serde_yaml::from_str("{type: string, enum: [a, b]}").unwrap();
    })
    .unwrap_err();
    let CodegenError::Lint(problems) = &err else { panic!("expected lint errors, got {err}") };
    assert!(problems.iter().any(|p| p.contains("inline enum")), "{problems:?}");
}

#[test]
fn a_malformed_rate_limit_is_a_lint_error() {
    for bad in [
        "{requests: many, window: minute}",
        "{requests: 100, window: fortnight}",
        "{requests: 0, window: second}",
        "{requests: 100, window: minute, additional: {requests: 5, window: second}}",
        "{tier: normal}",
        "100/min",
    ] {
        let err = with_thing_op(|op| {
            op.as_mapping_mut().unwrap().insert("x-feishu-rate-limit".into(), serde_yaml::from_str(bad).unwrap());
        })
        .unwrap_err();
        let CodegenError::Lint(problems) = &err else { panic!("expected lint errors for {bad}, got {err}") };
        assert!(problems.iter().any(|p| p.contains("malformed x-feishu-rate-limit")), "{bad}: {problems:?}");
    }
}

#[test]
fn every_documented_rate_limit_reaches_the_operation_table() {
    let files = with_thing_op(|op| {
        let limit = "{requests: 1000, window: minute, additional: [{requests: 50, window: second}]}";
        op.as_mapping_mut().unwrap().insert("x-feishu-rate-limit".into(), serde_yaml::from_str(limit).unwrap());
    })
    .unwrap();
    let table = output(&files, codegen::paths::OPERATIONS);
    assert!(table.contains("rate_limits: &[(1000u32, 60u32), (50u32, 1u32)]"), "{table}");
}

#[test]
fn missing_examples_and_docs_break_conventions() {
    let err = with_thing_op(|op| {
        let op = op.as_mapping_mut().unwrap();
        op.remove("summary");
        op.remove("externalDocs");
        op["parameters"][0].as_mapping_mut().unwrap().remove("example");
    })
    .unwrap_err();
    let text = err.to_string();
    for expected in ["no summary", "no externalDocs", "parameter thing_id has no example"] {
        assert!(text.contains(expected), "{expected:?} missing from: {text}");
    }
}

#[test]
fn an_enum_without_variant_names_is_rejected() {
    let mut doc = bundle::bundle_dir(&fixture_dir("minimal")).unwrap();
    doc["components"]["schemas"]["ThingStatus"].as_mapping_mut().unwrap().remove("x-enum-varnames");
    let err = codegen::generate(&doc).unwrap_err();
    assert!(err.to_string().contains("ThingStatus has 2 values but 0 x-enum-varnames"), "{err}");
}

#[test]
fn a_schema_defined_differently_in_two_files_is_rejected() {
    let head: Value = serde_yaml::from_str("openapi: 3.0.3\npaths: {}").unwrap();
    let a: Value = serde_yaml::from_str("components: {schemas: {X: {type: string}}}").unwrap();
    let b: Value = serde_yaml::from_str("components: {schemas: {X: {type: integer}}}").unwrap();
    let err = bundle::bundle(head, vec![("a.yaml".into(), a), ("b.yaml".into(), b)]).unwrap_err();
    assert!(err.to_string().contains("b.yaml: components.schemas entry X is already defined differently"), "{err}");
}

#[test]
fn a_paginated_operation_needs_an_items_array_and_a_page_token() {
    let err = with_thing_op(|op| {
        op["x-feishu-pagination"] = serde_yaml::from_str("{items: thing}").unwrap();
    })
    .expect_err("thing_get has no has_more, no page_token and no items array");
    let message = err.to_string();
    assert!(message.contains("thing_get") && message.contains("has no `has_more`"), "{message}");
}

#[test]
fn the_fixture_generates_pagination_downloads_and_events() {
    let files = generate_fixture("minimal");
    let client = output(&files, codegen::paths::CLIENT);
    assert!(client.contains("impl crate::pagination::Page for types::ThingListData"));
    assert!(client.contains("crate::pagination::items(self, crate::CallOptions::default())"));
    assert!(client.contains("Result<crate::Download, crate::Error>"), "thing_download returns a Download");
    let events = output(&files, codegen::paths::EVENTS);
    assert!(events.contains("ThingChangedV1(Box<types::ThingChangedV1Event>)"));
    assert!(events.contains("\"vc.thing.changed_v1\" =>"));
}

#[test]
fn an_enum_variant_named_unknown_is_rejected() {
    let mut doc = bundle::bundle_dir(&fixture_dir("minimal")).unwrap();
    doc["components"]["schemas"]["ThingStatus"]["x-enum-varnames"] = serde_yaml::from_str("[Active, Unknown]").unwrap();
    let message = codegen::generate(&doc).expect_err("Unknown is reserved").to_string();
    assert!(message.contains("ThingStatus") && message.contains("reserves"), "{message}");
}

#[test]
fn a_non_string_last_remote_update_is_rejected() {
    let err = with_thing_op(|op| {
        op["x-feishu-doc"]["last_remote_update"] = Value::from(20240101);
    })
    .unwrap_err();
    let CodegenError::Lint(problems) = &err else { panic!("expected lint errors, got {err}") };
    assert!(
        problems.iter().any(|p| p.contains("x-feishu-doc/last_remote_update: 20240101 is not a string")),
        "{problems:?}"
    );
}

#[test]
fn an_unquoted_last_remote_update_is_rejected_with_its_line() {
    let scratch = std::env::temp_dir().join(format!("vc-codegen-unquoted-date-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    for name in ["common.yaml", "thing.yaml"] {
        std::fs::copy(fixture_dir("minimal").join(name), scratch.join(name)).unwrap();
    }
    let thing = scratch.join("thing.yaml");
    let text = std::fs::read_to_string(&thing).unwrap();
    let edited = text.replacen("last_remote_update: \"2024-01-01\"", "last_remote_update: 2024-01-01", 1);
    let line = 1 + text.lines().position(|l| l.contains("last_remote_update")).expect("the fixture has a doc version");
    assert_ne!(text, edited, "the fixture edit applies");
    std::fs::write(&thing, edited).unwrap();

    let err = bundle::bundle_dir(&scratch).unwrap_err();
    std::fs::remove_dir_all(&scratch).unwrap();
    let CodegenError::Lint(problems) = &err else { panic!("expected lint errors, got {err}") };
    assert_eq!(problems.len(), 1, "{problems:?}");
    let expected = format!(
        "thing.yaml:{line}: last_remote_update 2024-01-01 is not quoted (YAML 1.1 parsers read an unquoted date as a date): write \"2024-01-01\""
    );
    assert!(problems[0].ends_with(&expected), "{problems:?}");
}

#[test]
fn the_bundle_quotes_strings_that_yaml_1_1_reads_otherwise() {
    let doc: Value = serde_yaml::from_str(
        "version: '2024-07-23'\nanswers: ['yes', 'n', 'OFF', '2024-7-3T10:00:00Z']\nkept: [2024-07, '12024-01-01', yesterday, true]\ntext: \"2024-01-01\\nyes\\n\"\n",
    )
    .unwrap();
    let text = bundle::render(&doc);
    let body = text.strip_prefix(bundle::BUNDLE_HEADER).unwrap();
    expect_test::expect![[r#"
        version: '2024-07-23'
        answers:
        - 'yes'
        - 'n'
        - 'OFF'
        - '2024-7-3T10:00:00Z'
        kept:
        - 2024-07
        - 12024-01-01
        - yesterday
        - true
        text: |
          2024-01-01
          yes
    "#]]
    .assert_eq(body);
    assert_eq!(serde_yaml::from_str::<Value>(body).unwrap(), doc);
}

#[test]
fn the_committed_bundle_has_no_unquoted_doc_versions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(codegen::paths::BUNDLED_SPEC)).unwrap();
    let unquoted: Vec<&str> = text
        .lines()
        .filter(|line| line.trim_start().starts_with("last_remote_update:"))
        .filter(|line| {
            line.trim_start()
                .trim_start_matches("last_remote_update:")
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .collect();
    assert!(unquoted.is_empty(), "{unquoted:?}");
}
