//! Email address checks, as the providers apply them (RFC 5321/5322 with the ASCII-only
//! local part most ESPs require). Used before sending and to point at the offending value
//! when a provider refused an address.

use crate::Provider;
use std::fmt;

/// The rules one provider applies to an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailRules {
    /// Only ASCII letters, digits and ``.!#$%&'*+/=?^_`{|}~-`` before the @.
    pub ascii_local_part: bool,
    /// Longest local part, in octets (RFC 5321: 64).
    pub max_local_octets: usize,
    /// Longest whole address, in octets (RFC 5321 path limit less the brackets: 254).
    pub max_total_octets: usize,
}

impl EmailRules {
    /// The rules of a provider; unknown APIs and webhooks get RFC 5321's limits with an
    /// ASCII local part, which is what almost every ESP enforces.
    pub fn for_provider(_provider: Option<Provider>) -> EmailRules {
        EmailRules {
            ascii_local_part: true,
            max_local_octets: 64,
            max_total_octets: 254,
        }
    }
}

/// What is wrong with an email address. Positions are 1-based character positions in the
/// whole address, as a person counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailIssue {
    /// A character outside the ASCII set the provider accepts before the @.
    NonAsciiLocal {
        /// The offending character.
        ch: char,
        /// Its 1-based position in the address.
        position: usize,
    },
}

impl fmt::Display for EmailIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailIssue::NonAsciiLocal { ch, position } => write!(
                f,
                "the email address has '{ch}' at position {position}; only ASCII letters, digits and .!#$%&'*+/=?^_`{{|}}~- are accepted before the @"
            ),
        }
    }
}

/// Checks an address against a provider's rules.
pub fn check(address: &str, rules: &EmailRules) -> Result<(), EmailIssue> {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    if rules.ascii_local_part {
        if let Some((i, ch)) = local.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
            return Err(EmailIssue::NonAsciiLocal {
                ch,
                position: i + 1,
            });
        }
    }
    Ok(())
}
