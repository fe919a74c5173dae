//! Paginated listings as streams: `.pages()` yields whole pages, `.stream()` the items across
//! pages, fetching the next page only when the previous one is used up.
//!
//! Every operation the spec marks with `x-feishu-pagination` gets both methods on its builder;
//! which field of `data` holds the items comes from the spec. Pagination stops when `has_more`
//! is false. A server that repeats a `page_token`, or says `has_more` without giving one, gets
//! [`Error::Pagination`] instead of an endless loop.
//!
//! Memory stays at one page however long the listing: the loop check keeps one token, not every
//! token seen (Brent's cycle detection: a token sequence that comes back to a token it already
//! gave is caught within a few turns of its cycle, and at once when a page repeats its own).

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
        loops: LoopCheck,
    },
    /// The last page was yielded but the walk cannot go on: yield this error, then stop.
    Failed(Error),
    Done,
}

/// Detects a cycle in the page tokens with one stored token (Brent's algorithm): the token is
/// kept at steps 1, 2, 4, 8, ... and every new token is compared with the kept one.
#[derive(Default)]
struct LoopCheck {
    kept: Option<String>,
    steps: u32,
    next_keep: u32,
}

impl LoopCheck {
    /// Whether `token` closes a cycle; records it otherwise.
    fn repeats(&mut self, token: &str) -> bool {
        if self.kept.as_deref() == Some(token) {
            return true;
        }
        self.steps += 1;
        if self.steps >= self.next_keep {
            self.kept = Some(token.to_owned());
            self.next_keep = self.next_keep.saturating_mul(2).max(1);
            self.steps = 0;
        }
        false
    }
}

/// The pages of `request`, starting at the page its own `page_token` selects.
pub fn pages<R: PageRequest>(request: R, options: CallOptions) -> impl Stream<Item = Result<R::Page, Error>> + Send {
    let start = Walk::Next { request, options, loops: LoopCheck::default() };
    futures_util::stream::unfold(start, |walk| async move {
        let (request, options, mut loops) = match walk {
            Walk::Next { request, options, loops } => (request, options, loops),
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
            Some(token) if loops.repeats(token) => Err(Error::Pagination {
                operation,
                message: format!("the server repeated page_token {token:?}; stopping instead of looping"),
            }),
            Some(token) => Ok(token.to_owned()),
        };
        match next {
            // The page is yielded first; the error (if any) comes with the next poll.
            Ok(token) => Some((Ok(page), Walk::Next { request: request.with_page_token(token), options, loops })),
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

#[cfg(test)]
mod tests {
    use super::LoopCheck;

    /// The step at which a token sequence is found to loop, if it is within `limit` steps.
    fn caught_at(tokens: impl Iterator<Item = String>, limit: usize) -> Option<usize> {
        let mut check = LoopCheck::default();
        tokens.take(limit).position(|t| check.repeats(&t))
    }

    #[test]
    fn a_page_repeating_its_own_token_is_caught_at_once() {
        assert_eq!(caught_at(std::iter::repeat("again".to_owned()), 10), Some(1));
    }

    #[test]
    fn cycles_of_any_length_after_any_prefix_are_caught() {
        for prefix in 0..40 {
            for cycle in 1..40 {
                let tokens = (0..).map(
                    |i: usize| {
                        if i < prefix { format!("p{i}") } else { format!("c{}", (i - prefix) % cycle) }
                    },
                );
                let at = caught_at(tokens, 1_000).expect("the cycle is caught");
                assert!(at >= prefix + cycle, "caught before anything repeated ({prefix}, {cycle}: {at})");
                assert!(at <= 2 * (prefix + cycle) + cycle, "caught late ({prefix}, {cycle}: {at})");
            }
        }
    }

    #[test]
    fn distinct_tokens_never_stop_the_walk() {
        assert_eq!(caught_at((0..).map(|i: u64| i.to_string()), 100_000), None);
    }
}
