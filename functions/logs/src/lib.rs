//! The logs function: what a marketer opens.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/registrations?email=…` | every registration of one address in the account, any case, newest first; cursor pages |
//! | `GET /v1/registrations/{registration_id}` | the registration, each delivery's state, every attempt with its verdict (one Query) |
//! | `POST /v1/registrations/{registration_id}/deliveries/{integration_id}/retry` | resend one delivery now (a manual attempt) |
//! | `GET /v1/campaigns/{campaign_id}/deliveries` | a campaign's deliveries by time, filtered by outcome, class, state, integration; cursor pages |
//! | `GET /v1/deliveries` | the account's deliveries across its campaigns, with the same filters plus `campaign_id`; cursor pages |
//! | `GET /v1/campaigns/{campaign_id}/summary` | counts per integration and state, and the top causes |
//!
//! Every route takes an account key (`Authorization: Bearer lr_ak_…`) and shows only that
//! account's data: anything else is a 404, as if it did not exist. Any role reads (a
//! viewer without personal data reads the log masked); a resend needs an operator or
//! admin key and is recorded in the audit log; a key restricted to campaigns sees only
//! theirs ([`leadrelay::access`]).

#[cfg(test)]
mod access_tests;
pub mod config;
mod find;
pub mod router;
pub mod view;

use leadrelay::cursor::CursorSealer;

/// What the router uses.
#[derive(Debug)]
pub struct Deps<S, Q> {
    /// Storage (read, and the resend's delivery lookup).
    pub store: S,
    /// The queue (resends).
    pub queue: Q,
    /// Seals page cursors.
    pub cursors: CursorSealer,
    /// How long the audit entries of resends are kept, in days.
    pub audit_retention_days: u32,
}

/// The routes this function serves, as the OpenAPI document names them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/registrations"),
    ("get", "/v1/registrations/{registration_id}"),
    (
        "post",
        "/v1/registrations/{registration_id}/deliveries/{integration_id}/retry",
    ),
    ("get", "/v1/campaigns/{campaign_id}/deliveries"),
    ("get", "/v1/campaigns/{campaign_id}/summary"),
    ("get", "/v1/deliveries"),
];
