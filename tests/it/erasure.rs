//! Erasure against the emulator: a person's registrations are found by address, their
//! data leaves every item, the status lines stay, waiting deliveries are never sent, and
//! other people and other accounts are untouched.

use crate::helpers::{id_of, respond, states};
use leadrelay_dev::fake::{FakeServer, Recorded, Reply};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Refuses every registration, quoting the address it was sent, as many APIs do.
fn quoting_refusal(r: &Recorded) -> Reply {
    let email = r
        .json()
        .and_then(|b| b["data"]["email"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Reply::json(
        422,
        json!({"error": "invalid_email", "message": format!("{email} is not accepted here")}),
    )
}

async fn admin_call(s: &crate::helpers::Stack, key: &str, body: Value) -> (u16, Value) {
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
        .method("POST")
        .uri("/v1/erasures")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(lambda_http::Body::from(body.to_string()))
        .unwrap();
    respond(admin::router::handle(&deps, req).await.unwrap())
}

#[tokio::test]
async fn erasing_an_address_removes_it_everywhere_and_keeps_the_status_lines() {
    let s = stack!();
    let refusing = FakeServer::start("127.0.0.2:0", Arc::new(quoting_refusal))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(&account, &refusing.url(), json!({"preflight": false}), &[])
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let person = |email: &str| {
        json!({"email": email, "first_name": "Oskarina", "phone": "+4930123456",
               "consent": {"marketing": true}, "fields": {"favourite": "Pistachio-Swirl"}})
    };
    let (_, first) = s
        .post(&campaign, &ingest_key, person("erase.me@example.com"), None)
        .await;
    let (_, other) = s
        .post(&campaign, &ingest_key, person("keep.me@example.com"), None)
        .await;
    let deliver = s.deliver_deps("1", Duration::from_secs(5));
    let (first, other) = (id_of(&first), id_of(&other));
    s.settle(
        &deliver,
        &key,
        &[first.clone(), other.clone()],
        Duration::from_secs(20),
    )
    .await;
    // The same person again, in another case, still waiting when the erasure comes.
    let (_, waiting) = s
        .post(&campaign, &ingest_key, person("Erase.Me@Example.com"), None)
        .await;
    let waiting = id_of(&waiting);
    assert!(s.scan_text().await.contains("erase.me@example.com"));

    let (status, answer) = admin_call(&s, &key, json!({"email": "ERASE.ME@example.com"})).await;

    assert_eq!(status, 200, "{answer}");
    let mut erased: Vec<&str> = answer["erased"]["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    erased.sort_unstable();
    let mut expected = vec![first.as_str(), waiting.as_str()];
    expected.sort_unstable();
    assert_eq!(erased, expected);
    assert_eq!(answer["erased"]["deliveries_stopped"], 1);
    assert_eq!(answer["erased"]["attempts_scrubbed"], 1);

    // Nothing of the person is left in any item; the other person is untouched.
    let table = s.scan_text().await;
    for gone in [
        "erase.me",
        "Erase.Me",
        "Oskarina",
        "+4930123456",
        "Pistachio",
    ] {
        let left = table
            .lines()
            .filter(|l| l.contains(gone) && !l.contains(&other))
            .count();
        assert_eq!(left, 0, "{gone} is still stored");
    }
    assert!(table.contains("keep.me@example.com"));

    // The log still says what happened, without the data.
    let log = s.log(&key, &first).await;
    assert!(log["registration"]["erased_at"].is_string(), "{log}");
    assert_eq!(log["registration"]["data"]["consent"]["marketing"], true);
    assert!(log["registration"]["data"].get("email").is_none());
    assert_eq!(states(&log), ["failed"]);
    let attempt = &log["deliveries"][0]["attempts"][0];
    assert_eq!(attempt["response"]["status"], 422);
    assert_eq!(attempt["verdict"]["class"], "4xx");
    assert_eq!(attempt["verdict"]["outcome"], "invalid_data");
    assert_eq!(attempt["response"]["body_excerpt"], "");
    assert_eq!(
        attempt["verdict"]["message"],
        "[erased] is not accepted here"
    );
    let kept = s.log(&key, &other).await;
    assert_eq!(kept["registration"]["data"]["email"], "keep.me@example.com");
    assert!(kept["deliveries"][0]["attempts"][0]["verdict"]["message"]
        .as_str()
        .unwrap()
        .contains("keep.me@example.com"));

    // The waiting delivery is never sent: its job is consumed without a request.
    let before = refusing.hits();
    let log = s.log(&key, &waiting).await;
    assert_eq!(states(&log), ["erased"]);
    for _ in 0..3 {
        s.pump(&deliver).await;
    }
    assert_eq!(refusing.hits(), before);
    assert_eq!(s.queue_depth(&s.queue_url).await, 0);
    let (resend, problem) = s
        .logs_call(
            "POST",
            &format!("/v1/registrations/{first}/deliveries/{}/retry", hook.id),
            &key,
        )
        .await;
    assert_eq!(resend, 409);
    assert_eq!(problem["code"], "registration_erased");

    // Asking again finds nothing more to erase.
    let (status, again) = admin_call(&s, &key, json!({"email": "erase.me@example.com"})).await;
    assert_eq!(status, 200);
    assert_eq!(again["erased"]["registrations"], json!([]));
}

#[tokio::test]
async fn erasure_stays_inside_the_account_and_names_bad_input() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        leadrelay_dev::fake::always(Reply::json(200, json!({}))),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let (_, other_key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            json!({"email": "shared.person@example.com", "consent": {"marketing": true}}),
            None,
        )
        .await;
    let rid = id_of(&accepted);

    let (by_email, none) = admin_call(
        &s,
        &other_key,
        json!({"email": "shared.person@example.com"}),
    )
    .await;
    let (by_id, _) = admin_call(&s, &other_key, json!({"registration_id": rid})).await;
    let (both, both_problem) = admin_call(
        &s,
        &key,
        json!({"email": "shared.person@example.com", "registration_id": rid}),
    )
    .await;
    let (not_email, email_problem) = admin_call(&s, &key, json!({"email": "nobody"})).await;
    let (unknown, _) = admin_call(&s, &key, json!({"phone": "+4930"})).await;

    assert_eq!(
        (by_email, none["erased"]["registrations"].clone()),
        (200, json!([]))
    );
    assert_eq!(by_id, 404);
    assert_eq!(both, 422);
    assert_eq!(both_problem["errors"][0]["code"], "one_of");
    assert_eq!(not_email, 422);
    assert_eq!(email_problem["errors"][0]["field"], "email");
    assert!((400..500).contains(&unknown));
    let log = s.log(&key, &rid).await;
    assert_eq!(
        log["registration"]["data"]["email"],
        "shared.person@example.com"
    );

    // By id, in its own account: that registration only.
    let (status, answer) = admin_call(&s, &key, json!({"registration_id": rid})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["erased"]["registrations"], json!([rid]));
    assert!(s.log(&key, &rid).await["registration"]["data"]
        .get("email")
        .is_none());
}
