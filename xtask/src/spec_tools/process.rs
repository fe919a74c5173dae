//! Running the external tools: echoed, with telemetry and update checks off, failing with the
//! command and its output when it fails.

use std::io::Read as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment for every tool: no telemetry, no update notices (CI has no network but the
/// package registries, and the output stays readable).
pub const QUIET_ENV: [(&str, &str); 6] = [
    ("REDOCLY_TELEMETRY", "off"),
    ("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true"),
    ("SCARF_ANALYTICS", "false"),
    ("DO_NOT_TRACK", "1"),
    ("NO_UPDATE_NOTIFIER", "1"),
    ("npm_config_update_notifier", "false"),
];

/// A command that runs `program` in `dir` with [`QUIET_ENV`].
pub fn command(program: impl AsRef<std::ffi::OsStr>, dir: &std::path::Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(dir).envs(QUIET_ENV);
    command
}

/// How a command is shown in logs and errors.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `command` with inherited output; fails naming it when it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = describe(command);
    println!("$ {shown}");
    let status = command.status().map_err(|e| anyhow::anyhow!("cannot start `{shown}`: {e}"))?;
    anyhow::ensure!(status.success(), "`{shown}` failed ({status})");
    Ok(())
}

/// Runs `command` and captures its output, killing it after `timeout`. Does not look at the
/// exit status: callers decide what a failure is.
pub fn output(command: &mut Command, timeout: Duration) -> anyhow::Result<Output> {
    let shown = describe(command);
    println!("$ {shown}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start `{shown}`: {e}"))?;
    // Read both pipes while waiting, so a chatty tool never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("`{shown}` did not finish within {timeout:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().map_err(|_| anyhow::anyhow!("reading the output of `{shown}` failed"))?;
    let stderr = stderr.join().map_err(|_| anyhow::anyhow!("reading the output of `{shown}` failed"))?;
    Ok(Output { status, stdout, stderr })
}

/// The last `lines` lines of `text`, for error messages.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
