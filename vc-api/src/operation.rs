//! Facts about each operation, generated from the spec: what the runtime needs to decide how
//! to call it (retry safety, pagination, rate limit, token types).

/// The kinds of access token an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `tenant_access_token`: the app acting inside one tenant.
    Tenant,
    /// `user_access_token`: acting for a signed-in user.
    User,
    /// `app_access_token`: the app itself.
    App,
}

/// One operation of the VC API, as described by the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The spec's `operationId`, also the client method's name (`reserve_get`).
    pub id: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// Path template under the base URL.
    pub path: &'static str,
    /// The resource (tag) the operation belongs to.
    pub tag: &'static str,
    /// A POST that only reads (mget, search): safe to retry.
    pub read_only: bool,
    /// For paged operations, the `data` field holding the items.
    pub pagination_items: Option<&'static str>,
    /// Every documented rate limit as `(requests, window in seconds)` (some operations have
    /// two, such as 1000 a minute and 50 a second); empty when none is documented.
    pub rate_limits: &'static [(u32, u32)],
    /// Access tokens the operation accepts.
    pub token_types: &'static [TokenType],
}

impl Operation {
    /// Every operation of the spec.
    pub fn all() -> &'static [&'static Operation] {
        crate::generated::operations::ALL
    }

    /// Looks an operation up by its `operationId`.
    pub fn find(id: &str) -> Option<&'static Operation> {
        Self::all().iter().copied().find(|op| op.id == id)
    }

    /// Whether sending the request twice has the same effect as sending it once
    /// (GET, PUT, DELETE, or a read-only POST).
    pub fn is_idempotent(&self) -> bool {
        matches!(self.method, "GET" | "PUT" | "DELETE" | "HEAD") || self.read_only
    }
}
