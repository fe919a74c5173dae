//! Writing results: `--format json` (the response's `data`, pretty unless `--compact`),
//! `jsonl`, `table` and `csv`. The last three show the list a response holds (the paginated
//! items, or its only array field) one row per item, or the response itself as one row.
//!
//! Lists are written a page at a time through [`ListWriter`], which keeps nothing but the
//! column layout between pages: `--all` runs in constant memory whatever the format. Table and
//! CSV columns come from the first page (later keys are reported on standard error and left
//! out); table column widths too, then shrunk to fit the terminal width.

use std::collections::BTreeSet;
use std::io::{self, Write};

use clap::ValueEnum;
use clap::builder::PossibleValue;
use serde_json::Value;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// JSON (pretty unless --compact); with --all, one array written as the pages arrive.
    #[default]
    Json,
    /// One compact JSON value per line: each item of a list, else the response.
    Jsonl,
    /// Aligned columns, one row per item; nested values as compact JSON.
    Table,
    /// Comma-separated values with a header row; nested values as compact JSON.
    Csv,
}

/// `--time`: how `table` shows unix-second timestamp strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// As dates in UTC.
    Utc,
    /// As dates in the local time zone.
    Local,
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Json, Format::Jsonl, Format::Table, Format::Csv]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Format::Json => PossibleValue::new("json").help("JSON, pretty unless --compact"),
            Format::Jsonl => PossibleValue::new("jsonl").help("One JSON line per item"),
            Format::Table => PossibleValue::new("table").help("Aligned columns, one row per item"),
            Format::Csv => PossibleValue::new("csv").help("Comma-separated values with a header row"),
        })
    }
}

impl ValueEnum for TimeZone {
    fn value_variants<'a>() -> &'a [Self] {
        &[TimeZone::Local, TimeZone::Utc]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            TimeZone::Utc => "utc",
            TimeZone::Local => "local",
        }))
    }
}

/// How results are written.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// `--format`.
    pub format: Format,
    /// `--compact` (JSON on one line).
    pub compact: bool,
    /// `--time` (table only).
    pub time: Option<TimeZone>,
    /// The width a table must fit in.
    pub width: usize,
}

/// The width of a table: the terminal's when standard output is one, else `COLUMNS`, else 120.
pub fn table_width() -> usize {
    if let Some((terminal_size::Width(width), _)) = terminal_size::terminal_size_of(io::stdout()) {
        return usize::from(width);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|w| *w > 0).unwrap_or(120)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Writes one response's `data`. `items_field` is the operation's paginated items field.
pub fn write_value(out: &mut dyn Write, style: &Style, items_field: Option<&str>, value: Value) -> io::Result<()> {
    match style.format {
        Format::Json => {
            let text = if style.compact { value.to_string() } else { pretty(&value) };
            writeln!(out, "{text}")?;
            out.flush()
        }
        Format::Jsonl if list_of(&value, items_field).is_none() => {
            writeln!(out, "{value}")?;
            out.flush()
        }
        Format::Jsonl | Format::Table | Format::Csv => {
            let rows = rows(value, items_field);
            let mut writer = ListWriter::new(out, style);
            writer.page(rows)?;
            writer.finish()
        }
    }
}

/// The name of the field holding the list a response shows as rows: the paginated items
/// field, else its only array field.
fn list_of<'a>(value: &'a Value, items_field: Option<&'a str>) -> Option<&'a str> {
    let object = value.as_object()?;
    if let Some(field) = items_field.filter(|f| object.get(*f).is_some_and(Value::is_array)) {
        return Some(field);
    }
    let mut arrays = object.iter().filter(|(_, v)| v.is_array());
    match (arrays.next(), arrays.next()) {
        (Some((name, _)), None) => Some(name),
        _ => None,
    }
}

/// The rows of a response: the items of its list; else the response as one row, unwrapped
/// when it only wraps one object (`{"reserve": {...}}`).
fn rows(mut value: Value, items_field: Option<&str>) -> Vec<Value> {
    if let Value::Array(items) = value {
        return items;
    }
    if let Some(field) = list_of(&value, items_field).map(str::to_owned) {
        return match value.get_mut(&field).map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
    }
    if let Value::Object(object) = &mut value
        && object.len() == 1
        && object.values().all(Value::is_object)
    {
        let inner = object.values_mut().next().map(Value::take);
        return inner.into_iter().collect();
    }
    vec![value]
}

/// A table or CSV cell: strings as they are (IDs and timestamps stay exact), nothing for
/// null, anything else as compact JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Whether a column holds timestamps: its name says so.
fn time_column(name: &str) -> bool {
    name.contains("time") || name.ends_with("_at")
}

/// A unix-second timestamp string as a date, in `zone`; other text unchanged.
fn as_date(text: String, zone: TimeZone) -> String {
    if text.is_empty() || text.len() > 11 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return text;
    }
    let Ok(seconds) = text.parse::<i64>() else { return text };
    let Some(utc) = chrono::DateTime::from_timestamp(seconds, 0) else { return text };
    match zone {
        TimeZone::Utc => utc.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        TimeZone::Local => utc.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
    }
}

