//! `cargo xtask spec-lint`: Spectral (`spectral:oas`, `tools/spectral.yaml`) and Redocly
//! (`recommended-strict`, `tools/redocly.yaml`) on `spec/openapi.yaml`. Any finding of either
//! tool, whatever its severity, fails.
//!
//! Each finding is printed on one line as `spec/openapi.yaml:LINE:COL: [tool rule] severity:
//! message`, followed by its JSON pointer and the place to fix it: the `spec/src/` file and line
//! that define it (the bundled file is generated).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::install::NodeTools;
use super::process;
use super::spec::BUNDLED_SPEC;

/// One finding of a linter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `spectral` or `redocly`.
    pub tool: &'static str,
    /// The rule that fired.
    pub rule: String,
    /// The tool's severity word (`error`, `warning`, ...).
    pub severity: String,
    /// The tool's message.
    pub message: String,
    /// 1-based line in the bundled spec.
    pub line: usize,
    /// 1-based column in the bundled spec.
    pub column: usize,
    /// JSON pointer segments (unescaped) of the node concerned.
    pub pointer: Vec<String>,
}

/// Runs both linters; fails when either reports anything.
pub fn run(root: &Path, node: &NodeTools) -> anyhow::Result<()> {
    println!(
        "\n== spec lint: Spectral {} (spectral:oas, fails on warnings) and Redocly {} (recommended-strict) on {BUNDLED_SPEC}",
        node.version("@stoplight/spectral-cli"),
        node.version("@redocly/cli")
    );
    let mut findings = spectral(node)?;
    findings.extend(redocly(node)?);
    if findings.is_empty() {
        println!("spec lint: no findings");
        return Ok(());
    }
    let sources = SourceIndex::load(&root.join(codegen::paths::SPEC_SOURCES))?;
    for finding in &findings {
        println!("{}", report(finding, &sources));
    }
    anyhow::bail!(
        "spec lint: {} finding(s) in {BUNDLED_SPEC}; fix them in spec/src/ and run `cargo xtask codegen`",
        findings.len()
    )
}

fn spectral(node: &NodeTools) -> anyhow::Result<Vec<Finding>> {
    let mut command = node.command("spectral");
    command.args(["lint", BUNDLED_SPEC, "--ruleset", "tools/spectral.yaml", "--fail-severity", "warn"]);
    command.args(["--format", "json", "--quiet"]);
    let output = process::output(&mut command, Duration::from_secs(300))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings = parse_spectral(&stdout).map_err(|e| {
        anyhow::anyhow!(
            "spectral failed ({}): {e}\n{}",
            output.status,
            process::tail(&String::from_utf8_lossy(&output.stderr), 20)
        )
    })?;
    anyhow::ensure!(
        output.status.success() || !findings.is_empty(),
        "spectral failed ({}) without findings:\n{}",
        output.status,
        process::tail(&String::from_utf8_lossy(&output.stderr), 20)
    );
    Ok(findings)
}

fn redocly(node: &NodeTools) -> anyhow::Result<Vec<Finding>> {
    let mut command = node.command("redocly");
    command.args(["lint", BUNDLED_SPEC, "--config", "tools/redocly.yaml", "--format", "json"]);
    let output = process::output(&mut command, Duration::from_secs(300))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings = parse_redocly(&stdout).map_err(|e| {
        anyhow::anyhow!(
            "redocly failed ({}): {e}\n{}",
            output.status,
            process::tail(&String::from_utf8_lossy(&output.stderr), 20)
        )
    })?;
    anyhow::ensure!(
        output.status.success() || !findings.is_empty(),
        "redocly failed ({}) without findings:\n{}",
        output.status,
        process::tail(&String::from_utf8_lossy(&output.stderr), 20)
    );
    Ok(findings)
}

