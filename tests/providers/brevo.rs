//! Brevo against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const BREVO: Case = Case {
    provider: Provider::Brevo,
    credential: "api_key",
    key: "xkeysib-6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d-Q1w2E3r4",
    second: None,
    wrong_key: "xkeysib-00000000000000000000000000000000-00000000",
    settings: |url| json!({"list_ids": [7], "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("duplicate_parameter"),
    updated: Outcome::Delivered,
    invalid_code: Some("invalid_parameter"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("unauthorized"),
    states_wait: true,
    rate_code: Some("too_many_requests"),
    rate_status: 429,
    server_code: Some("internal_error"),
    server_status: 500,
};

provider_tests!(BREVO);
