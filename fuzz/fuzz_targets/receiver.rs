//! The whole receiver on arbitrary requests: headers and body from the fuzzer, optionally
//! signed correctly (so that decryption, token checks, deduplication and decoding are reached),
//! with and without an encrypt key. It must answer, never panic.
#![no_main]

use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use vc_api::Secret;
use vc_api::webhook::{self, EventReceiver};

const KEY: &str = "fuzz-encrypt-key";
const NOW: u64 = 1_700_000_000;

static SIGNED: LazyLock<EventReceiver> = LazyLock::new(|| {
    EventReceiver::builder()
        .encrypt_key(KEY)
        .verification_token("tok")
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .memory_capacity(128)
        .fallback(|_, _| async { Ok(()) })
        .build()
        .unwrap()
});

static TOKEN_ONLY: LazyLock<EventReceiver> =
    LazyLock::new(|| EventReceiver::builder().verification_token("tok").memory_capacity(128).build().unwrap());

#[derive(Arbitrary, Debug)]
struct Request<'a> {
    timestamp_offset: i16,
    nonce: &'a str,
    signature: Option<&'a str>,
    sign: bool,
    token_only: bool,
    body: &'a [u8],
}

fuzz_target!(|request: Request| {
    let timestamp = (NOW as i64 + i64::from(request.timestamp_offset)).to_string();
    let signature = if request.sign {
        webhook::signature(&timestamp, request.nonce, &Secret::new(KEY), request.body)
    } else {
        request.signature.unwrap_or_default().to_owned()
    };
    let mut headers = vec![("x-lark-request-timestamp", timestamp.as_str()), ("x-lark-request-nonce", request.nonce)];
    if request.sign || request.signature.is_some() {
        headers.push(("x-lark-signature", signature.as_str()));
    }
    let receiver = if request.token_only { &*TOKEN_ONLY } else { &*SIGNED };
    let answer = block_on(receiver.handle(&headers[..], request.body));
    assert!(matches!(answer.status, 200 | 400 | 401 | 500), "{answer:?}");
});

/// Polls a future that never waits (no handler here awaits anything) to completion.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
