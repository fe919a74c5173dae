//! Carrying out one invocation: the client from the environment (or the embedded mock), then
//! the call in its mode (one call, every page, a file, an export run to its end) and the JSON
//! printed.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::{Value, json};
use vc_api::export::{ExportPolling, ExportRequest};
use vc_api::{CallOptions, Client, Domain, Operation, RawRequest, TokenType};

use crate::commands::Invocation;
use crate::output::{self, ListWriter, Progress, Style};

/// Where the client's settings come from: flags and environment variables.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// `--domain` / `FEISHU_DOMAIN`.
    pub domain: Option<String>,
    /// `--mock`.
    pub mock: bool,
    /// `--user-access-token` / `FEISHU_USER_ACCESS_TOKEN`.
    pub user_access_token: Option<vc_api::Secret>,
    /// `FEISHU_APP_ID`.
    pub app_id: Option<String>,
    /// `FEISHU_APP_SECRET`.
    pub app_secret: Option<vc_api::Secret>,
    /// `FEISHU_APP_TICKET` (marketplace apps).
    pub app_ticket: Option<vc_api::Secret>,
    /// `FEISHU_TENANT_KEY` (marketplace apps).
    pub tenant_key: Option<String>,
    /// `FEISHU_ACCESS_TOKEN`.
    pub access_token: Option<vc_api::Secret>,
    /// `--redis` / `FEISHU_REDIS_URL`: the Redis the app's processes share state through.
    pub redis: Option<vc_api::Secret>,
    /// `--client-rate-limit`.
    pub client_rate_limit: bool,
    /// `--format`, `--compact`, `--time`.
    pub style: Style,
}

/// Why a run failed: a usage problem (exit 2) or a failed call (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The invocation cannot be carried out as given.
    Usage(String),
    /// The call failed.
    Call(vc_api::Error),
    /// Writing the output failed.
    Output(String),
}

impl From<vc_api::Error> for Failure {
    fn from(error: vc_api::Error) -> Self {
        Failure::Call(error)
    }
}

/// `--domain` / `FEISHU_DOMAIN`: `feishu` (or nothing), `lark`, or a base URL.
pub fn domain(text: Option<&str>) -> Domain {
    match text.map(str::trim) {
        None | Some("") | Some("feishu") => Domain::Feishu,
        Some("lark") => Domain::Lark,
        Some(url) => Domain::Custom(url.to_owned()),
    }
}

/// The client the settings describe; with `--mock`, the server it talks to (kept alive by the
/// caller for the whole run).
pub async fn client(settings: &Settings) -> Result<(Client, Option<vc_mock::MockServer>), Failure> {
    let config = |e: vc_api::Error| Failure::Usage(e.to_string());
    if settings.mock {
        let server = vc_mock::MockServer::start().await;
        let builder = Client::builder().base_url(server.url()).app_credentials(vc_mock::APP_ID, vc_mock::APP_SECRET);
        let client = shared_state(builder, settings).build().map_err(config)?;
        return Ok((client, Some(server)));
    }
    let builder = Client::builder().domain(domain(settings.domain.as_deref()));
    let builder = match (&settings.app_id, &settings.app_secret, &settings.access_token) {
        (Some(app_id), Some(secret), _) => match (&settings.app_ticket, &settings.tenant_key) {
            (Some(ticket), tenant_key) => {
                let builder = builder.marketplace_app(app_id.clone(), secret.clone()).app_ticket(ticket.clone());
                match tenant_key {
                    Some(key) => builder.tenant_key(key.clone()),
                    None => builder,
                }
            }
            (None, _) => builder.app_credentials(app_id.clone(), secret.clone()),
        },
        (_, _, Some(token)) => builder.access_token(token.clone()),
        _ if settings.user_access_token.is_some() => builder,
        _ => {
            return Err(Failure::Usage(
                "no credentials: set FEISHU_APP_ID and FEISHU_APP_SECRET, or FEISHU_ACCESS_TOKEN \
                 (or pass --user-access-token, or use --mock)"
                    .to_owned(),
            ));
        }
    };
    Ok((shared_state(builder, settings).build().map_err(config)?, None))
}

