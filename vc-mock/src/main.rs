//! `vc-mock`: serves the spec-driven fake of the VC API on a local port until interrupted.

use std::net::TcpListener;
use std::process::ExitCode;

const USAGE: &str = "usage: vc-mock [--host ADDR] [--port PORT] [--accept-token TOKEN]...
               [--deliver-to URL [--encrypt-key KEY] [--verification-token TOKEN]]
  Serves every operation of the VC API v1 spec with its example answer, validating requests.
  --host ADDR                 address to listen on (default 127.0.0.1)
  --port PORT                 port to listen on (default 8080; 0 picks a free one)
  --accept-token TOKEN        also accept this bearer token (repeatable)
  --deliver-to URL            deliver events pushed to POST /__mock/events to this webhook URL
  --encrypt-key KEY           encrypt and sign those deliveries with this key
  --verification-token TOKEN  the header.token of the events the mock fills in

  Push an event: curl -X POST http://127.0.0.1:8080/__mock/events \\
                   -d '{\"event_type\": \"vc.meeting.meeting_started_v1\"}'
  See what the webhook answered: curl http://127.0.0.1:8080/__mock/deliveries";

fn main() -> ExitCode {
    let mut host = "127.0.0.1".to_owned();
    let mut port = "8080".to_owned();
    let mut tokens = Vec::new();
    let (mut deliver_to, mut encrypt_key, mut verification_token) = (String::new(), String::new(), String::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let target = match arg.as_str() {
            "--host" => &mut host,
            "--port" => &mut port,
            "--deliver-to" => &mut deliver_to,
            "--encrypt-key" => &mut encrypt_key,
            "--verification-token" => &mut verification_token,
            "--accept-token" => {
                tokens.push(String::new());
                tokens.last_mut().expect("just pushed")
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("vc-mock: unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        match args.next() {
            Some(value) => *target = value,
            None => {
                eprintln!("vc-mock: {arg} needs a value\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match TcpListener::bind(format!("{host}:{port}")) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("vc-mock: cannot listen on {host}:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vc-mock: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut builder = vc_mock::MockServer::builder().listener(listener);
        for token in tokens {
            builder = builder.accept_token(token);
        }
        if !deliver_to.is_empty() {
            builder = builder.deliver_to(&deliver_to);
        }
        if !encrypt_key.is_empty() {
            builder = builder.encrypt_key(encrypt_key);
        }
        if !verification_token.is_empty() {
            builder = builder.verification_token(verification_token);
        }
        let server = builder.start().await;
        println!("vc-mock: the VC API v1 answers at {}", server.url());
        println!("  app credentials: FEISHU_APP_ID={} FEISHU_APP_SECRET={}", vc_mock::APP_ID, vc_mock::APP_SECRET);
        println!("  fixed tokens:    {} (tenant), {} (user)", vc_mock::TENANT_TOKEN, vc_mock::USER_TOKEN);
        if !deliver_to.is_empty() {
            println!("  events pushed to {}/__mock/events are delivered to {deliver_to}", server.url());
        }
        println!("  stop with Ctrl-C");
        std::future::pending::<()>().await;
    });
    ExitCode::SUCCESS
}
