//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): HMAC-SHA256 over
//! `<webhook-id>.<webhook-timestamp>.<body>` with the secret's bytes, sent as
//! `webhook-signature: v1,<base64>`. During a rotation both the new and the previous
//! secret sign, space-separated, so a receiver holding either one verifies.
//!
//! # Verifying, on the receiver's side
//!
//! 1. Read `webhook-id`, `webhook-timestamp` and `webhook-signature`; refuse a
//!    timestamp more than 5 minutes from your clock (replays).
//! 2. Take your secret without its `whsec_` prefix and base64-decode it.
//! 3. HMAC-SHA256 the exact bytes `id + "." + timestamp + "." + raw body`; base64 it.
//! 4. Accept when any space-separated `v1,<sig>` entry equals it (compare in constant
//!    time). Use `webhook-id` to drop duplicates: it is the same on every retry.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is 'whsec_' followed by base64 of 24 to 64 random bytes")]
pub struct BadSecret;

/// The key bytes of a `whsec_…` secret.
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    let bytes = STANDARD.decode(b64).map_err(|_| BadSecret)?;
    if (24..=64).contains(&bytes.len()) {
        Ok(bytes)
    } else {
        Err(BadSecret)
    }
}

/// A new secret: 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    crate::ids::random_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// One `v1,<base64>` entry.
pub fn sign(secret: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value for every secret given (current first).
pub fn header(secrets: &[Vec<u8>], id: &str, timestamp: u64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_usable() {
        let s = generate_secret();
        assert_eq!(secret_bytes(&s).unwrap().len(), 32);
        assert!(secret_bytes("whsec_c2hvcnQ=").is_err());
        assert!(secret_bytes("sk_abc").is_err());
    }

    #[test]
    fn each_secret_adds_one_signature_entry() {
        let a = secret_bytes(&generate_secret()).unwrap();
        let b = secret_bytes(&generate_secret()).unwrap();
        let h = header(&[a.clone(), b], "msg_1", 1_700_000_000, b"{}");
        let entries: Vec<&str> = h.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], sign(&a, "msg_1", 1_700_000_000, b"{}"));
        assert_ne!(entries[0], sign(&a, "msg_1", 1_700_000_001, b"{}"));
    }
}
