//! A wrapper for secrets (app secret, access tokens, keys) that never shows its value in
//! `Debug` or `Display` output.

use std::fmt;
use std::sync::Arc;

/// A secret string: its `Debug` and `Display` print `***`, never the value.
///
/// ```
/// let token = vc_api::Secret::new("t-abc");
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// assert_eq!(token.expose(), "t-abc");
/// ```
///
/// Cloning is cheap (the value is shared, not copied): a token is cloned on every call.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The secret value itself. Call it only where the value is really sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(Arc::from(value))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(Arc::from(value))
    }
}
