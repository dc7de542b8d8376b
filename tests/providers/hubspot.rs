//! HubSpot (CRM contacts) against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const HUBSPOT: Case = Case {
    provider: Provider::Hubspot,
    credential: "access_token",
    key: "pat-eu1-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8",
    second: None,
    wrong_key: "pat-eu1-00000000-0000-0000-0000-000000000000",
    settings: |url| json!({"base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("CONFLICT"),
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_AUTHENTICATION"),
    states_wait: false,
    rate_code: Some("RATE_LIMIT"),
    rate_status: 429,
    server_code: None,
    server_status: 502,
};

provider_tests!(HUBSPOT);
