//! Code generated from `spec/openapi.yaml` by `cargo xtask codegen`. Never edit these files:
//! change the spec or the generator and regenerate.

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic, unused_imports, dead_code)]
pub mod client;

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod enums;

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod operations;

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod events;

#[cfg(feature = "mock")]
#[rustfmt::skip]
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod mocks;
