//! The webhook receiver against deliveries built outside this crate.
//!
//! Every signature and ciphertext here is computed at test time by tools independent of the
//! code under test: signatures by `python3` (`hashlib.sha256` over timestamp + nonce + encrypt
//! key + body, from the standard library), AES keys by `python3` (`hashlib.sha256` of the
//! encrypt key), ciphertexts by the `openssl enc -aes-256-cbc -K <hex> -iv <hex>` command
//! (`-nopad` for the bad-padding case), and base64 by `python3`'s `base64` module. A bug in
//! the receiver's own cryptography therefore cannot hide behind a matching bug in the tests.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use vc_api::events::Event;
use vc_api::types::{MeetingMeetingEndedV1Event, MeetingMeetingStartedV1Event};
use vc_api::webhook::{DecryptError, EventReceiver, EventReceiverBuilder, WebhookError, WebhookResponse};
use vc_api_tests::{MockApi, export_get_mock, operation};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

const ENCRYPT_KEY: &str = "kx8Vd2-test-encrypt-key";
const TOKEN: &str = "vt-test-verification-token";
const NOW: u64 = 1_732_190_000;
const IV_HEX: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

// ---- vectors from python3 and openssl -------------------------------------------------------

/// Runs `program args`, feeding `stdin`; returns stdout, failing the test if it fails.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn python(script: &str, args: &[&str], stdin: &[u8]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    String::from_utf8(run("python3", &all, stdin)).unwrap().trim().to_owned()
}

/// hex(SHA-256(timestamp + nonce + key + body)), by python3's hashlib.
fn python_signature(timestamp: &str, nonce: &str, key: &str, body: &[u8]) -> String {
    python(
        "import hashlib, sys; a = sys.argv; \
         print(hashlib.sha256(a[1].encode() + a[2].encode() + a[3].encode() + sys.stdin.buffer.read()).hexdigest())",
        &[timestamp, nonce, key],
        body,
    )
}

/// hex(SHA-256(key)), the AES-256 key, by python3 (computed once per key).
fn aes_key_hex(key: &str) -> String {
    static KEYS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    if let Some((_, hex)) = KEYS.lock().unwrap().iter().find(|(k, _)| k == key) {
        return hex.clone();
    }
    let hex = python("import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", &[key], b"");
    KEYS.lock().unwrap().push((key.to_owned(), hex.clone()));
    hex
}

/// base64(IV + AES-256-CBC(SHA-256(key), IV, plaintext)): key by python3, cipher by openssl.
fn openssl_encrypt(key: &str, plaintext: &[u8], padding: bool) -> String {
    let key_hex = aes_key_hex(key);
    let mut args = vec!["enc", "-aes-256-cbc", "-K", &key_hex, "-iv", IV_HEX];
    if !padding {
        args.push("-nopad");
    }
    let ciphertext = run("openssl", &args, plaintext);
    blob_base64(&ciphertext, ciphertext.len())
}

/// base64(IV + the first `keep` bytes of `ciphertext`), by python3.
fn blob_base64(ciphertext: &[u8], keep: usize) -> String {
    python(
        "import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1]) + sys.stdin.buffer.read()).decode())",
        &[IV_HEX],
        &ciphertext[..keep],
    )
}

fn raw_ciphertext(key: &str, plaintext: &[u8]) -> Vec<u8> {
    let key_hex = aes_key_hex(key);
    run("openssl", &["enc", "-aes-256-cbc", "-K", &key_hex, "-iv", IV_HEX], plaintext)
}

// ---- deliveries -----------------------------------------------------------------------------

fn v2_event(event_id: &str, event_type: &str, token: &str) -> String {
    serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": event_type, "create_time": "1732190000000",
                   "token": token, "app_id": "cli_test", "tenant_key": "tenant-1"},
        "event": {"meeting": {"id": "6911188411934433028", "topic": "weekly"}}
    })
    .to_string()
}

fn encrypted(plaintext: &str) -> String {
    serde_json::json!({ "encrypt": openssl_encrypt(ENCRYPT_KEY, plaintext.as_bytes(), true) }).to_string()
}

/// Headers of a request signed (by python3) at `timestamp` with `nonce`.
fn signed_at(body: &str, timestamp: u64, nonce: &str) -> Vec<(String, String)> {
    let timestamp = timestamp.to_string();
    let signature = python_signature(&timestamp, nonce, ENCRYPT_KEY, body.as_bytes());
    vec![
        ("X-Lark-Request-Timestamp".into(), timestamp),
        ("X-Lark-Request-Nonce".into(), nonce.into()),
        ("X-Lark-Signature".into(), signature),
    ]
}

