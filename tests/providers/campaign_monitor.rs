//! Campaign Monitor against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const CAMPAIGN_MONITOR: Case = Case {
    provider: Provider::CampaignMonitor,
    credential: "api_key",
    key: "d41c8e2a6f0b4d9e8c7a5b3f1e2d4c6a8b0f9e7d5c3a1b2e",
    wrong_key: "000000000000000000000000000000000000000000000000",
    second: None,
    settings: |url| json!({"list_id": "a58ee1d3039b8bec838e6d1482a8a965", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: Some("1"),
    invalid_field: "EmailAddress",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("100"),
    states_wait: true,
    rate_code: Some("429"),
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

provider_tests!(CAMPAIGN_MONITOR);

#[tokio::test]
async fn campaign_monitor_resubscribes_only_with_consent_and_a_suppressed_address_stays_off() {
    let (world, fake, integration) = setup(&CAMPAIGN_MONITOR, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    let suppressed = world
        .register(&campaign, person("suppressed.person@example.com", true))
        .await;
    world.run_queue().await;

    let bodies: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| r.json().expect("json"))
        .collect();
    assert_eq!(bodies[0]["Resubscribe"], true);
    assert_eq!(bodies[0]["Name"], "Lena Fischer");
    assert_eq!(bodies[1]["Resubscribe"], false);
    assert!(bodies.iter().all(|b| b["ConsentToTrack"] == "Unchanged"));
    let v = &world.attempts(&suppressed)[0].verdict;
    assert_eq!(v.outcome, Outcome::Suppressed, "{v:?}");
    assert_eq!(v.provider_code.as_deref(), Some("204"));
    assert!(!v.retryable);
    assert_eq!(
        world.state(&suppressed, &integration).await,
        DeliveryState::Failed
    );
}
