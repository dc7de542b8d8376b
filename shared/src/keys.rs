//! API keys and secrets: generation, hashing, and a wrapper that never prints its value.
//!
//! Keys are 32 random bytes in base62 behind a prefix that names their kind (`lr_ik_` for
//! ingest keys, `lr_ak_` for account keys, `lr_pk_` for platform keys). Only their SHA-256 is stored: a key has 190
//! bits of entropy, so a slow password hash would add cost without adding safety.

use crate::model::KeyKind;
use sha2::{Digest, Sha256};
use std::fmt;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A value that must not be logged: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends or hashes it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl KeyKind {
    /// The prefix of keys of this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Ingest => "lr_ik_",
            KeyKind::Account => "lr_ak_",
            KeyKind::Platform => "lr_pk_",
        }
    }

    /// The kind a presented key claims by its prefix.
    pub fn of_key(key: &str) -> Option<KeyKind> {
        [KeyKind::Ingest, KeyKind::Account, KeyKind::Platform]
            .into_iter()
            .find(|k| key.starts_with(k.prefix()))
    }
}

/// `n` random characters of base62.
pub fn random_base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut buf = [0u8; 64];
        crate::ids::random_bytes(&mut buf);
        // 248 = 4 × 62: bytes at or above it are dropped so every character is equally likely.
        out.extend(
            buf.iter()
                .filter(|b| **b < 248)
                .map(|b| BASE62[(*b % 62) as usize] as char)
                .take(n - out.len()),
        );
    }
    out
}

/// A new key of a kind: shown once to its owner, stored only as [`hash_key`].
pub fn generate_key(kind: KeyKind) -> Secret {
    Secret(format!("{}{}", kind.prefix(), random_base62(32)))
}

/// The stored form of a key: SHA-256, hex.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The last four characters, to tell keys apart in lists.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Reads `Authorization: Bearer <key>`; the scheme is case-insensitive.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_kind_and_hash_stably() {
        let key = generate_key(KeyKind::Ingest);
        assert_eq!(KeyKind::of_key(key.expose()), Some(KeyKind::Ingest));
        assert_eq!(key.expose().len(), 6 + 32);
        assert_eq!(hash_key(key.expose()), hash_key(key.expose()));
        assert_ne!(
            hash_key(key.expose()),
            hash_key(generate_key(KeyKind::Ingest).expose())
        );
        assert_eq!(KeyKind::of_key("sk_live_x"), None);
    }

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
        assert_eq!(key_hint("lr_ak_abcdWXYZ"), "WXYZ");
    }
}
