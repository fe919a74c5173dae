//! `cargo xtask api-docs [--check]`: a self-contained HTML API reference of
//! `spec/openapi.yaml` (`redocly build-docs --inlineBundle`), and the check that it renders:
//! headless Chromium loads it once per tag and every operation's summary and path must be in
//! the rendered page (the HTML file itself holds them only as data for its script).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::install::NodeTools;
use super::spec::{BUNDLED_SPEC, Operation, tags};
use super::{OUTPUT_DIR, process};

/// The reference, relative to the workspace root.
pub const OUTPUT: &str = "target/spec-tools/api-reference.html";

/// Builds the reference and checks that it loads nothing from the network.
pub fn build(root: &Path, node: &NodeTools) -> anyhow::Result<PathBuf> {
    println!("\n== API reference: redocly build-docs {} --inlineBundle", node.version("@redocly/cli"));
    std::fs::create_dir_all(root.join(OUTPUT_DIR))?;
    let mut command = node.command("redocly");
    command.args(["build-docs", BUNDLED_SPEC, "--output", OUTPUT, "--inlineBundle", "--config", "tools/redocly.yaml"]);
    let output = process::output(&mut command, Duration::from_secs(300))?;
    anyhow::ensure!(
        output.status.success(),
        "redocly build-docs failed ({}):\n{}",
        output.status,
        process::tail(&String::from_utf8_lossy(&output.stderr), 30)
    );
    let path = root.join(OUTPUT);
    let html = std::fs::read_to_string(&path)?;
    let external = external_resources(&html);
    anyhow::ensure!(external.is_empty(), "{OUTPUT} is not self-contained; it loads {external:?}");
    println!("api docs: wrote {OUTPUT} ({} KiB, self-contained)", html.len() / 1024);
    Ok(path)
}

/// Scripts, stylesheets and CSS imports that the page would fetch from elsewhere.
fn external_resources(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (start, _) in html.match_indices('<') {
        let rest = &html[start..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        let is_script = tag.starts_with("<script") && tag.contains("src=");
        let is_stylesheet = tag.starts_with("<link") && tag.contains("stylesheet");
        if is_script || is_stylesheet {
            found.push(tag.to_owned());
        }
    }
    found.extend(html.match_indices("url(http").map(|(i, _)| html[i..(i + 60).min(html.len())].to_owned()));
    found
}

/// Renders the reference in headless Chromium, once per tag (Redoc expands the tag named in
/// the URL), and fails unless every operation's summary and path appear in the rendered page.
pub fn check(root: &Path, html: &Path, chromium: &Path, operations: &[Operation]) -> anyhow::Result<()> {
    println!("\n== API reference rendered in headless Chromium ({})", chromium.display());
    let tags = tags(operations);
    // Two browsers at a time (the machine has two cores), each with its own profile.
    let mut rendered = Vec::new();
    for pair in tags.chunks(2) {
        let texts = std::thread::scope(|scope| {
            let renders: Vec<_> = pair
                .iter()
                .map(|tag| {
                    let url = format!("file://{}#tag/{tag}", html.display());
                    let profile = root.join(OUTPUT_DIR).join(format!("chromium-profile-{tag}"));
                    scope.spawn(move || {
                        let text = rendered_text(chromium, &url, &profile);
                        let _ = std::fs::remove_dir_all(&profile);
                        text
                    })
                })
                .collect();
            renders.into_iter().map(|r| r.join().expect("the render thread does not panic")).collect::<Vec<_>>()
        });
        for (tag, text) in pair.iter().zip(texts) {
            rendered.push((*tag, text?));
        }
    }
    let shows = |text: &str, op: &Operation| text.contains(&op.summary) && text.contains(&op.path);
    let mut not_in_tag_view = Vec::new();
    for (tag, text) in &rendered {
        let mut shown = 0;
        for op in operations.iter().filter(|op| op.tag == *tag) {
            if shows(text, op) {
                shown += 1;
            } else {
                not_in_tag_view.push(op);
            }
        }
        println!("api docs: #tag/{tag}: {shown} operation(s) rendered");
    }
    // Redoc renders a long tag lazily, around the anchor; an operation not yet rendered in its
    // tag's view is looked up through its own anchor before it counts as missing.
    let mut missing = Vec::new();
    for op in not_in_tag_view {
        let url = format!("file://{}#operation/{}", html.display(), op.id);
        let profile = root.join(OUTPUT_DIR).join(format!("chromium-profile-{}", op.id));
        let text = rendered_text(chromium, &url, &profile);
        let _ = std::fs::remove_dir_all(&profile);
        if shows(&text?, op) {
            println!("api docs: #operation/{}: rendered", op.id);
        } else {
            missing
                .push(format!("{} ({} {}, summary {:?}) under tag {}", op.id, op.method, op.path, op.summary, op.tag));
        }
    }
    anyhow::ensure!(
        missing.is_empty(),
        "{OUTPUT}: operations missing from the rendered page:\n  {}",
        missing.join("\n  ")
    );
    println!("api docs: all {} operations render in {OUTPUT}", operations.len());
    Ok(())
}

/// The visible text of `url` after Chromium has run its scripts (`--dump-dom`).
fn rendered_text(chromium: &Path, url: &str, profile: &Path) -> anyhow::Result<String> {
    let _ = std::fs::remove_dir_all(profile);
    let mut command = std::process::Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,2000",
        // Run the page's scripts until it is idle (virtual time), then dump the DOM.
        "--virtual-time-budget=20000",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display())).args(["--dump-dom", url]);
    let output = process::output(&mut command, Duration::from_secs(120))?;
    anyhow::ensure!(
        output.status.success() && !output.stdout.is_empty(),
        "chromium failed ({}):\n{}",
        output.status,
        process::tail(&String::from_utf8_lossy(&output.stderr), 20)
    );
    Ok(visible_text(&String::from_utf8_lossy(&output.stdout)))
}

/// The text of an HTML document outside `<script>` and `<style>`, tags removed, entities
/// decoded, whitespace collapsed.
fn visible_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 4);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        rest = &rest[open..];
        let skip_to = ["script", "style"].iter().find_map(|name| {
            let starts = rest.get(1..1 + name.len()).is_some_and(|s| s.eq_ignore_ascii_case(name));
            starts.then(|| format!("</{name}"))
        });
        let end = match skip_to {
            Some(close) => rest.find(&close).map(|i| i + close.len()).unwrap_or(rest.len()),
            None => 0,
        };
        rest = &rest[end..];
        rest = &rest[rest.find('>').map_or(rest.len(), |i| i + 1)..];
    }
    text.push_str(rest);
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_drops_scripts_styles_and_tags() {
        let html = "<html><head><style>p{}</style><script>var s = \"Get a room\";</script></head>\
                    <body><h2>Get a <b>room</b></h2><p>a &amp; b &lt;c&gt;</p></body></html>";
        assert_eq!(visible_text(html), "Get a room a & b <c>");
    }

    #[test]
    fn external_scripts_and_stylesheets_are_found() {
        let html = "<script>x</script><a href=\"https://example.invalid\">docs</a>\
                    <script src=\"https://cdn.example/redoc.js\"></script><link rel=\"stylesheet\" href=\"x.css\">";
        assert_eq!(
            external_resources(html),
            ["<script src=\"https://cdn.example/redoc.js\"", "<link rel=\"stylesheet\" href=\"x.css\""]
        );
    }
}