/// Spectral's `--format json`: `[{code, message, path: [..], severity: 0..3, range}]`.
pub fn parse_spectral(stdout: &str) -> anyhow::Result<Vec<Finding>> {
    // Spectral prints nothing at all when there is nothing to report in some versions.
    if stdout.trim().is_empty() {
        return Ok(Vec::new());
    }
    let results: Vec<Json> = serde_json::from_str(stdout.trim())?;
    Ok(results
        .iter()
        .map(|r| Finding {
            tool: "spectral",
            rule: r["code"].as_str().map(str::to_owned).unwrap_or_else(|| r["code"].to_string()),
            severity: match r["severity"].as_u64() {
                Some(0) => "error",
                Some(1) => "warning",
                Some(2) => "info",
                _ => "hint",
            }
            .to_owned(),
            message: r["message"].as_str().unwrap_or_default().to_owned(),
            line: r["range"]["start"]["line"].as_u64().unwrap_or(0) as usize + 1,
            column: r["range"]["start"]["character"].as_u64().unwrap_or(0) as usize + 1,
            pointer: r["path"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().map(str::to_owned).unwrap_or_else(|| s.to_string()))
                .collect(),
        })
        .collect())
}

/// Redocly's `--format json`: `{totals: {ignored}, problems: [{ruleId, severity, message,
/// location: [{pointer, start: {line, col}}]}]}`. Problems silenced by an ignore file count as
/// findings too: nothing is silenced outside `tools/redocly.yaml`.
pub fn parse_redocly(stdout: &str) -> anyhow::Result<Vec<Finding>> {
    let report: Json = serde_json::from_str(stdout.trim())?;
    let problems = report["problems"].as_array().ok_or_else(|| anyhow::anyhow!("no `problems` in the report"))?;
    let mut findings: Vec<Finding> = problems
        .iter()
        .map(|p| {
            let location = &p["location"][0];
            Finding {
                tool: "redocly",
                rule: p["ruleId"].as_str().unwrap_or("?").to_owned(),
                severity: p["severity"].as_str().unwrap_or("error").to_owned(),
                message: p["message"].as_str().unwrap_or_default().to_owned(),
                line: location["start"]["line"].as_u64().unwrap_or(0) as usize,
                column: location["start"]["col"].as_u64().unwrap_or(0) as usize,
                pointer: parse_pointer(location["pointer"].as_str().unwrap_or("#")),
            }
        })
        .collect();
    if let Some(ignored) = report["totals"]["ignored"].as_u64().filter(|n| *n > 0) {
        findings.push(Finding {
            tool: "redocly",
            rule: "lint-ignore-file".to_owned(),
            severity: "error".to_owned(),
            message: format!("{ignored} problem(s) silenced by a .redocly.lint-ignore.yaml; remove it and fix them"),
            line: 1,
            column: 1,
            pointer: Vec::new(),
        });
    }
    Ok(findings)
}

/// `#/paths/~1rooms/get` → `["paths", "/rooms", "get"]`.
pub fn parse_pointer(pointer: &str) -> Vec<String> {
    pointer.trim_start_matches('#').split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect()
}

/// One finding as printed: location, tool and rule, message; then where it is in the sources.
pub fn report(finding: &Finding, sources: &SourceIndex) -> String {
    let pointer = if finding.pointer.is_empty() {
        "#".to_owned()
    } else {
        format!(
            "#/{}",
            finding.pointer.iter().map(|s| s.replace('~', "~0").replace('/', "~1")).collect::<Vec<_>>().join("/")
        )
    };
    let fix = match sources.locate(&finding.pointer) {
        Some((file, line)) => format!("fix in {}:{line}", file.display()),
        None => "fix in spec/src/".to_owned(),
    };
    format!(
        "{BUNDLED_SPEC}:{}:{}: [{} {}] {}: {}\n    at {pointer} ({fix})",
        finding.line, finding.column, finding.tool, finding.rule, finding.severity, finding.message
    )
}

/// The spec sources, to say which file (and line) defines the node of a finding.
#[derive(Debug)]
pub struct SourceIndex {
    /// `(path, text, document)` per file: `common.yaml` first, then the others by name, as
    /// they are bundled.
    files: Vec<(PathBuf, String, Yaml)>,
}

