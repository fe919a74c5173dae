//! note: the note operations (details, unified transcript, event subscriptions) against a mock built from the spec's examples.

use vc_api::types::{self, UserIdType};
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn note_get() {
    let api = MockApi::start().await;
    let op = operation("note_get");
    api.expect(&op, &["user_id_type"]).await;
    let data = api
        .client()
        .note_get()
        .note_id(op.param_str("note_id"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("note_get succeeds");
    let note = data.note.as_ref().expect("note is present");
    assert_eq!(note.creator_id.as_deref(), Some("ou_3ec3f6a28a0d08c45d895276e8e5e19b"));
    assert_eq!(note.artifacts.len(), 1);
    assert_eq!(note.artifacts[0].artifact_type, Some(types::NoteArtifactType::NoteDoc));
    assert_eq!(note.artifacts[0].doc_token.as_deref(), Some("BkX1wpU0gi6WP4klwRGchoqZntv"));
    assert_eq!(note.references[0].reference_type, Some(types::NoteReferenceType::SharedDoc));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn note_unified_note_transcript() {
    let api = MockApi::start().await;
    let op = operation("note_unified_note_transcript");
    api.expect(&op, &["format", "cursor_id", "page_size", "locale", "user_id_type"]).await;
    let data = api
        .client()
        .note_unified_note_transcript()
        .note_id(op.param_str("note_id"))
        .format(types::NoteTranscriptFormat::from(op.param_str("format").as_str()))
        .cursor_id(op.param_str("cursor_id"))
        .page_size(op.param_int("page_size") as i32)
        .locale(op.param_str("locale"))
        .user_id_type(UserIdType::from(op.param_str("user_id_type").as_str()))
        .data()
        .await
        .expect("note_unified_note_transcript succeeds");
    assert_eq!(data.has_more, Some(true));
    assert_eq!(data.next_cursor_id, Some(serde_json::json!("7123456789012345678")));
    let transcript = data.transcript.as_ref().expect("transcript is present");
    assert_eq!(transcript.markdown.as_deref(), Some("# Transcript\n"));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn note_subscription() {
    let api = MockApi::start().await;
    let op = operation("note_subscription");
    api.expect(&op, &[]).await;
    let body = op.body::<types::NoteSubscriptionRequest>();
    assert_eq!(body.event_type, Some(types::NoteSubscriptionEventType::GeneratedV1));
    let data = api.client().note_subscription().body(body).data().await.expect("note_subscription succeeds");
    assert!(data.is_empty());
}

#[tokio::test]
async fn note_unsubscription() {
    let api = MockApi::start().await;
    let op = operation("note_unsubscription");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .note_unsubscription()
        .body(op.body::<types::NoteUnsubscriptionRequest>())
        .data()
        .await
        .expect("note_unsubscription succeeds");
    assert!(data.is_empty());
}
