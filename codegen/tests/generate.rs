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
    expect_file!["snapshots/minimal_mocks.rs"].assert_eq(output(&files, codegen::paths::MOCKS));
}

#[test]
fn minimal_fixture_uses_runtime_types() {
    let files = generate_fixture("minimal");
    let client = output(&files, codegen::paths::CLIENT);
    assert!(client.contains("::vc_api::Envelope<::vc_api::types::ThingGetData>"), "envelope swapped in");
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