impl SourceIndex {
    /// Reads `dir` (`spec/src`).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml") && n != "common.yaml")
            .collect();
        names.sort();
        names.insert(0, "common.yaml".to_owned());
        let mut files = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path)?;
            let doc: Yaml = serde_yaml::from_str(&text).unwrap_or(Yaml::Null);
            let shown = Path::new(codegen::paths::SPEC_SOURCES).join(&name);
            files.push((shown, text, doc));
        }
        Ok(Self { files })
    }

    /// The source file defining the node at `pointer` in the bundled spec, and the line of
    /// the deepest part of the pointer found in it.
    pub fn locate(&self, pointer: &[String]) -> Option<(&Path, usize)> {
        let has = |doc: &Yaml, keys: &[&str]| keys.iter().try_fold(doc, |v, k| v.get(*k)).is_some();
        let mut segments: Vec<String> = pointer.to_vec();
        let owner = match pointer {
            [paths, path, ..] if paths == "paths" => self.files.iter().find(|(_, _, doc)| has(doc, &["paths", path])),
            [components, kind, name, ..] if components == "components" => {
                self.files.iter().find(|(_, _, doc)| has(doc, &["components", kind, name]))
            }
            [tags, index, ..] if tags == "tags" => {
                // Tags are concatenated in bundling order: find the file and its own index.
                let mut index: usize = index.parse().ok()?;
                self.files
                    .iter()
                    .find(|(_, _, doc)| {
                        let count = doc.get("tags").and_then(Yaml::as_sequence).map_or(0, Vec::len);
                        if index < count {
                            true
                        } else {
                            index -= count;
                            false
                        }
                    })
                    .inspect(|_| segments[1] = index.to_string())
            }
            _ => self.files.first(),
        }?;
        let (path, text, _) = owner;
        Some((path.as_path(), locate_line(text, &segments)))
    }
}

/// A structural item of a block-style YAML line: a mapping key or a sequence item `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Key(String),
    Item,
}

/// The entries of `text` with their 1-based line and effective indentation. `- key: v` gives
/// an item at the dash's column and a key two columns further. Comments, flow collections and
/// the content of block scalars give nothing.
fn entries(text: &str) -> Vec<(usize, usize, Entry)> {
    let mut out = Vec::new();
    let mut block_scalar: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let mut indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(opened_at) = block_scalar {
            if indent > opened_at {
                continue;
            }
            block_scalar = None;
        }
        let mut rest = trimmed;
        while rest == "-" || rest.starts_with("- ") {
            out.push((index + 1, indent, Entry::Item));
            rest = rest[1..].trim_start();
            indent = line.len() - rest.len();
        }
        if let Some((key, value)) = split_key(rest) {
            out.push((index + 1, indent, Entry::Key(key)));
            if value.starts_with('|') || value.starts_with('>') {
                block_scalar = Some(indent);
            }
        }
    }
    out
}

/// `key: value` → (`key`, `value`), unquoting the key; `None` for a plain or flow value.
fn split_key(text: &str) -> Option<(String, &str)> {
    if text.starts_with(['{', '[']) {
        return None;
    }
    let (key, value) = if let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = text[1..].find(quote)? + 1;
        let after = text[end + 1..].strip_prefix(':')?;
        (text[1..end].to_owned(), after)
    } else {
        let colon = text.find(": ").or_else(|| text.strip_suffix(':').map(|k| k.len()))?;
        (text[..colon].to_owned(), &text[colon + 1..])
    };
    Some((key, value.trim()))
}

