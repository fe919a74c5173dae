//! `vc`: every operation of the Feishu / Lark VC API v1 from the command line, with commands
//! built from the embedded spec and calls made through vc-api's runtime (token cache,
//! retries, error mapping). See `vc --help`.

mod commands;
mod events;
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
        redis: text("redis").map(Into::into),
        client_rate_limit: matches.get_flag("client-rate-limit"),
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

/// `vc completions <shell>`: the completion script of the whole command tree.
fn completions(spec: &Spec, matches: &ArgMatches) -> ExitCode {
    let shell = match matches.get_one::<String>("shell").map(String::as_str) {
        Some("bash") => clap_complete::Shell::Bash,
        Some("zsh") => clap_complete::Shell::Zsh,
        Some("fish") => clap_complete::Shell::Fish,
        Some("powershell") => clap_complete::Shell::PowerShell,
        _ => return ExitCode::from(2),
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut commands::command(spec), "vc", &mut script);
    write_out(&script)
}

/// `vc man`: the man page in roff.
fn man_page(spec: &Spec) -> ExitCode {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(commands::command(spec)).render(&mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return ExitCode::FAILURE;
    }
    write_out(&page)
}

/// Writes `bytes` to standard output; a closed pipe is not an error.
fn write_out(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
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
    match tag {
        "operations" => {
            list_operations(spec);
            return ExitCode::SUCCESS;
        }
        "completions" => return completions(spec, group),
        "man" => return man_page(spec),
        "events" => return events::run(group, &settings),
        _ => {}
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
