//! The one error type of the client. Every variant names the operation; API failures carry the
//! Feishu code, message, log id and HTTP status.

use std::fmt;

/// Well-known Feishu error codes.
pub mod codes {
    /// VC internal error (HTTP 500); retrying may help.
    pub const INTERNAL_ERROR: i64 = 121001;
    /// The feature is not supported (HTTP 400).
    pub const NOT_SUPPORTED: i64 = 121002;
    /// A parameter is invalid (HTTP 400).
    pub const PARAM_ERROR: i64 = 121003;
    /// The data does not exist (HTTP 404).
    pub const DATA_NOT_EXIST: i64 = 121004;
    /// The caller has no permission (HTTP 403).
    pub const NO_PERMISSION: i64 = 121005;
    /// The gateway's rate limit was hit.
    pub const RATE_LIMITED: i64 = 99991400;
    /// Codes that mean the access token is malformed, invalid or expired.
    pub const TOKEN_INVALID: [i64; 5] = [99991661, 99991663, 99991664, 99991671, 99991677];
}

/// The longest response body kept in an error, in bytes.
pub const MAX_BODY_IN_ERROR: usize = 2048;

/// A failure reported by the Feishu API: a response whose `code` is not 0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation that failed (`reserve_get`).
    pub operation: &'static str,
    /// Feishu error code (non-zero).
    pub code: i64,
    /// Feishu error message.
    pub msg: String,
    /// Request log id, from the `X-Tt-Logid` header or the body's `error.log_id`.
    pub log_id: Option<String>,
    /// HTTP status of the response (a non-zero code may also come with 200).
    pub http_status: u16,
    /// Link to a troubleshooting page, when the gateway gives one.
    pub troubleshooter: Option<String>,
    /// How long the server asked to wait (`x-ogw-ratelimit-reset` or `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// Whether retrying the same request may succeed: internal errors, rate limits and 5xx.
    pub fn is_retryable(&self) -> bool {
        self.code == codes::INTERNAL_ERROR
            || self.code == codes::RATE_LIMITED
            || self.http_status == 429
            || self.http_status >= 500
    }

    /// Whether the call was refused by a rate limit (HTTP 429 or code 99991400).
    pub fn is_rate_limited(&self) -> bool {
        self.code == codes::RATE_LIMITED || self.http_status == 429
    }

    /// Whether the access token was rejected (malformed, invalid or expired).
    pub fn is_token_invalid(&self) -> bool {
        codes::TOKEN_INVALID.contains(&self.code)
    }
}

impl std::error::Error for ApiError {}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: Feishu error {}: {} (HTTP {}", self.operation, self.code, self.msg, self.http_status)?;
        if let Some(log_id) = &self.log_id {
            write!(f, ", log id {log_id}")?;
        }
        f.write_str(")")
    }
}

