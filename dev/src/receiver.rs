//! A webhook receiver as a customer would write one: it verifies Standard Webhooks
//! signatures (its own implementation of the scheme, written from the specification, not
//! leadrelay's signer) and drops repeats by `webhook-id`. The demo's receiver answers some
//! registrations with errors, so the log shows different failures.

use crate::fake::{Handler, Recorded, Reply};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a delivery's signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing.
    #[error("missing header {0}")]
    Missing(&'static str),
    /// The timestamp is more than five minutes from now.
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No signature entry matches.
    #[error("no signature matches")]
    Mismatch,
    /// The secret is not `whsec_` + base64.
    #[error("bad secret")]
    BadSecret,
}

/// Verifies a request against one secret, as the Standard Webhooks specification says:
/// HMAC-SHA256 of `id.timestamp.body` with the base64-decoded secret, compared with each
/// `v1,` entry of `webhook-signature`, timestamp within five minutes of `now`.
pub fn verify(request: &Recorded, secret: &str, now: u64) -> Result<(), SignatureError> {
    let id = request
        .header("webhook-id")
        .ok_or(SignatureError::Missing("webhook-id"))?;
    let ts = request
        .header("webhook-timestamp")
        .ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let given = request
        .header("webhook-signature")
        .ok_or(SignatureError::Missing("webhook-signature"))?;
    let ts_num: u64 = ts.parse().map_err(|_| SignatureError::Stale)?;
    if ts_num.abs_diff(now) > 300 {
        return Err(SignatureError::Stale);
    }
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .ok_or(SignatureError::BadSecret)?,
        )
        .map_err(|_| SignatureError::BadSecret)?;
    let mut signed = Vec::with_capacity(id.len() + ts.len() + request.body.len() + 2);
    signed.extend_from_slice(id.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(ts.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(&request.body);
    for entry in given.split(' ') {
        let Some(b64) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(b64) else {
            continue;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SignatureError::BadSecret)?;
        mac.update(&signed);
        // verify_slice compares in constant time.
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The demo's receiver. It answers by the registration's email address:
///
/// | address | answer |
/// |---|---|
/// | non-ASCII before the @ | 422, "must be a valid email address in the UTF-8 charset" |
/// | starts with `busy` | 503 with `Retry-After: 2` the first time, then 200 |
/// | starts with `known` | 409, the contact already exists |
/// | anything else | 200 |
///
/// A bad signature (when a secret is set) is a 401; a repeated `webhook-id` after a 2xx
/// is answered 200 without being counted again.
///
/// A batch (a JSON array body, from a batch-mode integration) is read as a receiver of
/// batches would: the signature is checked over the whole array, then each item is
/// judged by the same rules, its tries counted by the item's own `id`, and the answer is
/// a 200 that lists the items that failed:
/// `{"results": [{"id": "<item id>", "status": 422, "error": {...}}]}`.
pub fn demo_handler(secret: Option<String>) -> Handler {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    Arc::new(move |r: &Recorded| {
        if let Some(s) = &secret {
            if let Err(e) = verify(r, s, now_s()) {
                return Reply::json(
                    401,
                    json!({"error": "invalid_signature", "message": e.to_string()}),
                );
            }
        }
        let count = |id: &str| {
            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            let n = seen.entry(id.to_owned()).or_default();
            *n += 1;
            *n
        };
        let body = r.json().unwrap_or_default();
        if let Some(items) = body.as_array() {
            let mut results = Vec::new();
            for item in items {
                let id = item["id"].as_str().unwrap_or("");
                let email = item["data"]["email"].as_str().unwrap_or("");
                if let Some(failure) = judge(email, count(id)) {
                    let mut error = failure.body;
                    if let Some(wait) = failure.retry_after {
                        error["retry_after"] = json!(wait);
                    }
                    results.push(json!({"id": id, "status": failure.status, "error": error}));
                }
            }
            return Reply::json(200, json!({"results": results}));
        }
        let tries = count(r.header("webhook-id").unwrap_or(""));
        let email = body["data"]["email"].as_str().unwrap_or("");
        match judge(email, tries) {
            Some(failure) => {
                let reply = Reply::json(failure.status, failure.body);
                match failure.retry_after {
                    Some(wait) => reply.header("retry-after", wait.to_string()),
                    None => reply,
                }
            }
            None => Reply::json(200, json!({"ok": true})).after(Duration::from_millis(5)),
        }
    })
}

/// A registration the demo receiver refuses, and how.
struct Refusal {
    status: u16,
    body: serde_json::Value,
    retry_after: Option<u64>,
}

/// The demo receiver's rules for one registration (`tries`: how often its id was seen).
fn judge(email: &str, tries: u32) -> Option<Refusal> {
    let local = email.split('@').next().unwrap_or("");
    if !local.is_ascii() {
        return Some(Refusal {
            status: 422,
            body: json!({"message": "The email must be a valid email address in the UTF-8 charset.", "errors": {"email": ["The email must be a valid email address in the UTF-8 charset."]}}),
            retry_after: None,
        });
    }
    if local.starts_with("busy") && tries == 1 {
        return Some(Refusal {
            status: 503,
            body: json!({"error": "temporarily overloaded"}),
            retry_after: Some(2),
        });
    }
    if local.starts_with("known") {
        return Some(Refusal {
            status: 409,
            body: json!({"error": {"code": "contact_exists", "message": "A contact with this email already exists."}}),
            retry_after: None,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn request(id: &str, ts: u64, sig: &str, body: &[u8]) -> Recorded {
        Recorded {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            headers: vec![
                ("webhook-id".into(), id.into()),
                ("webhook-timestamp".into(), ts.to_string()),
                ("webhook-signature".into(), sig.into()),
            ],
            body: body.to_vec(),
            at: Instant::now(),
        }
    }

    #[test]
    fn the_specifications_example_verifies() {
        // The worked example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let r = request(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            body,
        );
        assert_eq!(verify(&r, secret, 1614265330), Ok(()));
        assert_eq!(
            verify(&r, secret, 1614265330 + 301),
            Err(SignatureError::Stale)
        );
        let mut tampered = r.clone();
        tampered.body = br#"{"test": 2432232315}"#.to_vec();
        assert_eq!(
            verify(&tampered, secret, 1614265330),
            Err(SignatureError::Mismatch)
        );
    }
}
