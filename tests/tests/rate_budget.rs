//! The client's side of a [`RateBudget`]: every place it takes is handed back through
//! `answered`, whatever the call's outcome (an answer, a transport failure, no token), so a
//! shared budget never holds places for requests that are over.

use std::sync::Mutex;

use vc_api::rate_limit::{BudgetFuture, Grant, RateBudget, RateLimit};
use vc_api::{Error, RetryPolicy};
use vc_api_tests::{MockApi, export_get_mock, operation};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// A budget that grants every place at once and records what the client does with them.
#[derive(Debug, Default)]
struct Recording {
    events: Mutex<Vec<String>>,
}

impl Recording {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl RateBudget for Recording {
    fn acquire<'a>(&'a self, operation: &'static str, _limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant> {
        Box::pin(async move {
            let mut events = self.events.lock().unwrap();
            let id = format!("g{}", events.len());
            events.push(format!("acquire {operation} {id}"));
            Grant::new(operation, id)
        })
    }

    fn answered(&self, grant: Grant) -> BudgetFuture<'_, ()> {
        self.events.lock().unwrap().push(format!("answered {} {}", grant.operation(), grant.id().unwrap_or("-")));
        Box::pin(std::future::ready(()))
    }
}

/// A shared handle, since the client takes the budget by value.
#[derive(Debug, Clone, Default)]
struct Shared(std::sync::Arc<Recording>);

impl RateBudget for Shared {
    fn acquire<'a>(&'a self, operation: &'static str, limits: &'a [RateLimit]) -> BudgetFuture<'a, Grant> {
        self.0.acquire(operation, limits)
    }

    fn answered(&self, grant: Grant) -> BudgetFuture<'_, ()> {
        self.0.answered(grant)
    }
}

fn client(url: &str, budget: &Shared) -> vc_api::ClientBuilder {
    vc_api::Client::builder().base_url(url).rate_budget(budget.clone()).retry_policy(RetryPolicy::none())
}

const PLACE_HANDED_BACK: [&str; 2] = ["acquire export_get g0", "answered export_get g0"];

#[tokio::test]
async fn an_answered_call_hands_its_place_back() {
    let api = MockApi::start().await;
    export_get_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("export_get").response_example()))
        .mount(&api.server)
        .await;
    let budget = Shared::default();
    let client = client(&api.server.uri(), &budget).access_token("t-x").build().unwrap();
    client.export_get().task_id("T1").data().await.unwrap();
    assert_eq!(budget.0.events(), PLACE_HANDED_BACK);
}

#[tokio::test]
async fn a_call_without_a_token_hands_its_place_back() {
    let api = MockApi::start().await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token/internal"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"code": 10014, "msg": "app secret invalid"})),
        )
        .mount(&api.server)
        .await;
    let budget = Shared::default();
    let client = client(&api.server.uri(), &budget).app_credentials("cli_a", "secret-a").build().unwrap();
    let error = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(error, Error::Auth { .. } | Error::Api(_)), "{error:?}");
    assert_eq!(budget.0.events(), PLACE_HANDED_BACK);
}

#[tokio::test]
async fn a_call_that_cannot_connect_hands_its_place_back() {
    // A port nothing listens on: bound, then closed.
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let budget = Shared::default();
    let client = client(&url, &budget).access_token("t-x").build().unwrap();
    let error = client.export_get().task_id("T1").data().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(budget.0.events(), PLACE_HANDED_BACK);
}
