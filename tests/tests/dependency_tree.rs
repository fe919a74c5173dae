//! vc-api's own dependency tree (normal and build dependencies, default features) holds no code
//! generator: progenitor's generator, typify and openapiv3 belong to `codegen/` only, and users
//! get the committed generated code. Checked with `cargo tree`, as CI runs it.
//! (`cargo xtask bench-build` makes the same check on a cold-built consumer.)

use std::process::Command;

/// Crates that generate code from the spec.
const CODEGEN_CRATES: &[&str] =
    &["progenitor", "progenitor-impl", "progenitor-macro", "typify", "typify-impl", "typify-macro", "openapiv3"];

#[test]
fn vc_api_depends_on_no_code_generator() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-p", "vc-api", "-e", "normal,build", "--prefix", "none", "--format", "{p}"])
        .current_dir(workspace)
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8(output.stdout).expect("UTF-8");
    let packages: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(packages.contains(&"progenitor-client"), "the tree was read: {packages:?}");
    let generators: Vec<&&str> = packages.iter().filter(|p| CODEGEN_CRATES.contains(p)).collect();
    assert!(generators.is_empty(), "code generators in vc-api's dependency tree: {generators:?}");
}
