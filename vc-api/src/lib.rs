#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Generated code names runtime items by their external path (`::vc_api::...`), so that the same
// code also works in other crates (mocks); this makes that path valid inside the crate too.
extern crate self as vc_api;

mod auth;
mod call;
mod client;
#[cfg(any(feature = "webhook", feature = "long-connection"))]
pub mod dispatch;
mod download;
mod envelope;
pub mod error;
pub mod event_memory;
pub mod events;
pub mod export;
mod generated;
#[cfg(any(feature = "webhook", feature = "redis"))]
mod hex;
#[cfg(feature = "long-connection")]
pub mod long_connection;
#[cfg(feature = "mock")]
pub mod mock;
mod operation;
pub mod pagination;
mod range;
pub mod rate_limit;
mod raw;
#[cfg(feature = "redis")]
pub mod redis_store;
mod response;
mod retry;
mod secret;
pub mod token_store;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use auth::Credentials;
pub use call::CallOptions;
pub(crate) use client::ClientState;
pub use client::{ClientBuilder, Domain, install_tls_provider};
pub use download::Download;
pub use envelope::{Envelope, ErrorDetail};
pub use error::{ApiError, Error};
pub use generated::client::Client;
pub use operation::{Operation, TokenType};
pub use raw::RawRequest;
pub use response::{LOG_ID_HEADER, RATE_LIMIT_RESET_HEADER, Response};
pub use retry::RetryPolicy;
pub use secret::Secret;

/// Every request and response type of the API, and the open enums.
pub mod types {
    pub use crate::generated::client::types::*;
    pub use crate::generated::enums::*;
}

/// Request builders: one per operation, returned by the `Client` method of the same name.
pub mod builder {
    pub use crate::generated::client::builder::*;
}

/// Facts about every operation, generated from the spec.
pub mod operations {
    pub use crate::generated::operations::*;
}
