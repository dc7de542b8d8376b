//! Mailchimp against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const MAILCHIMP: Case = Case {
    provider: Provider::Mailchimp,
    credential: "api_key",
    key: "5f1e0c6a9b8d7e6f5a4b3c2d1e0f9a8b-us21",
    second: None,
    wrong_key: "00000000000000000000000000000000-us21",
    settings: |url| json!({"list_id": "a1b2c3", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("Member Exists"),
    updated: Outcome::Delivered,
    invalid_code: Some("Invalid Resource"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("API Key Invalid"),
    states_wait: false,
    rate_code: Some("Too Many Requests"),
    rate_status: 429,
    server_code: Some("Internal Server Error"),
    server_status: 500,
};

provider_tests!(MAILCHIMP);

#[tokio::test]
async fn mailchimp_tags_go_in_a_second_request_after_the_upsert() {
    let (world, fake, integration) = setup(&MAILCHIMP, json!({"tags": ["winter-quiz"]})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[1].method, "POST");
    assert!(requests[1].path.ends_with("/tags"), "{}", requests[1].path);
    let attempt = world.attempts(&id).remove(0);
    assert_eq!(attempt.preceding.len(), 1);
    assert_eq!(attempt.preceding[0].status, Some(200));
    assert_eq!(attempt.verdict.status, Some(204));
    assert_eq!(attempt.verdict.outcome, Outcome::Delivered);
    assert!(attempt.request.expect("sent").url.ends_with("/tags"));
}

#[tokio::test]
async fn mailchimp_members_are_keyed_by_the_md5_of_the_address_and_basic_auth_carries_the_key() {
    let (world, fake, integration) = setup(&MAILCHIMP, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world.run_queue().await;

    let r = &fake.requests()[0];
    let hash = leadrelay::destination::mailchimp::subscriber_hash("lena.fischer@example.com");
    assert_eq!(r.path, format!("/3.0/lists/a1b2c3/members/{hash}"));
    assert!(r
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
    let body = r.json().expect("json");
    assert_eq!(body["status_if_new"], "subscribed");
    assert_eq!(body["merge_fields"]["FNAME"], "Lena");
}

#[tokio::test]
async fn mailchimp_a_person_in_a_compliance_state_is_suppressed() {
    let (world, _fake, integration) = setup(&MAILCHIMP, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("suppressed.person@example.com", true))
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::Suppressed, "{v:?}");
    assert_eq!(
        v.provider_code.as_deref(),
        Some("Member In Compliance State")
    );
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
}
