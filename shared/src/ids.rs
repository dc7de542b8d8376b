//! Identifiers: newtypes that can only hold a well-formed id of their kind.
//!
//! An id is a short prefix naming its kind (`reg_`, `cmp_`, ...) followed by 26 characters
//! of Crockford base32: 10 for the creation time in milliseconds (so ids of one kind sort
//! by time) and 16 random. Ids arrive in URLs and queue messages, so parsing is strict:
//! anything that is not exactly that shape is refused before it reaches storage.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const BODY_LEN: usize = 26;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id (expected {prefix}… with {BODY_LEN} letters and digits)")]
pub struct IdError {
    /// The kind of id expected (`registration`, `campaign`, ...).
    pub kind: &'static str,
    /// Its prefix (`reg_`).
    pub prefix: &'static str,
}

/// Fills `buf` with random bytes from the operating system.
///
/// The OS random source failing is not a state this program can continue from (ids and
/// keys would repeat), hence the panic.
pub fn random_bytes(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source is unavailable");
}

/// A fresh id body: 10 characters of time, 16 of randomness.
fn new_body(now_ms: u64) -> String {
    let mut out = String::with_capacity(BODY_LEN);
    for i in (0..10).rev() {
        out.push(ALPHABET[((now_ms >> (i * 5)) & 31) as usize] as char);
    }
    let mut random = [0u8; 10];
    random_bytes(&mut random);
    let bits = random
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    for i in (0..16).rev() {
        out.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    out
}

fn valid_body(s: &str) -> bool {
    s.len() == BODY_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, sorting after ids made earlier.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, new_body(crate::clock::now_ms())))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                match s.strip_prefix($prefix) {
                    Some(body) if valid_body(body) => Ok(Self(s.to_owned())),
                    _ => Err(IdError { kind: $kind, prefix: $prefix }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A customer (tenant).
    AccountId, "acc_", "account"
);
id_type!(
    /// A source of registrations.
    CampaignId, "cmp_", "campaign"
);
id_type!(
    /// A configured destination.
    IntegrationId, "int_", "integration"
);
id_type!(
    /// One submitted form.
    RegistrationId, "reg_", "registration"
);
id_type!(
    /// An ingest or account key (the id, not the secret).
    KeyId, "key_", "key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_time() {
        let a = RegistrationId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RegistrationId::generate();

        assert_eq!(a.as_str().parse::<RegistrationId>(), Ok(a.clone()));
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a.as_str().len(), 4 + BODY_LEN);
    }

    #[test]
    fn ids_of_another_kind_or_shape_are_refused() {
        let campaign = CampaignId::generate();
        assert!(campaign.as_str().parse::<RegistrationId>().is_err());
        assert!("reg_".parse::<RegistrationId>().is_err());
        assert!("reg_0123456789abcdefghjkmnpqrU"
            .parse::<RegistrationId>()
            .is_err());
        assert!("reg_0123456789abcdefghjkmnpqr/"
            .parse::<RegistrationId>()
            .is_err());
        let err = "x".parse::<CampaignId>().unwrap_err();
        assert!(err.to_string().contains("campaign"));
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id: IntegrationId = "int_0123456789abcdefghjkmnpqrs".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"int_0123456789abcdefghjkmnpqrs\""
        );
        assert!(serde_json::from_str::<IntegrationId>("\"int_bad\"").is_err());
    }
}
