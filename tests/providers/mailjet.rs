//! Mailjet against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const MAILJET: Case = Case {
    provider: Provider::Mailjet,
    credential: "api_key",
    key: "3e1f5a7c9b2d4f6a8c0e2b4d6f8a0c1e",
    wrong_key: "00000000000000000000000000000000",
    second: Some(("secret_key", "9d7b5f3a1c8e6d4b2a0f9e7c5a3d1b8f")),
    // A static property, so that a contact without consent gets its properties updated.
    settings: |url| json!({"list_id": 10457, "base_url": url, "fields": {"source": {"value": "quiz"}}}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: None,
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: None,
    states_wait: true,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

provider_tests!(MAILJET);

#[tokio::test]
async fn mailjet_subscribes_with_consent_and_without_it_sets_properties_off_the_list() {
    let (world, fake, integration) =
        setup(&MAILJET, json!({"fields": {"quiz_score": "quiz_score"}})).await;
    let campaign = world.campaign(&integration).await;

    let with = world.register(&campaign, lena()).await;
    let without = world
        .register(
            &campaign,
            json!({"email": "known.person@example.com", "first_name": "Kim",
                                    "consent": {"marketing": false}, "fields": {"quiz_score": 3}}),
        )
        .await;
    world.run_queue().await;

    let requests = fake.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/v3/REST/contactslist/10457/managecontact"),
            ("POST", "/v3/REST/contact"),
            ("PUT", "/v3/REST/contactdata/known.person%40example.com"),
        ]
    );
    let subscribed = requests[0].json().expect("json");
    assert_eq!(subscribed["Action"], "addforce");
    assert_eq!(subscribed["Properties"]["quiz_score"], 8);
    assert_eq!(
        requests[2].json().expect("json")["Data"],
        json!([{"Name": "quiz_score", "Value": 3}])
    );
    assert_eq!(world.attempts(&with)[0].verdict.status, Some(201));
    let b = world.attempts(&without).remove(0);
    assert_eq!(b.verdict.outcome, Outcome::Delivered, "{:?}", b.verdict);
    assert_eq!(b.verdict.status, Some(200));
    assert_eq!(b.preceding.len(), 1);
    assert_eq!(b.preceding[0].outcome, Outcome::Duplicate);
    assert_eq!(b.preceding[0].status, Some(400));

    let again = world
        .register(
            &campaign,
            json!({"email": "known.person@example.com", "first_name": "Kim",
                                    "consent": {"marketing": false}, "fields": {"quiz_score": 3}}),
        )
        .await;
    world.run_queue().await;

    let c = world.attempts(&again).remove(0);
    assert_eq!(c.verdict.outcome, Outcome::Duplicate, "{:?}", c.verdict);
    assert_eq!(c.verdict.status, Some(304));
    assert!(c.verdict.explanation.contains("already held these values"));
    assert_eq!(
        world.state(&again, &integration).await,
        DeliveryState::Delivered
    );
}
