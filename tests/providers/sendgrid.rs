//! SendGrid against its fake: the shared scenarios, then what it alone shows.

use crate::world::*;

pub(crate) const SENDGRID: Case = Case {
    provider: Provider::Sendgrid,
    credential: "api_key",
    key: "SG.dGVzdGtleQ.c2VjcmV0LXBhcnQtb2YtdGhlLWtleQ",
    second: None,
    wrong_key: "SG.d3Jvbmc.d3Jvbmc",
    settings: |url| json!({"list_ids": ["8a1b2c3d"], "base_url": url}),
    success: Outcome::Accepted,
    duplicate_code: None,
    updated: Outcome::Accepted,
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

provider_tests!(SENDGRID);

#[tokio::test]
async fn sendgrid_reads_its_queued_import_as_accepted_not_delivered() {
    let (world, fake, integration) = setup(&SENDGRID, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.status, Some(202));
    assert_eq!(a.verdict.outcome, Outcome::Accepted);
    let body = fake.requests()[0].json().expect("json");
    assert_eq!(body["list_ids"], json!(["8a1b2c3d"]));
    assert_eq!(body["contacts"][0]["email"], "lena.fischer@example.com");
}
