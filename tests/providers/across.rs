//! Cases that hold for every provider, or that two of them show together.

use crate::activecampaign::ACTIVECAMPAIGN;
use crate::brevo::BREVO;
use crate::campaign_monitor::CAMPAIGN_MONITOR;
use crate::dynamics_365::DYNAMICS;
use crate::hubspot::HUBSPOT;
use crate::hubspot_forms::HUBSPOT_FORMS;
use crate::klaviyo::KLAVIYO;
use crate::mailchimp::MAILCHIMP;
use crate::mailjet::MAILJET;
use crate::salesforce::SALESFORCE;
use crate::sendgrid::SENDGRID;
use crate::world::*;

/// Every provider's case.
pub(crate) const ALL: [&Case; 11] = [
    &MAILCHIMP,
    &HUBSPOT,
    &HUBSPOT_FORMS,
    &KLAVIYO,
    &SENDGRID,
    &BREVO,
    &ACTIVECAMPAIGN,
    &SALESFORCE,
    &MAILJET,
    &CAMPAIGN_MONITOR,
    &DYNAMICS,
];

#[tokio::test]
async fn the_ae_case_is_caught_before_sending_for_every_provider() {
    for case in ALL {
        let (world, fake, integration) = setup(case, json!({})).await;
        let campaign = world.campaign(&integration).await;

        let id = world
            .register(&campaign, json!({"email": "calebæhnson@provider.com", "first_name": "Caleb", "last_name": "Hanson", "consent": {"marketing": true}}))
            .await;
        world.run_queue().await;

        let v = &world.attempts(&id)[0].verdict;
        assert_eq!(v.class, Class::NotSent, "{}: {v:?}", case.provider);
        assert_eq!(
            v.provider_code.as_deref(),
            Some("preflight.email_non_ascii")
        );
        assert!(
            v.explanation.contains("'æ' at position 6"),
            "{}",
            v.explanation
        );
        assert_eq!(fake.hits(), 0, "{}: nothing left", case.provider);
        assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
    }
}

#[tokio::test]
async fn without_preflight_the_providers_refusal_still_names_the_character() {
    let (world, fake, integration) = setup(&HUBSPOT, json!({"preflight": false})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(
            &campaign,
            json!({"email": "calebæhnson@provider.com", "first_name": "Caleb"}),
        )
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(fake.hits(), 1);
    assert_eq!(v.status, Some(400));
    assert_eq!(v.provider_code.as_deref(), Some("INVALID_EMAIL"));
    assert_eq!(v.field.as_deref(), Some("email"));
    assert!(
        v.explanation.contains("'æ' at position 6"),
        "{}",
        v.explanation
    );
}

#[tokio::test]
async fn a_condition_skips_the_delivery_and_the_log_says_why() {
    let (world, fake, integration) = setup(
        &MAILCHIMP,
        json!({"conditions": [{"field": "consent.marketing", "equals": true}]}),
    )
    .await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    let handled = world.run_queue().await;

    assert_eq!(handled, [Handled::Skipped]);
    assert_eq!(fake.hits(), 0);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Skipped);
    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.class, Class::NotSent);
    assert_eq!(
        v.provider_code.as_deref(),
        Some("integration.condition_not_met")
    );
    assert!(
        v.explanation.contains("'consent.marketing' is not true"),
        "{}",
        v.explanation
    );
}

#[tokio::test]
async fn a_lock_at_hubspot_or_salesforce_is_a_retryable_conflict() {
    for (case, code) in [(&HUBSPOT, "LOCKED"), (&SALESFORCE, "UNABLE_TO_LOCK_ROW")] {
        let (world, _fake, integration) = setup(case, json!({})).await;
        let campaign = world.campaign(&integration).await;

        let id = world
            .register(&campaign, person("locked.row@example.com", true))
            .await;
        world.run_queue().await;

        let v = &world.attempts(&id)[0].verdict;
        assert_eq!(v.outcome, Outcome::Conflict, "{}: {v:?}", case.provider);
        assert_eq!(v.provider_code.as_deref(), Some(code));
        assert!(v.retryable);
        assert_eq!(
            world.state(&id, &integration).await,
            DeliveryState::Retrying
        );
    }
}

#[tokio::test]
async fn a_slow_provider_times_out_and_is_retried() {
    let world = World::with_timeout(Duration::from_secs(1));
    let fake = FakeProvider::start(Provider::Brevo, "127.0.0.2:0", BREVO.key)
        .await
        .expect("fake starts");
    fake.set_mode(Mode::Slow(Duration::from_millis(2500)));
    let integration = world
        .integration(
            Provider::Brevo,
            (BREVO.settings)(&fake.url()),
            &[("api_key", BREVO.key)],
        )
        .await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::Timeout, "{v:?}");
    assert_eq!(v.class, Class::Network);
    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Retrying
    );
}
