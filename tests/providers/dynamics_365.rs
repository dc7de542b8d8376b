//! Dynamics 365 against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const DYNAMICS: Case = Case {
    provider: Provider::Dynamics,
    credential: "client_secret",
    key: "Qx8~7sT.uV2wX-yZ3aB4cD5eF6gH7iJ8kL9mN0o",
    wrong_key: "Zz0~0zZ.zZ0zZ-zZ0zZ0zZ0zZ0zZ0zZ0zZ0zZ0",
    second: None,
    settings: |url| {
        json!({"org_url": url, "login_url": url, "tenant_id": dynamics::TENANT_ID,
               "client_id": dynamics::CLIENT_ID})
    },
    success: Outcome::Delivered,
    duplicate_code: Some("0x80040237"),
    updated: Outcome::Delivered,
    invalid_code: Some("0x80040265"),
    invalid_field: "emailaddress1",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("invalid_client"),
    states_wait: true,
    rate_code: Some("0x80072322"),
    rate_status: 429,
    server_code: Some("0x80040216"),
    server_status: 500,
};

provider_tests!(DYNAMICS);

/// A world, a Dynamics 365 fake and an integration with the fake's app registration.
async fn dynamics_setup(extra: Value) -> (World, FakeProvider, Integration) {
    setup(&DYNAMICS, extra).await
}

#[tokio::test]
async fn dynamics_requests_a_token_with_client_credentials_and_upserts_the_lead_by_its_email_key() {
    let (world, fake, integration) =
        dynamics_setup(json!({"fields": {"subject": {"value": "Winter quiz"}}})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    assert_eq!(a.verdict.status, Some(204));
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(
        a.preceding[0].request.url,
        format!("{}/{}/oauth2/v2.0/token", fake.url(), dynamics::TENANT_ID)
    );
    assert_eq!(
        a.request.as_ref().map(|r| r.url.clone()),
        Some(format!(
            "{}/api/data/v9.2/leads(emailaddress1='lena.fischer%40example.com')",
            fake.url()
        ))
    );
    let requests = fake.requests();
    let form = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert_eq!(
        form,
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            dynamics::CLIENT_ID,
            DYNAMICS.key,
            fake.url().replace(':', "%3A").replace('/', "%2F") + "%2F.default"
        )
    );
    let record = &requests[1];
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        record.header("authorization"),
        Some(format!("Bearer {}", issued[0]).as_str())
    );
    assert_eq!(record.header("if-none-match"), None);
    assert_eq!(
        record.json(),
        Some(
            json!({"firstname": "Lena", "lastname": "Fischer", "subject": "Winter quiz",
                    "donotbulkemail": false})
        )
    );
    let held = fake.contact("lena.fischer@example.com").expect("created");
    assert_eq!(held["emailaddress1"], "lena.fischer@example.com");
    let recorded = serde_json::to_string(&a).expect("json");
    for secret in [issued[0].as_str(), DYNAMICS.key] {
        assert!(!recorded.contains(secret), "{secret} in the attempt");
    }

    // One token per attempt; the second registration, without consent, opts out.
    let second = world
        .register(&campaign, person("second.person@example.com", false))
        .await;
    world.run_queue().await;
    assert_eq!(fake.issued_tokens().len(), 2);
    assert_eq!(
        world.state(&second, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(
        fake.contact("second.person@example.com").expect("created")["donotbulkemail"],
        true
    );
}

#[tokio::test]
async fn dynamics_a_refused_client_secret_pauses_with_the_app_registration_in_the_remedy() {
    let (world, fake, integration) = dynamics_setup(json!({"entity": "contacts"})).await;
    let campaign = world.campaign(&integration).await;
    // The secret expired in Entra ID, and an administrator created a new one.
    let renewed = "Rn9~2bC.dE3fG-hI4jK5lM6nO7pQ8rS9tU0vW1x";
    fake.set_key(renewed);

    let first = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&first).remove(0);
    let v = &a.verdict;
    assert_eq!(
        (v.outcome, v.status, v.provider_code.as_deref()),
        (Outcome::Unauthorized, Some(401), Some("invalid_client"))
    );
    assert!(
        v.message
            .as_deref()
            .is_some_and(|m| m.starts_with("AADSTS7000215") && !m.contains("Trace ID")),
        "{v:?}"
    );
    assert!(v.remedy.contains("Certificates & secrets"), "{}", v.remedy);
    assert!(
        a.preceding.is_empty(),
        "the token request is the one refused"
    );
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/oauth2/v2.0/token")));
    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Paused
    );

    // The standard case shows the park and the drain; here: the new secret's Value,
    // pasted into client_secret, is what Entra ID takes.
    world
        .set_credential(&integration, "client_secret", renewed)
        .await;
    world.run_queue().await;

    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Delivered
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/api/data/v9.2/contacts(emailaddress1='lena.fischer%40example.com')"));
}

#[tokio::test]
async fn dynamics_an_unknown_application_tenant_or_environment_is_refused_by_entra_id_and_pauses() {
    for (extra, code) in [
        (
            json!({"client_id": "11111111-2222-4333-8444-555555555555"}),
            "unauthorized_client",
        ),
        (
            json!({"tenant_id": "contoso.onmicrosoft.com"}),
            "invalid_request",
        ),
        (
            json!({"org_url": "https://contoso.crm4.dynamics.com", "base_url": "http://127.0.0.2:1"}),
            "invalid_resource",
        ),
    ] {
        let (world, _fake, integration) = dynamics_setup(extra).await;
        let campaign = world.campaign(&integration).await;

        let id = world.register(&campaign, lena()).await;
        world.run_queue().await;

        let v = world.attempts(&id).remove(0).verdict;
        assert_eq!(
            (v.outcome, v.status, v.provider_code.as_deref()),
            (Outcome::Unauthorized, Some(400), Some(code))
        );
        assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
    }
}

#[tokio::test]
async fn dynamics_an_application_user_without_the_privilege_pauses_with_the_security_role_in_the_remedy(
) {
    let (world, fake, integration) = dynamics_setup(json!({})).await;
    let campaign = world.campaign(&integration).await;
    fake.set_mode(Mode::Forbidden);

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    let v = &a.verdict;
    assert_eq!(
        (v.outcome, v.status, v.provider_code.as_deref()),
        (Outcome::Forbidden, Some(403), Some("0x80040220"))
    );
    assert_eq!(
        a.preceding.len(),
        1,
        "the token was issued; the record was refused"
    );
    assert!(v.remedy.contains("security role"), "{}", v.remedy);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
}
