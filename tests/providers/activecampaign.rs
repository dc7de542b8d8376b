//! ActiveCampaign against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const ACTIVECAMPAIGN: Case = Case {
    provider: Provider::Activecampaign,
    credential: "api_key",
    key: "7c6b5a4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1",
    second: None,
    wrong_key: "0000000000000000000000000000000000000000000000000000000000000000000000000",
    settings: |url| json!({"base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("duplicate"),
    updated: Outcome::Delivered,
    invalid_code: Some("email_invalid"),
    invalid_field: "email",
    auth_outcome: Outcome::Forbidden,
    auth_code: None,
    states_wait: true,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

provider_tests!(ACTIVECAMPAIGN);

#[tokio::test]
async fn activecampaign_subscribes_a_consenting_contact_to_its_lists_and_no_one_else() {
    let (world, fake, integration) = setup(&ACTIVECAMPAIGN, json!({"list_ids": [3, 8]})).await;
    let campaign = world.campaign(&integration).await;

    let lena = world.register(&campaign, lena()).await;
    let sam = world
        .register(&campaign, person("sam.example@example.com", false))
        .await;
    world.run_queue().await;

    assert_eq!(
        world.state(&lena, &integration).await,
        DeliveryState::Delivered
    );
    let a = world.attempts(&lena).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    let steps: Vec<&str> = a.preceding.iter().map(|p| p.request.url.as_str()).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].ends_with("/api/3/contact/sync"));
    assert!(steps[1].ends_with("/api/3/contactLists"));
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/api/3/contactLists")));
    let held = fake.contact("lena.fischer@example.com").expect("held");
    assert_eq!(held["lists"], json!({"3": "1", "8": "1"}));
    let subscriptions: Vec<Value> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/api/3/contactLists")
        .map(|r| r.json().expect("json")["contactList"].clone())
        .collect();
    assert_eq!(subscriptions.len(), 2);
    assert_eq!(
        subscriptions[0]["contact"],
        json!(held["_id"].as_str().unwrap().parse::<u64>().unwrap())
    );
    assert_eq!(subscriptions[0]["status"], 1);

    assert_eq!(
        world.state(&sam, &integration).await,
        DeliveryState::Delivered
    );
    assert!(world.attempts(&sam)[0].preceding.is_empty());
    let sam_held = fake.contact("sam.example@example.com").expect("held");
    assert!(sam_held.get("lists").is_none(), "{sam_held}");
    assert_eq!(
        fake.hits(),
        4,
        "a sync and two subscriptions, then one sync"
    );
}

#[tokio::test]
async fn activecampaign_a_list_that_does_not_exist_fails_at_its_step_after_the_ones_that_passed() {
    let (world, fake, integration) = setup(&ACTIVECAMPAIGN, json!({"list_ids": [3, 950, 8]})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::NotFound, "{:?}", a.verdict);
    assert_eq!(a.verdict.status, Some(404));
    assert_eq!(a.preceding.len(), 2, "the sync and list 3 passed");
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/api/3/contactLists")));
    assert!(a
        .response
        .as_ref()
        .is_some_and(|r| r.body_excerpt.contains("List with id 950")));
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
    assert_eq!(fake.hits(), 3, "list 8 was not tried");
    assert_eq!(
        fake.contact("lena.fischer@example.com").expect("held")["lists"],
        json!({"3": "1"})
    );
}