/// Columns a character takes in a terminal: two for East Asian wide characters (CJK, Hangul,
/// full-width forms), one otherwise (an approximation that keeps Chinese room names aligned).
fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

fn width_of(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// `text` cut to `width` terminal columns, with `…` marking the cut.
fn fit(text: &str, width: usize) -> String {
    if width_of(text) <= width {
        return text.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + char_width(c) + 1 > width {
            break;
        }
        used += char_width(c);
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// Narrowest a column is shrunk to.
const MIN_COLUMN: usize = 6;
/// Between two table columns.
const GAP: &str = "  ";

/// Whether a column is kept whole as long as others can give way: IDs, numbers and times.
fn keep_whole(name: &str) -> bool {
    name == "id" || name.ends_with("_id") || name.ends_with("_no") || time_column(name)
}

/// Shrinks the widest columns until the row fits `total` (or every column is at its minimum):
/// first the columns that may be cut, then, if that is not enough, the [`keep_whole`] ones.
fn shrink(columns: &mut [(String, usize)], total: usize) {
    let gaps = GAP.len() * columns.len().saturating_sub(1);
    for whole in [false, true] {
        while columns.iter().map(|(_, w)| w).sum::<usize>() + gaps > total {
            let widest = columns
                .iter_mut()
                .filter(|(name, w)| *w > MIN_COLUMN && (whole || !keep_whole(name)))
                .max_by_key(|(_, w)| *w);
            let Some((_, width)) = widest else { break };
            *width -= 1;
        }
    }
}

/// Writes a list a page at a time in the chosen format, flushing after each page.
pub struct ListWriter<'w> {
    out: &'w mut dyn Write,
    style: Style,
    written: usize,
    /// Table and CSV: the columns (and table widths), fixed by the first non-empty page.
    columns: Option<Vec<(String, usize)>>,
    /// Keys already reported as left out.
    left_out: BTreeSet<String>,
}

impl<'w> ListWriter<'w> {
    /// A writer of one list to `out`.
    pub fn new(out: &'w mut dyn Write, style: &Style) -> Self {
        ListWriter { out, style: style.clone(), written: 0, columns: None, left_out: BTreeSet::new() }
    }

    /// How many items were written.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes the items of one page.
    pub fn page(&mut self, items: Vec<Value>) -> io::Result<()> {
        match self.style.format {
            Format::Json => self.json_items(&items)?,
            Format::Jsonl => {
                for item in &items {
                    writeln!(self.out, "{item}")?;
                }
            }
            Format::Table | Format::Csv => {
                if items.is_empty() {
                    return Ok(());
                }
                if self.columns.is_none() {
                    let columns = self.layout(&items);
                    self.columns = Some(columns);
                    self.header()?;
                }
                self.report_left_out(&items);
                for item in &items {
                    self.row(item)?;
                }
            }
        }
        self.written += items.len();
        self.out.flush()
    }

    /// Ends the list (closes a JSON array).
    pub fn finish(self) -> io::Result<()> {
        if self.style.format == Format::Json {
            match (self.written, self.style.compact) {
                (0, _) => writeln!(self.out, "[]")?,
                (_, true) => writeln!(self.out, "]")?,
                (_, false) => writeln!(self.out, "\n]")?,
            }
        }
        self.out.flush()
    }

    /// Items of a JSON array, written the way `serde_json` prints the whole array.
    fn json_items(&mut self, items: &[Value]) -> io::Result<()> {
        for (index, item) in items.iter().enumerate() {
            let first = self.written + index == 0;
            if self.style.compact {
                write!(self.out, "{}{item}", if first { "[" } else { "," })?;
            } else {
                write!(self.out, "{}  ", if first { "[\n" } else { ",\n" })?;
                write!(self.out, "{}", pretty(item).replace('\n', "\n  "))?;
            }
        }
        Ok(())
    }

    fn fields(item: &Value) -> Vec<(&str, Option<&Value>)> {
        match item {
            Value::Object(object) => object.iter().map(|(k, v)| (k.as_str(), Some(v))).collect(),
            other => vec![("value", Some(other))],
        }
    }

    fn value<'v>(item: &'v Value, column: &str) -> Option<&'v Value> {
        match item {
            Value::Object(object) => object.get(column),
            other if column == "value" => Some(other),
            _ => None,
        }
    }

    /// The columns of the first page, in order of appearance, and their table widths.
    fn layout(&mut self, items: &[Value]) -> Vec<(String, usize)> {
        let mut columns: Vec<(String, usize)> = Vec::new();
        for item in items {
            for (name, _) in Self::fields(item) {
                if !columns.iter().any(|(n, _)| n == name) {
                    columns.push((name.to_owned(), width_of(name)));
                }
            }
        }
        if self.style.format == Format::Table {
            for (name, width) in &mut columns {
                for item in items {
                    *width = (*width).max(width_of(&self.table_cell(name, Self::value(item, name))));
                }
            }
            shrink(&mut columns, self.style.width);
            let fits = |columns: &[(String, usize)]| {
                columns.iter().map(|(_, w)| w + GAP.len()).sum::<usize>() <= self.style.width + GAP.len()
            };
            let mut hidden = Vec::new();
            while columns.len() > 1 && !fits(&columns) {
                hidden.extend(columns.pop().map(|(name, _)| name));
            }
            if !hidden.is_empty() {
                hidden.reverse();
                // Not reported again as fields that appear late.
                self.left_out.extend(hidden.iter().cloned());
                eprintln!(
                    "vc: {} column(s) do not fit in {} characters and are left out: {} (set COLUMNS, or use --format csv or jsonl)",
                    hidden.len(),
                    self.style.width,
                    hidden.join(", ")
                );
            }
        }
        columns
    }

    fn table_cell(&self, column: &str, value: Option<&Value>) -> String {
        let text = cell(value);
        match self.style.time {
            Some(zone) if value.is_some_and(Value::is_string) && time_column(column) => as_date(text, zone),
            _ => text,
        }
    }

    fn report_left_out(&mut self, items: &[Value]) {
        let Some(columns) = &self.columns else { return };
        for item in items {
            for (name, _) in Self::fields(item) {
                if !columns.iter().any(|(n, _)| n == name) && self.left_out.insert(name.to_owned()) {
                    eprintln!(
                        "vc: field {name} first appears after the first page and is left out (use --format jsonl)"
                    );
                }
            }
        }
    }

    fn header(&mut self) -> io::Result<()> {
        let names: Vec<String> = self.columns.iter().flatten().map(|(name, _)| name.clone()).collect();
        self.line(names)
    }

    fn row(&mut self, item: &Value) -> io::Result<()> {
        let columns = self.columns.as_deref().unwrap_or_default();
        let cells: Vec<String> = match self.style.format {
            Format::Table => columns.iter().map(|(name, _)| self.table_cell(name, Self::value(item, name))).collect(),
            _ => columns.iter().map(|(name, _)| cell(Self::value(item, name))).collect(),
        };
        self.line(cells)
    }

    /// One table line (aligned, cut to the column widths) or CSV record.
    fn line(&mut self, cells: Vec<String>) -> io::Result<()> {
        let columns = self.columns.as_deref().unwrap_or_default();
        if self.style.format == Format::Csv {
            let mut record = csv::Writer::from_writer(Vec::new());
            record.write_record(&cells).map_err(io::Error::other)?;
            let bytes = record.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
            return self.out.write_all(&bytes);
        }
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (index, (text, (_, width))) in cells.iter().zip(columns).enumerate() {
            let text = fit(text, *width);
            line.push_str(&text);
            if index < last {
                line.extend(std::iter::repeat_n(' ', width - width_of(&text)));
                line.push_str(GAP);
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

/// Progress of `--all` on standard error, when it is a terminal.
#[derive(Debug)]
pub struct Progress {
    show: bool,
    pages: usize,
}

impl Progress {
    /// Shows progress only when standard error is a terminal.
    pub fn new() -> Self {
        Progress { show: io::IsTerminal::is_terminal(&io::stderr()), pages: 0 }
    }

    /// A page was written; `items` were written so far.
    pub fn page(&mut self, items: usize) {
        self.pages += 1;
        if self.show {
            eprint!("\r{} page(s), {items} item(s)", self.pages);
        }
    }

    /// Ends the progress line.
    pub fn finish(&self) {
        if self.show && self.pages > 0 {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn written(style: &Style, pages: Vec<Vec<Value>>) -> String {
        let mut out = Vec::new();
        let mut writer = ListWriter::new(&mut out, style);
        for page in pages {
            writer.page(page).unwrap();
        }
        writer.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    fn style(format: Format) -> Style {
        Style { format, compact: false, time: None, width: 120 }
    }

    #[test]
    fn json_written_page_by_page_equals_the_whole_array() {
        let pages = vec![vec![json!({"a": 1, "b": {"c": [1, 2]}}), json!({"a": 2})], vec![], vec![json!("x")]];
        let all: Vec<Value> = pages.iter().flatten().cloned().collect();
        assert_eq!(written(&style(Format::Json), pages.clone()), format!("{}\n", pretty(&Value::Array(all.clone()))));
        let compact = Style { compact: true, ..style(Format::Json) };
        assert_eq!(written(&compact, pages), format!("{}\n", Value::Array(all)));
        assert_eq!(written(&style(Format::Json), vec![]), "[]\n");
    }

    #[test]
    fn jsonl_is_one_line_per_item() {
        let text = written(&style(Format::Jsonl), vec![vec![json!({"a": 1})], vec![json!({"a": 2})]]);
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn tables_align_columns_keep_ids_exact_and_show_nested_values_as_json() {
        let items = vec![
            json!({"id": "6911188411934973028", "name": "Atlas", "tags": ["a", "b"]}),
            json!({"id": "7", "name": null, "capacity": 12}),
        ];
        let text = written(&style(Format::Table), vec![items]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id                   name   tags       capacity");
        assert_eq!(lines[1], "6911188411934973028  Atlas  [\"a\",\"b\"]");
        assert_eq!(lines[2], format!("7{}12", " ".repeat(38)));
    }

    #[test]
    fn wide_tables_are_cut_to_the_width() {
        let long = "x".repeat(300);
        let narrow = Style { width: 40, ..style(Format::Table) };
        let text = written(&narrow, vec![vec![json!({"id": "1", "description": long})]]);
        for line in text.lines() {
            assert!(width_of(line) <= 40, "{line:?}");
        }
        assert!(text.lines().nth(1).unwrap().starts_with("xxxxx") && text.contains('…'), "{text}");
        // Wide characters count twice.
        let text = written(&narrow, vec![vec![json!({"id": "1", "name": "测试会议室".repeat(10)})]]);
        for line in text.lines() {
            assert!(width_of(line) <= 40, "{line:?}");
        }
        assert_eq!(fit("测试会议室", 6), "测试…");
        // IDs stay whole while other columns can give way.
        let fifty = Style { width: 50, ..style(Format::Table) };
        let text =
            written(&fifty, vec![vec![json!({"room_id": "omm_4de32cf10a4358788ff4e09e37ebbf9b", "name": long})]]);
        assert!(text.contains("omm_4de32cf10a4358788ff4e09e37ebbf9b"), "{text}");
    }

    #[test]
    fn times_become_dates_in_tables_only_when_asked() {
        let item = json!({"start_time": "1655276858", "meeting_no": "123456789"});
        let utc = Style { time: Some(TimeZone::Utc), ..style(Format::Table) };
        let text = written(&utc, vec![vec![item.clone()]]);
        assert!(text.contains("2022-06-15 07:07:38 UTC"), "{text}");
        assert!(text.contains("123456789"), "numbers outside time columns stay: {text}");
        assert!(written(&style(Format::Table), vec![vec![item.clone()]]).contains("1655276858"));
        let csv = Style { time: Some(TimeZone::Utc), ..style(Format::Csv) };
        assert!(written(&csv, vec![vec![item]]).contains("1655276858"), "csv keeps the exact string");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let items = vec![json!({"name": "a, \"b\"", "note": "two\nlines", "n": 1})];
        let text = written(&style(Format::Csv), vec![items]);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(headers, ["n", "name", "note"]);
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), ["1", "a, \"b\"", "two\nlines"]);
    }

    #[test]
    fn a_response_becomes_rows_of_its_list_or_one_row() {
        let page = json!({"has_more": false, "page_token": "", "rooms": [{"room_id": "r1"}, {"room_id": "r2"}]});
        assert_eq!(rows(page.clone(), Some("rooms")).len(), 2);
        assert_eq!(rows(json!({"level_ids": ["a"], "x": 1}), None), vec![json!("a")]);
        assert_eq!(rows(json!({"reserve": {"id": "1"}}), None), vec![json!({"id": "1"})]);
        assert_eq!(rows(json!({"a": 1, "b": 2}), None), vec![json!({"a": 1, "b": 2})]);
        let mut out = Vec::new();
        write_value(&mut out, &style(Format::Jsonl), Some("rooms"), page).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"room_id\":\"r1\"}\n{\"room_id\":\"r2\"}\n");
    }
}
