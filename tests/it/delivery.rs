//! Delivery against the emulator and fake receivers: outcomes, retries, redelivery,
//! poison messages, bounded bodies, pause and resume, the ledger.

use crate::helpers::{attempts, id_of, registration, states, tally};
use leadrelay::egress::EgressPolicy;
use leadrelay::manage::{self, integrations::IntegrationInput};
use leadrelay::store::CampaignStore;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_dev::receiver;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

fn ok() -> Reply {
    Reply::json(200, json!({"ok": true}))
}

#[tokio::test]
async fn a_registration_is_delivered_signed_and_logged() {
    let s = stack!();
    let receiver_server = FakeServer::start("127.0.0.2:0", fake::always(ok()))
        .await
        .unwrap();
    let secret = leadrelay::destination::signature::generate_secret();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(
            &account,
            &format!("{}/in", receiver_server.url()),
            json!({}),
            &[("signing_secret", &secret)],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    let (status, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("lena@example.com"),
            None,
        )
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;

    assert_eq!(status, 202);
    assert_eq!(states(&logs[0]), ["delivered"]);
    let a = &attempts(&logs[0])[0];
    assert_eq!(a["verdict"]["outcome"], "delivered");
    assert_eq!(a["verdict"]["class"], "2xx");
    assert_eq!(a["response"]["status"], 200);
    let got = receiver_server.requests();
    assert_eq!(got.len(), 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        receiver::verify(&got[0], &secret, now),
        Ok(()),
        "signature verifies independently"
    );
    assert_eq!(got[0].json().unwrap()["data"]["email"], "lena@example.com");
    assert_eq!(s.queue_depth(&s.queue_url).await, 0);
}

#[tokio::test]
async fn a_permanent_refusal_is_explained_and_not_retried() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(
            422,
            json!({"message": "The email must be a valid email address in the UTF-8 charset."}),
        )),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(&account, &server.url(), json!({"preflight": false}), &[])
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1,1,1", Duration::from_secs(5));

    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("calebæhnson@provider.com"),
            None,
        )
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;

    assert_eq!(states(&logs[0]), ["failed"]);
    let all = attempts(&logs[0]);
    assert_eq!(all.len(), 1, "a permanent verdict stops at once");
    let v = &all[0]["verdict"];
    assert_eq!(
        (
            v["class"].as_str(),
            v["outcome"].as_str(),
            v["field"].as_str()
        ),
        (Some("4xx"), Some("invalid_data"), Some("email"))
    );
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("'æ' at position 6"),
        "{v}"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![Reply::json(503, json!({"error": "busy"})), ok()]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1,1", Duration::from_secs(5));

    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("bea@example.com"),
            None,
        )
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(30))
        .await;

    assert_eq!(states(&logs[0]), ["delivered"]);
    let outcomes: Vec<String> = attempts(&logs[0])
        .iter()
        .map(|a| a["verdict"]["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["server_error", "delivered"]);
    let first = &attempts(&logs[0])[0];
    assert_eq!(first["delivery_state"], "retrying");
    assert!(first["next_attempt_at"].is_string());
    let ids: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the webhook id is stable across retries");
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_the_attempt_is_retried() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![ok().after(Duration::from_secs(3)), ok()]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(1));

    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("slow@example.com"),
            None,
        )
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(30))
        .await;

    let all = attempts(&logs[0]);
    assert_eq!(all[0]["verdict"]["outcome"], "timeout");
    assert_eq!(all[0]["verdict"]["class"], "network");
    assert!(
        all[0]["duration_ms"].as_u64().unwrap() < 2500,
        "the attempt ended at its timeout"
    );
    assert_eq!(states(&logs[0]), ["delivered"]);
}

#[tokio::test]
async fn a_stated_wait_is_honoured() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![
            Reply::json(429, json!({"message": "Rate limit exceeded"})).header("retry-after", "3"),
            ok(),
        ]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("rl@example.com"), None)
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(30))
        .await;

    let all = attempts(&logs[0]);
    assert_eq!(all[0]["verdict"]["outcome"], "rate_limited");
    assert_eq!(all[0]["verdict"]["retry_after_s"], 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let waited = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        waited >= Duration::from_secs(3),
        "second try came after {waited:?}, before the stated 3 s"
    );
    assert_eq!(states(&logs[0]), ["delivered"]);
}

