//! One replica of an app, for the multi-process tests (`tests/tests/replicas.rs`): a client
//! with app credentials sharing its state through Redis, making concurrent calls of
//! `room_level_get` once told to start.
//!
//! `vc_replica <base url> <redis url> <calls> [<requests>/<window ms>]`: builds the client
//! (with the rate limit override when given, without client-side rate limit otherwise),
//! prints `ready`, waits for a line on standard input, makes the calls all at once, and prints
//! `ok <calls>` (exit 0) or the first error (exit 1).

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use vc_api::rate_limit::RateLimit;

/// The app every replica acts for.
const APP_ID: &str = "cli_replicas";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, redis_url, calls, rest @ ..] = args.as_slice() else {
        eprintln!("usage: vc_replica <base url> <redis url> <calls> [<requests>/<window ms>]");
        return ExitCode::from(2);
    };
    let Ok(calls) = calls.parse::<usize>() else { return ExitCode::from(2) };
    let limit = match rest.first().map(|limit| limit.split_once('/')) {
        None => None,
        Some(Some((requests, window))) => match (requests.parse(), window.parse()) {
            (Ok(requests), Ok(window_ms)) => Some(RateLimit::new(requests, Duration::from_millis(window_ms))),
            _ => return ExitCode::from(2),
        },
        Some(None) => return ExitCode::from(2),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let builder = vc_api::Client::builder()
            .base_url(base_url)
            .app_credentials(APP_ID, "replica-secret")
            .redis(redis_url.as_str());
        let builder = match limit {
            Some(limit) => builder.rate_limit_override("room_level_get", [limit]),
            None => builder.client_side_rate_limit(false),
        };
        let client = match builder.build() {
            Ok(client) => client,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        };
        println!("ready");
        let _ = std::io::stdout().flush();
        let mut go = String::new();
        if std::io::stdin().lock().read_line(&mut go).is_err() {
            return ExitCode::FAILURE;
        }
        let results =
            futures::future::join_all((0..calls).map(|_| client.room_level_get().room_level_id("omb_1").data())).await;
        match results.into_iter().find_map(Result::err) {
            None => {
                println!("ok {calls}");
                ExitCode::SUCCESS
            }
            Some(error) => {
                println!("failed: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
