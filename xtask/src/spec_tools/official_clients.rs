//! `cargo xtask official-clients`: Feishu's own SDKs against `vc-mock` and the spec.
//!
//! - **Node** (`@larksuiteoapi/node-sdk`, pinned in `tools/package.json`): every operation of
//!   the spec is called through the SDK's typed `client.vc.v1.<resource>.<method>` with
//!   arguments from the spec's examples (`tools/official-clients/node_sdk.cjs call`); all must
//!   answer code 0. The method of an operation is found by the HTTP method and URL the SDK's
//!   own code uses, so nothing is hand-mapped.
//! - **Field-for-field agreement** (`node_sdk.cjs agree`): the spec's parameters and request
//!   bodies against the SDK's request types (`types/index.d.ts`, parsed with the TypeScript
//!   compiler): names, required flags, scalar/array/object, string enum values. Any difference
//!   that the operation's `x-feishu-disagreements` does not name (as `` `<where>` `` with the
//!   word SDK) fails. It only reads the spec.
//! - **Python** (`lark-oapi`, pinned in `tools/requirements.txt`): every operation the SDK has,
//!   through its typed resource methods and request builders; the operations it lacks must be
//!   exactly [`PYTHON_SDK_LACKS`].
//!
//! `vc-mock` runs as its own process on a free port of 127.0.0.1 and is stopped afterwards,
//! also when something fails. Reports go to `target/spec-tools/official-clients/`.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use super::install::{NodeTools, PythonTools};
use super::spec::{BUNDLED_SPEC, Operation};
use super::{OUTPUT_DIR, TOOLS_DIR, process};

/// The scripts, relative to the workspace root.
pub const SCRIPTS: &str = "tools/official-clients";
/// The operations of the spec that the Node SDK has no typed method for.
pub const NODE_SDK_LACKS: [&str; 0] = [];
/// The operations of the spec that the Python SDK has no typed method for.
pub const PYTHON_SDK_LACKS: [&str; 8] = [
    "material_upload_meta",
    "material_remove",
    "material_pull_meta",
    "meeting_change_name",
    "meeting_pull_subtitle",
    "note_unified_note_transcript",
    "recording_subscription",
    "recording_unsubscription",
];
/// What vc-mock accepts (see `vc-mock/src/lib.rs`).
const APP_ID: &str = "cli_vcmock";
const APP_SECRET: &str = "vcmock-app-secret";
const USER_TOKEN: &str = "u-vcmock-user";

/// A running `vc-mock`; stopped when dropped.
struct VcMock {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl VcMock {
    fn start(root: &Path, log: &Path) -> anyhow::Result<Self> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        process::run(crate::nested_cargo(&cargo).args(["build", "--quiet", "-p", "vc-mock"]).current_dir(root))?;
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let binary = target.join("debug/vc-mock");
        // A port the system says is free; vc-mock binds it right after.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = process::command(&binary, root);
        command.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
        println!("$ {} > {}", process::describe(&command), log.display());
        let child = command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file).spawn()?;
        let mut mock = Self { child, address, log: log.to_owned() };
        mock.wait_until_ready(Duration::from_secs(30))?;
        Ok(mock)
    }

    /// Polls until vc-mock accepts connections; fails if it exits or `timeout` passes.
    fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                anyhow::bail!("vc-mock exited before it was ready ({status}):\n{}", process::tail(&log, 20));
            }
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "vc-mock did not listen on {} within {timeout:?}",
                self.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for VcMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a script with the environment it expects and returns its JSON report.