/// The line of the deepest node of `pointer` found in `text` (1 when not even the first).
fn locate_line(text: &str, pointer: &[String]) -> usize {
    let entries = entries(text);
    let mut line = 1;
    let (mut start, mut end) = (0, entries.len());
    let mut parent_indent: Option<usize> = None;
    for segment in pointer {
        // The direct children of the current node: entries deeper than it, up to the next
        // entry at its depth or above. Items of a sequence may sit at the key's own indent.
        let Some(&(_, child_indent, ref first)) = entries.get(start).filter(|_| start < end) else { break };
        let nested = parent_indent.is_none_or(|p| child_indent > p || (child_indent == p && *first == Entry::Item));
        if !nested {
            break;
        }
        let children = (start..end).filter(|&i| entries[i].1 == child_indent);
        let found = match segment.parse::<usize>() {
            Ok(n) if *first == Entry::Item => children.filter(|&i| entries[i].2 == Entry::Item).nth(n),
            _ => children.into_iter().find(|&i| entries[i].2 == Entry::Key(segment.clone())),
        };
        let Some(found) = found else { break };
        line = entries[found].0;
        parent_indent = Some(child_indent);
        start = found + 1;
        // The found node ends at the next entry above its depth, or at its depth unless that
        // is an item belonging to the found key (`key:` followed by `- item` at its indent).
        let found_is_item = entries[found].2 == Entry::Item;
        end = (start..end)
            .find(|&i| {
                let (_, indent, ref entry) = entries[i];
                indent < child_indent || (indent == child_indent && (found_is_item || *entry != Entry::Item))
            })
            .unwrap_or(end);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r##"paths:
  /rooms/{room_id}:
    get:
      operationId: room_get
      description: |
        A block scalar.
        tags: not a key
      parameters:
        - name: room_id
          in: path
        - $ref: "#/components/parameters/UserIdType"
      responses:
        "200":
          description: The room.
tags:
  - name: room
  - name: room_level
"##;

    fn pointer(text: &str) -> Vec<String> {
        parse_pointer(text)
    }

    #[test]
    fn pointers_are_found_line_by_line() {
        assert_eq!(locate_line(SOURCE, &pointer("#/paths/~1rooms~1{room_id}/get")), 3);
        assert_eq!(locate_line(SOURCE, &pointer("#/paths/~1rooms~1{room_id}/get/parameters/1/$ref")), 11);
        assert_eq!(locate_line(SOURCE, &pointer("#/paths/~1rooms~1{room_id}/get/parameters/0/in")), 10);
        assert_eq!(locate_line(SOURCE, &pointer("#/paths/~1rooms~1{room_id}/get/responses/200/description")), 14);
        assert_eq!(locate_line(SOURCE, &pointer("#/tags/1/name")), 17);
        // A missing part stops at the deepest part found.
        assert_eq!(locate_line(SOURCE, &pointer("#/paths/~1rooms~1{room_id}/get/security")), 3);
        assert_eq!(locate_line(SOURCE, &pointer("#/info")), 1);
    }

    #[test]
    fn spectral_and_redocly_reports_become_findings() {
        let spectral = r#"[{"code":"info-contact","path":["info"],"message":"Info object must have \"contact\" object.","severity":1,"range":{"start":{"line":2,"character":5},"end":{"line":10,"character":27}},"source":"/x/spec/openapi.yaml"}]"#;
        let findings = parse_spectral(spectral).unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!((findings[0].line, findings[0].column, findings[0].severity.as_str()), (3, 6, "warning"));
        assert_eq!(parse_spectral("[]").unwrap(), Vec::new());

        let redocly = r##"{"totals":{"errors":1,"warnings":0,"ignored":0},"version":"2.77.0","problems":[{"ruleId":"info-license-strict","severity":"error","message":"License object should contain `url` field.","location":[{"source":{"ref":"spec/openapi.yaml"},"pointer":"#/info/license/url","reportOnKey":true,"start":{"line":10,"col":3}}]}]}"##;
        let findings = parse_redocly(redocly).unwrap();
        assert_eq!(findings[0].pointer, ["info", "license", "url"]);
        assert_eq!((findings[0].rule.as_str(), findings[0].line), ("info-license-strict", 10));
        let ignored = r#"{"totals":{"errors":0,"warnings":0,"ignored":2},"problems":[]}"#;
        assert_eq!(parse_redocly(ignored).unwrap()[0].rule, "lint-ignore-file");
    }

    #[test]
    fn a_finding_names_the_bundled_line_the_rule_and_the_source_to_fix() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let sources = SourceIndex::load(&root.join(codegen::paths::SPEC_SOURCES)).unwrap();
        let finding = Finding {
            tool: "spectral",
            rule: "operation-description".to_owned(),
            severity: "warning".to_owned(),
            message: "Operation \"description\" must be present and non-empty string.".to_owned(),
            line: 120,
            column: 7,
            pointer: pointer("#/paths/~1open-apis~1vc~1v1~1exports~1{task_id}/get/description"),
        };
        let text = report(&finding, &sources);
        let export = std::fs::read_to_string(root.join("spec/src/export.yaml")).unwrap();
        let lines: Vec<&str> = export.lines().collect();
        let path = lines.iter().position(|l| *l == "  /open-apis/vc/v1/exports/{task_id}:").unwrap();
        let line = (path..lines.len()).find(|&i| lines[i].starts_with("      description:")).unwrap() + 1;
        assert!(
            text.starts_with("spec/openapi.yaml:120:7: [spectral operation-description] warning: Operation"),
            "{text}"
        );
        assert!(text.contains("at #/paths/~1open-apis~1vc~1v1~1exports~1{task_id}/get/description"), "{text}");
        assert!(text.ends_with(&format!("(fix in spec/src/export.yaml:{line})")), "{text}\nexpected line {line}");
    }
}
