//! Pagination: every paginated operation walked over three pages, and the guards that stop a
//! server from making a listing loop forever.

use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use vc_api::pagination::{self, Page, PageRequest};
use vc_api::{CallOptions, Error};
use vc_api_tests::{MockApi, SpecOperation, operation, operations};
use wiremock::{Mock, Request, ResponseTemplate};

/// Matches a request by its `page_token`, in the query or in the JSON body (`None`: absent).
struct PageToken(Option<&'static str>);

impl wiremock::Match for PageToken {
    fn matches(&self, request: &Request) -> bool {
        let in_query = request.url.query_pairs().find(|(k, _)| k == "page_token").map(|(_, v)| v.into_owned());
        let in_body = serde_json::from_slice::<Value>(&request.body)
            .ok()
            .and_then(|body| body.get("page_token").and_then(Value::as_str).map(str::to_owned));
        in_query.or(in_body).as_deref() == self.0
    }
}

/// The `data` of one page: the example's `data` with `n` copies of its first item (each tagged
/// by position where the item is an object), `has_more` and `page_token` set.
fn page_data(op: &SpecOperation, n: usize, next: Option<&str>) -> Value {
    let items = op.op["x-feishu-pagination"]["items"].as_str().expect("items field").to_owned();
    let mut data = op.response_example()["data"].clone();
    let first = data[&items][0].clone();
    data[&items] = Value::Array(vec![first; n]);
    data["has_more"] = json!(next.is_some());
    data["page_token"] = json!(next.unwrap_or(""));
    data
}

async fn mount_page(api: &MockApi, op: &SpecOperation, token: Option<&'static str>, data: Value) {
    Mock::given(wiremock::matchers::method(op.method.as_str()))
        .and(wiremock::matchers::path(op.example_path()))
        .and(PageToken(token))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "success", "data": data})))
        .expect(2) // once by `pages`, once by `items`
        .mount(&api.server)
        .await;
}

/// Walks `request` (which must not carry a page_token) over three pages of 1, 2 and 3 items,
/// page by page and item by item, and checks the requests made.
async fn walks_three_pages<R: PageRequest>(api: &MockApi, op: &SpecOperation, request: R) {
    mount_page(api, op, None, page_data(op, 1, Some("p2"))).await;
    mount_page(api, op, Some("p2"), page_data(op, 2, Some("p3"))).await;
    mount_page(api, op, Some("p3"), page_data(op, 3, None)).await;

    let pages: Vec<R::Page> =
        pagination::pages(request.clone(), CallOptions::default()).try_collect().await.expect("three pages");
    let sizes: Vec<usize> = pages.iter().map(|p| p.items().len()).collect();
    assert_eq!(sizes, [1, 2, 3], "{}: page sizes", op.id);
    assert!(!pages[2].has_more());

    let items: Vec<_> = pagination::items(request, CallOptions::default()).try_collect().await.expect("all items");
    assert_eq!(items.len(), 6, "{}: items across pages", op.id);
    let tokens: Vec<Option<String>> = api
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let query = r.url.query_pairs().find(|(k, _)| k == "page_token").map(|(_, v)| v.into_owned());
            let body = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|b| b.get("page_token").and_then(Value::as_str).map(str::to_owned));
            query.or(body)
        })
        .collect();
    let walk = [None, Some("p2".to_owned()), Some("p3".to_owned())];
    assert_eq!(tokens, [walk.clone(), walk].concat(), "{}: page tokens sent", op.id);
}

/// The operation with its required parameters from the examples, without a page_token.
fn paginated(id: &str) -> SpecOperation {
    let op = operation(id);
    assert!(op.op.get("x-feishu-pagination").is_some(), "{id} is not paginated in the spec");
    op
}

