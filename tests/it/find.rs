//! Finding and integrations' lifecycle against the emulator: an address's registrations
//! in any case, page by page, gone after erasure; the account's deliveries across its
//! campaigns over a range longer than the default week; an integration's health, the
//! campaigns using it, its removal (refused, then forced) and its copy.

use crate::helpers::{id_of, registration, respond, Stack};
use leadrelay::ids::{AccountId, RegistrationId};
use leadrelay::model::RegistrationData;
use leadrelay::model::{Campaign, Delivery, DeliveryState, Integration, Registration};
use leadrelay::store::{CampaignStore, RegistrationStore};
use leadrelay::vault::Vault;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_explain::provider::Provider;
use serde_json::{json, Value};
use std::time::Duration;

const DAY: u64 = 86_400_000;

async fn admin_call(
    s: &Stack,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let deps = admin::Deps {
        store: s.store.clone(),
        queue: s.queue.clone(),
        vault: s.vault.clone(),
        transport: leadrelay_aws::http::HttpTransport::new(
            leadrelay::egress::EgressPolicy::default(),
            Duration::from_secs(1),
        )
        .unwrap(),
        egress: leadrelay::egress::EgressPolicy::default(),
        audit_retention_days: 1,
    };
    let req: lambda_http::Request = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.map_or(lambda_http::Body::Empty, |b| {
            lambda_http::Body::from(b.to_string())
        }))
        .unwrap();
    respond(admin::router::handle(&deps, req).await.unwrap())
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_address_is_found_in_any_case_page_by_page_and_not_after_erasure() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let (_, other_key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (quiz, quiz_key) = s.campaign(&account, &[&hook]).await;
    let (contest, contest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let mut made = Vec::new();
    for (campaign, ingest_key, email) in [
        (&quiz, &quiz_key, "Lena@Example.com"),
        (&contest, &contest_key, "lena@example.com"),
        (&quiz, &quiz_key, "LENA@EXAMPLE.COM"),
        (&quiz, &quiz_key, "someone.else@example.com"),
    ] {
        let (status, accepted) = s
            .post(campaign, ingest_key, registration(email), None)
            .await;
        assert_eq!(status, 202, "{accepted}");
        made.push(id_of(&accepted));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    s.settle(&deps, &key, &made, Duration::from_secs(30)).await;

    let (s1, one) = s
        .logs_call(
            "GET",
            "/v1/registrations?email=lEnA%40example.COM&limit=2",
            &key,
        )
        .await;
    let cursor = one["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{one}"))
        .to_owned();
    let (s2, two) = s
        .logs_call(
            "GET",
            &format!("/v1/registrations?email=lena%40example.com&limit=2&cursor={cursor}"),
            &key,
        )
        .await;
    let (s3, foreign) = s
        .logs_call(
            "GET",
            "/v1/registrations?email=lena%40example.com",
            &other_key,
        )
        .await;

    assert_eq!((s1, s2, s3), (200, 200, 200), "{one} {two} {foreign}");
    assert_eq!(
        ids(&one, "registration_id"),
        [made[2].clone(), made[1].clone()]
    );
    assert_eq!(ids(&two, "registration_id"), [made[0].clone()]);
    assert_eq!(two["next_cursor"], Value::Null);
    assert_eq!(one["items"][1]["campaign_id"], contest.id.as_str());
    let delivery = &one["items"][0]["deliveries"][0];
    assert_eq!(delivery["integration_id"], hook.id.as_str());
    assert!(delivery["headline"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(
        !one.to_string().to_lowercase().contains("lena@"),
        "no address echoed"
    );
    assert!(foreign["items"].as_array().unwrap().is_empty());

    let (erased, report) = admin_call(
        &s,
        &key,
        "POST",
        "/v1/erasures",
        Some(json!({"email": "LENA@example.com"})),
    )
    .await;
    assert_eq!(erased, 200, "{report}");
    let (s4, after) = s
        .logs_call("GET", "/v1/registrations?email=lena%40example.com", &key)
        .await;
    let (_, still) = s
        .logs_call(
            "GET",
            "/v1/registrations?email=someone.else%40example.com",
            &key,
        )
        .await;

    assert_eq!(s4, 200);
    assert!(after["items"].as_array().unwrap().is_empty(), "{after}");
    assert_eq!(after["next_cursor"], Value::Null);
    assert_eq!(ids(&still, "registration_id"), [made[3].clone()]);
}

/// A registration of `campaign` received at `at`, stored with one delivery in `state`.
async fn stored(
    s: &Stack,
    account: &AccountId,
    campaign: &Campaign,
    hook: &Integration,
    at: u64,
    state: DeliveryState,
) -> String {
    let r = Registration {
        id: RegistrationId::generate(),
        account_id: account.clone(),
        campaign_id: campaign.id.clone(),
        received_at: at,
        data: RegistrationData {
            email: Some("old@example.com".into()),
            ..RegistrationData::default()
        },
        integration_ids: vec![hook.id.clone()],
        expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
        erased_at: None,
    };
    let d = Delivery {
        registration_id: r.id.clone(),
        integration_id: hook.id.clone(),
        campaign_id: campaign.id.clone(),
        provider: Provider::Webhook,
        state,
        attempts: 1,
        next_attempt_at: None,
        last: None,
        received_at: at,
        updated_at: at,
        waiting: None,
    };
    assert!(s.store.create_registration(&r, &[d]).await.unwrap());
    r.id.to_string()
}

#[tokio::test]
async fn the_accounts_deliveries_span_campaigns_and_page_through_a_month() {
    let s = stack!();
    let (account, key) = s.account().await;
    let (other_account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/unused", json!({}), &[])
        .await;
    let (quiz, _) = s.campaign(&account, &[&hook]).await;
    let (contest, _) = s.campaign(&account, &[&hook]).await;
    let other_hook = s
        .webhook(&other_account, "http://127.0.0.2:9/unused", json!({}), &[])
        .await;
    let (elsewhere, _) = s.campaign(&other_account, &[&other_hook]).await;
    let now = leadrelay::clock::now_ms();
    let mut made = Vec::new();
    for (n, days_ago) in [25u64, 20, 12, 9, 3, 1].into_iter().enumerate() {
        let campaign = if n % 2 == 0 { &quiz } else { &contest };
        let state = if n % 3 == 0 {
            DeliveryState::Failed
        } else {
            DeliveryState::Delivered
        };
        made.push(stored(&s, &account, campaign, &hook, now - days_ago * DAY, state).await);
    }
    stored(
        &s,
        &other_account,
        &elsewhere,
        &other_hook,
        now - DAY,
        DeliveryState::Delivered,
    )
    .await;
    let from = leadrelay::clock::rfc3339(now - 30 * DAY);
    let base = format!("/v1/deliveries?from={from}&order=oldest&limit=2");

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = base.clone();
    loop {
        let (status, page) = s.logs_call("GET", &path, &key).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page, "registration_id"));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{base}&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    let (_, week) = s.logs_call("GET", "/v1/deliveries", &key).await;
    let (_, failed) = s
        .logs_call(
            "GET",
            &format!("/v1/deliveries?from={from}&state=failed"),
            &key,
        )
        .await;
    let (_, one) = s
        .logs_call(
            "GET",
            &format!("/v1/deliveries?from={from}&campaign_id={}", contest.id),
            &key,
        )
        .await;
    let (foreign, _) = s
        .logs_call(
            "GET",
            &format!("/v1/deliveries?campaign_id={}", elsewhere.id),
            &key,
        )
        .await;

    assert_eq!(
        seen, made,
        "every delivery of the month, once, oldest first"
    );
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(
        ids(&week, "registration_id"),
        [made[5].clone(), made[4].clone()]
    );
    assert_eq!(
        ids(&failed, "registration_id"),
        [made[3].clone(), made[0].clone()]
    );
    assert_eq!(
        ids(&one, "registration_id"),
        [made[5].clone(), made[3].clone(), made[1].clone()]
    );
    assert_eq!(foreign, 404);
}

#[tokio::test]
async fn an_integrations_health_usage_removal_and_copy() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        std::sync::Arc::new(|r: &fake::Recorded| {
            let email = r
                .json()
                .and_then(|b| b["data"]["email"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if email.starts_with("bad") {
                Reply::json(
                    422,
                    json!({"error": "invalid_email", "message": "invalid email"}),
                )
            } else {
                Reply::json(200, json!({}))
            }
        }),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(
            &account,
            &server.url(),
            json!({"preflight": false, "auth": "bearer"}),
            &[("token", "tok-canary")],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let mut made = Vec::new();
    for email in ["ok1@example.com", "bad1@example.com", "ok2@example.com"] {
        made.push(id_of(
            &s.post(&campaign, &ingest_key, registration(email), None)
                .await
                .1,
        ));
    }
    s.settle(&deps, &key, &made, Duration::from_secs(30)).await;
    let path = format!("/v1/integrations/{}", hook.id);

    let (s1, read) = admin_call(&s, &key, "GET", &path, None).await;
    let (s2, list) = admin_call(&s, &key, "GET", "/v1/integrations", None).await;
    assert_eq!((s1, s2), (200, 200), "{read} {list}");
    let health = &read["health"];
    assert_eq!(health["state"], "active", "{read}");
    assert_eq!(
        (health["delivered"].as_u64(), health["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(health["last_success_at"].is_string());
    assert_eq!(health["last_failure"]["outcome"], "invalid_data");
    assert_eq!(health["last_failure"]["status"], 422);
    assert!(health["last_failure"]["explanation"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    assert_eq!(
        health["last_failure"]["log"],
        format!("/v1/registrations/{}", made[1])
    );
    assert_eq!(read["campaign_count"], 1);
    assert_eq!(read["campaigns"][0]["id"], campaign.id.as_str());
    assert_eq!(
        list["items"][0]["health"]["last_failure"],
        health["last_failure"]
    );
    assert_eq!(list["items"][0]["health"]["delivered"], 2);

    let (s3, refused) = admin_call(&s, &key, "DELETE", &path, None).await;
    let (s4, copy) = admin_call(&s, &key, "POST", &format!("{path}/copy"), None).await;
    assert_eq!(
        (s3, refused["code"].as_str()),
        (409, Some("integration_in_use"))
    );
    assert_eq!(refused["campaigns"][0]["id"], campaign.id.as_str());
    assert_eq!(s4, 201, "{copy}");
    assert_eq!(copy["name"], "Test hook (copy)");
    assert_eq!(copy["settings"], read["settings"]);
    let copy_id: leadrelay::ids::IntegrationId = copy["id"].as_str().unwrap().parse().unwrap();
    let stored_copy = s
        .store
        .integration(&account, &copy_id)
        .await
        .unwrap()
        .unwrap();
    let opened = s.vault.open(&stored_copy).await.unwrap();
    assert_eq!(
        opened.0["token"].expose(),
        "tok-canary",
        "sealed again under KMS for the copy"
    );

    let (s5, deleted) = admin_call(&s, &key, "DELETE", &format!("{path}?force=true"), None).await;
    let (s6, gone) = admin_call(&s, &key, "GET", &path, None).await;
    let after = s
        .store
        .campaign(&account, &campaign.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s5, 200, "{deleted}");
    assert_eq!(deleted["detached_from"][0], campaign.id.as_str());
    assert_eq!(s6, 404, "{gone}");
    assert!(after.integrations.is_empty());
    let (_, remaining) = admin_call(&s, &key, "GET", "/v1/integrations", None).await;
    assert_eq!(ids(&remaining, "id"), [copy_id.to_string()]);
}
