//! Opaque page cursors, sealed with HMAC-SHA256 and bound to the caller and the query.
//!
//! A cursor carries the storage position (DynamoDB's `LastEvaluatedKey`, string attributes
//! only) and a digest of what it is bound to: the account, the campaign and the filters.
//! A cursor that was altered, made with another key, or presented by another account or
//! with other filters does not open: the caller gets a 400, never data.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

/// Why a cursor did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: it was altered, expired, or belongs to another query")]
pub struct CursorError;

/// Seals and opens cursors with one secret key.
#[derive(Clone)]
pub struct CursorSealer {
    key: Vec<u8>,
}

impl std::fmt::Debug for CursorSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSealer([redacted])")
    }
}

impl CursorSealer {
    /// A sealer with this secret (at least 16 bytes make sense; any length works).
    pub fn new(key: impl AsRef<[u8]>) -> Self {
        CursorSealer {
            key: key.as_ref().to_vec(),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(payload);
        mac
    }

    /// Seals `position` for the query named by `binding` (account, campaign, filters).
    pub fn seal(&self, position: &BTreeMap<String, String>, binding: &[&str]) -> String {
        let body = serde_json::json!({"p": position, "b": digest(binding)}).to_string();
        let tag = self.mac(body.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body.as_bytes()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Opens a cursor sealed for the same `binding`.
    pub fn open(
        &self,
        cursor: &str,
        binding: &[&str],
    ) -> Result<BTreeMap<String, String>, CursorError> {
        if cursor.len() > 4096 {
            return Err(CursorError);
        }
        let (body, tag) = cursor.split_once('.').ok_or(CursorError)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| CursorError)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError)?;
        self.mac(&body)
            .verify_slice(&tag)
            .map_err(|_| CursorError)?;
        #[derive(serde::Deserialize)]
        struct Sealed {
            p: BTreeMap<String, String>,
            b: String,
        }
        let sealed: Sealed = serde_json::from_slice(&body).map_err(|_| CursorError)?;
        if sealed.b != digest(binding) {
            return Err(CursorError);
        }
        Ok(sealed.p)
    }
}

fn digest(binding: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in binding {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn position() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("pk".to_owned(), "REG#reg_1".to_owned()),
            ("gsi1sk".to_owned(), "0001#x".to_owned()),
        ])
    }

    #[test]
    fn a_cursor_opens_for_its_own_query() {
        let s = CursorSealer::new("k1");
        let c = s.seal(&position(), &["acc_a", "cmp_1", "outcome=failed"]);
        assert_eq!(
            s.open(&c, &["acc_a", "cmp_1", "outcome=failed"]),
            Ok(position())
        );
    }

    #[test]
    fn a_foreign_altered_or_rekeyed_cursor_does_not_open() {
        let s = CursorSealer::new("k1");
        let c = s.seal(&position(), &["acc_a", "cmp_1"]);

        assert_eq!(s.open(&c, &["acc_b", "cmp_1"]), Err(CursorError));
        assert_eq!(s.open(&c, &["acc_a", "cmp_1", "x"]), Err(CursorError));
        assert_eq!(
            CursorSealer::new("k2").open(&c, &["acc_a", "cmp_1"]),
            Err(CursorError)
        );
        let mut bytes = c.into_bytes();
        bytes[3] ^= 1;
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(s.open(&altered, &["acc_a", "cmp_1"]), Err(CursorError));
        assert_eq!(s.open("not-a-cursor", &["acc_a"]), Err(CursorError));
    }

    #[test]
    fn binding_parts_cannot_be_shifted_between_each_other() {
        let s = CursorSealer::new("k");
        let c = s.seal(&position(), &["ab", "c"]);
        assert_eq!(s.open(&c, &["a", "bc"]), Err(CursorError));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_opens(text in ".{0,200}") {
            let s = CursorSealer::new("k");
            prop_assert!(s.open(&text, &["acc"]).is_err());
        }
    }
}