fn run_script(mut command: Command, report: &Path, env: &[(&str, String)]) -> anyhow::Result<Value> {
    let _ = std::fs::remove_file(report);
    command.env("REPORT", report);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = process::output(&mut command, Duration::from_secs(600))?;
    anyhow::ensure!(
        output.status.success(),
        "`{}` failed ({}):\n{}",
        process::describe(&command),
        output.status,
        process::tail(&String::from_utf8_lossy(&output.stderr), 30)
    );
    let text = std::fs::read_to_string(report).with_context(|| format!("no report at {}", report.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", report.display()))
}

fn strings(report: &Value, key: &str) -> Vec<String> {
    report[key].as_array().into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
}

/// Checks a `call` report: nothing failed, the lacking operations are exactly `lacks`, and every
/// other operation was called.
fn check_calls(sdk: &str, report: &Value, operations: &[Operation], lacks: &[&str]) -> anyhow::Result<()> {
    let ok = strings(report, "ok");
    let missing = strings(report, "missing");
    let version = report["sdk"].as_str().unwrap_or("?");
    println!("{sdk} {version}: {} of {} operations answered code 0", ok.len(), operations.len());
    if !missing.is_empty() {
        println!("{sdk} {version} has no typed method for: {}", missing.join(", "));
    }
    let failed = report["failed"].as_array().cloned().unwrap_or_default();
    let lines: Vec<String> = failed.iter().map(|f| format!("  {}: {}", f["op"], f["error"])).collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{sdk}: {} operation(s) failed against vc-mock:\n{}",
        failed.len(),
        lines.join("\n")
    );
    let expected: BTreeSet<&str> = lacks.iter().copied().collect();
    let actual: BTreeSet<&str> = missing.iter().map(String::as_str).collect();
    anyhow::ensure!(
        expected == actual,
        "{sdk}: the operations without a typed method changed: expected {expected:?}, found {actual:?}"
    );
    anyhow::ensure!(
        ok.len() + missing.len() == operations.len(),
        "{sdk}: {} called + {} missing is not the spec's {} operations",
        ok.len(),
        missing.len(),
        operations.len()
    );
    Ok(())
}

/// Checks the `agree` report: no unacknowledged difference, every operation compared.
fn check_agreement(report: &Value, operations: &[Operation]) -> anyhow::Result<()> {
    let version = report["sdk"].as_str().unwrap_or("?");
    let compared = report["compared"].as_u64().unwrap_or(0);
    let fields = report["fields"].as_u64().unwrap_or(0);
    let describe = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                format!(
                    "  {} {}: {}",
                    d["op"].as_str().unwrap_or("?"),
                    d["at"].as_str().unwrap_or("?"),
                    d["what"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let acknowledged = describe("acknowledged");
    println!(
        "node-sdk {version} request types: {compared} operations, {fields} spec parameters and body fields compared; {} acknowledged difference(s)",
        acknowledged.len()
    );
    for line in &acknowledged {
        println!("{line}");
    }
    let differences = describe("differences");
    anyhow::ensure!(
        differences.is_empty(),
        "the spec and node-sdk {version}'s request types differ ({} difference(s)); fix the spec or name the field \
         as `<where>` together with the SDK in the operation's x-feishu-disagreements:\n{}",
        differences.len(),
        differences.join("\n")
    );
    anyhow::ensure!(
        compared as usize + strings(report, "missing").len() == operations.len(),
        "compared {compared} operations, the spec has {}",
        operations.len()
    );
    Ok(())
}

/// The whole check (see the module docs).
///
/// `_node` and `python` are the installed tools (the Node script finds the SDK and TypeScript
/// in `.tools/node_modules`).
pub fn run(root: &Path, _node: &NodeTools, python: &PythonTools, operations: &[Operation]) -> anyhow::Result<()> {
    println!(
        "\n== official clients: node-sdk and lark-oapi against vc-mock; node-sdk's request types against the spec"
    );
    let out = root.join(OUTPUT_DIR).join("official-clients");
    std::fs::create_dir_all(&out)?;
    let spec_json = out.join("openapi.json");
    let spec = super::spec::read(root)?;
    std::fs::write(&spec_json, serde_json::to_vec(spec.document())?)
        .with_context(|| format!("cannot write {}", spec_json.display()))?;
    let scripts = root.join(SCRIPTS);
    let node_modules = root.join(TOOLS_DIR).join("node_modules");
    let node_script = |mode: &str| {
        let mut command = process::command("node", root);
        command.arg(scripts.join("node_sdk.cjs")).arg(mode);
        command.env("NODE_MODULES", &node_modules).env("SPEC_JSON", &spec_json);
        command
    };
    let agreement = run_script(node_script("agree"), &out.join("node-sdk-agreement.json"), &[])?;
    check_agreement(&agreement, operations)?;

    let mock = VcMock::start(root, &out.join("vc-mock.log"))?;
    println!("vc-mock: listening on {} ({BUNDLED_SPEC})", mock.url());
    let env = [
        ("VC_MOCK_URL", mock.url()),
        ("APP_ID", APP_ID.to_owned()),
        ("APP_SECRET", APP_SECRET.to_owned()),
        ("USER_TOKEN", USER_TOKEN.to_owned()),
    ];
    let node_calls = run_script(node_script("call"), &out.join("node-sdk-calls.json"), &env)?;
    check_calls("node-sdk", &node_calls, operations, &NODE_SDK_LACKS)?;
    let mut python_command = python.command("python");
    python_command.arg(scripts.join("python_sdk.py")).env("SPEC_JSON", &spec_json);
    let python_calls = run_script(python_command, &out.join("lark-oapi-calls.json"), &env)?;
    check_calls("lark-oapi", &python_calls, operations, &PYTHON_SDK_LACKS)?;
    drop(mock);
    println!("official clients: passed");
    Ok(())
}
