//! The findings of docs-drift and their rendering as a report a person can act on.

use std::fmt;
use std::path::PathBuf;

/// The findings for every page checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// One entry per page, in the order the pages were given.
    pub pages: Vec<PageReport>,
}

impl Report {
    /// Whether any page differs from the spec.
    pub fn has_drift(&self) -> bool {
        self.pages.iter().any(|p| !p.findings.is_empty())
    }

    /// Number of differences over all pages.
    pub fn count(&self) -> usize {
        self.pages.iter().map(|p| p.findings.len()).sum()
    }
}

/// The findings for one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageReport {
    /// The page file.
    pub file: PathBuf,
    /// What the page was matched to.
    pub subject: Subject,
    /// Every difference, in page order (differences without a page line last).
    pub findings: Vec<Finding>,
}

/// What a page was compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An operation page, matched to this spec operation.
    Operation {
        /// The spec's `operationId`.
        id: String,
        /// The spec's method.
        method: String,
        /// The spec's path.
        path: String,
    },
    /// An operation page whose operation the spec does not have.
    UnknownOperation {
        /// The page's method.
        method: String,
        /// The page's path.
        path: String,
    },
    /// The overview page.
    Overview {
        /// Operations listed on the page.
        operations: usize,
        /// Events listed on the page.
        events: usize,
    },
}

/// One difference, with the page line it concerns (none for things only the spec has).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// 1-based line of the page.
    pub line: Option<usize>,
    /// The difference.
    pub drift: Drift,
}

/// Where on an operation page a field or parameter lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A request header (other than `Authorization` and `Content-Type`).
    Header,
    /// A path parameter.
    PathParameter,
    /// A query parameter.
    QueryParameter,
    /// A field of the request body.
    RequestBody,
    /// A field of the response body.
    ResponseBody,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Location::Header => "request header",
            Location::PathParameter => "path parameter",
            Location::QueryParameter => "query parameter",
            Location::RequestBody => "request body field",
            Location::ResponseBody => "response field",
        })
    }
}

/// One kind of difference between a page and the spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// The page version is not the one the spec was transcribed from (`x-feishu-doc`).
    PageVersion {
        /// The page's `last_remote_update`.
        page: String,
        /// The spec's `x-feishu-doc.last_remote_update`.
        spec: Option<String>,
    },
    /// The page address is not the spec's `externalDocs.url`.
    DocUrl {
        /// The page's `source_url`.
        page: String,
        /// The spec's `externalDocs.url`.
        spec: Option<String>,
    },
    /// The page (operation page or overview line) names an operation the spec does not have.
    OperationNotInSpec {
        /// The page's method.
        method: String,
        /// The page's path.
        path: String,
    },
    /// A spec operation the overview does not list.
    OperationNotOnOverview {
        /// The spec's `operationId`.
        id: String,
        /// The spec's method.
        method: String,
        /// The spec's path.
        path: String,
    },
    /// The page uses another HTTP method for the operation.
    Method {
        /// The spec's `operationId`.
        id: String,
        /// The page's method.
        page: String,
        /// The method the spec expects on this page (its own, or one it acknowledges).
        spec: String,
    },
    /// The page uses another path for the operation.
    Path {
        /// The spec's `operationId`.
        id: String,
        /// The page's path.
        page: String,
        /// The path the spec expects on this page.
        spec: String,
    },
    /// `x-feishu-overview` (or an event's `overview: false`) acknowledges a difference the overview
    /// no longer shows.
    StaleAcknowledgement {
        /// The spec's `operationId`, or the event type.
        id: String,
        /// `method`, `path` or `listed`.
        key: String,
        /// The acknowledged value.
        acknowledged: String,
    },
    /// A field or parameter on the page that the spec lacks.
    MissingFromSpec {
        /// Where it lives.
        location: Location,
        /// Dotted path, e.g. `data.task_id`.
        field: String,
        /// The page's type.
        page_type: String,
    },
    /// A field or parameter in the spec that the page lacks.
    ExtraInSpec {
        /// Where it lives.
        location: Location,
        /// Dotted path.
        field: String,
        /// The spec's type.
        spec_type: String,
    },
    /// Page and spec type a field differently.
    Type {
        /// Where it lives.
        location: Location,
        /// Dotted path.
        field: String,
        /// The page's type.
        page: String,
        /// The spec's type.
        spec: String,
    },
    /// Page and spec disagree on whether a field is required.
    Required {
        /// Where it lives.
        location: Location,
        /// Dotted path.
        field: String,
        /// The page's 必填.
        page: bool,
        /// Whether the spec requires it.
        spec: bool,
    },
    /// Page and spec list different enum values.
    EnumValues {
        /// Where it lives.
        location: Location,
        /// Dotted path.
        field: String,
        /// Values only the page lists.
        page_only: Vec<String>,
        /// Values only the spec lists.
        spec_only: Vec<String>,
    },
    /// The `Authorization` row names other token types than the spec's `security`.
    TokenTypes {
        /// Token types on the page.
        page: Vec<String>,
        /// Token types in the spec.
        spec: Vec<String>,
    },
    /// An error code on the page that `x-feishu-error-codes` lacks.
    ErrorCodeNotInSpec {
        /// HTTP status.
        http_status: u16,
        /// Feishu code.
        code: i64,
        /// The page's message.
        msg: String,
    },
    /// An error code in `x-feishu-error-codes` that the page lacks.
    ErrorCodeNotOnPage {
        /// HTTP status.
        http_status: u16,
        /// Feishu code.
        code: i64,
        /// The spec's message.
        msg: String,
    },
    /// The same error code with another message.
    ErrorMessage {
        /// HTTP status.
        http_status: u16,
        /// Feishu code.
        code: i64,
        /// The page's message.
        page: String,
        /// The spec's message.
        spec: String,
    },
    /// The rate limit differs (`None`: not stated).
    RateLimit {
        /// The page's limit.
        page: Option<String>,
        /// The spec's `x-feishu-rate-limit`.
        spec: Option<String>,
    },
    /// An event on the overview that `x-feishu-events` lacks.
    EventNotInSpec {
        /// The event type.
        event_type: String,
    },
    /// An event in `x-feishu-events` that the overview lacks.
    EventNotOnOverview {
        /// The event type.
        event_type: String,
    },
    /// The overview links an event to another page than `x-feishu-events` records.
    EventDocUrl {
        /// The event type.
        event_type: String,
        /// The overview's link.
        page: String,
        /// The spec's `doc_url`.
        spec: Option<String>,
    },
}

