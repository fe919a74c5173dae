//! `-v`: one line on standard error per call of an operation, written when the call ends
//! (success or failure) from the fields vc-api records on its `vc_api.call` span: operation,
//! attempts, HTTP status, Feishu code, log id and elapsed time. vc-api's own events (retries,
//! a refreshed token) are printed as they happen.

use std::fmt::Write as _;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The name of vc-api's span around one call.
const CALL_SPAN: &str = "vc_api.call";

/// What a call's span recorded so far.
#[derive(Debug)]
struct CallRecord {
    started: Instant,
    operation: String,
    attempt: Option<u64>,
    http_status: Option<u64>,
    code: Option<i64>,
    log_id: Option<String>,
}

impl Visit for CallRecord {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "attempt" => self.attempt = Some(value),
            "http_status" => self.http_status = Some(value),
            "code" => self.code = i64::try_from(value).ok(),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "code" => self.code = Some(value),
            "attempt" | "http_status" => self.record_u64(field, u64::try_from(value).unwrap_or_default()),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "operation" => self.operation = value.to_owned(),
            "log_id" => self.log_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }
}

impl CallRecord {
    /// The line written when the call ends.
    fn line(&self) -> String {
        let mut line = format!("vc: call {}", self.operation);
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        let _ = write!(
            line,
            " attempts={} status={} code={} log_id={} elapsed={:.1}ms",
            dash(self.attempt.map(|a| a.to_string())),
            dash(self.http_status.map(|s| s.to_string())),
            dash(self.code.map(|c| c.to_string())),
            self.log_id.as_deref().unwrap_or("-"),
            self.started.elapsed().as_secs_f64() * 1000.0
        );
        line
    }
}

/// Collects each call span's fields and writes its line when the span closes.
struct CallLog;

impl<S> Layer<S> for CallLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != CALL_SPAN {
            return;
        }
        let mut record = CallRecord {
            started: Instant::now(),
            operation: String::new(),
            attempt: None,
            http_status: None,
            code: None,
            log_id: None,
        };
        attrs.record(&mut record);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(record);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(record) = span.extensions_mut().get_mut::<CallRecord>()
        {
            values.record(record);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(record) = span.extensions().get::<CallRecord>()
        {
            eprintln!("{}", record.line());
        }
    }
}

fn from_vc_api(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("vc_api")
}

/// Installs the `-v` logging: call lines, and vc-api's events at debug level and above.
pub fn init() {
    let events = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_filter(filter_fn(|metadata| from_vc_api(metadata) && metadata.is_event()));
    let calls =
        CallLog.with_filter(filter_fn(|metadata| from_vc_api(metadata) && *metadata.level() <= tracing::Level::DEBUG));
    let subscriber = tracing_subscriber::registry().with(calls).with(events);
    // Only fails when a subscriber is already installed, and then that one logs.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
