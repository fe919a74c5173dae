//! `vc`: every operation of the Feishu / Lark VC API v1 from the command line, with commands
//! built from the embedded spec and calls made through vc-api's runtime (token cache,
//! retries, error mapping). See `vc --help`.

mod commands;
mod log;
mod output;
mod run;

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::ArgMatches;
use vc_mock::Spec;

use crate::run::{Failure, Settings};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

fn settings(matches: &ArgMatches) -> Settings {
    let text = |name: &str| matches.get_one::<String>(name).cloned().filter(|v| !v.trim().is_empty());
    Settings {
        domain: text("domain"),
        mock: matches.get_flag("mock"),
        user_access_token: text("user-access-token").map(Into::into),
        app_id: env("FEISHU_APP_ID"),
        app_secret: env("FEISHU_APP_SECRET").map(Into::into),
        app_ticket: env("FEISHU_APP_TICKET").map(Into::into),
        tenant_key: env("FEISHU_TENANT_KEY"),
        access_token: env("FEISHU_ACCESS_TOKEN").map(Into::into),
        style: output::Style {
            format: matches.get_one::<output::Format>("format").copied().unwrap_or_default(),
            compact: matches.get_flag("compact"),
            time: matches.get_one::<output::TimeZone>("time").copied(),
            width: output::table_width(),
        },
    }
}

/// `--body` text: inline JSON, `@path` for a file, `@-` for standard input.
fn read_body(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some("-") => {
            let mut body = String::new();
            std::io::stdin()
                .read_to_string(&mut body)
                .map_err(|e| format!("cannot read the body from standard input: {e}"))?;
            Ok(body)
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read the body from {path}: {e}")),
        None => Ok(text.to_owned()),
    }
}

fn list_operations(spec: &Spec) {
    let mut out = std::io::stdout().lock();
    for op in spec.operations() {
        let command = format!("{} {}", commands::kebab(&op.tag), commands::action_name(op));
        // A closed pipe ends the listing quietly.
        if writeln!(out, "{command:<36} {:<6} {:<62} {}", op.method, op.path, op.summary).is_err() {
            return;
        }
    }
}

fn main() -> ExitCode {
    let spec = Spec::embedded();
    let matches = commands::command(spec).get_matches();
    let settings = settings(&matches);
    if matches.get_flag("verbose") {
        log::init();
    }
    let Some((tag, group)) = matches.subcommand() else { return ExitCode::from(2) };
    if tag == "operations" {
        list_operations(spec);
        return ExitCode::SUCCESS;
    }
    let Some((action, op_matches)) = group.subcommand() else { return ExitCode::from(2) };
    let invocation = match commands::invocation(spec, tag, action, op_matches, read_body) {
        Ok(invocation) => invocation,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let (client, _mock) = run::client(&settings).await?;
        let mut stdout = std::io::stdout();
        run::run(&client, &settings, invocation, &mut stdout).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Output(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Call(error)) => {
            for line in run::describe(&error) {
                eprintln!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}
