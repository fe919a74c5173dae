//! `cargo xtask contract`: the Rust client against a Prism mock of `spec/openapi.yaml`, for
//! every operation.
//!
//! Prism (`prism mock --errors`) listens on a free port of 127.0.0.1 and rejects any request
//! the spec does not allow; it answers valid ones with the 200 response example. The operation
//! tests of `tests/tests/<tag>.rs` (one per operationId, named after it) run with
//! `VC_CONTRACT_BASE_URL` pointing at it, so their typed calls must pass Prism's validation and
//! their assertions must hold on what Prism returns. Every operationId of the spec must have
//! passed. When the Python client was generated, it also makes one call. Prism is stopped
//! afterwards, also when something fails.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::clients::check_python;
use super::install::{NodeTools, PythonTools};
use super::spec::{BUNDLED_SPEC, Operation};
use super::{OUTPUT_DIR, process};

/// The test harness's switch to contract mode (see `tests/src/lib.rs`).
pub const CONTRACT_BASE_URL_VAR: &str = "VC_CONTRACT_BASE_URL";
/// Prism's log, relative to the workspace root.
pub const PRISM_LOG: &str = "target/spec-tools/prism.log";
/// The folder of the per-tag operation test files, relative to the workspace root.
pub const TEST_DIR: &str = "tests/tests";

/// A running Prism mock; stopped when dropped.
struct Prism {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Prism {
    fn start(node: &NodeTools, log: &Path) -> anyhow::Result<Self> {
        // A port the system says is free; Prism binds it right after.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log_file = File::create(log).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", log.display()))?;
        let mut command = node.command("prism");
        command.args(["mock", BUNDLED_SPEC, "--errors", "--host", "127.0.0.1", "--port", &port.to_string()]);
        println!("$ {} > {PRISM_LOG}", process::describe(&command));
        let child = command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file).spawn()?;
        Ok(Self { child, address, log: log.to_owned() })
    }

    /// Polls until Prism accepts connections; fails if it exits or `timeout` passes.
    fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("prism exited before it was ready ({status}):\n{}", log_tail(&self.log, 40));
            }
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(500)).is_ok() {
                println!("prism: listening on {} after {:.1?}", self.address, started.elapsed());
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "prism did not listen on {} within {timeout:?}:\n{}",
                self.address,
                log_tail(&self.log, 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        println!("prism: stopped");
    }
}

/// Prism's error lines (request violations, unmatched routes), at most `limit` of them.
fn prism_errors(log: &Path, limit: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text.lines().filter(|line| line.contains('✖')).take(limit).collect();
    if errors.is_empty() { "(no request was rejected)".to_owned() } else { errors.join("\n") }
}

fn log_tail(log: &Path, lines: usize) -> String {
    process::tail(&std::fs::read_to_string(log).unwrap_or_default(), lines)
}

/// The `--test` targets: the test files (`tests/tests/<name>.rs`) holding each operation's test
/// (`async fn <operationId>()`). Fails when an operation has none, since it could not be checked.
fn test_targets(root: &Path, operations: &[Operation]) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root.join(TEST_DIR))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            files.push((stem, std::fs::read_to_string(&path)?));
        }
    }
    files.sort();
    let mut targets: Vec<String> = Vec::new();
    let mut without = Vec::new();
    for op in operations {
        let signature = format!("async fn {}()", op.id);
        match files.iter().find(|(_, text)| text.contains(&signature)) {
            Some((stem, _)) if !targets.contains(stem) => targets.push(stem.clone()),
            Some(_) => {}
            None => without.push(op.id.as_str()),
        }
    }
    anyhow::ensure!(
        without.is_empty(),
        "no operation test for {without:?}: add `async fn <operationId>()` to a file in {TEST_DIR}"
    );
    Ok(targets)
}

/// Runs the contract check (the Python client's call too when `python` is given: the tools and
/// the generated project folder).
pub fn run(
    root: &Path,
    node: &NodeTools,
    python: Option<(&PythonTools, &Path)>,
    operations: &[Operation],
) -> anyhow::Result<()> {
    println!(
        "\n== contract: every operation test against Prism {} (prism mock --errors)",
        node.version("@stoplight/prism-cli")
    );
    let targets = test_targets(root, operations)?;
    std::fs::create_dir_all(root.join(OUTPUT_DIR))?;
    let mut prism = Prism::start(node, &root.join(PRISM_LOG))?;
    prism.wait_until_ready(Duration::from_secs(120))?;
    let base_url = format!("http://{}", prism.address);
    run_operation_tests(root, &base_url, &targets, operations)?;
    if let Some((python, project)) = python {
        check_python(python, project, operations, Some(&base_url))?;
    }
    drop(prism);
    println!("contract: all {} operations pass against Prism", operations.len());
    Ok(())
}

/// `cargo test` of the tag test files, only the tests named after operationIds, in contract
/// mode; every operationId must be reported `ok`.
fn run_operation_tests(
    root: &Path,
    base_url: &str,
    targets: &[String],
    operations: &[Operation],
) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = process::command(&cargo, root);
    // `--workspace --all-features`, as in the tests step: the same feature resolution, so the test
    // binaries built by the tests step are reused instead of rebuilt.
    command.args(["test", "--workspace", "--all-features", "--locked", "--no-fail-fast"]);
    for target in targets {
        command.args(["--test", target]);
    }
    command.args(["--", "--exact"]).args(operations.iter().map(|op| op.id.as_str()));
    command.env(CONTRACT_BASE_URL_VAR, base_url);
    println!(
        "$ {CONTRACT_BASE_URL_VAR}={base_url} {cargo} test --workspace --locked --no-fail-fast --test <{} tags> -- --exact <{} operationIds>",
        targets.len(),
        operations.len()
    );
    let output = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    let passed = passed_tests(&stdout);
    let not_passed: Vec<&str> = operations.iter().map(|op| op.id.as_str()).filter(|id| !passed.contains(id)).collect();
    if !output.status.success() || !not_passed.is_empty() {
        anyhow::bail!(
            "contract: {} operation(s) did not pass against Prism: {not_passed:?}\n\
             what Prism rejected (all of it in {PRISM_LOG}):\n{}",
            not_passed.len(),
            prism_errors(&root.join(PRISM_LOG), 20)
        );
    }
    Ok(())
}

/// The names of the tests libtest reported `ok`.
fn passed_tests(stdout: &str) -> Vec<&str> {
    stdout.lines().filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... ok")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passed_tests_are_read_from_libtest_output() {
        let out = "running 2 tests\ntest export_get ... ok\ntest export_meeting_list ... FAILED\n\
                   test result: FAILED. 1 passed; 1 failed\n";
        assert_eq!(passed_tests(out), ["export_get"]);
    }
}
