//! The receiver in an axum application (feature `axum`): [`router`] serves an
//! [`EventReceiver`] on one path, [`handle`] is the handler itself for your own routing.
//!
//! ```no_run
//! use std::sync::Arc;
//! use vc_api::webhook::EventReceiver;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Arc::new(EventReceiver::builder().encrypt_key("key").verification_token("token").build()?);
//! let app = vc_api::webhook::axum::router(receiver, "/webhook/event");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{EventReceiver, WebhookResponse};

/// A router that answers `POST path` with `receiver`.
pub fn router(receiver: Arc<EventReceiver>, path: &str) -> Router {
    Router::new().route(path, post(handle)).with_state(receiver)
}

/// The axum handler: give it a `State<Arc<EventReceiver>>` and mount it on a `POST` route.
pub async fn handle(State(receiver): State<Arc<EventReceiver>>, headers: HeaderMap, body: Bytes) -> WebhookResponse {
    receiver.handle(&headers, &body).await
}

impl IntoResponse for WebhookResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        response
    }
}
