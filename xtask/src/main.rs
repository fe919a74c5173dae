//! Maintainer tasks: `cargo xtask codegen` regenerates, `cargo xtask check` fails on drift.

use std::path::PathBuf;
use std::process::ExitCode;

use codegen::{Mode, files};

const USAGE: &str = "usage: cargo xtask <codegen|check>\n  codegen  rewrite spec/openapi.yaml and vc-api/src/generated/ from spec/src\n  check    regenerate in memory, lint the spec, and fail on any drift";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "codegen" => codegen_task(Mode::Write),
        "check" => codegen_task(Mode::Check),
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
            anyhow::bail!("generated files drifted from the spec")
        }
    }
}
