//! Parses a Feishu doc page snapshot (`spec/docs/*.txt`) into a typed [`DocPage`] whose facts
//! keep the line they were read from.
//!
//! Two kinds of page are understood: an operation page (front matter, a `名称 | 值` table with
//! `HTTP URL`, `HTTP Method` and `接口频率限制`, then markdown tables for request headers, path and
//! query parameters, request and response body, and error codes) and the overview page (method
//! lists with `` `METHOD` /open-apis/... `` lines and event tables with an `事件类型` column).

use std::path::{Path, PathBuf};

use super::DocsDriftError;

/// A parsed doc page snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct DocPage {
    /// The file the page was read from (as given by the caller).
    pub file: PathBuf,
    /// Front matter `title`.
    pub title: String,
    /// Front matter `source_url`: the page's address.
    pub source_url: Located<String>,
    /// The page version: front matter `last_remote_update`, else the `最后更新于` line.
    pub last_remote_update: Option<Located<String>>,
    /// What the page describes.
    pub body: PageBody,
}

/// A value and the 1-based line of the page it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line number in the page file.
    pub line: usize,
}

/// The two kinds of page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageBody {
    /// A page documenting one operation.
    Operation(Box<OperationPage>),
    /// The overview page listing every operation and event.
    Overview(OverviewPage),
}

/// The facts of one operation page.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationPage {
    /// Upper-case HTTP method (`HTTP Method` row).
    pub method: Located<String>,
    /// Path template from the `HTTP URL` row, with `:name` rewritten to `{name}`.
    pub path: Located<String>,
    /// The `接口频率限制` row, if the page has one.
    pub rate_limit: Option<Located<RateLimit>>,
    /// Access token types named by the `Authorization` header row, sorted.
    pub token_types: Option<Located<Vec<String>>>,
    /// Request headers other than `Authorization` and `Content-Type`.
    pub headers: Vec<DocField>,
    /// Path parameters.
    pub path_params: Vec<DocField>,
    /// Query parameters.
    pub query_params: Vec<DocField>,
    /// Request body fields, nested.
    pub request_body: Vec<DocField>,
    /// Response body fields (`code`, `msg`, `data` and the children of `data`), nested.
    pub response_body: Vec<DocField>,
    /// The error code table.
    pub error_codes: Vec<DocErrorCode>,
}

/// One row of a parameter or field table, with its nested children.
#[derive(Debug, Clone, PartialEq)]
pub struct DocField {
    /// Field name without nesting markers.
    pub name: String,
    /// The type as the page writes it (`string`, `int`, `user[]`, `\-` shown as `-`).
    pub type_name: String,
    /// The 必填 column (`None` in response tables, which have no such column).
    pub required: Option<bool>,
    /// Values listed under `**可选值有**`, in page order.
    pub enum_values: Vec<String>,
    /// 1-based line of the row.
    pub line: usize,
    /// Nested fields (object properties or array item properties).
    pub children: Vec<DocField>,
}

/// One row of the error code table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocErrorCode {
    /// HTTP status.
    pub http_status: u16,
    /// Feishu error code.
    pub code: i64,
    /// The API's message (描述 column).
    pub msg: String,
    /// 1-based line of the row.
    pub line: usize,
}

/// A rate limit as a page or the spec states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimit {
    /// One or more `requests per window` limits, sorted.
    Limits(Vec<(u64, Window)>),
    /// A special tier without a number (`特殊频控`).
    Special,
}

/// The window of a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Window {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per day.
    Day,
}

impl Window {
    /// The spelling used by `x-feishu-rate-limit` (`second`, `minute`, `hour`, `day`).
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
        }
    }

    /// Parses the `x-feishu-rate-limit` spelling.
    pub fn from_spec(text: &str) -> Option<Window> {
        match text {
            "second" => Some(Window::Second),
            "minute" => Some(Window::Minute),
            "hour" => Some(Window::Hour),
            "day" => Some(Window::Day),
            _ => None,
        }
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateLimit::Special => f.write_str("special tier"),
            RateLimit::Limits(limits) => {
                let parts: Vec<String> =
                    limits.iter().map(|(requests, window)| format!("{requests}/{}", window.as_str())).collect();
                f.write_str(&parts.join(" + "))
            }
        }
    }
}

/// The facts of the overview page.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewPage {
    /// Every `` `METHOD` /open-apis/... `` line, in page order.
    pub operations: Vec<OverviewOperation>,
    /// Every row of the event tables, in page order.
    pub events: Vec<OverviewEvent>,
}

