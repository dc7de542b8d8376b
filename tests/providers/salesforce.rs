//! Salesforce against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const SALESFORCE: Case = Case {
    provider: Provider::Salesforce,
    credential: "access_token",
    key: "00D5g000004XyZ1!AQ4AQFq8ZkVdbS3e7rN0pW2mYx5tQ9uL",
    second: None,
    wrong_key: "00D5g000004XyZ1!EXPIRED",
    settings: |url| {
        json!({"base_url": url, "external_id_field": "LeadRelay_Email__c",
               "fields": {"Company": {"value": "Private person"}}})
    },
    success: Outcome::Delivered,
    duplicate_code: Some("DUPLICATE_VALUE"),
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL_ADDRESS"),
    invalid_field: "Email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_SESSION_ID"),
    states_wait: false,
    rate_code: Some("REQUEST_LIMIT_EXCEEDED"),
    rate_status: 403,
    server_code: Some("UNKNOWN_EXCEPTION"),
    server_status: 500,
};

provider_tests!(SALESFORCE);

#[tokio::test]
async fn salesforce_upserts_the_lead_by_its_external_id_in_the_url() {
    let (world, fake, integration) = setup(&SALESFORCE, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world.register(&campaign, lena()).await;
    let handled = world.run_queue().await;

    assert_eq!(handled.len(), 2);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(
        r.path,
        "/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/lena.fischer%40example.com"
    );
    assert_eq!(
        fake.contact_count(),
        1,
        "the second registration updated the same lead"
    );
    let body = r.json().expect("json");
    assert_eq!(body["Company"], "Private person");
    assert_eq!(body["HasOptedOutOfEmail"], false);
}

use leadrelay_dev::providers::salesforce::OAuthApp;

pub(crate) const SF_CLIENT_ID: &str =
    "3MVG9lKcPoNINVBIPJjdw1J9LLM82HnFVVX19KY1uA5mu0QqEWhqKpoW3svG3X";
pub(crate) const SF_CLIENT_SECRET: &str = "1955279925675241571";
pub(crate) const SF_REFRESH: &str =
    "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrfbNUb0A.e2dHnOp0MwaTJFnsbOGi";

fn sf_app(refresh_token: &str, token_prefix: &str) -> OAuthApp {
    OAuthApp {
        client_id: SF_CLIENT_ID.into(),
        client_secret: Some(SF_CLIENT_SECRET.into()),
        refresh_token: refresh_token.into(),
        token_prefix: token_prefix.into(),
    }
}

/// A world, a Salesforce fake that exchanges `SF_REFRESH`, and an integration in the
/// refresh flow whose instance comes from the token answer.
async fn salesforce_refresh(refresh_token: &str) -> (World, FakeProvider, Integration) {
    let world = World::new();
    let fake = FakeProvider::start(Provider::Salesforce, "127.0.0.2:0", "no-static-token")
        .await
        .expect("fake starts");
    fake.set_oauth_app(sf_app(SF_REFRESH, "00D5g000004XyZ1!AQ4AQIssued"));
    let integration = world
        .integration(
            Provider::Salesforce,
            json!({"login_url": fake.url(), "external_id_field": "LeadRelay_Email__c",
                   "fields": {"Company": {"value": "Private person"}}}),
            &[
                ("client_id", SF_CLIENT_ID),
                ("client_secret", SF_CLIENT_SECRET),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    (world, fake, integration)
}

#[tokio::test]
async fn salesforce_exchanges_the_refresh_token_and_upserts_with_the_issued_token() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(
        a.preceding[0].request.url,
        format!("{}/services/oauth2/token", fake.url())
    );
    assert_eq!(a.preceding[0].status, Some(200));
    let record = a.request.as_ref().expect("sent");
    assert_eq!(
        record.url,
        format!(
            "{}/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/lena.fischer%40example.com",
            fake.url()
        )
    );
    let requests = fake.requests();
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    let form = String::from_utf8_lossy(&token.body).into_owned();
    assert!(
        form.starts_with("grant_type=refresh_token&client_id=3MVG9"),
        "{form}"
    );
    assert!(form.contains("&client_secret=1955279925675241571&refresh_token=5Aep861"));
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {}", issued[0]).as_str())
    );
    assert!(fake.contact("lena.fischer@example.com").is_some());
    let recorded = serde_json::to_string(&a).expect("json");
    for secret in [issued[0].as_str(), SF_REFRESH, SF_CLIENT_SECRET] {
        assert!(!recorded.contains(secret), "{secret} in the attempt");
    }

    // One token request per attempt: a second registration exchanges again.
    world
        .register(&campaign, person("second.person@example.com", true))
        .await;
    world.run_queue().await;
    assert_eq!(fake.issued_tokens().len(), 2);
}

#[tokio::test]
async fn salesforce_a_revoked_refresh_token_pauses_and_reconnecting_drains() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    // The user revoked leadrelay's access in Salesforce, then connected again: a new
    // refresh token, which the integration does not hold yet.
    let reconnected = "5Aep861ReconnectedAfterRevocation000000000000000000000000000000";
    fake.set_oauth_app(sf_app(reconnected, "00D5g000004XyZ1!AQ4AQAgain"));

    let first = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&first).remove(0);
    let v = &a.verdict;
    assert_eq!(v.outcome, Outcome::Unauthorized, "{v:?}");
    assert_eq!(
        (v.status, v.provider_code.as_deref()),
        (Some(400), Some("invalid_grant"))
    );
    assert!(v.remedy.contains("Reconnect Salesforce"), "{}", v.remedy);
    assert!(
        a.preceding.is_empty(),
        "the token request is the one that failed"
    );
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/services/oauth2/token")));
    assert!(a
        .response
        .as_ref()
        .is_some_and(|r| r.body_excerpt.contains("expired access/refresh token")));
    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Paused
    );
    let paused = world.reload(&integration).await;
    assert!(matches!(
        paused.status,
        IntegrationStatus::Paused {
            outcome: Outcome::Unauthorized,
            ..
        }
    ));

    let second = world
        .register(&campaign, person("second.person@example.com", true))
        .await;
    assert_eq!(world.run_queue().await, [Handled::Parked]);
    assert_eq!(fake.hits(), 1, "a parked delivery sends nothing");

    let (resumed, drained) = world
        .set_credential(&integration, "refresh_token", reconnected)
        .await;
    assert_eq!(resumed.status, IntegrationStatus::Active);
    assert_eq!(drained, 2);
    world.run_queue().await;

    for id in [&first, &second] {
        assert_eq!(
            world.state(id, &integration).await,
            DeliveryState::Delivered
        );
        let last = world.attempts(id).pop().expect("an attempt");
        assert_eq!(last.trigger, leadrelay::model::Trigger::Resumed);
        assert_eq!(last.preceding.len(), 1, "a token request, then the record");
    }
}

