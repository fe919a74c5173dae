//! Coverage: the spec holds the 38 overview operations, and each has its own test.

use vc_api_tests::operations;

#[test]
fn the_spec_covers_the_38_overview_operations() {
    let ops = operations();
    assert_eq!(ops.len(), 38, "{:?}", ops.iter().map(|o| &o.id).collect::<Vec<_>>());
    assert_eq!(vc_api::Operation::all().len(), ops.len(), "the generated operation table matches the spec");
    let per_tag = |tag: &str| ops.iter().filter(|o| o.id.starts_with(&format!("{tag}_"))).count();
    // Tags that prefix other tags (meeting, room) are counted by exact tag below.
    let by_tag = |tag: &str| ops.iter().filter(|o| o.op["tags"][0] == tag).count();
    assert_eq!(by_tag("reserve"), 5);
    assert_eq!(by_tag("meeting"), 6);
    assert_eq!(by_tag("meeting_recording"), 4);
    assert_eq!(per_tag("report"), 2);
    assert_eq!(by_tag("room"), 7);
    assert_eq!(by_tag("room_level"), 7);
    assert_eq!(per_tag("scope_config"), 2);
    assert_eq!(per_tag("export"), 5);
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