/// One operation listed on the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewOperation {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template with `{name}` parameters.
    pub path: String,
    /// The link to the operation's page given on the line above, if any.
    pub doc_url: Option<String>,
    /// 1-based line of the method line.
    pub line: usize,
}

/// One event listed on the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverviewEvent {
    /// Event type, e.g. `vc.meeting.meeting_started_v1`.
    pub event_type: String,
    /// The link to the event's page, if the row has one.
    pub doc_url: Option<String>,
    /// 1-based line of the row.
    pub line: usize,
}

/// HTTP methods a page may name.
const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Reads and parses the page at `path`; errors name `path`.
pub fn parse_file(path: &Path) -> Result<DocPage, DocsDriftError> {
    let text = std::fs::read_to_string(path).map_err(|source| DocsDriftError::Io { path: path.to_owned(), source })?;
    parse_page(path, &text)
}

/// Parses the text of a page; `file` is only used to name the page in the result and in errors.
pub fn parse_page(file: &Path, text: &str) -> Result<DocPage, DocsDriftError> {
    let parser = Parser { file };
    let lines: Vec<(usize, &str)> = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r'))).collect();
    let (front, body) = parser.front_matter(&lines)?;
    let body_lines = strip_code_blocks(body);
    let last_remote_update = match front.last_remote_update {
        Some(version) => Some(version),
        None => parser.last_updated_line(&body_lines)?,
    };
    let body = if body_lines.iter().any(|(_, l)| is_info_row(l, "HTTP URL")) {
        PageBody::Operation(Box::new(parser.operation_page(&body_lines)?))
    } else {
        let overview = parser.overview_page(&body_lines)?;
        if overview.operations.is_empty() && overview.events.is_empty() {
            let line = body.first().map(|(n, _)| *n).unwrap_or(front.end_line);
            return Err(parser.error(
                line,
                "neither an operation page (no `HTTP URL | ...` row) nor an overview page (no \
                 `` `METHOD` /open-apis/... `` lines and no event table)",
            ));
        }
        PageBody::Overview(overview)
    };
    Ok(DocPage { file: file.to_owned(), title: front.title, source_url: front.source_url, last_remote_update, body })
}