#[tokio::test]
async fn a_test_send_runs_the_same_follow_ups_and_stores_nothing() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    world.register(&campaign, lena()).await;
    let registration = world.store().all_registrations().remove(0);
    let stored = world.reload(&integration).await;

    let result = leadrelay::deliver::test_send::test_send(
        &world.deliverer.transport,
        &InsecureTestVault,
        &stored,
        &registration,
    )
    .await
    .expect("opens");

    assert_eq!(
        result.verdict.outcome,
        Outcome::Delivered,
        "{:?}",
        result.verdict
    );
    assert_eq!(result.preceding.len(), 1);
    assert!(result.preceding[0]
        .request
        .url
        .ends_with("/services/oauth2/token"));
    assert!(result
        .request
        .as_ref()
        .is_some_and(|r| r.url.contains("/sobjects/Lead/")));
    assert_eq!(fake.issued_tokens().len(), 1);
    assert!(world.store().all_attempts().is_empty());
}

#[tokio::test]
async fn salesforce_a_refused_connected_app_pauses_with_the_app_in_the_remedy() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    fake.set_oauth_app(OAuthApp {
        client_id: "3MVG9SomeOtherApp".into(),
        ..sf_app(SF_REFRESH, "x")
    });

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let v = world.attempts(&id).remove(0).verdict;
    assert_eq!(
        (v.outcome, v.provider_code.as_deref()),
        (Outcome::Unauthorized, Some("invalid_client_id"))
    );
    assert!(v.remedy.contains("connected app"), "{}", v.remedy);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
}
