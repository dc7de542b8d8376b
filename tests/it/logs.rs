//! The logs API against the emulator: tenant isolation, filters, sealed cursors,
//! summaries, manual resend.

use crate::helpers::{attempts, id_of, registration, states};
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn another_accounts_key_reads_nothing() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let (account, _) = s.account().await;
    let (_, other_key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("a@example.com"), None)
        .await;
    let rid = id_of(&accepted);

    let (log, _) = s
        .logs_call("GET", &format!("/v1/registrations/{rid}"), &other_key)
        .await;
    let (list, _) = s
        .logs_call(
            "GET",
            &format!("/v1/campaigns/{}/deliveries", campaign.id),
            &other_key,
        )
        .await;
    let (summary, _) = s
        .logs_call(
            "GET",
            &format!("/v1/campaigns/{}/summary", campaign.id),
            &other_key,
        )
        .await;
    let (retry, _) = s
        .logs_call(
            "POST",
            &format!("/v1/registrations/{rid}/deliveries/{}/retry", hook.id),
            &other_key,
        )
        .await;
    let (anonymous, _) = s
        .logs_call("GET", &format!("/v1/registrations/{rid}"), "lr_ak_nobody")
        .await;

    assert_eq!((log, list, summary, retry), (404, 404, 404, 404));
    assert_eq!(anonymous, 401);
}

#[tokio::test]
async fn campaign_lists_filter_page_and_refuse_altered_or_foreign_cursors() {
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
                    400,
                    json!({"error": {"code": "invalid_email", "message": "invalid email"}}),
                )
            } else {
                Reply::json(200, json!({}))
            }
        }),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let (_, other_key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let mut ids = Vec::new();
    for email in [
        "ok1@example.com",
        "bad1@example.com",
        "ok2@example.com",
        "bad2@example.com",
        "bad3@example.com",
    ] {
        ids.push(id_of(
            &s.post(&campaign, &ingest_key, registration(email), None)
                .await
                .1,
        ));
    }
    s.settle(&deps, &key, &ids, Duration::from_secs(30)).await;
    let base = format!("/v1/campaigns/{}/deliveries", campaign.id);

    let (status, page1) = s
        .logs_call("GET", &format!("{base}?outcome=invalid_data&limit=2"), &key)
        .await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert!(page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["last"]["outcome"] == "invalid_data"));
    let cursor = page1["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{page1}"))
        .to_owned();
    let (_, page2) = s
        .logs_call(
            "GET",
            &format!("{base}?outcome=invalid_data&limit=2&cursor={cursor}"),
            &key,
        )
        .await;
    let total = page1["items"].as_array().unwrap().len() + page2["items"].as_array().unwrap().len();
    assert_eq!(total, 3, "three refusals over two pages");
    let (_, delivered) = s
        .logs_call("GET", &format!("{base}?state=delivered"), &key)
        .await;
    assert_eq!(delivered["items"].as_array().unwrap().len(), 2);

    let mut altered = cursor.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let (tampered, problem) = s
        .logs_call(
            "GET",
            &format!("{base}?outcome=invalid_data&limit=2&cursor={altered}"),
            &key,
        )
        .await;
    assert_eq!(tampered, 400);
    assert_eq!(problem["errors"][0]["field"], "cursor");
    let (other_filter, _) = s
        .logs_call(
            "GET",
            &format!("{base}?outcome=delivered&limit=2&cursor={cursor}"),
            &key,
        )
        .await;
    assert_eq!(other_filter, 400, "a cursor is bound to its filters");
    let (foreign, _) = s
        .logs_call(
            "GET",
            &format!("{base}?outcome=invalid_data&limit=2&cursor={cursor}"),
            &other_key,
        )
        .await;
    assert_eq!(
        foreign, 404,
        "another account does not even see the campaign"
    );
    let (bad_param, problem) = s
        .logs_call("GET", &format!("{base}?outcome=lost&limit=5000"), &key)
        .await;
    assert_eq!(bad_param, 400);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["outcome", "limit"]);

    let (_, summary) = s
        .logs_call(
            "GET",
            &format!("/v1/campaigns/{}/summary", campaign.id),
            &key,
        )
        .await;
    assert_eq!(summary["deliveries"], 5);
    assert_eq!(summary["integrations"][0]["states"]["failed"], 3);
    assert_eq!(summary["integrations"][0]["states"]["delivered"], 2);
    assert_eq!(summary["top_causes"][0]["count"], 3);
    assert_eq!(summary["top_causes"][0]["provider_code"], "invalid_email");
}

#[tokio::test]
async fn a_resend_is_recorded_as_a_manual_attempt() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![
            Reply::json(400, json!({"error": "list closed"})),
            Reply::json(200, json!({})),
        ]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let rid = id_of(
        &s.post(
            &campaign,
            &ingest_key,
            registration("again@example.com"),
            None,
        )
        .await
        .1,
    );
    let logs = s
        .settle(
            &deps,
            &key,
            std::slice::from_ref(&rid),
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(states(&logs[0]), ["failed"]);

    let (status, queued) = s
        .logs_call(
            "POST",
            &format!("/v1/registrations/{rid}/deliveries/{}/retry", hook.id),
            &key,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["attempt"], 2);
    let mut log = s.log(&key, &rid).await;
    for _ in 0..20 {
        s.pump(&deps).await;
        log = s.log(&key, &rid).await;
        if states(&log) == ["delivered"] {
            break;
        }
    }

    assert_eq!(states(&log), ["delivered"]);
    let triggers: Vec<String> = attempts(&log)
        .iter()
        .map(|a| a["trigger"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(triggers, ["automatic", "manual"]);
}
