//! The demo's samples, sent to the Mailchimp and HubSpot fakes.

use crate::world::*;

#[tokio::test]
async fn the_demo_samples_come_to_different_ends_at_mailchimp_and_hubspot() {
    use leadrelay_dev::demo;
    let world = World::new();
    let mailchimp =
        FakeProvider::start(Provider::Mailchimp, "127.0.0.2:0", demo::MAILCHIMP_DEMO_KEY)
            .await
            .expect("fake");
    let hubspot = FakeProvider::start(Provider::Hubspot, "127.0.0.2:0", demo::HUBSPOT_DEMO_TOKEN)
        .await
        .expect("fake");
    let mut integrations = Vec::new();
    for body in demo::provider_integrations(&mailchimp.url(), &hubspot.url()) {
        let input: IntegrationInput = serde_json::from_value(body).expect("an admin API body");
        let (integration, _) = manage::integrations::create_integration(
            world.store(),
            &InsecureTestVault,
            LOCAL,
            &world.account,
            input,
        )
        .await
        .expect("the demo's settings pass the checks");
        integrations.push(integration);
    }
    let (campaign, _, key) = manage::campaigns::create_campaign(
        world.store(),
        &world.account,
        CampaignInput {
            name: Some("Winter quiz".into()),
            integration_ids: Some(integrations.iter().map(|i| i.id.to_string()).collect()),
            retention_days: None,
        },
    )
    .await
    .expect("campaign");
    let campaign = (campaign.id, key);
    let mut ids = Vec::new();
    for (_, body) in demo::samples() {
        ids.push(world.register(&campaign, body).await);
    }

    world.run_queue().await;
    world.run_queue().await;

    let [lena, caleb, busy, known] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let (mc, hs) = (&integrations[0], &integrations[1]);
    let last = |id: &RegistrationId, integration: &Integration| {
        world
            .attempts(id)
            .into_iter()
            .rfind(|a| a.integration_id == integration.id)
            .expect("an attempt")
    };
    assert_eq!(world.state(lena, mc).await, DeliveryState::Delivered);
    assert_eq!(
        last(lena, mc).preceding.len(),
        1,
        "the upsert, then the tags"
    );
    assert_eq!(world.state(lena, hs).await, DeliveryState::Delivered);

    let c = last(caleb, mc).verdict;
    assert_eq!(
        (c.class, c.provider_code.as_deref()),
        (Class::NotSent, Some("preflight.email_non_ascii"))
    );
    let c = last(caleb, hs).verdict;
    assert_eq!(
        (c.status, c.provider_code.as_deref()),
        (Some(400), Some("INVALID_EMAIL"))
    );
    assert!(
        c.explanation.contains("'æ' at position 6"),
        "{}",
        c.explanation
    );

    for integration in [mc, hs] {
        let attempts: Vec<Outcome> = world
            .attempts(busy)
            .into_iter()
            .filter(|a| a.integration_id == integration.id)
            .map(|a| a.verdict.outcome)
            .collect();
        assert_eq!(attempts[0], Outcome::RateLimited);
        assert_eq!(
            world.state(busy, integration).await,
            DeliveryState::Delivered
        );
    }

    assert_eq!(world.state(known, mc).await, DeliveryState::Skipped);
    assert_eq!(
        last(known, mc).verdict.provider_code.as_deref(),
        Some("integration.condition_not_met")
    );
    let k = last(known, hs).verdict;
    assert_eq!(
        (k.outcome, k.provider_code.as_deref()),
        (Outcome::Duplicate, Some("CONFLICT"))
    );
}