#[tokio::test]
async fn meeting_list_by_no_paginates() {
    let (api, op) = (MockApi::start().await, paginated("meeting_list_by_no"));
    let client = api.client();
    let request = client
        .meeting_list_by_no()
        .meeting_no(op.param_str("meeting_no"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn room_list_paginates() {
    let (api, op) = (MockApi::start().await, paginated("room_list"));
    let client = api.client();
    walks_three_pages(&api, &op, client.room_list().page_size(op.param_int("page_size") as i32)).await;
}

#[tokio::test]
async fn room_search_paginates() {
    let (api, op) = (MockApi::start().await, paginated("room_search"));
    let client = api.client();
    let mut body = op.body_example();
    body.as_object_mut().unwrap().remove("page_token");
    let body: vc_api::types::RoomSearchRequest = serde_json::from_value(body).unwrap();
    walks_three_pages(&api, &op, client.room_search().body(body)).await;
}

#[tokio::test]
async fn room_level_list_paginates() {
    let (api, op) = (MockApi::start().await, paginated("room_level_list"));
    let client = api.client();
    walks_three_pages(&api, &op, client.room_level_list().page_size(op.param_int("page_size") as i32)).await;
}

#[tokio::test]
async fn bot_events_paginates() {
    let (api, op) = (MockApi::start().await, paginated("bot_events"));
    let client = api.client();
    let request = client
        .bot_events()
        .meeting_id(op.param_str("meeting_id"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn meeting_search_paginates() {
    let (api, op) = (MockApi::start().await, paginated("meeting_search"));
    let client = api.client();
    let request = client
        .meeting_search()
        .page_size(op.param_int("page_size") as i32)
        .body(op.body::<vc_api::types::MeetingSearchRequest>());
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn alert_list_paginates() {
    let (api, op) = (MockApi::start().await, paginated("alert_list"));
    let client = api.client();
    let request = client
        .alert_list()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn meeting_list_get_paginates() {
    let (api, op) = (MockApi::start().await, paginated("meeting_list_get"));
    let client = api.client();
    let request = client
        .meeting_list_get()
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn participant_list_get_paginates() {
    let (api, op) = (MockApi::start().await, paginated("participant_list_get"));
    let client = api.client();
    let request = client
        .participant_list_get()
        .meeting_start_time(op.param_str("meeting_start_time"))
        .meeting_end_time(op.param_str("meeting_end_time"))
        .meeting_no(op.param_str("meeting_no"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn participant_quality_list_get_paginates() {
    let (api, op) = (MockApi::start().await, paginated("participant_quality_list_get"));
    let client = api.client();
    let request = client
        .participant_quality_list_get()
        .meeting_start_time(op.param_str("meeting_start_time"))
        .meeting_end_time(op.param_str("meeting_end_time"))
        .meeting_no(op.param_str("meeting_no"))
        .join_time(op.param_str("join_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn resource_reservation_list_get_paginates() {
    let (api, op) = (MockApi::start().await, paginated("resource_reservation_list_get"));
    let client = api.client();
    let request = client
        .resource_reservation_list_get()
        .room_level_id(op.param_str("room_level_id"))
        .room_ids(op.param_strs("room_ids"))
        .start_time(op.param_str("start_time"))
        .end_time(op.param_str("end_time"))
        .page_size(op.param_int("page_size") as i32);
    walks_three_pages(&api, &op, request).await;
}

#[tokio::test]
async fn meeting_pull_subtitle_paginates() {
    let (api, op) = (MockApi::start().await, paginated("meeting_pull_subtitle"));
    let client = api.client();
    let request = client
        .meeting_pull_subtitle()
        .meeting_id(op.param_str("meeting_id"))
        .uid(op.param_str("uid"))
        .did(op.param_str("did"))
        .page_size(op.param_str("page_size"));
    walks_three_pages(&api, &op, request).await;
}

#[test]
fn every_paginated_operation_is_walked_here() {
    let source = include_str!("pagination.rs");
    let missing: Vec<String> = operations()
        .into_iter()
        .filter(|op| op.op.get("x-feishu-pagination").is_some())
        .map(|op| op.id)
        .filter(|id| !source.contains(&format!("async fn {id}_paginates()")))
        .collect();
    assert!(missing.is_empty(), "paginated operations without a three-page test: {missing:?}");
    let table: Vec<&str> =
        vc_api::Operation::all().iter().filter(|o| o.pagination_items.is_some()).map(|o| o.id).collect();
    assert!(table.len() >= 4, "{table:?}");
}

#[tokio::test]
async fn the_generated_stream_method_walks_the_pages() {
    let (api, op) = (MockApi::start().await, paginated("room_level_list"));
    for (token, next, n) in [(None, Some("p2"), 2), (Some("p2"), None, 1)] {
        Mock::given(wiremock::matchers::path(op.example_path()))
            .and(PageToken(token))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"code": 0, "msg": "ok", "data": page_data(&op, n, next)})),
            )
            .expect(1)
            .mount(&api.server)
            .await;
    }
    let client = api.client();
    let levels: Vec<_> = client.room_level_list().stream().try_collect().await.unwrap();
    assert_eq!(levels.len(), 3);
    assert_eq!(levels[0].name.as_deref(), Some("TestRoomLevel"));
}

#[tokio::test]
async fn a_repeated_page_token_stops_with_an_error_instead_of_looping() {
    let (api, op) = (MockApi::start().await, paginated("room_level_list"));
    // Every page says there is more, always with the same token.
    Mock::given(wiremock::matchers::path(op.example_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 0, "msg": "ok", "data": page_data(&op, 1, Some("again"))})),
        )
        .expect(2)
        .mount(&api.server)
        .await;
    let client = api.client();
    let results: Vec<Result<_, Error>> = client.room_level_list().pages().collect().await;
    assert_eq!(results.len(), 3, "two pages, then the error, then the end");
    assert!(results[0].is_ok() && results[1].is_ok());
    match &results[2] {
        Err(error @ Error::Pagination { operation, message }) => {
            assert_eq!(*operation, "room_level_list");
            assert!(message.contains("again"), "{message}");
            assert!(!error.is_retryable());
        }
        other => panic!("expected a pagination error, got {other:?}"),
    }
}

#[tokio::test]
async fn has_more_without_a_token_is_an_error() {
    let (api, op) = (MockApi::start().await, paginated("room_list"));
    let mut data = page_data(&op, 1, Some("x"));
    data.as_object_mut().unwrap().remove("page_token");
    Mock::given(wiremock::matchers::path(op.example_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "ok", "data": data})))
        .expect(1)
        .mount(&api.server)
        .await;
    let client = api.client();
    let items: Vec<Result<_, Error>> = client.room_list().stream().collect().await;
    assert_eq!(items.len(), 2, "the page's item, then the error");
    assert!(matches!(&items[1], Err(Error::Pagination { message, .. }) if message.contains("no page_token")));
}

#[tokio::test]
async fn an_api_error_on_a_later_page_ends_the_stream_with_it() {
    let (api, op) = (MockApi::start().await, paginated("room_list"));
    mount_once(&api, &op, None, json!({"code": 0, "msg": "ok", "data": page_data(&op, 2, Some("p2"))})).await;
    mount_once(&api, &op, Some("p2"), json!({"code": 121004, "msg": "data not exist"})).await;
    let client = api.client();
    let items: Vec<Result<_, Error>> = client.room_list().stream().collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[2].as_ref().unwrap_err().code(), Some(121004));
}

async fn mount_once(api: &MockApi, op: &SpecOperation, token: Option<&'static str>, body: Value) {
    Mock::given(wiremock::matchers::path(op.example_path()))
        .and(PageToken(token))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&api.server)
        .await;
}