/// Everything that can go wrong when calling the VC API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with a non-zero `code`.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request was rejected before anything was sent (missing or invalid parameter).
    #[error("{operation}: invalid request: {message}")]
    InvalidRequest {
        /// The operation concerned.
        operation: &'static str,
        /// What is wrong with the request.
        message: String,
    },
    /// The request did not complete in time (connect, read or total timeout), the token
    /// request of the call included.
    #[error("{operation}: timed out")]
    Timeout {
        /// The operation concerned.
        operation: &'static str,
        /// The transport's error (shared: every call waiting on one failed token request
        /// gets the same one).
        #[source]
        source: std::sync::Arc<reqwest::Error>,
    },
    /// The connection failed (DNS, connect, TLS, reset), the token request of the call included.
    #[error("{operation}: transport failed")]
    Transport {
        /// The operation concerned.
        operation: &'static str,
        /// The transport's error (shared like [`Error::Timeout`]'s).
        #[source]
        source: std::sync::Arc<reqwest::Error>,
    },
    /// A failed HTTP status whose body is not a Feishu response (for example an HTML 502 page).
    #[error("{operation}: HTTP {status} without a Feishu error body")]
    Http {
        /// The operation concerned.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// The `X-Tt-Logid` header, if any.
        log_id: Option<String>,
        /// The start of the body (at most [`MAX_BODY_IN_ERROR`] bytes).
        body: String,
        /// How long the server asked to wait (`x-ogw-ratelimit-reset` or `Retry-After`).
        retry_after: Option<std::time::Duration>,
    },
    /// No access token could be had (token endpoint down or refusing, missing credentials).
    #[error("{operation}: no access token: {message}")]
    Auth {
        /// The operation concerned.
        operation: &'static str,
        /// What went wrong.
        message: String,
        /// The token endpoint's Feishu code, if it answered with one.
        code: Option<i64>,
        /// The token endpoint's HTTP status, if it answered.
        http_status: Option<u16>,
    },
    /// A successful response whose body could not be decoded into the expected type.
    #[error("{operation}: cannot decode the response (HTTP {status})")]
    Decode {
        /// The operation concerned.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// The `X-Tt-Logid` header, if any.
        log_id: Option<String>,
        /// The start of the body (at most [`MAX_BODY_IN_ERROR`] bytes).
        body: String,
        /// What did not match.
        #[source]
        source: serde_json::Error,
    },
    /// A paginated listing went wrong: the server repeated a `page_token` (which would loop
    /// forever) or said there was more without giving a token.
    #[error("{operation}: pagination stopped: {message}")]
    Pagination {
        /// The operation concerned.
        operation: &'static str,
        /// What the server did.
        message: String,
    },
    /// A step of the export workflow after the task was submitted failed (a status check, the
    /// download, writing the file). The task itself may be fine: resume it with
    /// [`Client::resume_export`](crate::Client::resume_export)`(task_id)`, or download the file
    /// with `export_download` once `file_token` is known, instead of submitting it again.
    #[error("export task {task_id}: {source}")]
    Export {
        /// The submitted export task.
        task_id: String,
        /// The file's token, once the task is done.
        file_token: Option<String>,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// An export task ended in failure; `message` is the task's `fail_msg`.
    #[error("export task {task_id} failed: {message}")]
    ExportFailed {
        /// The export task.
        task_id: String,
        /// Why it failed, as the API reported it.
        message: String,
    },
    /// An export task was still running when the caller's deadline passed.
    #[error("export task {task_id} was not done after {waited:?}")]
    ExportDeadline {
        /// The export task, which may still finish later.
        task_id: String,
        /// How long the workflow waited.
        waited: std::time::Duration,
    },
    /// Reading a downloaded body or writing it out failed (including a body shorter than its
    /// `Content-Length`).
    #[error("{operation}: I/O failed: {source}")]
    Io {
        /// The operation concerned.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client could not be built from its configuration.
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The operation that failed, if the error comes from a call.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Error::Api(e) => Some(e.operation),
            Error::InvalidRequest { operation, .. }
            | Error::Timeout { operation, .. }
            | Error::Transport { operation, .. }
            | Error::Http { operation, .. }
            | Error::Decode { operation, .. }
            | Error::Pagination { operation, .. }
            | Error::Io { operation, .. }
            | Error::Auth { operation, .. } => Some(operation),
            Error::ExportFailed { .. } | Error::ExportDeadline { .. } => Some("export_get"),
            Error::Export { source, .. } => source.operation(),
            Error::Config(_) => None,
        }
    }

    /// The Feishu API error, if the API answered with a non-zero code.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            Error::Export { source, .. } => source.api(),
            _ => None,
        }
    }

    /// The export task an error of the export workflow concerns, once it was submitted: the
    /// id to resume it with [`Client::resume_export`](crate::Client::resume_export).
    pub fn export_task_id(&self) -> Option<&str> {
        match self {
            Error::Export { task_id, .. }
            | Error::ExportFailed { task_id, .. }
            | Error::ExportDeadline { task_id, .. } => Some(task_id).filter(|id| !id.is_empty()).map(String::as_str),
            _ => None,
        }
    }

    /// The Feishu error code, if the API answered with one.
    pub fn code(&self) -> Option<i64> {
        self.api().map(|e| e.code)
    }

    /// The HTTP status, if a response arrived.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status),
            Error::Http { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Export { source, .. } => source.http_status(),
            _ => None,
        }
    }

    /// The request's log id, to quote to Feishu support.
    pub fn log_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => e.log_id.as_deref(),
            Error::Http { log_id, .. } | Error::Decode { log_id, .. } => log_id.as_deref(),
            Error::Export { source, .. } => source.log_id(),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed (timeouts, connection failures, 5xx,
    /// 429, internal errors, rate limits). Whether it is *safe* to retry also depends on the
    /// operation: see [`crate::Operation::is_idempotent`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Http { status, .. } => *status == 429 || *status >= 500,
            Error::Export { source, .. } => source.is_retryable(),
            Error::InvalidRequest { .. }
            | Error::Decode { .. }
            | Error::Config(_)
            | Error::Auth { .. }
            | Error::Pagination { .. }
            | Error::ExportFailed { .. }
            | Error::ExportDeadline { .. }
            | Error::Io { .. } => false,
        }
    }

    /// Whether the call was refused by a rate limit (HTTP 429 or code 99991400).
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Error::Api(e) => e.is_rate_limited(),
            Error::Http { status, .. } => *status == 429,
            Error::Export { source, .. } => source.is_rate_limited(),
            _ => false,
        }
    }

    /// How long the server asked to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Api(e) => e.retry_after,
            Error::Http { retry_after, .. } => *retry_after,
            Error::Export { source, .. } => source.retry_after(),
            _ => None,
        }
    }
}

/// Keeps at most [`MAX_BODY_IN_ERROR`] bytes of a body, cut at a character boundary.
pub(crate) fn truncated_body(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY_IN_ERROR)]);
    let mut text = text.into_owned();
    if bytes.len() > MAX_BODY_IN_ERROR {
        text.push_str("…(truncated)");
    }
    text
}