/// Numbered lines of a page: `(1-based line, text)`.
type Lines<'l> = &'l [(usize, &'l str)];

struct FrontMatter {
    title: String,
    source_url: Located<String>,
    last_remote_update: Option<Located<String>>,
    end_line: usize,
}

struct Parser<'a> {
    file: &'a Path,
}

impl Parser<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> DocsDriftError {
        DocsDriftError::Parse { file: self.file.to_owned(), line, message: message.into() }
    }

    /// Splits off the `---` front matter; returns it and the remaining lines.
    fn front_matter<'l>(&self, lines: Lines<'l>) -> Result<(FrontMatter, Lines<'l>), DocsDriftError> {
        match lines.first() {
            Some((_, first)) if first.trim() == "---" => {}
            _ => return Err(self.error(1, "expected front matter: the first line must be `---`")),
        }
        let mut title = None;
        let mut source_url = None;
        let mut last_remote_update = None;
        for (index, (line, text)) in lines.iter().enumerate().skip(1) {
            let text = text.trim();
            if text == "---" {
                let missing = |key: &str| self.error(*line, format!("the front matter has no `{key}`"));
                let front = FrontMatter {
                    title: title.ok_or_else(|| missing("title"))?,
                    source_url: source_url.ok_or_else(|| missing("source_url"))?,
                    last_remote_update,
                    end_line: *line,
                };
                return Ok((front, &lines[index + 1..]));
            }
            if text.is_empty() {
                continue;
            }
            let Some((key, value)) = text.split_once(':') else {
                return Err(self.error(*line, format!("front matter line is not `key: value`: `{text}`")));
            };
            let value = unquote(value.trim());
            match key.trim() {
                "title" => title = Some(value),
                "source_url" => source_url = Some(Located { value, line: *line }),
                "last_remote_update" => {
                    if !is_date(&value) {
                        return Err(self.error(*line, format!("last_remote_update `{value}` is not YYYY-MM-DD")));
                    }
                    last_remote_update = Some(Located { value, line: *line });
                }
                _ => {}
            }
        }
        let last = lines.last().map(|(n, _)| *n).unwrap_or(1);
        Err(self.error(last, "the front matter is not closed by a `---` line"))
    }

    /// The `最后更新于 YYYY-MM-DD` line, for pages whose front matter has no version.
    fn last_updated_line(&self, lines: &[(usize, &str)]) -> Result<Option<Located<String>>, DocsDriftError> {
        for (line, text) in lines {
            if let Some(rest) = text.trim().strip_prefix("最后更新于") {
                let value = rest.trim().to_owned();
                if !is_date(&value) {
                    return Err(self.error(*line, format!("`最后更新于` is followed by `{value}`, not YYYY-MM-DD")));
                }
                return Ok(Some(Located { value, line: *line }));
            }
        }
        Ok(None)
    }

    fn operation_page(&self, lines: &[(usize, &str)]) -> Result<OperationPage, DocsDriftError> {
        let mut url = None;
        let mut method = None;
        let mut rate_limit = None;
        for (line, text) in lines {
            if let Some(value) = info_value(text, "HTTP URL") {
                let Some(start) = value.find("/open-apis/") else {
                    return Err(self.error(*line, format!("HTTP URL `{value}` has no `/open-apis/...` path")));
                };
                let path = value[start..].split(['?', ' ']).next().unwrap_or_default();
                url = Some(Located { value: colon_params_to_braces(path), line: *line });
            } else if let Some(value) = info_value(text, "HTTP Method") {
                let upper = value.trim_matches('`').to_ascii_uppercase();
                if !HTTP_METHODS.contains(&upper.as_str()) {
                    return Err(self.error(*line, format!("unknown HTTP Method `{value}`")));
                }
                method = Some(Located { value: upper, line: *line });
            } else if let Some(value) = info_value(text, "接口频率限制") {
                let limit = parse_rate_limit(value).ok_or_else(|| {
                    self.error(
                        *line,
                        format!("cannot read the rate limit `{value}` (expected e.g. `100 次/分钟` or `特殊频控`)"),
                    )
                })?;
                rate_limit = Some(Located { value: limit, line: *line });
            }
        }
        let Some(path) = url else {
            return Err(self.error(1, "no `HTTP URL` row"));
        };
        let Some(method) = method else {
            return Err(self.error(path.line, "the page has an `HTTP URL` row but no `HTTP Method` row"));
        };
        let sections = sections(lines);
        let section = |name: &str| sections.iter().find(|s| s.title == name);
        let mut header_rows = match section("请求头") {
            Some(s) => self.field_table(s, Columns::Request)?,
            None => Vec::new(),
        };
        let token_types =
            header_rows.iter().find(|row| row.field.name.eq_ignore_ascii_case("Authorization")).map(|row| {
                let mut tokens = access_tokens(&row.description);
                tokens.sort();
                tokens.dedup();
                Located { value: tokens, line: row.field.line }
            });
        header_rows.retain(|row| {
            !row.field.name.eq_ignore_ascii_case("Authorization")
                && !row.field.name.eq_ignore_ascii_case("Content-Type")
        });
        let table = |name: &str, columns: Columns| -> Result<Vec<DocField>, DocsDriftError> {
            match section(name) {
                Some(s) => self.tree(self.field_table(s, columns)?, columns),
                None => Ok(Vec::new()),
            }
        };
        Ok(OperationPage {
            method,
            path,
            rate_limit,
            token_types,
            headers: self.tree(header_rows, Columns::Request)?,
            path_params: table("路径参数", Columns::Request)?,
            query_params: table("查询参数", Columns::Request)?,
            request_body: table("请求体", Columns::Request)?,
            response_body: table("响应体", Columns::Response)?,
            error_codes: match section("错误码") {
                Some(s) => self.error_table(s)?,
                None => Vec::new(),
            },
        })
    }

    /// Reads the rows of the field table of a section (not yet nested).
    fn field_table(&self, section: &Section<'_>, columns: Columns) -> Result<Vec<Row>, DocsDriftError> {
        let mut lines = section.lines.iter().skip_while(|(_, l)| !l.contains('|'));
        let Some((header_line, header)) = lines.next() else {
            return Ok(Vec::new());
        };
        let header_cells = split_cells(header);
        let has_required = header_cells.iter().any(|c| c.contains("必填"));
        let expected = match columns {
            Columns::Request => "名称 | 类型 | 必填 | 描述",
            Columns::Response => "名称 | 类型 | 描述",
        };
        let header_ok = header_cells.first().is_some_and(|c| c.contains("名称"))
            && header_cells.iter().any(|c| c.contains("类型"))
            && has_required == matches!(columns, Columns::Request);
        if !header_ok {
            return Err(self.error(
                *header_line,
                format!(
                    "the table under `{}` should start with `{expected}`, found `{}`",
                    section.title,
                    header.trim()
                ),
            ));
        }
        match lines.next() {
            Some((_, sep)) if is_separator(sep) => {}
            Some((line, other)) => {
                return Err(
                    self.error(*line, format!("expected the table separator `--- | ---`, found `{}`", other.trim()))
                );
            }
            None => return Err(self.error(*header_line, "the table header is not followed by a separator")),
        }
        let ncols = columns.count();
        let mut rows: Vec<Row> = Vec::new();
        for (line, text) in lines {
            if text.trim().is_empty() {
                break;
            }
            let cells = split_cells(text);
            let first = cells.first().map(String::as_str).unwrap_or_default();
            let (depth, marked, name) = nesting(first);
            if cells.len() < 2 || !is_field_name(&name) {
                match rows.last_mut() {
                    Some(row) => {
                        row.description.push((*text).to_owned());
                        continue;
                    }
                    None => {
                        return Err(
                            self.error(*line, format!("expected a table row `{expected}`, found `{}`", text.trim()))
                        );
                    }
                }
            }
            if cells.len() < ncols {
                return Err(self.error(
                    *line,
                    format!("row `{name}` has {} column(s); the table has {ncols} (`{expected}`)", cells.len()),
                ));
            }
            let type_name = unescape(cells[1].trim());
            if type_name.is_empty() {
                return Err(self.error(*line, format!("row `{name}` has an empty type")));
            }
            let required = match columns {
                Columns::Response => None,
                Columns::Request => match cells[2].trim() {
                    "是" => Some(true),
                    "否" => Some(false),
                    other => {
                        return Err(self
                            .error(*line, format!("row `{name}`: the 必填 column must be 是 or 否, found `{other}`")));
                    }
                },
            };
            rows.push(Row {
                depth,
                marked,
                field: DocField {
                    name,
                    type_name,
                    required,
                    enum_values: Vec::new(),
                    line: *line,
                    children: Vec::new(),
                },
                description: vec![cells[ncols - 1..].join("|")],
            });
        }
        for row in &mut rows {
            row.field.enum_values = enum_values(&row.description);
        }
        Ok(rows)
    }

    /// Nests rows by their depth. In a response table without any nesting marker, the rows after
    /// `data` are taken as its children (the layout of the seed page).
    fn tree(&self, mut rows: Vec<Row>, columns: Columns) -> Result<Vec<DocField>, DocsDriftError> {
        if matches!(columns, Columns::Response) && !rows.iter().any(|r| r.marked) {
            let mut after_data = false;
            for row in &mut rows {
                if after_data {
                    row.depth = 1;
                }
                after_data |= row.field.name == "data";
            }
        }
        let mut roots: Vec<DocField> = Vec::new();
        let mut open: Vec<DocField> = Vec::new();
        for row in rows {
            if row.depth > open.len() {
                return Err(self.error(
                    row.field.line,
                    format!(
                        "field `{}` is nested {} level(s) deep, but the row above is not its parent (at most {} level(s))",
                        row.field.name,
                        row.depth,
                        open.len()
                    ),
                ));
            }
            while open.len() > row.depth {
                close_last(&mut open, &mut roots);
            }
            open.push(row.field);
        }
        while !open.is_empty() {
            close_last(&mut open, &mut roots);
        }
        Ok(roots)
    }

    fn error_table(&self, section: &Section<'_>) -> Result<Vec<DocErrorCode>, DocsDriftError> {
        let mut lines = section.lines.iter().skip_while(|(_, l)| !l.contains('|'));
        let Some((header_line, header)) = lines.next() else {
            return Ok(Vec::new());
        };
        if !header.contains("错误码") {
            return Err(self.error(
                *header_line,
                format!(
                    "the error table should start with `HTTP状态码 | 错误码 | 描述 | 排查建议`, found `{}`",
                    header.trim()
                ),
            ));
        }
        let mut codes = Vec::new();
        for (line, text) in lines {
            if text.trim().is_empty() {
                break;
            }
            if is_separator(text) {
                continue;
            }
            let cells = split_cells(text);
            let first = cells.first().map(|c| c.trim()).unwrap_or_default();
            if first.is_empty() || !first.chars().all(|c| c.is_ascii_digit()) {
                continue; // a continuation line of the previous row's hint
            }
            let http_status = first
                .parse::<u16>()
                .map_err(|_| self.error(*line, format!("HTTP status `{first}` is not a number")))?;
            let code_cell = cells.get(1).map(|c| c.trim()).unwrap_or_default();
            let code = code_cell
                .parse::<i64>()
                .map_err(|_| self.error(*line, format!("error code `{code_cell}` is not a number")))?;
            let msg = cells.get(2).map(|c| unescape(c.trim())).unwrap_or_default();
            codes.push(DocErrorCode { http_status, code, msg, line: *line });
        }
        Ok(codes)
    }

    fn overview_page(&self, lines: &[(usize, &str)]) -> Result<OverviewPage, DocsDriftError> {
        let mut operations = Vec::new();
        let mut events = Vec::new();
        let mut previous_link: Option<String> = None;
        let mut event_column: Option<usize> = None;
        let mut in_event_table = false;
        for (line, text) in lines {
            let trimmed = text.trim();
            if let Some((method, path)) = overview_method_line(trimmed) {
                operations.push(OverviewOperation {
                    method,
                    path: colon_params_to_braces(&path),
                    doc_url: previous_link.take(),
                    line: *line,
                });
                continue;
            }
            previous_link = trimmed.starts_with('[').then(|| first_link(trimmed)).flatten();
            if trimmed.is_empty() {
                event_column = None;
                in_event_table = false;
                continue;
            }
            if !in_event_table && trimmed.contains('|') && trimmed.contains("事件类型") {
                event_column = split_cells(trimmed).iter().position(|c| c.contains("事件类型"));
                continue;
            }
            let Some(column) = event_column else { continue };
            if is_separator(trimmed) {
                in_event_table = true;
                continue;
            }
            if !in_event_table {
                continue;
            }
            let cells = split_cells(trimmed);
            let event_type = cells.get(column).map(|c| c.trim().trim_matches('`').to_owned()).unwrap_or_default();
            if !is_event_type(&event_type) {
                return Err(self.error(
                    *line,
                    format!("the 事件类型 column should hold an event type like `vc.meeting.meeting_started_v1`, found `{event_type}`"),
                ));
            }
            events.push(OverviewEvent { event_type, doc_url: cells.first().and_then(|c| first_link(c)), line: *line });
        }
        Ok(OverviewPage { operations, events })
    }
}

