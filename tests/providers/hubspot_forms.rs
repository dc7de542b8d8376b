//! HubSpot Forms against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const HUBSPOT_FORMS: Case = Case {
    provider: Provider::HubspotForms,
    credential: "access_token",
    key: "pat-na1-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
    second: None,
    wrong_key: "pat-na1-00000000-0000-0000-0000-000000000000",
    settings: |url| json!({"portal_id": "62515", "form_guid": "6b1c0e4a-2f3d-4e5a-9b8c-7d6e5f4a3b2c", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_AUTHENTICATION"),
    states_wait: false,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 502,
};

provider_tests!(HUBSPOT_FORMS);

#[tokio::test]
async fn hubspot_forms_without_processing_consent_is_refused_by_the_form() {
    let (world, _fake, integration) = setup(
        &HUBSPOT_FORMS,
        json!({"consent_text": "I agree to allow Acme to store and process my personal data.", "subscription_type_id": 999}),
    )
    .await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::InvalidData, "{v:?}");
    assert_eq!(
        v.provider_code.as_deref(),
        Some("MISSING_PROCESSING_CONSENT")
    );
}
