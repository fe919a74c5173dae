//! `webhook::decrypt` on any input: arbitrary text, and arbitrary bytes sent through base64 so
//! that the AES and padding code is reached. It must return, never panic.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use vc_api::Secret;
use vc_api::webhook::decrypt;

fuzz_target!(|data: &[u8]| {
    let key = Secret::new("fuzz-encrypt-key");
    let Some((&mode, rest)) = data.split_first() else { return };
    let encrypted = if mode & 1 == 0 {
        base64::engine::general_purpose::STANDARD.encode(rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    if let Ok(plaintext) = decrypt(&key, &encrypted) {
        // A successful decryption is at most the ciphertext minus the IV.
        assert!(plaintext.len() + 16 <= encrypted.len());
    }
});