#[tokio::test]
async fn a_rate_limit_holds_the_integrations_next_delivery_until_the_stated_wait() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![
            Reply::json(429, json!({"message": "Rate limit exceeded"})).header("retry-after", "3"),
            ok(),
            ok(),
        ]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    let (_, first) = s
        .post(
            &campaign,
            &ingest_key,
            registration("first@example.com"),
            None,
        )
        .await;
    while server.hits() == 0 {
        s.pump(&deps).await;
    }
    let cooled = s
        .store
        .integration(&account, &hook.id)
        .await
        .unwrap()
        .unwrap();
    let (_, second) = s
        .post(
            &campaign,
            &ingest_key,
            registration("second@example.com"),
            None,
        )
        .await;
    s.pump(&deps).await;
    let hits_while_cooling = server.hits();
    let logs = s
        .settle(
            &deps,
            &key,
            &[id_of(&first), id_of(&second)],
            Duration::from_secs(30),
        )
        .await;

    assert!(
        cooled.cooldown_until.is_some(),
        "the stored integration cools down"
    );
    assert_eq!(hits_while_cooling, 1, "the second registration waited");
    assert_eq!(states(&logs[0]), ["delivered"]);
    assert_eq!(states(&logs[1]), ["delivered"]);
    assert_eq!(attempts(&logs[1]).len(), 1, "waiting cost it no attempt");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[2].at.duration_since(reqs[0].at) >= Duration::from_secs(3),
        "nothing more was sent within the stated wait"
    );
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(ok()))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("ok@example.com"), None)
        .await;
    s.sqs
        .send_message()
        .queue_url(&s.queue_url)
        .message_body("{\"type\":\"deliver_v9\"}")
        .send()
        .await
        .unwrap();

    let mut messages = Vec::new();
    for _ in 0..5 {
        messages.extend(s.receive(Duration::from_secs(1)).await);
        if messages.len() == 2 {
            break;
        }
    }
    let results = deliver::process_batch(&deps, messages.clone(), None).await;

    let failed: Vec<&String> = results
        .iter()
        .filter(|(_, r)| matches!(r, deliver::MessageResult::Failed(_)))
        .map(|(id, _)| id)
        .collect();
    let poison = messages
        .iter()
        .find(|m| m.body.as_deref().unwrap().contains("deliver_v9"))
        .unwrap();
    assert_eq!(failed, [poison.message_id.as_ref().unwrap()]);
    assert_eq!(states(&s.log(&key, &id_of(&accepted)).await), ["delivered"]);
}

#[tokio::test]
async fn a_redelivered_job_sends_once_and_records_one_attempt() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(ok()))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("once@example.com"),
            None,
        )
        .await;
    let messages = s.receive(Duration::from_secs(1)).await;

    // The same message handled twice (SQS redelivers when a delete is lost).
    let first = deliver::process_batch(&deps, messages.clone(), None).await;
    let second = deliver::process_batch(&deps, messages.clone(), None).await;

    assert!(matches!(first[0].1, deliver::MessageResult::Done(_)));
    assert_eq!(
        second[0].1,
        deliver::MessageResult::Done(leadrelay::deliver::Handled::AlreadyDone)
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(attempts(&s.log(&key, &id_of(&accepted)).await).len(), 1);
    let items = s.scan_text().await;
    assert_eq!(items.matches("#ATT#0001").count(), 1, "one attempt row");
}

#[tokio::test]
async fn an_oversized_answer_is_kept_as_a_bounded_excerpt() {
    let s = stack!();
    let huge = "x".repeat(5 * 1024 * 1024);
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::text(500, "text/plain", huge)),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("", Duration::from_secs(5));

    let (_, accepted) = s
        .post(
            &campaign,
            &ingest_key,
            registration("big@example.com"),
            None,
        )
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;

    let a = &attempts(&logs[0])[0];
    assert_eq!(a["response"]["status"], 500);
    assert_eq!(a["response"]["body_truncated"], true);
    let excerpt = a["response"]["body_excerpt"].as_str().unwrap();
    assert!(
        excerpt.len() <= leadrelay::egress::MAX_KEPT_BYTES,
        "{}",
        excerpt.len()
    );
    assert_eq!(
        states(&logs[0]),
        ["exhausted"],
        "an empty schedule ends at the first retryable failure"
    );
}

#[tokio::test]
async fn bad_credentials_pause_the_integration_and_new_ones_drain_what_waited() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(401, json!({"error": "invalid_token"}))),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(
            &account,
            &server.url(),
            json!({"auth": "bearer"}),
            &[("token", "old-token")],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1,1,1", Duration::from_secs(5));

    let (_, first) = s
        .post(&campaign, &ingest_key, registration("a@example.com"), None)
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&first)], Duration::from_secs(20))
        .await;
    assert_eq!(states(&logs[0]), ["paused"]);
    assert_eq!(attempts(&logs[0])[0]["verdict"]["outcome"], "unauthorized");
    let paused = leadrelay::store::CampaignStore::integration(&s.store, &account, &hook.id)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        paused.status,
        leadrelay::model::IntegrationStatus::Paused { .. }
    ));

    let (_, second) = s
        .post(&campaign, &ingest_key, registration("b@example.com"), None)
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&second)], Duration::from_secs(20))
        .await;
    assert_eq!(states(&logs[0]), ["paused"]);
    assert!(
        attempts(&logs[0]).is_empty(),
        "a parked delivery burns no attempt"
    );
    assert_eq!(server.hits(), 1);

    server.set_handler(fake::always(ok()));
    let patch = IntegrationInput {
        credentials: BTreeMap::from([("token".to_owned(), Some("new-token".to_owned()))]),
        ..IntegrationInput::default()
    };
    let policy = EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    };
    let updated = manage::integrations::update_integration(
        &s.store, &s.queue, &s.vault, policy, &account, &hook.id, patch,
    )
    .await
    .unwrap();
    assert!(updated.drain_started);
    let logs = s
        .settle(
            &deps,
            &key,
            &[id_of(&first), id_of(&second)],
            Duration::from_secs(20),
        )
        .await;

    assert_eq!(states(&logs[0]), ["delivered"]);
    assert_eq!(states(&logs[1]), ["delivered"]);
    let last = server
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .to_owned();
    assert_eq!(last, "Bearer new-token");
    let triggers: Vec<Value> = attempts(&logs[1])
        .iter()
        .map(|a| a["trigger"].clone())
        .collect();
    assert_eq!(triggers, [json!("resumed")]);
}

