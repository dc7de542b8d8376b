//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): HMAC-SHA256 over
//! `<webhook-id>.<webhook-timestamp>.<body>` with the secret's bytes, sent as
//! `webhook-signature: v1,<base64>`. During a rotation the new secret and every replaced
//! one still inside its grace period sign, space-separated, so a receiver holding any of
//! them verifies.
//!
//! # Rotation
//!
//! A replaced secret keeps signing for its own grace period (24 hours from the moment it
//! was replaced), however many rotations follow: rotating twice within a day keeps both
//! older secrets, each until its own end. It is stored sealed under the name
//! `previous_signing_secret@<end>` ([`previous_name`]; `<end>` in seconds since the
//! epoch), so each keeps its own end. At most [`MAX_PREVIOUS_SECRETS`] are kept: a
//! further rotation within the grace period drops the one whose grace ends first.
//! Integrations written before this scheme hold one `previous_signing_secret` with the
//! setting `previous_signing_secret_until`; it is still honoured, and moved to the new
//! scheme at the next rotation.
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

/// Most replaced secrets kept signing at once (so a signature header carries at most
/// this many entries plus the current one).
pub const MAX_PREVIOUS_SECRETS: usize = 4;

/// The start of the credential name of a replaced secret; its grace end follows.
pub const PREVIOUS_PREFIX: &str = "previous_signing_secret@";

/// The credential name of the secret replaced before this scheme (one slot), whose end
/// is the setting [`LEGACY_PREVIOUS_UNTIL`].
pub const LEGACY_PREVIOUS: &str = "previous_signing_secret";

/// The setting holding [`LEGACY_PREVIOUS`]'s grace end (seconds since the epoch).
pub const LEGACY_PREVIOUS_UNTIL: &str = "previous_signing_secret_until";

/// Whether a credential name is one leadrelay keeps for replaced secrets (callers may
/// not set these).
pub fn is_previous_name(name: &str) -> bool {
    name.starts_with(LEGACY_PREVIOUS)
}

/// The credential name of a secret replaced until `until` (seconds since the epoch).
pub fn previous_name(until: u64) -> String {
    format!("{PREVIOUS_PREFIX}{until}")
}

/// The grace end a replaced secret's credential name carries.
pub fn previous_until(name: &str) -> Option<u64> {
    name.strip_prefix(PREVIOUS_PREFIX)?.parse().ok()
}

/// Moves `replaced` (the sealed secret being replaced) into the replaced secrets of
/// `credentials`, signing until `now + grace`: drops those whose grace has ended,
/// moves a one-slot secret of the old scheme (its end in `settings`) to its own name,
/// and keeps at most [`MAX_PREVIOUS_SECRETS`], dropping the ones that end first.
/// Works on sealed values: nothing is opened.
pub fn retire(
    credentials: &mut std::collections::BTreeMap<String, String>,
    settings: &mut serde_json::Map<String, serde_json::Value>,
    replaced: String,
    now: u64,
    grace: u64,
) {
    let legacy_until = settings
        .remove(LEGACY_PREVIOUS_UNTIL)
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if let Some(legacy) = credentials.remove(LEGACY_PREVIOUS) {
        if legacy_until > now {
            insert_previous(credentials, legacy_until, legacy);
        }
    }
    credentials.retain(|name, _| previous_until(name).is_none_or(|until| until > now));
    insert_previous(credentials, now + grace, replaced);
    let mut kept: Vec<(u64, String)> = credentials
        .keys()
        .filter_map(|name| Some((previous_until(name)?, name.clone())))
        .collect();
    kept.sort();
    let excess = kept.len().saturating_sub(MAX_PREVIOUS_SECRETS);
    for (_, name) in kept.into_iter().take(excess) {
        credentials.remove(&name);
    }
}

/// Inserts a replaced secret under its end's name (a second later if that name is taken,
/// so two rotations within one second keep both).
fn insert_previous(
    credentials: &mut std::collections::BTreeMap<String, String>,
    mut until: u64,
    sealed: String,
) {
    while credentials.contains_key(&previous_name(until)) {
        until += 1;
    }
    credentials.insert(previous_name(until), sealed);
}

/// The replaced secrets still signing at `timestamp`, latest end first: `(end, name)`
/// for each credential name of `names`, the old scheme's one read with `legacy_until`.
pub fn signing_previous<'a>(
    names: impl IntoIterator<Item = &'a str>,
    legacy_until: u64,
    timestamp: u64,
) -> Vec<(u64, &'a str)> {
    let mut out: Vec<(u64, &str)> = names
        .into_iter()
        .filter_map(|name| {
            let until = if name == LEGACY_PREVIOUS {
                legacy_until
            } else {
                previous_until(name)?
            };
            (until > timestamp).then_some((until, name))
        })
        .collect();
    out.sort_by(|a, b| b.cmp(a));
    out.truncate(MAX_PREVIOUS_SECRETS);
    out
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
