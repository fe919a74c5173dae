//! The drift check: the committed generated files match the spec, and a changed spec is caught.

use std::path::{Path, PathBuf};

use codegen::files::{self, FIX_COMMAND, Mode};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// `cargo test` fails when someone edits the spec (or a generated file) without regenerating.
#[test]
fn committed_generated_files_match_the_spec() {
    let root = workspace_root();
    let generated = codegen::generate_workspace(&root).expect("the spec generates");
    let drift = files::ensure(&root, &generated, Mode::Check).unwrap();
    assert!(drift.is_empty(), "{}", files::drift_report(&drift));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_changed_spec_is_detected_and_the_fix_is_named() {
    let root = workspace_root();
    let scratch = std::env::temp_dir().join(format!("vc-codegen-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&root.join("spec"), &scratch.join("spec"));
    copy_dir(&root.join("vc-api/src/generated"), &scratch.join("vc-api/src/generated"));

    let export = scratch.join("spec/src/export.yaml");
    let text = std::fs::read_to_string(&export).unwrap();
    let changed = text.replacen("operationId: export_get", "operationId: export_fetch", 1);
    assert_ne!(text, changed, "the fixture edit applies");
    std::fs::write(&export, changed).unwrap();

    let generated = codegen::generate_workspace(&scratch).expect("the edited spec still generates");
    let drift = files::ensure(&scratch, &generated, Mode::Check).unwrap();
    let paths: Vec<&str> = drift.iter().map(|d| d.path.as_str()).collect();
    assert!(paths.contains(&codegen::paths::BUNDLED_SPEC), "{paths:?}");
    assert!(paths.contains(&codegen::paths::CLIENT), "{paths:?}");
    let report = files::drift_report(&drift);
    assert!(report.contains("-      operationId: export_get"), "the diff shows the old line");
    assert!(report.contains("+      operationId: export_fetch"), "the diff shows the new line");
    assert!(report.contains(FIX_COMMAND));

    // Write mode fixes it; check mode is then clean.
    files::ensure(&scratch, &generated, Mode::Write).unwrap();
    assert!(files::ensure(&scratch, &generated, Mode::Check).unwrap().is_empty());
    std::fs::remove_dir_all(&scratch).unwrap();
}