fn or_none(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("(none)")
}

fn list(values: &[String]) -> String {
    if values.is_empty() { "(none)".to_owned() } else { values.join(", ") }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::PageVersion { page, spec } => write!(
                f,
                "page version {page}, but the spec was transcribed from {} (x-feishu-doc.last_remote_update)",
                or_none(spec)
            ),
            Drift::DocUrl { page, spec } => {
                write!(f, "page address {page}, but the spec links {} (externalDocs.url)", or_none(spec))
            }
            Drift::OperationNotInSpec { method, path } => {
                write!(f, "operation {method} {path} is on the page but not in the spec")
            }
            Drift::OperationNotOnOverview { id, method, path } => {
                write!(f, "operation {id} ({method} {path}) is in the spec but not on the overview")
            }
            Drift::Method { id, page, spec } => write!(f, "{id}: method differs: page {page}, spec {spec}"),
            Drift::Path { id, page, spec } => write!(f, "{id}: path differs: page {page}, spec {spec}"),
            Drift::StaleAcknowledgement { id, key, acknowledged } => write!(
                f,
                "{id}: x-feishu-overview acknowledges {key} {acknowledged}, but the overview now agrees with the \
                 spec; remove the acknowledgement"
            ),
            Drift::MissingFromSpec { location, field, page_type } => {
                write!(f, "{location} `{field}` ({page_type}) is on the page but missing from the spec")
            }
            Drift::ExtraInSpec { location, field, spec_type } => {
                write!(f, "{location} `{field}` ({spec_type}) is in the spec but not on the page")
            }
            Drift::Type { location, field, page, spec } => {
                write!(f, "{location} `{field}`: type differs: page {page}, spec {spec}")
            }
            Drift::Required { location, field, page, spec } => {
                let word = |r: &bool| if *r { "required" } else { "optional" };
                write!(f, "{location} `{field}`: page says {}, spec says {}", word(page), word(spec))
            }
            Drift::EnumValues { location, field, page_only, spec_only } => write!(
                f,
                "{location} `{field}`: enum values differ: only on the page: {}; only in the spec: {}",
                list(page_only),
                list(spec_only)
            ),
            Drift::TokenTypes { page, spec } => {
                write!(f, "access tokens differ: page {}, spec {} (security)", list(page), list(spec))
            }
            Drift::ErrorCodeNotInSpec { http_status, code, msg } => {
                write!(
                    f,
                    "error code {code} (HTTP {http_status}, {msg}) is on the page but not in x-feishu-error-codes"
                )
            }
            Drift::ErrorCodeNotOnPage { http_status, code, msg } => {
                write!(
                    f,
                    "error code {code} (HTTP {http_status}, {msg}) is in x-feishu-error-codes but not on the page"
                )
            }
            Drift::ErrorMessage { http_status, code, page, spec } => {
                write!(f, "error code {code} (HTTP {http_status}): message differs: page `{page}`, spec `{spec}`")
            }
            Drift::RateLimit { page, spec } => {
                write!(f, "rate limit differs: page {}, spec {} (x-feishu-rate-limit)", or_none(page), or_none(spec))
            }
            Drift::EventNotInSpec { event_type } => {
                write!(f, "event {event_type} is on the overview but not in x-feishu-events")
            }
            Drift::EventNotOnOverview { event_type } => {
                write!(f, "event {event_type} is in x-feishu-events but not on the overview")
            }
            Drift::EventDocUrl { event_type, page, spec } => {
                write!(f, "event {event_type}: page link {page}, spec doc_url {}", or_none(spec))
            }
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Operation { id, method, path } => write!(f, "{id} ({method} {path})"),
            Subject::UnknownOperation { method, path } => write!(f, "{method} {path}, not in the spec"),
            Subject::Overview { operations, events } => {
                write!(f, "overview: {operations} operation(s), {events} event(s)")
            }
        }
    }
}

impl fmt::Display for PageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match self.findings.len() {
            0 => writeln!(f, "{file}: {}: no drift", self.subject)?,
            n => writeln!(f, "{file}: {}: {n} difference(s)", self.subject)?,
        }
        for finding in &self.findings {
            match finding.line {
                Some(line) => writeln!(f, "  {file}:{line}: {}", finding.drift)?,
                None => writeln!(f, "  {file}: {}", finding.drift)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for page in &self.pages {
            write!(f, "{page}")?;
        }
        if self.has_drift() {
            let drifted = self.pages.iter().filter(|p| !p.findings.is_empty()).count();
            writeln!(f, "\ndocs drift: {} difference(s) in {drifted} of {} page(s).", self.count(), self.pages.len())?;
            writeln!(
                f,
                "Update spec/src to follow the page (or acknowledge a known difference), set \
                 x-feishu-doc.last_remote_update to the page version, then run `cargo xtask codegen`\n\
                 (README: \"When a doc page changes\")."
            )
        } else {
            writeln!(f, "no docs drift in {} page(s)", self.pages.len())
        }
    }
}
