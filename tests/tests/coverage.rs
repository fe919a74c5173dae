//! Coverage: the figures `spec/README.md` states (operations, events, operations per tag) match
//! the spec, the generated tables match the spec, and every operation has its own test.

use std::collections::BTreeMap;

use vc_api_tests::{operations, spec};

const SPEC_README: &str = include_str!("../../spec/README.md");

/// The `**Coverage: N operations, M events.**` line and the `| `tag` | N |` rows of the
/// README's Coverage section.
fn stated_coverage() -> (usize, usize, BTreeMap<String, usize>) {
    let section = SPEC_README.split("## Coverage").nth(1).expect("spec/README.md has a Coverage section");
    let line = section.lines().find(|l| l.starts_with("**Coverage: ")).expect("a **Coverage: ...** line");
    let numbers: Vec<usize> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    let [ops, events] = numbers[..] else { panic!("cannot read the figures of {line:?}") };
    let per_tag = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').map(str::trim).collect();
            match cells[..] {
                [tag, count] if tag.starts_with('`') => Some((tag.trim_matches('`').to_owned(), count.parse().ok()?)),
                _ => None,
            }
        })
        .collect();
    (ops, events, per_tag)
}

#[test]
fn the_stated_coverage_matches_the_spec() {
    let (stated_ops, stated_events, stated_tags) = stated_coverage();
    let ops = operations();
    assert_eq!(ops.len(), stated_ops, "operations in the spec vs spec/README.md");
    let events = spec()["x-feishu-events"].as_array().map_or(0, Vec::len);
    assert_eq!(events, stated_events, "events in the spec vs spec/README.md");
    let mut per_tag: BTreeMap<String, usize> = BTreeMap::new();
    for op in &ops {
        *per_tag.entry(op.op["tags"][0].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_tag, stated_tags, "operations per tag vs the table of spec/README.md");
}

#[test]
fn the_generated_tables_match_the_spec() {
    assert_eq!(vc_api::Operation::all().len(), operations().len(), "the generated operation table");
    let spec_events: Vec<&str> =
        spec()["x-feishu-events"].as_array().into_iter().flatten().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(vc_api::events::Event::EVENT_TYPES.to_vec(), spec_events, "the generated Event enum");
}

#[test]
fn every_operation_has_a_test_named_after_it() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let sources: String =
        std::fs::read_dir(dir).unwrap().map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap()).collect();
    let missing: Vec<String> = operations()
        .into_iter()
        .map(|op| op.id)
        .filter(|id| {
            !sources.contains(&format!("async fn {id}()")) || !sources.contains(&format!("operation(\"{id}\")"))
        })
        .collect();
    assert!(missing.is_empty(), "operations without a test: {missing:?}");
}