#[tokio::test]
async fn every_accepted_registration_ends_terminal_or_queued() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", receiver::demo_handler(None))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let checked = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let unchecked = s
        .webhook(&account, &server.url(), json!({"preflight": false}), &[])
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&checked, &unchecked]).await;
    let deps = s.deliver_deps("1,1", Duration::from_secs(5));
    let emails = [
        "ann",
        "busy.bob",
        "known.cat",
        "dæn",
        "eve",
        "busy.fay",
        "gus",
        "known.hal",
        "ivy",
        "jon",
    ];

    let mut accepted = Vec::new();
    for (i, name) in emails.iter().enumerate() {
        let (status, v) = s
            .post(
                &campaign,
                &ingest_key,
                registration(&format!("{name}@example.com")),
                Some(&format!("k{i}")),
            )
            .await;
        assert_eq!(status, 202);
        accepted.push(id_of(&v));
    }
    let logs = s
        .settle(&deps, &key, &accepted, Duration::from_secs(60))
        .await;

    let all_states: Vec<String> = logs.iter().flat_map(states).collect();
    let counts = tally(all_states.iter().map(String::as_str));
    let lost: Vec<&String> = all_states
        .iter()
        .filter(|st| {
            !matches!(
                st.as_str(),
                "delivered"
                    | "failed"
                    | "exhausted"
                    | "paused"
                    | "skipped"
                    | "pending"
                    | "retrying"
            )
        })
        .collect();
    assert!(lost.is_empty(), "{counts:?}");
    assert_eq!(
        all_states.len(),
        emails.len() * 2,
        "every delivery of every 202 is in the log"
    );
    assert_eq!(
        counts.get("failed"),
        Some(&2),
        "the 'æ' address fails on both integrations: {counts:?}"
    );
    assert_eq!(counts.get("delivered"), Some(&18), "{counts:?}");
    assert_eq!(
        s.queue_depth(&s.dlq_url).await,
        0,
        "provider refusals never reach the dead-letter queue"
    );
}

#[tokio::test]
async fn a_batch_webhook_gets_one_signed_array_per_queue_batch_and_a_redelivery_sends_nothing_twice(
) {
    let s = stack!();
    let secret = leadrelay::destination::signature::generate_secret();
    let server = FakeServer::start("127.0.0.2:0", receiver::demo_handler(Some(secret.clone())))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(
            &account,
            &format!("{}/in", server.url()),
            json!({"batch": {"max_items": 10}, "preflight": false}),
            &[("signing_secret", &secret)],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let mut ids = Vec::new();
    for email in [
        "ana@example.com",
        "calebæhnson@provider.com",
        "ben@example.com",
    ] {
        let (_, accepted) = s
            .post(&campaign, &ingest_key, registration(email), None)
            .await;
        ids.push(id_of(&accepted));
    }
    let mut messages = Vec::new();
    for _ in 0..10 {
        messages.extend(s.receive(Duration::from_secs(1)).await);
        if messages.len() == 3 {
            break;
        }
    }
    assert_eq!(messages.len(), 3, "the three jobs were received");

    let first = deliver::process_batch(&deps, messages.clone(), None).await;
    let second = deliver::process_batch(&deps, messages.clone(), None).await;

    assert!(first
        .iter()
        .all(|(_, r)| matches!(r, deliver::MessageResult::Done(_))));
    assert!(
        second
            .iter()
            .all(|(_, r)| *r
                == deliver::MessageResult::Done(leadrelay::deliver::Handled::AlreadyDone))
    );
    let got = server.requests();
    assert_eq!(got.len(), 1, "one request for the whole batch");
    let now = leadrelay::clock::now_ms() / 1000;
    assert_eq!(receiver::verify(&got[0], &secret, now), Ok(()));
    assert_eq!(got[0].json().unwrap().as_array().map(Vec::len), Some(3));
    let mut outcomes = Vec::new();
    for id in &ids {
        let log = s.log(&key, id).await;
        let a = attempts(&log);
        assert_eq!(a.len(), 1, "one attempt each");
        assert_eq!(a[0]["request"]["batch"]["items"], 3);
        assert_eq!(
            a[0]["request"]["batch"]["id"].as_str(),
            got[0].header("webhook-id")
        );
        outcomes.push(states(&log)[0].clone());
    }
    assert_eq!(outcomes, ["delivered", "failed", "delivered"]);
    let refused = &attempts(&s.log(&key, &ids[1]).await)[0]["verdict"];
    assert_eq!(refused["status"], 422);
    assert!(refused["explanation"].as_str().unwrap().contains('æ'));
}
