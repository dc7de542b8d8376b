//! What one reading of a body found: the shape every provider reader and the generic
//! reader return, merged provider first.

use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a provider module (or the generic reader) found in a body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Extracted {
    /// The provider's error identifier.
    pub code: Option<String>,
    /// The provider's human-readable message.
    pub message: Option<String>,
    /// The field at fault, raw (normalised later).
    pub field: Option<String>,
    /// The outcome, when the body decides it against the status.
    pub outcome: Option<Outcome>,
    /// The catalogue entry, when the body says more than the outcome.
    pub cause: Option<Cause>,
    /// A wait stated in the body.
    pub retry_after_s: Option<u64>,
    /// The provider's bodies carry no identifier of their own (SendGrid), or only one in a
    /// place its module reads (Mailjet): the generic reader must not supply a code.
    pub no_code: bool,
    /// Every field at fault the body named beyond `field`, raw.
    pub more_fields: Vec<String>,
    /// The values (or field names) the body lists as allowed.
    pub allowed: Vec<String>,
    /// The format the body says the field expects, in words.
    pub format: Option<String>,
    /// The permission (privilege, scope) the body says is missing.
    pub permission: Option<String>,
}

impl Extracted {
    /// Records what the body decides: the outcome and the catalogue entry explaining it.
    pub(crate) fn decide(&mut self, meaning: Option<(Outcome, Cause)>) {
        if let Some((outcome, cause)) = meaning {
            self.outcome = Some(outcome);
            self.cause = Some(cause);
        }
    }

    /// Fills what is still open from another reading (provider first, generic second).
    pub(super) fn or(self, other: Extracted) -> Extracted {
        Extracted {
            code: if self.no_code {
                self.code
            } else {
                self.code.or(other.code)
            },
            no_code: self.no_code,
            message: self.message.or(other.message),
            field: self.field.or(other.field),
            outcome: self.outcome.or(other.outcome),
            cause: self.cause.or(other.cause),
            retry_after_s: self.retry_after_s.or(other.retry_after_s),
            more_fields: if self.more_fields.is_empty() {
                other.more_fields
            } else {
                self.more_fields
            },
            allowed: if self.allowed.is_empty() {
                other.allowed
            } else {
                self.allowed
            },
            format: self.format.or(other.format),
            permission: self.permission.or(other.permission),
        }
    }
}
