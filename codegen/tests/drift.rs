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
    std::fs::copy(root.join("README.md"), scratch.join("README.md")).unwrap();

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

/// A scratch workspace with every input and output of `generate_workspace` copied from the
/// repository (the crates' copies as regular files).
fn scratch_workspace(name: &str) -> PathBuf {
    let root = workspace_root();
    let scratch = std::env::temp_dir().join(format!("vc-codegen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_dir(&root.join("spec"), &scratch.join("spec"));
    copy_dir(&root.join("vc-api/src/generated"), &scratch.join("vc-api/src/generated"));
    std::fs::create_dir_all(scratch.join("vc-spec")).unwrap();
    for file in [codegen::paths::README, codegen::paths::README_COPY, codegen::paths::SPEC_COPY] {
        std::fs::copy(root.join(file), scratch.join(file)).unwrap();
    }
    scratch
}

/// The crates' copies are byte-identical to their originals: a README edit without `codegen`,
/// or a hand edit of vc-spec's spec copy, is drift naming the copy and the command that fixes it.
#[test]
fn a_stale_copy_of_the_readme_or_the_spec_is_detected_and_the_fix_is_named() {
    let scratch = scratch_workspace("copies");
    let generated = codegen::generate_workspace(&scratch).expect("the spec generates");
    assert!(files::ensure(&scratch, &generated, Mode::Check).unwrap().is_empty(), "the copied workspace is clean");

    let readme = scratch.join(codegen::paths::README);
    let mut text = std::fs::read_to_string(&readme).unwrap();
    text.push_str("\nA new closing line.\n");
    std::fs::write(&readme, &text).unwrap();
    let spec_copy = scratch.join(codegen::paths::SPEC_COPY);
    let spec_text = std::fs::read_to_string(&spec_copy).unwrap();
    std::fs::write(&spec_copy, spec_text.replacen("openapi: 3.0.3", "openapi: 3.0.2", 1)).unwrap();

    let generated = codegen::generate_workspace(&scratch).expect("the spec generates");
    let drift = files::ensure(&scratch, &generated, Mode::Check).unwrap();
    let paths: Vec<&str> = drift.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, [codegen::paths::SPEC_COPY, codegen::paths::README_COPY]);
    let report = files::drift_report(&drift);
    assert!(report.contains("+A new closing line."), "the diff shows the README's new line:\n{report}");
    assert!(report.contains("-openapi: 3.0.2") && report.contains("+openapi: 3.0.3"), "{report}");
    assert!(report.contains(&format!("{}, {}", codegen::paths::SPEC_COPY, codegen::paths::README_COPY)), "{report}");
    assert!(report.contains(FIX_COMMAND), "{report}");

    files::ensure(&scratch, &generated, Mode::Write).unwrap();
    assert_eq!(std::fs::read(scratch.join(codegen::paths::README_COPY)).unwrap(), text.as_bytes());
    assert_eq!(std::fs::read(&spec_copy).unwrap(), std::fs::read(scratch.join(codegen::paths::BUNDLED_SPEC)).unwrap());
    assert!(files::ensure(&scratch, &generated, Mode::Check).unwrap().is_empty());
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// A symbolic link in place of a copy reads like the original on Unix, but a checkout without
/// symlink support turns it into a one-line file: the check rejects it and `codegen` replaces it
/// with a regular file (not writing through it into the original).
#[cfg(unix)]
#[test]
fn a_symlink_in_place_of_a_copy_is_drift_and_codegen_replaces_it() {
    let scratch = scratch_workspace("symlink");
    let copy = scratch.join(codegen::paths::README_COPY);
    std::fs::remove_file(&copy).unwrap();
    std::os::unix::fs::symlink("../README.md", &copy).unwrap();
    let readme_before = std::fs::read(scratch.join(codegen::paths::README)).unwrap();

    let generated = codegen::generate_workspace(&scratch).expect("the spec generates");
    let drift = files::ensure(&scratch, &generated, Mode::Check).unwrap();
    let paths: Vec<&str> = drift.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, [codegen::paths::README_COPY]);
    let report = files::drift_report(&drift);
    assert!(report.contains("vc-api/README.md is a symbolic link"), "{report}");
    assert!(report.contains(FIX_COMMAND), "{report}");

    files::ensure(&scratch, &generated, Mode::Write).unwrap();
    assert!(std::fs::symlink_metadata(&copy).unwrap().file_type().is_file(), "the link became a regular file");
    assert_eq!(std::fs::read(&copy).unwrap(), readme_before);
    assert_eq!(
        std::fs::read(scratch.join(codegen::paths::README)).unwrap(),
        readme_before,
        "the original is untouched"
    );
    assert!(files::ensure(&scratch, &generated, Mode::Check).unwrap().is_empty());
    std::fs::remove_dir_all(&scratch).unwrap();
}
