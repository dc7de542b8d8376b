//! leadrelay's shared library: the classification engine behind every delivery log.
//!
//! It turns what a CRM, ESP or webhook answered (status, headers, body, or no response at
//! all) into a [`Verdict`]: the status class, what the attempt came to, whether a retry can
//! help and when, the provider's own error code, message and field, and a plain-language
//! explanation and remedy for the marketer who reads the log. The same checks run before
//! sending ([`preflight`]), so bad data can be refused with the same kind of record.
//!
//! ```
//! use leadrelay::{explain, Outcome, Provider, ProviderResponse};
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

#[cfg(feature = "aws")]
pub mod aws;
pub mod catalogue;
pub mod clock;
pub mod cursor;
pub mod deliver;
pub mod destination;
#[cfg(feature = "http")]
pub mod egress;
pub mod email;
pub mod erasure;
pub mod exchange;
pub mod explain;
pub mod ids;
pub mod ingest;
pub mod intake;
pub mod keys;
#[cfg(feature = "http")]
pub mod manage;
pub mod model;
pub mod notices;
pub mod preflight;
pub mod problem;
pub mod provider;
pub mod queue;
pub mod reconcile;
pub mod schedule;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod vault;
pub mod verdict;

pub use explain::{
    classify, explain, Diagnosis, ProviderResponse, TransportError, TransportErrorKind,
};
pub use provider::Provider;
pub use verdict::{Class, Outcome, Verdict};
