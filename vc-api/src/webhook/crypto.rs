//! The cryptography of event deliveries: the `X-Lark-Signature` request signature and the
//! AES-256-CBC encryption of `{"encrypt": "..."}` bodies.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::DecryptError;
use crate::secret::Secret;

/// AES block (and IV) size in bytes.
const BLOCK: usize = 16;

type Aes256CbcDecryptor = cbc::Decryptor<aes::Aes256>;
type Aes256CbcEncryptor = cbc::Encryptor<aes::Aes256>;

/// The signature the platform puts in `X-Lark-Signature`: the lowercase hex SHA-256 of the
/// timestamp, the nonce, the encrypt key and the raw body bytes, concatenated in that order.
///
/// ```
/// # use vc_api::{Secret, webhook};
/// let signature = webhook::signature("1700000000", "nonce-1", &Secret::new("key"), br#"{"a":1}"#);
/// assert_eq!(signature.len(), 64);
/// ```
pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &Secret, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(encrypt_key.expose().as_bytes());
    hasher.update(body);
    crate::hex::to_hex(&hasher.finalize())
}

/// Whether `received` (the `X-Lark-Signature` header) is the signature of this request. The
/// comparison takes the same time wherever the first difference is; hex case is ignored.
pub(crate) fn signature_matches(
    timestamp: &str,
    nonce: &str,
    encrypt_key: &Secret,
    body: &[u8],
    received: &str,
) -> bool {
    let expected = signature(timestamp, nonce, encrypt_key, body);
    let received = received.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(received.as_bytes()).into()
}

/// Decrypts the `encrypt` field of an encrypted delivery: base64 of IV (16 bytes) followed by
/// the AES-256-CBC ciphertext, PKCS#7-padded, under the key SHA-256(`encrypt_key`). Returns the
/// plaintext bytes (the JSON of the delivery).
///
/// Never panics, whatever the input: every failure is a [`DecryptError`].
pub fn decrypt(encrypt_key: &Secret, encrypted: &str) -> Result<Vec<u8>, DecryptError> {
    let blob = base64::engine::general_purpose::STANDARD.decode(encrypted.trim()).map_err(|_| DecryptError::Base64)?;
    if blob.len() < 2 * BLOCK {
        return Err(DecryptError::TooShort { len: blob.len() });
    }
    let (iv, ciphertext) = blob.split_at(BLOCK);
    if ciphertext.len() % BLOCK != 0 {
        return Err(DecryptError::NotBlockAligned { len: ciphertext.len() });
    }
    let key = Sha256::digest(encrypt_key.expose().as_bytes());
    let decryptor = Aes256CbcDecryptor::new_from_slices(&key, iv).map_err(|_| DecryptError::TooShort { len: 0 })?;
    let mut buffer = ciphertext.to_vec();
    let plaintext_len = decryptor.decrypt_padded_mut::<Pkcs7>(&mut buffer).map_err(|_| DecryptError::Padding)?.len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// Encrypts a delivery body the way the platform does, the inverse of [`decrypt`]: base64 of
/// `iv` followed by the AES-256-CBC ciphertext of `plaintext` (PKCS#7-padded) under the key
/// SHA-256(`encrypt_key`). The result is the value of the `encrypt` field.
///
/// A sender (a test, a fake platform such as `vc-mock`) must use a fresh unpredictable `iv` for
/// every body.
///
/// ```
/// # use vc_api::{Secret, webhook};
/// let key = Secret::new("key");
/// let encrypted = webhook::encrypt(&key, [7; 16], br#"{"a":1}"#);
/// assert_eq!(webhook::decrypt(&key, &encrypted).unwrap(), br#"{"a":1}"#);
/// ```
pub fn encrypt(encrypt_key: &Secret, iv: [u8; BLOCK], plaintext: &[u8]) -> String {
    let key = Sha256::digest(encrypt_key.expose().as_bytes());
    let encryptor = Aes256CbcEncryptor::new(&key, &iv.into());
    // IV, then the plaintext with room for its padding (1 to 16 bytes), encrypted in place.
    let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
    let mut blob = vec![0u8; BLOCK + padded];
    blob[..BLOCK].copy_from_slice(&iv);
    blob[BLOCK..BLOCK + plaintext.len()].copy_from_slice(plaintext);
    match encryptor.encrypt_padded_mut::<Pkcs7>(&mut blob[BLOCK..], plaintext.len()) {
        Ok(ciphertext) => debug_assert_eq!(ciphertext.len(), padded),
        // Unreachable: the buffer always has room for the padding.
        Err(_) => blob.truncate(BLOCK),
    }
    base64::engine::general_purpose::STANDARD.encode(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed outside this crate:
    // python3 -c 'import hashlib; print(hashlib.sha256(b"1700000000nonce-1key{\"a\":1}").hexdigest())'
    const SIGNATURE_VECTOR: &str = "41730dc2b8b0363bf71160a4850a048b9851fce70c50b925287365635f0cdf26";

    #[test]
    fn the_signature_hashes_timestamp_nonce_key_and_body_in_order() {
        let key = Secret::new("key");
        assert_eq!(signature("1700000000", "nonce-1", &key, br#"{"a":1}"#), SIGNATURE_VECTOR);
        assert!(signature_matches("1700000000", "nonce-1", &key, br#"{"a":1}"#, SIGNATURE_VECTOR));
        assert!(signature_matches("1700000000", "nonce-1", &key, br#"{"a":1}"#, &SIGNATURE_VECTOR.to_uppercase()));
        assert!(!signature_matches("1700000000", "nonce-1", &key, br#"{"a":2}"#, SIGNATURE_VECTOR));
        assert!(!signature_matches("1700000001", "nonce-1", &key, br#"{"a":1}"#, SIGNATURE_VECTOR));
        assert!(!signature_matches("1700000000", "nonce-1", &key, br#"{"a":1}"#, &SIGNATURE_VECTOR[..63]));
        assert!(!signature_matches("1700000000", "nonce-1", &key, br#"{"a":1}"#, ""));
    }

    // printf '{"x":"y"}' | openssl enc -aes-256-cbc -K $(printf k | sha256sum | cut -c1-64) \
    //   -iv 000102030405060708090a0b0c0d0e0f | (printf '\0\1\2\3\4\5\6\7\10\11\12\13\14\15\16\17'; cat) | base64
    const DECRYPT_VECTOR: &str = "AAECAwQFBgcICQoLDA0OD87pJ64iVA//cdVrp7ccPAI=";

    #[test]
    fn decrypts_an_openssl_vector() {
        assert_eq!(decrypt(&Secret::new("k"), DECRYPT_VECTOR).unwrap(), br#"{"x":"y"}"#);
    }

    #[test]
    fn every_malformed_input_is_a_typed_error() {
        let key = Secret::new("k");
        assert_eq!(decrypt(&key, "not base64!"), Err(DecryptError::Base64));
        assert_eq!(decrypt(&key, ""), Err(DecryptError::TooShort { len: 0 }));
        assert_eq!(decrypt(&key, "AAECAwQFBgcICQoLDA0ODw=="), Err(DecryptError::TooShort { len: 16 }));
        // 16-byte IV + 17 bytes.
        let odd = base64::engine::general_purpose::STANDARD.encode([0u8; 33]);
        assert_eq!(decrypt(&key, &odd), Err(DecryptError::NotBlockAligned { len: 17 }));
        assert_eq!(decrypt(&Secret::new("other key"), DECRYPT_VECTOR), Err(DecryptError::Padding));
    }
}
