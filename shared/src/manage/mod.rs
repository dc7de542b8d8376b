//! Management: accounts, keys, campaigns and integrations, as the admin API and the
//! command line change them.
//!
//! Keys are shown once, when made, and stored as hashes. Integration credentials are
//! sealed on write and never shown again: reads list their names only. Settings are
//! checked against the provider's rules and every destination URL against the egress
//! policy, so a mistake is a clear 422 at configuration time rather than a failed
//! delivery later. Updating a paused integration resumes it and starts re-queueing every
//! delivery that waited on it ([`crate::deliver::resume`]). Every change of an integration
//! is conditional on the version it read: two edits never overwrite each other.
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | an account and its first key (the bootstrap), and further keys |
//! | [`roles`] | keys with a role and campaigns (never more rights than their maker's), the platform key, accounts made over the API |
//! | [`campaigns`] | campaigns: create, change, the integrations they attach |
//! | [`integrations`] | integrations: create, change (resuming a paused one), test send |
//! | [`erasure`] | a person's data erased on request |
//! | [`lifecycle`], [`health`] | integrations removed, copied, the campaigns using them; their health |
//!
//! Every call fails with one [`ManageError`]; what the caller sees of the result (the
//! JSON views) is the edge's business, not this module's.

pub mod campaigns;
pub mod erasure;
pub mod health;
pub mod integrations;
pub mod keys;
pub mod lifecycle;
pub mod roles;
#[cfg(test)]
mod test_support;

use crate::deliver::DeliverError;
use crate::intake::FieldError;
use crate::store::StoreError;
use crate::vault::VaultError;

/// Why a management call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The account has no such thing (404).
    #[error("{0} does not exist")]
    NotFound(&'static str),
    /// The input is invalid (422), every field named.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Re-queueing the waiting deliveries failed.
    #[error(transparent)]
    Resume(#[from] DeliverError),
    /// Someone else changed it since it was read (409); what to do is said.
    #[error("{0}")]
    Conflict(String),
    /// The caller's key may not do this (403); why is said.
    #[error("{0}")]
    Forbidden(String),
}

/// One invalid field: where, which rule, and what to do.
fn invalid(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.into(),
    }
}

/// A name (of an account, a campaign, an integration) is 1 to 100 characters.
fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        errors.push(invalid(
            "name",
            "invalid_name",
            "name is 1 to 100 characters",
        ));
    }
}
