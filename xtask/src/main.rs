//! Maintainer tasks: `cargo xtask codegen` regenerates, `cargo xtask check` fails on drift,
//! `cargo xtask docs-drift <pages…>` compares doc page snapshots with the spec, and the
//! [`spec_tools`] tasks check the spec as other languages use it (lint, TypeScript and Python
//! clients, HTML reference, contract against a Prism mock). `cargo xtask bench` and
//! `cargo xtask bench-build` measure (see BENCHMARKS.md). `cargo xtask ci` runs everything.

mod bench;
mod cargo_install;
mod deny;
mod fresh_deps;
mod planted;
mod release;
mod semver;
mod spec_diff;
mod spec_tools;

use std::path::PathBuf;
use std::process::ExitCode;

use codegen::{Mode, docs_drift, files};

const USAGE: &str = "usage: cargo xtask <task>
  codegen          rewrite spec/openapi.yaml and vc-api/src/generated/ from spec/src, and the
                   crates' copies vc-spec/openapi.yaml (of the bundled spec) and vc-api/README.md
                   (of README.md)
  check            fail on committed symbolic links; regenerate in memory, lint the spec, and
                   fail on any drift (generated files, the bundled spec/openapi.yaml, the
                   crates' copies, which must be regular files, or the doc page snapshots in
                   spec/docs/)
  docs-drift <page.txt>...
                   compare doc page snapshots with the spec; exit non-zero on any difference
  spec-lint        Spectral (spectral:oas) and Redocly (recommended-strict) on spec/openapi.yaml;
                   any finding fails, printed as file:line, rule, JSON pointer and spec/src line
  spec-clients     generate a TypeScript client (openapi-typescript, checked by tsc --strict with
                   tools/typescript/usage.ts) and a Python client (openapi-python-client, imported
                   with every operation module) into target/spec-tools/
  api-docs [--check]
                   build the self-contained HTML reference target/spec-tools/api-reference.html
                   (redocly build-docs); --check renders it in headless Chromium and fails unless
                   every operation appears
  contract         start a Prism mock of spec/openapi.yaml on 127.0.0.1 and run every operation
                   test (tests/tests/<tag>.rs, VC_CONTRACT_BASE_URL set) and a Python client call
                   against it
  official-clients the official Node SDK (@larksuiteoapi/node-sdk) calls every operation against
                   vc-mock through its typed methods, its request types are compared with the spec
                   field for field, and the official Python SDK (lark-oapi) calls every operation
                   it has (tools/official-clients/)
  spec-gate        spec-lint, spec-clients, api-docs --check, contract and official-clients in one go
  bench            run the benchmarks and print vc-api's ratios to the hand-written baselines
                   (`--report-only` prints the last run's; `--callgrind` counts instructions per
                   call under valgrind instead; other arguments go to criterion)
  bench-build      cold-build a vc-api consumer and a reqwest + serde one; compare (`--runs N`);
                   `--tls`: the vc-api consumer with rustls-ring and with rustls-aws-lc-rs
  deny             cargo-deny's offline checks (licenses, bans incl. duplicate versions, sources) with
                   deny.toml; installs the pinned cargo-deny into .tools/cargo/ when missing
  fresh-deps       copy the workspace to target/fresh-deps/, `cargo update` there (dependencies as
                   users resolve them), then lint (warnings denied) and test vc-api in the copy
  spec-diff <git ref>
                   compare the spec at <git ref> with the working tree's: operations, parameters,
                   fields, enum values, events, error codes, rate limits and token types added,
                   removed or changed, each marked breaking or not for Rust users and for strict
                   clients in other languages (markdown, for CHANGELOG.md)
  semver [--baseline <git ref>]
                   the bump vc-api needs since the baseline (default: the last release tag
                   vc-api-v*/v*; without one the merge base with main, else the previous commit):
                   cargo-semver-checks (pinned, installed into .tools/cargo/ when missing) on the
                   public API plus spec-diff's verdict; fails when vc-api's version does not carry
                   it (a never-released baseline version may take the changes unbumped)
  semver-planted   proof on planted spec changes (an optional response field, an enum value, an
                   event type, an operation added; a field removed or retyped; a required
                   parameter added): each is regenerated in a copy of vc-api under
                   target/semver-planted/, and spec-diff, cargo-semver-checks (rustdoc JSON of the
                   baseline built once) and a user crate written against the old types must agree
                   with COMPATIBILITY.md
  release <version>
                   prepare a release of vc-spec, vc-api, vc-mock and vc-cli: check, the semver
                   verdict since the last release tag for <version>, versions bumped (with the path
                   dependencies and Cargo.lock), a CHANGELOG.md section written from spec-diff,
                   cargo package of the four crates; prints the commit, tag and publish steps
  ci               the whole gate: fmt, check, clippy (all features, and vc-api's defaults),
                   tests, docs, the quickstart and webhook examples, spec-gate

The spec-* tasks, api-docs and contract install their pinned tools first (npm packages of
tools/package-lock.json and Python packages of tools/requirements.txt into .tools/, Debian's
chromium with apt-get when /usr/bin/chromium is missing and running as root).";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "codegen" => codegen_task(Mode::Write),
        "check" => check_task(),
        "docs-drift" => {
            let files: Vec<PathBuf> = std::env::args().skip(2).map(PathBuf::from).collect();
            if files.is_empty() {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
            docs_drift_task(&files)
        }
        "spec-lint" => spec_lint_task(),
        "spec-clients" => spec_clients_task(),
        "api-docs" => match std::env::args().nth(2).as_deref() {
            None => api_docs_task(false),
            Some("--check") => api_docs_task(true),
            Some(_) => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        "contract" => contract_task(),
        "official-clients" => official_clients_task(),
        "spec-gate" => spec_tools::gate(&workspace_root()),
        "ci" => ci_task(),
        "semver" => {
            semver::semver_task(&workspace_root(), &cargo_program(), &std::env::args().skip(2).collect::<Vec<_>>())
        }
        "release" => {
            release::release_task(&workspace_root(), &cargo_program(), &std::env::args().skip(2).collect::<Vec<_>>())
        }
        "semver-planted" => planted::semver_planted_task(&workspace_root(), &cargo_program()),
        "spec-diff" => match std::env::args().nth(2) {
            Some(git_ref) if !git_ref.starts_with('-') => spec_diff::spec_diff_task(&workspace_root(), &git_ref),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        "deny" => deny::deny_task(&workspace_root(), &cargo_program()),
        "fresh-deps" => fresh_deps::fresh_deps_task(&workspace_root(), &cargo_program()),
        "bench" => bench::bench_task(&std::env::args().skip(2).collect::<Vec<_>>()),
        "bench-build" => bench::bench_build_task(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of xtask's manifest directory).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_owned()
}

fn codegen_task(mode: Mode) -> anyhow::Result<()> {
    let root = workspace_root();
    let generated = codegen::generate_workspace(&root)?;
    let drift = files::ensure(&root, &generated, mode)?;
    match mode {
        Mode::Write => {
            for d in &drift {
                println!("wrote {}", d.path);
            }
            println!("{} file(s) generated, {} changed", generated.len(), drift.len());
            Ok(())
        }
        Mode::Check if drift.is_empty() => {
            println!("spec lints pass; {} generated file(s) are up to date", generated.len());
            Ok(())
        }
        Mode::Check => {
            print!("{}", files::drift_report(&drift));
            anyhow::bail!("generated files drifted from their sources")
        }
    }
}

/// `cargo xtask check`: no symbolic links committed, generated files up to date, then zero
/// docs drift on the snapshots.
fn check_task() -> anyhow::Result<()> {
    no_committed_symlinks(&workspace_root())?;
    codegen_task(Mode::Check)?;
    let report = docs_drift::check_workspace(&workspace_root())?;
    print!("{report}");
    anyhow::ensure!(
        !report.has_drift(),
        "the doc page snapshots in {} drifted from the spec",
        docs_drift::SNAPSHOT_DIR
    );
    Ok(())
}

/// Fails if git tracks a symbolic link (mode 120000): a checkout without symlink support (Git
/// for Windows by default) turns it into a one-line text file. Outside a git checkout (a
/// source package) there is nothing to check.
fn no_committed_symlinks(root: &std::path::Path) -> anyhow::Result<()> {
    let Ok(output) = std::process::Command::new("git").args(["ls-files", "-s"]).current_dir(root).output() else {
        println!("git not found: committed symbolic links not checked");
        return Ok(());
    };
    if !output.status.success() {
        println!("not a git checkout: committed symbolic links not checked");
        return Ok(());
    }
    let listing = String::from_utf8_lossy(&output.stdout);
    let links = symlinks_in(&listing);
    anyhow::ensure!(
        links.is_empty(),
        "symbolic links are committed: {}; replace each with a regular file (a copy written by \
         `cargo xtask codegen`, see codegen::copies)",
        links.join(", ")
    );
    println!("no symbolic links committed");
    Ok(())
}

/// The paths of the symbolic links (mode 120000) in a `git ls-files -s` listing.
fn symlinks_in(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter(|line| line.starts_with("120000 "))
        .filter_map(|line| line.split_once('\t').map(|(_, path)| path))
        .collect()
}

/// `cargo xtask docs-drift <pages…>`: compares the given pages with the spec bundled from spec/src.
fn docs_drift_task(files: &[PathBuf]) -> anyhow::Result<()> {
    let doc = codegen::bundle::bundle_dir(&workspace_root().join(codegen::paths::SPEC_SOURCES))?;
    let report = docs_drift::check_files(&doc, files)?;
    print!("{report}");
    anyhow::ensure!(!report.has_drift(), "the doc page(s) differ from the spec");
    Ok(())
}

/// `cargo xtask spec-lint`.
fn spec_lint_task() -> anyhow::Result<()> {
    let root = workspace_root();
    let node = spec_tools::install::node_tools(&root)?;
    spec_tools::lint::run(&root, &node)
}

/// `cargo xtask spec-clients`.
fn spec_clients_task() -> anyhow::Result<()> {
    let root = workspace_root();
    let operations = spec_tools::spec::operations(&root)?;
    let node = spec_tools::install::node_tools(&root)?;
    let python = spec_tools::install::python_tools(&root)?;
    spec_tools::clients::typescript(&root, &node, &operations)?;
    spec_tools::clients::python(&root, &python, &operations)?;
    Ok(())
}

/// `cargo xtask api-docs [--check]`.
fn api_docs_task(check: bool) -> anyhow::Result<()> {
    let root = workspace_root();
    let node = spec_tools::install::node_tools(&root)?;
    let html = spec_tools::api_docs::build(&root, &node)?;
    if check {
        let operations = spec_tools::spec::operations(&root)?;
        let chromium = spec_tools::install::chromium()?;
        spec_tools::api_docs::check(&root, &html, &chromium, &operations)?;
    }
    Ok(())
}

/// `cargo xtask contract` (generates the Python client first, for its call).
fn contract_task() -> anyhow::Result<()> {
    let root = workspace_root();
    let operations = spec_tools::spec::operations(&root)?;
    let node = spec_tools::install::node_tools(&root)?;
    let python = spec_tools::install::python_tools(&root)?;
    let project = spec_tools::clients::python(&root, &python, &operations)?;
    spec_tools::contract::run(&root, &node, Some((&python, project.as_path())), &operations)
}

/// `cargo xtask official-clients`.
fn official_clients_task() -> anyhow::Result<()> {
    let root = workspace_root();
    let operations = spec_tools::spec::operations(&root)?;
    let node = spec_tools::install::node_tools(&root)?;
    let python = spec_tools::install::python_tools(&root)?;
    spec_tools::official_clients::run(&root, &node, &python, &operations)
}

/// A command for a nested cargo, without the variables `cargo run` set for xtask itself
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, ...): build scripts that watch them (ring's does)
/// would otherwise see them change and rebuild, here and in the next plain cargo command.
fn nested_cargo(program: &str) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_by_cargo_run = key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(key);
        }
    }
    command
}

/// Runs one step of the gate, echoing it first; fails if the command fails.
fn run_step(name: &str, program: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    println!("\n== {name}: {program} {}", args.join(" "));
    let mut command = nested_cargo(program);
    command.args(args).current_dir(workspace_root());
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status().map_err(|e| anyhow::anyhow!("cannot start {program}: {e}"))?;
    anyhow::ensure!(status.success(), "step `{name}` failed ({status})");
    Ok(())
}

/// The cargo that runs xtask.
fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The whole CI gate, in order from fastest to slowest feedback.
fn ci_task() -> anyhow::Result<()> {
    let cargo = cargo_program();
    run_step("format", &cargo, &["fmt", "--all", "--", "--check"], &[])?;
    println!("\n== drift and spec lints: cargo xtask check");
    check_task()?;
    // Every crate with every feature (vc-api's `mock` included), then vc-api as a user gets it
    // by default: without the optional dependencies.
    let clippy = ["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"];
    run_step("lint", &cargo, &clippy, &[])?;
    run_step(
        "lint vc-api default features",
        &cargo,
        &["clippy", "-p", "vc-api", "--lib", "--locked", "--", "-D", "warnings"],
        &[],
    )?;
    // The other TLS provider (`--all-features` compiles only the aws-lc-rs branch), alone and
    // with each optional part alone: code one feature uses only with another would go
    // unnoticed in the other builds.
    for features in
        ["rustls-ring", "rustls-ring,webhook", "rustls-ring,long-connection", "rustls-ring,redis", "rustls-ring,mock"]
    {
        let args = ["clippy", "-p", "vc-api", "--lib", "--locked", "--no-default-features", "--features", features];
        let args: Vec<&str> = args.into_iter().chain(["--", "-D", "warnings"]).collect();
        run_step(&format!("lint vc-api with {features}"), &cargo, &args, &[])?;
    }
    // The shared-state tests start their own Redis.
    spec_tools::install::redis_server()?;
    // Unit and integration tests of every crate, the typed-mock doctest, the mock server and the
    // `vc` binary against it.
    run_step("tests", &cargo, &["test", "--workspace", "--all-features", "--locked"], &[])?;
    run_step(
        "docs",
        &cargo,
        &["doc", "--workspace", "--no-deps", "--all-features", "--locked"],
        &[("RUSTDOCFLAGS", "-Dwarnings")],
    )?;
    // The README's run command, against the embedded mock (credentials removed).
    run_step(
        "quickstart example",
        &cargo,
        &["run", "--locked", "-p", "vc-api", "--example", "quickstart"],
        &[("FEISHU_APP_ID", ""), ("FEISHU_APP_SECRET", ""), ("FEISHU_ACCESS_TOKEN", ""), ("FEISHU_DOMAIN", "")],
    )?;
    // The webhook example serves on a loopback port, sends itself two requests and exits.
    run_step(
        "webhook example",
        &cargo,
        &["run", "--locked", "-p", "vc-api", "--features", "axum", "--example", "webhook_server", "--", "--check"],
        &[
            ("FEISHU_ENCRYPT_KEY", ""),
            ("FEISHU_VERIFICATION_TOKEN", ""),
            ("FEISHU_APP_ID", ""),
            ("FEISHU_APP_SECRET", ""),
        ],
    )?;
    // Licenses, banned and duplicate crates, sources of the locked tree.
    println!("\n== dependency policy: cargo xtask deny");
    deny::deny_task(&workspace_root(), &cargo)?;
    // The version bump vc-api needs since the last release (or, before the first one, since the
    // branch point or previous commit), and whether its version carries it.
    println!("\n== semver verdict: cargo xtask semver");
    semver::semver_task(&workspace_root(), &cargo, &[])?;
    // The published crates build from their packages, in dependency order (unpublished ones
    // resolve through cargo's local overlay of the workspace).
    let mut package = vec!["package", "--locked", "--allow-dirty"];
    for krate in release::PUBLISHED {
        package.extend(["-p", krate]);
    }
    run_step("package the published crates", &cargo, &package, &[])?;
    // The seven planted spec changes are classified by spec-diff in `cargo test` (xtask's
    // `planted::tests`); their cargo-semver-checks half regenerates and builds vc-api eight
    // times (10 to 45 minutes on 2 cores), too long for CI's budget: `cargo xtask release`
    // runs it, and a maintainer runs `cargo xtask semver-planted` after changing the codegen.
    // vc-api with the newest compatible releases of its dependencies, as a user resolves them.
    println!("\n== dependencies as users get them: cargo xtask fresh-deps");
    fresh_deps::fresh_deps_task(&workspace_root(), &cargo)?;
    // The spec as other languages use it: lint, TypeScript/Python clients, HTML reference,
    // contract against a Prism mock, the official Node and Python SDKs against vc-mock.
    println!("\n== the spec for other languages: cargo xtask spec-gate");
    spec_tools::gate(&workspace_root())?;
    println!("\nall CI steps passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Symbolic links are told apart from regular and executable files and submodules by mode.
    #[test]
    fn symlinks_are_found_in_a_git_listing() {
        let listing = "100644 32d46ee883b58d6a383eed06eb98f33aa6530ded 0\tREADME.md\n\
                       120000 32d46ee883b58d6a383eed06eb98f33aa6530ded 0\tvc-api/README.md\n\
                       100755 cd8c1dcf6ed0884ced0e860e2bb26ef31ffcd10f 0\ttools/run.sh\n\
                       160000 cd8c1dcf6ed0884ced0e860e2bb26ef31ffcd10f 0\tfuzz/corpus\n\
                       120000 cd8c1dcf6ed0884ced0e860e2bb26ef31ffcd10f 0\tvc-spec/openapi 1.yaml\n";
        assert_eq!(super::symlinks_in(listing), ["vc-api/README.md", "vc-spec/openapi 1.yaml"]);
        assert!(super::symlinks_in("100644 32d46ee883b58d6a383eed06eb98f33aa6530ded 0\tREADME.md\n").is_empty());
    }

    /// The committed tree has none (what `cargo xtask check` enforces).
    #[test]
    fn the_repository_commits_no_symlinks() {
        super::no_committed_symlinks(&super::workspace_root()).expect("no committed symbolic links");
    }
}
