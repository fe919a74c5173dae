//! Installs the pinned tools into `.tools/` (npm packages from `tools/package-lock.json`, a
//! Python venv from `tools/requirements.txt`) and Debian's Chromium when it is missing.
//! An install is skipped when `.tools/` already holds exactly the pinned versions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process;
use super::{TOOLS_DIR, TOOLS_SOURCE};

/// The npm tools installed in `.tools/node_modules`.
#[derive(Debug, Clone)]
pub struct NodeTools {
    root: PathBuf,
    bin: PathBuf,
}

impl NodeTools {
    /// A command running the installed tool `name` (`spectral`, `redocly`, `prism`, `tsc`, ...)
    /// in the workspace root.
    pub fn command(&self, name: &str) -> Command {
        process::command(self.bin.join(name), &self.root)
    }

    /// The pinned version of npm package `name`, from `tools/package.json`.
    pub fn version(&self, name: &str) -> String {
        let manifest = std::fs::read_to_string(self.root.join(TOOLS_SOURCE).join("package.json")).unwrap_or_default();
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
        manifest["devDependencies"][name].as_str().unwrap_or("?").to_owned()
    }
}

/// The Python venv in `.tools/venv`.
#[derive(Debug, Clone)]
pub struct PythonTools {
    root: PathBuf,
    bin: PathBuf,
}

impl PythonTools {
    /// A command running the venv's `name` (`python`, `openapi-python-client`, ...) in the
    /// workspace root, with the venv first on `PATH` (openapi-python-client runs `ruff`).
    pub fn command(&self, name: &str) -> Command {
        let mut command = process::command(self.bin.join(name), &self.root);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(self.bin.clone()).chain(std::env::split_paths(&path));
        command.env("PATH", std::env::join_paths(paths).expect("PATH entries are valid"));
        command
    }
}

fn same_contents(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(a), Ok(b)) if a == b)
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to).map_err(|e| anyhow::anyhow!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    Ok(())
}

/// Ensures `.tools/node_modules` holds exactly `tools/package-lock.json` (`npm ci`).
pub fn node_tools(root: &Path) -> anyhow::Result<NodeTools> {
    let source = root.join(TOOLS_SOURCE);
    let dir = root.join(TOOLS_DIR);
    let tools = NodeTools { root: root.to_owned(), bin: dir.join("node_modules/.bin") };
    // Written after a successful `npm ci`: the lock file it installed.
    let marker = dir.join("node_modules/.installed-package-lock.json");
    if same_contents(&source.join("package.json"), &dir.join("package.json"))
        && same_contents(&source.join("package-lock.json"), &marker)
    {
        return Ok(tools);
    }
    println!("\n== installing the npm tools of {TOOLS_SOURCE}/package-lock.json into {TOOLS_DIR}/");
    std::fs::create_dir_all(&dir)?;
    copy(&source.join("package.json"), &dir.join("package.json"))?;
    copy(&source.join("package-lock.json"), &dir.join("package-lock.json"))?;
    // No install scripts: none of the tools needs one (the only script is a telemetry ping).
    process::run(process::command("npm", &dir).args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"]))
        .map_err(|e| e.context("npm (Node.js 20.19 or newer) is needed for the spec tools"))?;
    copy(&source.join("package-lock.json"), &marker)?;
    Ok(tools)
}

/// Ensures `.tools/venv` holds exactly `tools/requirements.txt`.
pub fn python_tools(root: &Path) -> anyhow::Result<PythonTools> {
    let requirements = root.join(TOOLS_SOURCE).join("requirements.txt");
    let venv = root.join(TOOLS_DIR).join("venv");
    let tools = PythonTools { root: root.to_owned(), bin: venv.join("bin") };
    let marker = venv.join("installed-requirements.txt");
    if same_contents(&requirements, &marker) {
        return Ok(tools);
    }
    println!("\n== installing the Python tools of {TOOLS_SOURCE}/requirements.txt into {TOOLS_DIR}/venv");
    std::fs::create_dir_all(root.join(TOOLS_DIR))?;
    process::run(process::command("python3", root).args(["-m", "venv", "--clear"]).arg(&venv))
        .map_err(|e| e.context("python3 (3.11 or newer, with venv) is needed for the spec tools"))?;
    process::run(
        process::command(venv.join("bin/pip"), root)
            .args(["install", "--disable-pip-version-check", "--no-input", "--quiet", "-r"])
            .arg(&requirements),
    )?;
    copy(&requirements, &marker)?;
    Ok(tools)
}

/// The headless browser: `$CHROMIUM`, else Debian's `/usr/bin/chromium`, installed with
/// `apt-get install -y chromium` when missing and running as root (as CI does).
pub fn chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    debian_package("/usr/bin/chromium", "chromium", "or set CHROMIUM to a Chromium binary")
}

/// Debian's `redis-server` for the shared-state tests, installed with apt-get when missing.
pub fn redis_server() -> anyhow::Result<PathBuf> {
    debian_package("/usr/bin/redis-server", "redis-server", "the shared-state tests start one")
}

/// `binary` from the Debian package `package`: installed with `apt-get install -y` when missing
/// and running as root (as CI does); otherwise an error saying what to install (and `hint`).
fn debian_package(binary: &str, package: &str, hint: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(binary);
    if path.exists() {
        return Ok(path);
    }
    let uid = process::output(Command::new("id").arg("-u"), Duration::from_secs(10))?;
    anyhow::ensure!(
        String::from_utf8_lossy(&uid.stdout).trim() == "0",
        "{binary} is missing: install Debian's `{package}` package ({hint})"
    );
    println!("\n== installing Debian's {package} (apt-get)");
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        process::run(&mut command)
    };
    apt(&["update", "-qq"])?;
    apt(&["install", "-y", "-qq", package])?;
    anyhow::ensure!(path.exists(), "apt-get installed {package} but {binary} is missing");
    Ok(path)
}
