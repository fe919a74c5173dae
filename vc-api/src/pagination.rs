//! Paginated listings as streams: `.pages()` yields whole pages, `.stream()` the items across
//! pages, fetching the next page only when the previous one is used up.
//!
//! Every operation the spec marks with `x-feishu-pagination` gets both methods on its builder;
//! which field of `data` holds the items comes from the spec. Pagination stops when `has_more`
//! is false. A server that repeats a `page_token`, or says `has_more` without giving one, gets
//! [`Error::Pagination`] instead of an endless loop.

use std::collections::HashSet;
use std::future::Future;

use futures_core::Stream;
use futures_util::TryStreamExt;

use crate::call::CallOptions;
use crate::error::Error;
use crate::operation::Operation;

/// The `data` of one page of a paginated operation.
pub trait Page: Send {
    /// One listed item.
    type Item: Send;
    /// Whether more pages follow (`has_more`; absent means no).
    fn has_more(&self) -> bool;
    /// The token of the next page (`page_token`).
    fn next_page_token(&self) -> Option<&str>;
    /// The page's items.
    fn items(&self) -> &[Self::Item];
    /// Takes the page's items.
    fn into_items(self) -> Vec<Self::Item>;
}

/// A request (a generated builder) of a paginated operation.
pub trait PageRequest: Clone + Send + Sized {
    /// The `data` of one page.
    type Page: Page;
    /// The operation, for errors.
    const OPERATION: &'static Operation;
    /// The same request, asking for the page after `token`.
    fn with_page_token(self, token: String) -> Self;
    /// Sends the request and returns the page.
    fn fetch(self, options: CallOptions) -> impl Future<Output = Result<Self::Page, Error>> + Send;
}

/// Where the walk through the pages is.
enum Walk<R> {
    /// Fetch with this request next.
    Next {
        request: R,
        options: CallOptions,
        seen: HashSet<String>,
    },
    /// The last page was yielded but the walk cannot go on: yield this error, then stop.
    Failed(Error),
    Done,
}

/// The pages of `request`, starting at the page its own `page_token` selects.
pub fn pages<R: PageRequest>(request: R, options: CallOptions) -> impl Stream<Item = Result<R::Page, Error>> + Send {
    let start = Walk::Next { request, options, seen: HashSet::new() };
    futures_util::stream::unfold(start, |walk| async move {
        let (request, options, mut seen) = match walk {
            Walk::Next { request, options, seen } => (request, options, seen),
            Walk::Failed(error) => return Some((Err(error), Walk::Done)),
            Walk::Done => return None,
        };
        let page = match request.clone().fetch(options.clone()).await {
            Ok(page) => page,
            Err(error) => return Some((Err(error), Walk::Done)),
        };
        if !page.has_more() {
            return Some((Ok(page), Walk::Done));
        }
        let operation = R::OPERATION.id;
        let next = match page.next_page_token().filter(|t| !t.is_empty()) {
            None => {
                Err(Error::Pagination { operation, message: "has_more is true but no page_token was given".into() })
            }
            Some(token) if !seen.insert(token.to_owned()) => Err(Error::Pagination {
                operation,
                message: format!("the server repeated page_token {token:?}; stopping instead of looping"),
            }),
            Some(token) => Ok(token.to_owned()),
        };
        match next {
            // The page is yielded first; the error (if any) comes with the next poll.
            Ok(token) => Some((Ok(page), Walk::Next { request: request.with_page_token(token), options, seen })),
            Err(error) => Some((Ok(page), Walk::Failed(error))),
        }
    })
}

/// The items of every page of `request`, one page in memory at a time.
pub fn items<R: PageRequest>(
    request: R,
    options: CallOptions,
) -> impl Stream<Item = Result<<R::Page as Page>::Item, Error>> + Send {
    pages(request, options)
        .map_ok(|page| futures_util::stream::iter(page.into_items().into_iter().map(Ok)))
        .try_flatten()
}
