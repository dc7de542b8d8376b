//! The admin function: the management API, separate from the logs function so that only
//! it may seal credentials (and open them for a test send), and the log readers never
//! can.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/account` | the caller's account |
//! | `GET, POST /v1/keys`, `DELETE /v1/keys/{key_id}` | account keys: list, make (shown once), revoke |
//! | `GET, POST /v1/campaigns`, `GET, PATCH /v1/campaigns/{campaign_id}` | campaigns (a new one comes with its ingest key, shown once) |
//! | `POST /v1/campaigns/{campaign_id}/ingest-keys` | another ingest key |
//! | `GET, POST /v1/integrations`, `GET, PATCH /v1/integrations/{integration_id}` | integrations (credentials masked, with the campaigns using each and its health over the last 24 h; updating a paused one resumes it) |
//! | `DELETE /v1/integrations/{integration_id}` | remove one (409 naming the campaigns using it, unless `?force=true` detaches it from them) |
//! | `POST /v1/integrations/{integration_id}/copy` | a new integration with the same settings and credentials, named "… (copy)" |
//! | `POST /v1/integrations/{integration_id}/test` | send one test registration now and return the verdict, storing nothing |
//! | `POST /v1/accounts` | the platform key only: an account and its first admin key (shown once) |
//! | `GET /v1/audit` | the account's audit log: filters `action`, `target`, `key_id`, `from`, `to`; cursor pages |
//!
//! Each route checks the caller's role ([`leadrelay::access`]; the table is
//! `router::need`) and records what it changed in the audit log ([`leadrelay::audit`]).

pub mod config;
mod lifecycle;
mod roles;
pub mod router;
pub mod view;

use leadrelay::egress::EgressPolicy;

/// What the router uses.
#[derive(Debug)]
pub struct Deps<S, Q, V, T> {
    /// Storage.
    pub store: S,
    /// The queue (drains a resumed integration).
    pub queue: Q,
    /// Seals credentials.
    pub vault: V,
    /// Sends test registrations.
    pub transport: T,
    /// Which destinations are allowed.
    pub egress: EgressPolicy,
    /// How long audit entries are kept, in days.
    pub audit_retention_days: u32,
}

/// The routes this function serves, as the OpenAPI document names them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/account"),
    ("get", "/v1/keys"),
    ("post", "/v1/keys"),
    ("delete", "/v1/keys/{key_id}"),
    ("get", "/v1/campaigns"),
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns/{campaign_id}"),
    ("patch", "/v1/campaigns/{campaign_id}"),
    ("post", "/v1/campaigns/{campaign_id}/ingest-keys"),
    ("get", "/v1/integrations"),
    ("post", "/v1/integrations"),
    ("get", "/v1/integrations/{integration_id}"),
    ("patch", "/v1/integrations/{integration_id}"),
    ("post", "/v1/integrations/{integration_id}/test"),
    ("delete", "/v1/integrations/{integration_id}"),
    ("post", "/v1/integrations/{integration_id}/copy"),
    ("post", "/v1/erasures"),
    ("post", "/v1/accounts"),
    ("get", "/v1/audit"),
];
