//! leadrelay's classification engine: from what a provider answered to a verdict a marketer
//! can act on. Pure: no I/O, no clock beyond `SystemTime::now` for `Retry-After` dates, no
//! runtime.
//!
//! It reads what a CRM, ESP or webhook answered (status, headers, body, or no response at
//! all) and returns a [`Verdict`](verdict::Verdict): the status class, what the attempt came
//! to, whether a retry can help and when, the provider's own error code, message and field,
//! and a plain-language explanation and remedy. The same checks run before sending
//! ([`preflight`]), so bad data can be refused with the same kind of record. The contract of
//! `leadrelay explain`, which wraps this crate, is `docs/explain.md`.
//!
//! Modules depend one way, each only on those listed before it:
//! [`verdict`], [`provider`], [`status`], [`answer`] (the wire types) → [`email`] →
//! [`catalogue`] (every text) → [`explain`] (the readers), [`preflight`], [`input`] (the
//! contract's JSON).
//!
//! ```
//! use leadrelay_explain::answer::ProviderResponse;
//! use leadrelay_explain::explain::explain;
//! use leadrelay_explain::provider::Provider;
//! use leadrelay_explain::verdict::Outcome;
//!
//! let response = ProviderResponse::new(
//!     400,
//!     r#"{"type":"https://mailchimp.com/developer/marketing/docs/errors/",
//!         "title":"Member Exists","status":400,
//!         "detail":"lena@example.com is already a list member. Use PUT to insert or update list members.",
//!         "instance":"1f0e1b2c"}"#,
//! );
//! let verdict = explain(Some(Provider::Mailchimp), &response, None);
//! assert_eq!(verdict.outcome, Outcome::Duplicate);
//! assert!(!verdict.retryable);
//! assert_eq!(verdict.provider_code.as_deref(), Some("Member Exists"));
//! ```

pub mod answer;
pub mod catalogue;
pub mod email;
pub mod explain;
pub mod input;
pub mod preflight;
pub mod provider;
pub mod status;
pub mod verdict;
