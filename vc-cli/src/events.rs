//! `vc events listen`: receives events over the long connection and prints each as one
//! compact JSON line on standard output; connection states go to standard error.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use vc_api::long_connection::{ConnectionState, LongConnection};

use crate::run::{Settings, domain};

/// Runs `vc events listen` until interrupted (exit 0) or refused for good (exit 1).
pub fn listen(settings: &Settings) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings))
}

async fn run(settings: &Settings) -> ExitCode {
    let mock = if settings.mock { Some(vc_mock::long_connection::LongConnServer::start().await) } else { None };
    let (app_id, app_secret, target) = match (&mock, &settings.app_id, &settings.app_secret) {
        (Some(server), _, _) => {
            eprintln!("vc: embedded long-connection mock at {}", server.url());
            (vc_mock::APP_ID.to_owned(), vc_mock::APP_SECRET.into(), vc_api::Domain::Custom(server.url()))
        }
        (None, Some(app_id), Some(secret)) => (app_id.clone(), secret.clone(), domain(settings.domain.as_deref())),
        _ => {
            eprintln!(
                "error: no credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET (a self-built app), or use --mock"
            );
            return ExitCode::from(2);
        }
    };
    let started = LongConnection::builder(app_id, app_secret)
        .domain(target)
        .fallback(|header, event| async move {
            let line = json!({ "schema": "2.0", "header": header, "event": event }).to_string();
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").and_then(|()| out.flush())?;
            Ok(())
        })
        .start();
    let connection = match started {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut state = connection.state();
    let reporter = tokio::spawn(async move {
        loop {
            let now = state.borrow_and_update().clone();
            match &now {
                ConnectionState::Connecting => eprintln!("vc: connecting"),
                ConnectionState::Connected { conn_id } => eprintln!("vc: connected ({conn_id})"),
                ConnectionState::Reconnecting { attempt } => eprintln!("vc: reconnecting (attempt {attempt})"),
                ConnectionState::Failed(error) => eprintln!("vc: failed: {error}"),
                ConnectionState::Stopped => eprintln!("vc: stopped"),
                _ => eprintln!("vc: {now:?}"),
            }
            if now.is_final() || state.changed().await.is_err() {
                break;
            }
        }
    });
    let stop = connection.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.shutdown();
        }
    });
    let outcome = connection.wait().await;
    let _ = reporter.await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