fn signed(body: &str, nonce: &str) -> Vec<(String, String)> {
    signed_at(body, NOW, nonce)
}

const UNSIGNED: &[(&str, &str)] = &[];

fn builder() -> EventReceiverBuilder {
    EventReceiver::builder()
        .encrypt_key(ENCRYPT_KEY)
        .verification_token(TOKEN)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

/// A receiver whose handlers record `"<kind> <event type> <event id>"` lines.
fn recording_receiver() -> (EventReceiver, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (started, ended, other) = (seen.clone(), seen.clone(), seen.clone());
    let receiver = builder()
        .on(move |h, payload: MeetingMeetingStartedV1Event| {
            started.lock().unwrap().push(format!(
                "started {} {} {}",
                h.event_id,
                h.tenant_key.unwrap(),
                payload.meeting.and_then(|m| m.topic).unwrap_or_default()
            ));
            async { Ok(()) }
        })
        .on(move |h, _: MeetingMeetingEndedV1Event| {
            ended.lock().unwrap().push(format!("ended {}", h.event_id));
            async { Ok(()) }
        })
        .fallback(move |h, event: Event| {
            let payload = match &event {
                Event::Unknown { payload, .. } => payload.get().to_owned(),
                known => format!("known {}", known.event_type()),
            };
            other.lock().unwrap().push(format!("fallback {} {} {payload}", event.event_type(), h.event_id));
            async { Ok(()) }
        })
        .build()
        .unwrap();
    (receiver, seen)
}

async fn rejected(receiver: &EventReceiver, headers: &[(String, String)], body: &str) -> WebhookError {
    match receiver.process(headers, body.as_bytes()).await {
        Err(error) => error,
        Ok(answer) => panic!("expected a rejection, got {answer:?}"),
    }
}

// ---- the tests ------------------------------------------------------------------------------

#[tokio::test]
async fn an_encrypted_signed_event_reaches_its_typed_handler() {
    let (receiver, seen) = recording_receiver();
    let body = encrypted(&v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN));
    let answer = receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await;
    assert_eq!(answer, WebhookResponse::ack());
    assert_eq!(
        (answer.status, answer.content_type, answer.body.as_str()),
        (200, "application/json", r#"{"msg":"success"}"#)
    );
    assert_eq!(*seen.lock().unwrap(), ["started ev-1 tenant-1 weekly"]);
}

#[tokio::test]
async fn a_plain_signed_event_reaches_its_typed_handler() {
    let (receiver, seen) = recording_receiver();
    let body = v2_event("ev-2", "vc.meeting.meeting_ended_v1", TOKEN);
    assert_eq!(receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await.status, 200);
    // A known type without a typed handler goes to the fallback.
    let body = v2_event("ev-3", "vc.meeting.share_started_v1", TOKEN);
    assert_eq!(receiver.handle(&signed(&body, "n-2"), body.as_bytes()).await.status, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        ["ended ev-2", "fallback vc.meeting.share_started_v1 ev-3 known vc.meeting.share_started_v1"]
    );
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let (receiver, seen) = recording_receiver();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let headers = signed(&body, "n-1");
    let tampered = body.replace("weekly", "weekly!");
    assert!(matches!(rejected(&receiver, &headers, &tampered).await, WebhookError::BadSignature));
    let answer = receiver.handle(&headers, tampered.as_bytes()).await;
    assert_eq!(answer.status, 401);
    let encrypted_body = encrypted(&body);
    let headers = signed(&encrypted_body, "n-2");
    let flipped = encrypted_body.replacen('A', "B", 1);
    assert!(matches!(rejected(&receiver, &headers, &flipped).await, WebhookError::BadSignature));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_or_missing_signature_is_refused() {
    let (receiver, _) = recording_receiver();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let mut headers = signed(&body, "n-1");
    let last = headers[2].1.pop().unwrap();
    headers[2].1.push(if last == '0' { '1' } else { '0' });
    assert!(matches!(rejected(&receiver, &headers, &body).await, WebhookError::BadSignature));
    // Signed with another key.
    let timestamp = NOW.to_string();
    let mut other = signed(&body, "n-2");
    other[2].1 = python_signature(&timestamp, "n-2", "another-key", body.as_bytes());
    assert!(matches!(rejected(&receiver, &other, &body).await, WebhookError::BadSignature));
    // Not signed at all.
    let error = receiver.process(UNSIGNED, body.as_bytes()).await.unwrap_err();
    assert!(matches!(error, WebhookError::MissingHeader("x-lark-signature")), "{error:?}");
    assert_eq!(error.http_status(), 401);
}

#[tokio::test]
async fn a_body_encrypted_with_another_key_cannot_be_decrypted() {
    let (receiver, _) = recording_receiver();
    let plaintext = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let body =
        serde_json::json!({"encrypt": openssl_encrypt("some-other-key", plaintext.as_bytes(), true)}).to_string();
    let error = rejected(&receiver, &signed(&body, "n-1"), &body).await;
    // Under the wrong key the padding check fails (or, rarely, the garbage is not JSON).
    assert!(matches!(error, WebhookError::Decrypt(DecryptError::Padding) | WebhookError::Malformed(_)), "{error:?}");
    assert_eq!(error.http_status(), 400);
}

#[tokio::test]
async fn a_truncated_ciphertext_is_refused() {
    let (receiver, _) = recording_receiver();
    let ciphertext = raw_ciphertext(ENCRYPT_KEY, v2_event("ev-1", "x", TOKEN).as_bytes());
    for (keep, expected) in [
        (ciphertext.len() - 5, DecryptError::NotBlockAligned { len: ciphertext.len() - 5 }),
        (ciphertext.len() - 16, DecryptError::Padding),
        (0, DecryptError::TooShort { len: 16 }),
    ] {
        let body = serde_json::json!({"encrypt": blob_base64(&ciphertext, keep)}).to_string();
        match rejected(&receiver, &signed(&body, &format!("n-{keep}")), &body).await {
            // Dropping a whole block leaves a valid-looking ciphertext whose last block is not
            // the padded one: a padding error, or (rarely) bytes that are not JSON.
            WebhookError::Decrypt(DecryptError::Padding) | WebhookError::Malformed(_)
                if expected == DecryptError::Padding => {}
            WebhookError::Decrypt(actual) => assert_eq!(actual, expected),
            other => panic!("keep {keep}: {other:?}"),
        }
    }
    let body = r#"{"encrypt":"@@not-base64@@"}"#;
    assert!(matches!(
        rejected(&receiver, &signed(body, "n-b64"), body).await,
        WebhookError::Decrypt(DecryptError::Base64)
    ));
}

#[tokio::test]
async fn bad_padding_is_refused() {
    let (receiver, _) = recording_receiver();
    // 32 bytes encrypted without padding: the last byte, 0x00, is no PKCS#7 padding.
    let mut plaintext = br#"{"schema":"2.0","x":"abcdefg"}"#.to_vec();
    plaintext.resize(32, 0);
    let body = serde_json::json!({"encrypt": openssl_encrypt(ENCRYPT_KEY, &plaintext, false)}).to_string();
    let error = rejected(&receiver, &signed(&body, "n-1"), &body).await;
    assert!(matches!(error, WebhookError::Decrypt(DecryptError::Padding)), "{error:?}");
    assert!(error.to_string().contains("padding"), "{error}");
}

#[tokio::test]
async fn a_stale_or_future_timestamp_is_refused() {
    let (receiver, seen) = recording_receiver();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    for (timestamp, skew) in [(NOW - 301, -301), (NOW + 301, 301)] {
        match rejected(&receiver, &signed_at(&body, timestamp, "n-1"), &body).await {
            WebhookError::StaleTimestamp { skew_secs, tolerance } => {
                assert_eq!((skew_secs, tolerance), (skew, Duration::from_secs(300)));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(receiver.handle(&signed_at(&body, NOW - 300, "n-2"), body.as_bytes()).await.status, 200);
    assert_eq!(seen.lock().unwrap().len(), 1);
    // A wider window, on a clock that moves.
    let now = Arc::new(Mutex::new(NOW));
    let clock = now.clone();
    let wide = builder()
        .timestamp_tolerance(Duration::from_secs(3600))
        .clock(move || UNIX_EPOCH + Duration::from_secs(*clock.lock().unwrap()))
        .build()
        .unwrap();
    *now.lock().unwrap() = NOW + 3000;
    assert!(wide.receive(&signed(&body, "n-3"), body.as_bytes()).is_ok());
    *now.lock().unwrap() = NOW + 3601;
    assert!(matches!(wide.receive(&signed(&body, "n-4"), body.as_bytes()), Err(WebhookError::StaleTimestamp { .. })));
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let (receiver, seen) = recording_receiver();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let headers = signed(&body, "n-1");
    assert_eq!(receiver.handle(&headers, body.as_bytes()).await.status, 200);
    assert!(matches!(rejected(&receiver, &headers, &body).await, WebhookError::Replay));
    assert_eq!(receiver.handle(&headers, body.as_bytes()).await.status, 401);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_duplicate_event_id_is_acknowledged_once() {
    let (receiver, seen) = recording_receiver();
    let body = encrypted(&v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN));
    for nonce in ["n-1", "n-2", "n-3"] {
        // The platform's redelivery: a new request (nonce, signature) with the same event id.
        let answer = receiver.handle(&signed(&body, nonce), body.as_bytes()).await;
        assert_eq!(answer, WebhookResponse::ack());
    }
    assert_eq!(*seen.lock().unwrap(), ["started ev-1 tenant-1 weekly"]);
}

/// A receiver on a clock the test moves (unix milliseconds), counting its handler's runs.
fn counting_receiver(capacity: usize) -> (EventReceiver, Arc<AtomicU64>, Arc<AtomicUsize>) {
    let now_ms = Arc::new(AtomicU64::new(NOW * 1000));
    let runs = Arc::new(AtomicUsize::new(0));
    let (clock, counted) = (now_ms.clone(), runs.clone());
    let receiver = builder()
        .clock(move || UNIX_EPOCH + Duration::from_millis(clock.load(Ordering::SeqCst)))
        .memory_capacity(capacity)
        .fallback(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .build()
        .unwrap();
    (receiver, now_ms, runs)
}

/// Headers signed by the crate's own `signature` (checked against python3 vectors above), for
/// the thousands of filler deliveries where a python3 process each would be too slow.
fn signed_by_crate(body: &str, timestamp: u64, nonce: &str) -> Vec<(String, String)> {
    let timestamp = timestamp.to_string();
    let signature = vc_api::webhook::signature(&timestamp, nonce, &ENCRYPT_KEY.into(), body.as_bytes());
    vec![
        ("X-Lark-Request-Timestamp".into(), timestamp),
        ("X-Lark-Request-Nonce".into(), nonce.into()),
        ("X-Lark-Signature".into(), signature),
    ]
}

#[tokio::test]
async fn a_replay_after_10_000_other_deliveries_inside_the_window_is_refused() {
    let (receiver, now_ms, runs) = counting_receiver(vc_api::event_memory::LocalEventMemory::DEFAULT_CAPACITY);
    let body = v2_event("ev-target", "vc.x", TOKEN);
    let captured = signed(&body, "n-target");
    assert_eq!(receiver.handle(&captured, body.as_bytes()).await, WebhookResponse::ack());
    // 10,000 other deliveries over four minutes (about 42 a second), each signed when sent.
    for i in 0..10_000u64 {
        now_ms.fetch_add(24, Ordering::SeqCst);
        let sent = now_ms.load(Ordering::SeqCst) / 1000;
        let other = v2_event(&format!("ev-{i}"), "vc.x", TOKEN);
        let answer = receiver.handle(&signed_by_crate(&other, sent, &format!("n-{i}")), other.as_bytes()).await;
        assert_eq!(answer.status, 200, "delivery {i}: {answer:?}");
    }
    assert_eq!(now_ms.load(Ordering::SeqCst) / 1000, NOW + 240, "still inside the 5-minute window");
    // The captured request, byte for byte: refused, and the handler does not run again.
    assert!(matches!(rejected(&receiver, &captured, &body).await, WebhookError::Replay));
    // Its event id under a fresh signature is a duplicate: acknowledged without running.
    assert_eq!(
        receiver.handle(&signed_by_crate(&body, NOW + 240, "n-new"), body.as_bytes()).await,
        WebhookResponse::ack()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 10_001);
    // Once its timestamp is out of the window the replay fails on the timestamp instead.
    now_ms.store((NOW + 301) * 1000, Ordering::SeqCst);
    assert!(matches!(rejected(&receiver, &captured, &body).await, WebhookError::StaleTimestamp { .. }));
}

#[tokio::test]
async fn a_full_memory_refuses_with_503_and_forgets_nothing() {
    // Room for two deliveries (a nonce and an event id each).
    let (receiver, now_ms, runs) = counting_receiver(4);
    let bodies: Vec<String> = (1..=3).map(|i| v2_event(&format!("ev-{i}"), "vc.x", TOKEN)).collect();
    for (i, body) in bodies[..2].iter().enumerate() {
        assert_eq!(receiver.handle(&signed_by_crate(body, NOW, &format!("a{i}")), body.as_bytes()).await.status, 200);
    }
    let refused = receiver.process(&signed_by_crate(&bodies[2], NOW, "a2"), bodies[2].as_bytes()).await.unwrap_err();
    assert!(matches!(refused, WebhookError::Memory(vc_api::event_memory::MemoryError::Full { capacity: 4 })));
    assert_eq!(refused.http_status(), 503);
    // ev-1 was not forgotten to make room: its redelivery is still not run.
    let redelivery = receiver.handle(&signed_by_crate(&bodies[0], NOW, "b0"), bodies[0].as_bytes()).await;
    assert_eq!(redelivery.status, 503);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // Ten minutes later every key has expired: the refused delivery comes again and runs.
    now_ms.store((NOW + 601) * 1000, Ordering::SeqCst);
    let again = receiver.handle(&signed_by_crate(&bodies[2], NOW + 601, "c2"), bodies[2].as_bytes()).await;
    assert_eq!(again, WebhookResponse::ack());
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn good_and_bad_padding_get_identical_answers() {
    let (receiver, seen) = recording_receiver();
    // Valid PKCS#7 padding around bytes that are not JSON; valid padding around JSON that is no
    // delivery; 32 bytes encrypted without padding (the last byte, 0x00, is no padding); the
    // same with a block cut off; not base64.
    let mut unpadded = br#"{"schema":"2.0","x":"abcdefg"}"#.to_vec();
    unpadded.resize(32, 0);
    let ciphertext = raw_ciphertext(ENCRYPT_KEY, v2_event("ev-1", "x", TOKEN).as_bytes());
    let blobs = [
        openssl_encrypt(ENCRYPT_KEY, b"\x01garbage that is not json", true),
        openssl_encrypt(ENCRYPT_KEY, br#"{"hello":"world"}"#, true),
        openssl_encrypt(ENCRYPT_KEY, &unpadded, false),
        blob_base64(&ciphertext, ciphertext.len() - 16),
        "@@not-base64@@".to_owned(),
    ];
    let bodies: Vec<String> = blobs.iter().map(|blob| serde_json::json!({ "encrypt": blob }).to_string()).collect();
    for (signed_requests, expected_status) in [(false, 401), (true, 400)] {
        let mut answers = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let headers = if signed_requests { signed(body, &format!("p-{i}")) } else { vec![] };
            answers.push(receiver.handle(&headers, body.as_bytes()).await);
        }
        assert_eq!(answers[0].status, expected_status, "{answers:?}");
        assert!(answers.iter().all(|a| *a == answers[0]), "signed {signed_requests}: {answers:#?}");
        assert!(!answers[0].body.contains("padding"), "{:?}", answers[0]);
    }
    let unreadable = serde_json::json!({ "msg": WebhookResponse::UNREADABLE_BODY }).to_string();
    assert_eq!(receiver.handle(&signed(&bodies[2], "p-x"), bodies[2].as_bytes()).await.body, unreadable);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_panicking_handler_is_500_and_the_redelivery_runs_it_again() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = attempts.clone();
    let receiver = builder()
        .on(move |_, _: MeetingMeetingStartedV1Event| {
            let attempt = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(attempt > 0, "the handler panics on its first run");
                Ok(())
            }
        })
        .build()
        .unwrap();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let error = receiver.process(&signed(&body, "n-1"), body.as_bytes()).await.unwrap_err();
    assert!(matches!(&error, WebhookError::HandlerPanicked { event_id, .. } if event_id == "ev-1"), "{error:?}");
    assert_eq!(receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await.status, 200, "same nonce again");
    assert_eq!(receiver.handle(&signed(&body, "n-2"), body.as_bytes()).await.status, 200);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

/// A receiver whose handler reports each start on `started` and then waits for `finish`
/// (a handler that ends the first time `finish` is notified; later runs do not wait).
fn blocking_receiver(
    memory: vc_api::event_memory::LocalEventMemory,
) -> (EventReceiver, tokio::sync::mpsc::UnboundedReceiver<()>, Arc<tokio::sync::Notify>, Arc<AtomicUsize>) {
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let finish = Arc::new(tokio::sync::Notify::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let (gate, counted) = (finish.clone(), runs.clone());
    let receiver = builder()
        .memory(memory)
        .fallback(move |_, _| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            let (started_tx, gate) = (started_tx.clone(), gate.clone());
            async move {
                started_tx.send(()).unwrap();
                if run == 0 {
                    gate.notified().await;
                }
                Ok(())
            }
        })
        .build()
        .unwrap();
    (receiver, started, finish, runs)
}

#[tokio::test]
async fn a_handler_dropped_midway_is_forgotten_and_the_redelivery_runs_it() {
    let (receiver, mut started, _finish, runs) = blocking_receiver(Default::default());
    let body = v2_event("ev-1", "x", TOKEN);
    let headers = signed(&body, "n-1");
    {
        // A server shutting down (or a timeout layer) drops the answer's future mid-handler.
        let first = receiver.handle(&headers, body.as_bytes());
        tokio::pin!(first);
        tokio::select! {
            answer = &mut first => panic!("the handler should still be waiting: {answer:?}"),
            _ = started.recv() => {}
        }
    }
    assert_eq!(receiver.handle(&signed(&body, "n-2"), body.as_bytes()).await, WebhookResponse::ack());
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the dropped run was forgotten, so the redelivery ran");
    assert_eq!(receiver.handle(&headers, body.as_bytes()).await, WebhookResponse::ack(), "its nonce too");
    assert_eq!(runs.load(Ordering::SeqCst), 2, "...and now it is done");
}

#[tokio::test]
async fn a_redelivery_while_in_flight_is_refused_not_acknowledged() {
    // Two receivers (two replicas) sharing one memory.
    let memory = vc_api::event_memory::LocalEventMemory::default();
    let (first_replica, mut started, finish, runs) = blocking_receiver(memory.clone());
    let second_replica = builder().memory(memory).build().unwrap();
    let body = v2_event("ev-1", "x", TOKEN);
    let first_replica = Arc::new(first_replica);
    let running = tokio::spawn({
        let (receiver, headers, body) = (first_replica.clone(), signed(&body, "n-1"), body.clone());
        async move { receiver.handle(&headers, body.as_bytes()).await }
    });
    started.recv().await.unwrap();
    for receiver in [&*first_replica, &second_replica] {
        let nonce = format!("n-{:p}", receiver);
        let error = receiver.process(&signed(&body, &nonce), body.as_bytes()).await.unwrap_err();
        assert!(matches!(&error, WebhookError::InFlight { event_id } if event_id == "ev-1"), "{error:?}");
        assert_eq!(error.http_status(), 503);
    }
    finish.notify_one();
    assert_eq!(running.await.unwrap(), WebhookResponse::ack());
    assert_eq!(second_replica.handle(&signed(&body, "n-9"), body.as_bytes()).await, WebhookResponse::ack());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "handled once across both replicas");
}

#[tokio::test]
async fn an_unknown_event_type_reaches_the_fallback() {
    let (receiver, seen) = recording_receiver();
    let body = encrypted(&v2_event("ev-9", "vc.something.brand_new_v7", TOKEN));
    assert_eq!(receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await.status, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        [r#"fallback vc.something.brand_new_v7 ev-9 {"meeting":{"id":"6911188411934433028","topic":"weekly"}}"#]
    );
    // Without any fallback the event is still acknowledged.
    let bare = builder().build().unwrap();
    assert_eq!(bare.handle(&signed(&body, "n-1"), body.as_bytes()).await, WebhookResponse::ack());
}

#[tokio::test]
async fn a_challenge_is_answered_only_with_the_right_token() {
    let (receiver, _) = recording_receiver();
    let good = serde_json::json!({"challenge": "ch-42", "token": TOKEN, "type": "url_verification"}).to_string();
    let answer = receiver.handle(UNSIGNED, good.as_bytes()).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"challenge":"ch-42"}"#));
    let wrong =
        serde_json::json!({"challenge": "ch-42", "token": "not-the-token", "type": "url_verification"}).to_string();
    assert!(matches!(receiver.process(UNSIGNED, wrong.as_bytes()).await, Err(WebhookError::BadToken)));
    let answer = receiver.handle(UNSIGNED, wrong.as_bytes()).await;
    assert_eq!(answer.status, 401);
    assert!(!answer.body.contains("ch-42") && !answer.body.contains(TOKEN), "{}", answer.body);
    // A signed challenge is checked like any request.
    assert_eq!(receiver.handle(&signed(&good, "n-1"), good.as_bytes()).await.status, 200);
    assert_eq!(receiver.handle(&signed(&good, "n-2"), b"{}").await.status, 401);
}

#[tokio::test]
async fn an_encrypted_challenge_is_decrypted_and_answered() {
    let (receiver, _) = recording_receiver();
    let plaintext = serde_json::json!({"challenge": "ch-enc", "token": TOKEN, "type": "url_verification"}).to_string();
    let body = encrypted(&plaintext);
    let answer = receiver.handle(UNSIGNED, body.as_bytes()).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, r#"{"challenge":"ch-enc"}"#));
    let wrong = encrypted(&plaintext.replace(TOKEN, "forged"));
    assert!(matches!(receiver.process(UNSIGNED, wrong.as_bytes()).await, Err(WebhookError::BadToken)));
}

#[tokio::test]
async fn an_event_with_a_wrong_token_is_refused() {
    let (receiver, seen) = recording_receiver();
    let body = encrypted(&v2_event("ev-1", "vc.meeting.meeting_started_v1", "forged-token"));
    assert!(matches!(rejected(&receiver, &signed(&body, "n-1"), &body).await, WebhookError::BadToken));
    let v1 = r#"{"uuid":"u-1","token":"forged-token","ts":"1","type":"event_callback","event":{"type":"x"}}"#;
    assert!(matches!(rejected(&receiver, &signed(v1, "n-2"), v1).await, WebhookError::BadToken));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400_and_never_panic() {
    let (receiver, _) = recording_receiver();
    let not_a_delivery = encrypted(r#"{"hello":"world"}"#);
    let bad_payload = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN)
        .replace(r#"{"meeting":{"id":"6911188411934433028","topic":"weekly"}}"#, r#""not an object""#);
    for body in ["", "null", "{", r#"{"encrypt":null}"#, &not_a_delivery, &bad_payload, "\u{0}\u{1}"] {
        let answer = receiver.handle(&signed(body, &format!("n-{}", body.len())), body.as_bytes()).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
    }
}

#[tokio::test]
async fn a_handler_failure_is_500_and_the_redelivery_runs_it_again() {
    let attempts = Arc::new(Mutex::new(0));
    let counted = attempts.clone();
    let receiver = builder()
        .on(move |_, _: MeetingMeetingStartedV1Event| {
            let mut attempts = counted.lock().unwrap();
            *attempts += 1;
            let result = if *attempts == 1 { Err("database unavailable".into()) } else { Ok(()) };
            async move { result }
        })
        .build()
        .unwrap();
    let body = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let error = receiver.process(&signed(&body, "n-1"), body.as_bytes()).await.unwrap_err();
    assert!(matches!(&error, WebhookError::Handler { event_id, .. } if event_id == "ev-1"));
    assert_eq!(std::error::Error::source(&error).unwrap().to_string(), "database unavailable");
    assert_eq!(receiver.handle(&signed(&body, "n-2"), body.as_bytes()).await.status, 200);
    assert_eq!(receiver.handle(&signed(&body, "n-3"), body.as_bytes()).await.status, 200);
    assert_eq!(*attempts.lock().unwrap(), 2);
}

const APP_ID: &str = "cli_market_app";
const APP_SECRET: &str = "market-app-secret";

/// Token endpoints that only answer to `ticket`, and an export_get that needs the tenant token.
async fn marketplace_mocks(api: &MockApi, ticket: &str) {
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/app_access_token"))
        .and(body_json(serde_json::json!({"app_id": APP_ID, "app_secret": APP_SECRET, "app_ticket": ticket})))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "msg": "ok", "app_access_token": "a-market", "expire": 7200
        })))
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/open-apis/auth/v3/tenant_access_token"))
        .and(body_json(serde_json::json!({"app_access_token": "a-market", "tenant_key": "tenant-1"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 0, "msg": "ok", "tenant_access_token": "t-market", "expire": 7200
        })))
        .expect(1)
        .mount(&api.server)
        .await;
    export_get_mock()
        .and(header("authorization", "Bearer t-market"))
        .respond_with(ResponseTemplate::new(200).set_body_json(operation("export_get").response_example()))
        .expect(1)
        .mount(&api.server)
        .await;
}

fn marketplace_client(api: &MockApi) -> vc_api::Client {
    vc_api::Client::builder()
        .base_url(api.server.uri())
        .marketplace_app(APP_ID, APP_SECRET)
        .tenant_key("tenant-1")
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_v1_app_ticket_reaches_the_marketplace_client() {
    let api = MockApi::start().await;
    marketplace_mocks(&api, "ticket-from-event").await;
    let client = marketplace_client(&api);
    let receiver = builder().app_ticket_client(client.clone()).build().unwrap();
    let plaintext = serde_json::json!({
        "uuid": "u-ticket-1", "token": TOKEN, "ts": "1732190000.123", "type": "event_callback",
        "event": {"app_id": APP_ID, "app_ticket": "ticket-from-event", "type": "app_ticket"}
    })
    .to_string();
    let body = encrypted(&plaintext);
    assert_eq!(receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await, WebhookResponse::ack());
    client.export_get().task_id("T1").data().await.expect("the ticket from the event gets a token");
}

#[tokio::test]
async fn a_v2_app_ticket_reaches_the_marketplace_client() {
    let api = MockApi::start().await;
    marketplace_mocks(&api, "ticket-v2").await;
    let client = marketplace_client(&api);
    let receiver = builder().app_ticket_client(client.clone()).build().unwrap();
    let body = serde_json::json!({
        "schema": "2.0",
        "header": {"event_id": "ev-ticket", "event_type": "app_ticket", "token": TOKEN, "app_id": APP_ID},
        "event": {"app_id": APP_ID, "app_ticket": "ticket-v2", "type": "app_ticket"}
    })
    .to_string();
    assert_eq!(receiver.handle(&signed(&body, "n-1"), body.as_bytes()).await.status, 200);
    client.export_get().task_id("T1").data().await.expect("the ticket from the event gets a token");
}

#[tokio::test]
async fn the_axum_router_serves_the_receiver() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    let (receiver, seen) = recording_receiver();
    let app = vc_api::webhook::axum::router(Arc::new(receiver), "/webhook/event");
    let body = encrypted(&v2_event("ev-axum", "vc.meeting.meeting_started_v1", TOKEN));
    let mut request = Request::post("/webhook/event").header("content-type", "application/json");
    for (name, value) in signed(&body, "n-1") {
        request = request.header(name, value);
    }
    let response = app.clone().oneshot(request.body(Body::from(body.clone())).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    assert_eq!(&bytes[..], br#"{"msg":"success"}"#);
    assert_eq!(*seen.lock().unwrap(), ["started ev-axum tenant-1 weekly"]);

    let unsigned = Request::post("/webhook/event").body(Body::from(body)).unwrap();
    assert_eq!(app.clone().oneshot(unsigned).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let get = Request::get("/webhook/event").body(Body::empty()).unwrap();
    assert_eq!(app.oneshot(get).await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// Every kind of outcome once (event, duplicate, replay, tampered body, stale timestamp, wrong
/// token, app_ticket, unsigned), through `receive` and `handle`; returns the Debug/Display text.
async fn every_outcome(receiver: &EventReceiver) -> Vec<String> {
    let event = v2_event("ev-1", "vc.meeting.meeting_started_v1", TOKEN);
    let ticket = serde_json::json!({"uuid": "u", "token": TOKEN, "type": "event_callback",
        "event": {"type": "app_ticket", "app_ticket": "secret-ticket-value"}})
    .to_string();
    let wrong_token = v2_event("ev-2", "x", "forged");
    let mut outputs = vec![format!("{receiver:?} {:?}", builder())];
    for (headers, body, nonce) in [
        (signed(&event, "n-1"), event.clone(), "m-1"),
        (signed(&event, "n-1"), event.clone(), "m-2"),
        (signed(&event, "n-2"), event.replace("weekly", "x"), "m-3"),
        (signed_at(&event, NOW - 999, "n-3"), event.clone(), "m-4"),
        (signed(&wrong_token, "n-4"), wrong_token, "m-5"),
        (signed(&ticket, "n-5"), ticket.clone(), "m-6"),
        (vec![], encrypted("{}"), "m-7"),
    ] {
        outputs.push(format!("{:?}", receiver.handle(&headers, body.as_bytes()).await));
        // The same body under a new nonce: a duplicate (or the same rejection), through receive.
        let mut again = headers.clone();
        if again.len() == 3 {
            again[1].1 = nonce.into();
            let timestamp = again[0].1.clone();
            again[2].1 = python_signature(&timestamp, nonce, ENCRYPT_KEY, body.as_bytes());
        }
        match receiver.receive(&again, body.as_bytes()) {
            Ok(delivery) => outputs.push(format!("{delivery:?}")),
            Err(error) => outputs.push(format!("{error:?} {error}")),
        }
    }
    outputs.push(format!("{:?}", receiver.handle(&signed(&event, "n-6"), event.as_bytes()).await));
    outputs
}

/// Captures the receiver's logs at TRACE and checks that neither secret, nor an app_ticket,
/// shows up there or in any Debug/Display output.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_appears_in_logs_errors_or_debug_output() {
    // tracing caches whether each log statement is enabled when it first runs; one first run on
    // another test's thread while only this test's thread-local subscriber exists is cached as
    // disabled. Running every statement once before installing the subscriber avoids that.
    every_outcome(&recording_receiver().0).await;

    let captured = vc_api_tests::CapturedLogs::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let outputs = every_outcome(&recording_receiver().0).await;

    let logs = captured.text();
    for expected in ["delivery rejected", "event delivered", "duplicate delivery", "app_ticket received"] {
        assert!(logs.contains(expected), "{expected:?} not logged: {logs}");
    }
    let all = format!("{logs}\n{}", outputs.join("\n"));
    for secret in [ENCRYPT_KEY, TOKEN, "secret-ticket-value"] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}