/// The table layouts of field tables.
#[derive(Debug, Clone, Copy)]
enum Columns {
    /// `名称 | 类型 | 必填 | 描述`.
    Request,
    /// `名称 | 类型 | 描述`.
    Response,
}

impl Columns {
    fn count(self) -> usize {
        match self {
            Columns::Request => 4,
            Columns::Response => 3,
        }
    }
}

/// A table row before nesting.
struct Row {
    depth: usize,
    /// Whether the row carried a nesting marker (`∟` or indentation).
    marked: bool,
    field: DocField,
    /// The description cell and its continuation lines.
    description: Vec<String>,
}

/// A `#` heading and the lines up to the next heading.
struct Section<'a> {
    title: String,
    lines: Vec<(usize, &'a str)>,
}

fn sections<'a>(lines: &[(usize, &'a str)]) -> Vec<Section<'a>> {
    let mut out: Vec<Section<'a>> = Vec::new();
    for (line, text) in lines {
        if text.starts_with('#') {
            out.push(Section { title: text.trim_start_matches('#').trim().to_owned(), lines: Vec::new() });
        } else if let Some(section) = out.last_mut() {
            section.lines.push((*line, text));
        }
    }
    out
}

fn close_last(open: &mut Vec<DocField>, roots: &mut Vec<DocField>) {
    if let Some(done) = open.pop() {
        match open.last_mut() {
            Some(parent) => parent.children.push(done),
            None => roots.push(done),
        }
    }
}

