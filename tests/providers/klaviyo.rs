//! Klaviyo against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const KLAVIYO: Case = Case {
    provider: Provider::Klaviyo,
    credential: "api_key",
    key: "pk_3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a",
    second: None,
    wrong_key: "pk_00000000000000000000000000000000",
    settings: |url| json!({"list_id": "Y6nRLr", "base_url": url}),
    success: Outcome::Accepted,
    duplicate_code: Some("duplicate_profile"),
    updated: Outcome::Delivered,
    invalid_code: Some("invalid"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("not_authenticated"),
    states_wait: true,
    rate_code: Some("throttled"),
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

provider_tests!(KLAVIYO);

#[tokio::test]
async fn klaviyo_subscribes_only_with_consent_and_lists_the_import_before_the_job() {
    let (world, fake, integration) = setup(&KLAVIYO, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let with = world.register(&campaign, lena()).await;
    let without = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    world.run_queue().await;

    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/profile-import",
            "/api/profile-subscription-bulk-create-jobs",
            "/api/profile-import"
        ]
    );
    let job = fake.requests()[1].json().expect("json");
    assert_eq!(job["data"]["relationships"]["list"]["data"]["id"], "Y6nRLr");
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.header("revision").is_some()));
    let a = world.attempts(&with).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Accepted);
    assert_eq!(a.verdict.status, Some(202));
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(a.preceding[0].status, Some(201));
    assert!(a.preceding[0].request.url.ends_with("/api/profile-import"));
    let b = world.attempts(&without).remove(0);
    assert_eq!(b.verdict.outcome, Outcome::Delivered);
    assert!(b.preceding.is_empty());
}

#[tokio::test]
async fn klaviyo_a_failed_subscription_retries_the_pair() {
    let (world, fake, integration) = setup(&KLAVIYO, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("busy.bee@example.com", true))
        .await;
    world.run_queue().await;
    // The import met the busy trigger: nothing further was sent.
    assert_eq!(fake.hits(), 1);
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(fake.hits(), 3);
    assert_eq!(world.attempts(&id)[1].verdict.outcome, Outcome::Accepted);
}