/// The client-side rate limit and the Redis shared by the app's processes, when asked for.
fn shared_state(builder: vc_api::ClientBuilder, settings: &Settings) -> vc_api::ClientBuilder {
    let builder = match &settings.redis {
        Some(url) => builder.redis(url.clone()),
        None => builder,
    };
    if settings.client_rate_limit { builder.client_side_rate_limit(true) } else { builder }
}

/// Per-call options: the user token when one is given; with `--mock`, the mock's user token
/// for operations that accept only user tokens.
fn call_options(settings: &Settings, operation: &Operation) -> CallOptions {
    let user_only = !operation.token_types.is_empty() && !operation.token_types.contains(&TokenType::Tenant);
    match &settings.user_access_token {
        Some(token) => CallOptions::new().access_token(token.clone()),
        None if settings.mock && user_only => CallOptions::new().access_token(vc_mock::USER_TOKEN),
        None => CallOptions::new(),
    }
}

/// Runs the invocation and writes its result to `out`.
pub async fn run(
    client: &Client,
    settings: &Settings,
    invocation: Invocation,
    out: &mut (dyn Write + Send),
) -> Result<(), Failure> {
    let operation = Operation::find(&invocation.operation.id).ok_or_else(|| {
        Failure::Usage(format!("{} is in the spec but not in this build of vc-api", invocation.operation.id))
    })?;
    let options = call_options(settings, operation);
    let items_field = invocation.operation.pagination_items.as_deref();
    let print = |out: &mut (dyn Write + Send), value: &Value| -> Result<(), Failure> {
        written(output::write_value(out, &settings.style, items_field, value.clone()))
    };
    if invocation.operation.file_media_type.is_some() {
        let download = client.call_download(operation, invocation.request, options).await?;
        return match invocation.output {
            Some(path) => {
                let bytes = download.save(&path, progress()).await?;
                finish_progress();
                print(out, &json!({"path": path, "bytes": bytes}))
            }
            None => {
                let mut stdout = tokio::io::stdout();
                download.write_to(&mut stdout, |_| {}).await?;
                Ok(())
            }
        };
    }
    if invocation.wait {
        let body = invocation.request.json_body().cloned().unwrap_or(Value::Object(Default::default()));
        let request = ExportRequest::from_json(&invocation.operation.id, body)?;
        let mut polling = ExportPolling::default();
        if let Some(seconds) = invocation.poll_interval {
            polling.first_delay = seconds_arg("--poll-interval", seconds)?;
        }
        if let Some(seconds) = invocation.timeout {
            polling.deadline = seconds_arg("--timeout", seconds)?;
        }
        let mut job = client.export(request).polling(polling).options(options);
        if let Some((_, kind)) = invocation.request.query_pairs().iter().find(|(name, _)| name == "user_id_type") {
            job = job.user_id_type(vc_api::types::UserIdType::from(kind.as_str()));
        }
        return match invocation.output {
            Some(path) => {
                let outcome = job.save(&path, progress()).await?;
                finish_progress();
                let file = &outcome.file;
                print(
                    out,
                    &json!({"task_id": file.task_id, "file_token": file.file_token, "path": path, "bytes": outcome.bytes}),
                )
            }
            None => {
                let file = job.wait().await?;
                print(out, &json!({"task_id": file.task_id, "file_token": file.file_token, "url": file.url}))
            }
        };
    }
    if invocation.all {
        return all_items(client, operation, invocation.operation, invocation.request, options, &settings.style, out)
            .await;
    }
    let data = client.call_json_with(operation, invocation.request, options).await?;
    written(output::write_value(out, &settings.style, items_field, data))
}