/// Drops the lines of fenced code blocks (request and response examples).
fn strip_code_blocks<'a>(lines: &[(usize, &'a str)]) -> Vec<(usize, &'a str)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for (line, text) in lines {
        if text.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            out.push((*line, *text));
        }
    }
    out
}

fn is_info_row(text: &str, key: &str) -> bool {
    info_value(text, key).is_some()
}

/// The value of a `key | value` row of the `名称 | 值` table.
fn info_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let (name, value) = text.split_once('|')?;
    (name.trim() == key).then(|| value.trim())
}

/// Splits a table row on unescaped `|`.
fn split_cells(text: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = cells.last_mut() {
                    cell.push('|');
                }
            }
            '|' => cells.push(String::new()),
            _ => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    if text.trim_start().starts_with('|') && cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
        // The space after a leading pipe is formatting, not indentation.
        if let Some(first) = cells.first_mut()
            && first.starts_with(' ')
        {
            first.remove(0);
        }
    }
    if text.trim_end().ends_with('|') && cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells
}

fn is_separator(text: &str) -> bool {
    let t = text.trim();
    t.contains('-') && t.chars().all(|c| matches!(c, '-' | '|' | ':' | ' '))
}

/// `(depth, has a marker, name)` of a name cell: `∟`/`└` marks and leading indentation (two
/// spaces per level) both nest.
fn nesting(cell: &str) -> (usize, bool, String) {
    let mut indent = 0;
    let mut markers = 0;
    let mut seen_marker = false;
    let mut rest = cell;
    for (i, c) in cell.char_indices() {
        match c {
            '∟' | '└' => {
                markers += 1;
                seen_marker = true;
            }
            ' ' | '\u{a0}' if !seen_marker => indent += 1,
            '\t' | '\u{3000}' if !seen_marker => indent += 2,
            ' ' | '\u{a0}' | '\t' | '\u{3000}' => {}
            _ => {
                rest = &cell[i..];
                break;
            }
        }
    }
    let name = rest.trim().trim_matches(|c| c == '`' || c == '*').to_owned();
    let depth = indent / 2 + markers;
    (depth, depth > 0, name)
}

fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn unescape(text: &str) -> String {
    text.replace('\\', "")
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    let stripped = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
    stripped.unwrap_or(t).to_owned()
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
}

/// The values listed after `**可选值有**`: each following `- value：meaning` line.
fn enum_values(description: &[String]) -> Vec<String> {
    let Some(start) = description.iter().position(|l| l.contains("可选值有")) else {
        return Vec::new();
    };
    description[start + 1..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| l.starts_with("- "))
        .filter_map(|l| {
            let item = l.trim_start_matches("- ");
            let value = item.split(['：', ':']).next()?.trim().trim_matches(|c| c == '`' || c == '"' || c == '*');
            (!value.is_empty()).then(|| value.to_owned())
        })
        .collect()
}

/// Every `` `xxx_access_token` `` named in a description.
fn access_tokens(description: &[String]) -> Vec<String> {
    let text = description.join("\n");
    text.split('`').filter(|part| part.ends_with("_access_token") && is_field_name(part)).map(str::to_owned).collect()
}

/// Parses `[100 次/分钟](...)`, `1000 次/分钟、50 次/秒` or `特殊频控`.
fn parse_rate_limit(cell: &str) -> Option<RateLimit> {
    let text = match (cell.find('['), cell.find("](")) {
        (Some(open), Some(close)) if open < close => &cell[open + 1..close],
        _ => cell,
    };
    if text.contains("特殊") {
        return Some(RateLimit::Special);
    }
    let mut limits = Vec::new();
    for part in text.split(['、', ',', '，', ';', '；']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let requests = digits.parse::<u64>().ok()?;
        let unit = part[digits.len()..].trim().strip_prefix("次")?.trim().strip_prefix('/')?.trim();
        let window = match unit {
            "秒" => Window::Second,
            "分钟" | "分" => Window::Minute,
            "小时" | "时" => Window::Hour,
            "天" | "日" => Window::Day,
            _ => return None,
        };
        limits.push((requests, window));
    }
    if limits.is_empty() {
        return None;
    }
    limits.sort();
    Some(RateLimit::Limits(limits))
}

/// `/open-apis/vc/v1/reserves/:reserve_id` -> `/open-apis/vc/v1/reserves/{reserve_id}`.
pub fn colon_params_to_braces(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `` `POST` /open-apis/... `` (the space is optional) -> `(method, path)`.
fn overview_method_line(text: &str) -> Option<(String, String)> {
    HTTP_METHODS.iter().find_map(|method| {
        let start = text.find(&format!("`{method}`"))?;
        let rest = text[start + method.len() + 2..].trim_start();
        if !rest.starts_with("/open-apis/") {
            return None;
        }
        let path = rest.split(|c: char| c.is_whitespace() || c == '`' || c == '|').next()?;
        Some(((*method).to_owned(), path.to_owned()))
    })
}

/// The URL of the first markdown link `[text](url)` in `text`.
fn first_link(text: &str) -> Option<String> {
    let start = text.find("](")? + 2;
    let end = text[start..].find(')')? + start;
    Some(text[start..end].trim().to_owned())
}

fn is_event_type(text: &str) -> bool {
    text.contains('.') && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}