/// The outcome of writing output: a reader that stopped early (`vc ... | head`) is not a
/// failure.
fn written(result: std::io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Output(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

fn seconds_arg(flag: &str, seconds: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| Failure::Usage(format!("{flag} needs a non-negative number of seconds")))
}

/// Walks every page, writing the items of each as it arrives (nothing is kept from one page
/// to the next but the next `page_token`). Stops with an error when the server repeats a
/// `page_token` or says there is more without giving one, and quietly when the reader of the
/// output has gone.
async fn all_items(
    client: &Client,
    operation: &'static Operation,
    spec_op: &vc_mock::spec::Operation,
    mut request: RawRequest,
    options: CallOptions,
    style: &Style,
    out: &mut (dyn Write + Send),
) -> Result<(), Failure> {
    let items_field = spec_op.pagination_items.as_deref().unwrap_or("items");
    let mut writer = ListWriter::new(out, style);
    let mut progress = Progress::new();
    let mut seen = HashSet::new();
    loop {
        let mut data = client.call_json_with(operation, request.clone(), options.clone()).await?;
        let page = match data.get_mut(items_field).map(Value::take) {
            Some(Value::Array(page)) => page,
            _ => Vec::new(),
        };
        if let Err(e) = writer.page(page) {
            progress.finish();
            return written(Err(e));
        }
        progress.page(writer.written());
        if !data.get("has_more").and_then(Value::as_bool).unwrap_or(false) {
            progress.finish();
            return written(writer.finish());
        }
        let pagination =
            |message: String| Failure::Call(vc_api::Error::Pagination { operation: operation.id, message });
        let token = match data.get("page_token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            Some(token) => token.to_owned(),
            None => return Err(pagination("has_more is true but no page_token was given".to_owned())),
        };
        if !seen.insert(token.clone()) {
            return Err(pagination(format!("the server repeated page_token {token:?}; stopping instead of looping")));
        }
        if spec_op.page_token_in_query() {
            request = request.set_query("page_token", token);
        } else {
            let mut body = match request.json_body() {
                Some(Value::Object(body)) => body.clone(),
                _ => serde_json::Map::new(),
            };
            body.insert("page_token".to_owned(), Value::String(token));
            request = request.body(Value::Object(body));
        }
    }
}

/// Progress of a file being written, on standard error when it is a terminal.
fn progress() -> impl FnMut(u64) {
    let show = std::io::stderr().is_terminal();
    move |bytes| {
        if show {
            eprint!("\r{bytes} bytes written");
        }
    }
}

fn finish_progress() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

/// The lines printed for a failed call: the error, then the Feishu code, message and log id
/// when the API answered.
pub fn describe(error: &vc_api::Error) -> Vec<String> {
    let mut lines = vec![format!("error: {error}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        lines.push(format!("  caused by: {cause}"));
        source = cause.source();
    }
    if let Some(api) = error.api() {
        lines.push(format!("  code:   {}", api.code));
        lines.push(format!("  msg:    {}", api.msg));
        lines.push(format!("  log_id: {}", api.log_id.as_deref().unwrap_or("-")));
        if let Some(link) = &api.troubleshooter {
            lines.push(format!("  help:   {link}"));
        }
    } else if let Some(log_id) = error.log_id() {
        lines.push(format!("  log_id: {log_id}"));
    }
    if let vc_api::Error::Auth { code, operation, .. } = error {
        if let Some(code) = code {
            lines.push(format!("  code:   {code}"));
        }
        let user_only = Operation::find(operation)
            .is_some_and(|op| !op.token_types.is_empty() && !op.token_types.contains(&TokenType::Tenant));
        if user_only {
            lines.push("  hint:   pass a user token with --user-access-token or FEISHU_USER_ACCESS_TOKEN".to_owned());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(domain(None), Domain::Feishu);
        assert_eq!(domain(Some("lark")), Domain::Lark);
        assert_eq!(domain(Some("http://127.0.0.1:9")), Domain::Custom("http://127.0.0.1:9".into()));
    }

    #[test]
    fn settings_never_show_secrets() {
        let settings = Settings {
            app_secret: Some("app-secret-value".into()),
            access_token: Some("t-secret-token".into()),
            user_access_token: Some("u-secret-token".into()),
            app_ticket: Some("ticket-value".into()),
            ..Settings::default()
        };
        let text = format!("{settings:?}");
        for secret in ["app-secret-value", "t-secret-token", "u-secret-token", "ticket-value"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
