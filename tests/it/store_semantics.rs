//! The delivery semantics the store carries, against the real DynamoDB store on the
//! emulator: an expired claim is taken over (and not resent), erasure is terminal for an
//! attempt in flight, and consent order only moves forward.

use crate::helpers::{attempts, id_of, registration, states};
use aws_lambda_events::event::sqs::SqsMessage;
use leadrelay::clock;
use leadrelay::erasure::subject_hash;
use leadrelay::ids::RegistrationId;
use leadrelay::model::{Attempt, DeliveryState, RequestSummary, ResponseSummary, Trigger};
use leadrelay::store::RegistrationStore;
use leadrelay::store::{AttemptClaim, Recorded};
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::explain::explain;
use leadrelay_explain::provider::Provider;
use serde_json::json;
use std::time::Duration;

fn ok() -> Reply {
    Reply::json(200, json!({"ok": true}))
}

fn rid(v: &serde_json::Value) -> RegistrationId {
    id_of(v).parse().unwrap()
}

/// Receives until `n` messages are in hand (or a few empty rounds pass).
async fn receive_all(s: &crate::helpers::Stack, n: usize) -> Vec<SqsMessage> {
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(s.receive(Duration::from_secs(1)).await);
        if got.len() >= n {
            break;
        }
    }
    got
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_the_pipeline_records_outcome_unknown() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(ok()))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    // The store alone: claimed, held, then taken over once the lease has ended.
    let (_, first) = s
        .post(
            &campaign,
            &ingest_key,
            registration("claim@example.com"),
            None,
        )
        .await;
    let reg = s.store.registration(&rid(&first)).await.unwrap().unwrap();
    let now = clock::now_ms();
    let claim = |lease_until: u64, at: u64| {
        let (store, reg, id) = (s.store.clone(), reg.clone(), hook.id.clone());
        async move {
            store
                .claim_attempt(&reg, &id, 1, lease_until, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim(now + 60_000, now).await, AttemptClaim::Claimed);
    assert_eq!(
        claim(now + 60_000, now + 1_000).await,
        AttemptClaim::InProgress
    );
    assert_eq!(
        claim(now + 200_000, now + 61_000).await,
        AttemptClaim::TakenOver,
        "a lease that ended with no result is a take-over, not a fresh claim"
    );
    assert_eq!(
        claim(now + 300_000, now + 100_000).await,
        AttemptClaim::InProgress,
        "the taker holds it now"
    );
    // That registration's queued job is left alone (its claim is held far ahead).
    let queued = receive_all(&s, 1).await;
    s.delete(&queued.iter().collect::<Vec<_>>()).await;

    // The pipeline: a claim whose lease already ended, as a worker that died after the
    // send would leave it. Deliver must not send again to a webhook.
    let (_, second) = s
        .post(
            &campaign,
            &ingest_key,
            registration("crash@example.com"),
            None,
        )
        .await;
    let reg = s.store.registration(&rid(&second)).await.unwrap().unwrap();
    let now = clock::now_ms();
    assert_eq!(
        s.store
            .claim_attempt(&reg, &hook.id, 1, now - 1, now - 2)
            .await
            .unwrap(),
        AttemptClaim::Claimed
    );
    let logs = s
        .settle(&deps, &key, &[id_of(&second)], Duration::from_secs(20))
        .await;

    assert_eq!(server.hits(), 0, "nothing was resent");
    assert_eq!(states(&logs[0]), ["failed"]);
    let tried = attempts(&logs[0]);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(
        tried[0]["verdict"]["provider_code"], "attempt.outcome_unknown",
        "{tried:?}"
    );
    assert_eq!(s.queue_depth(&s.queue_url).await, 0, "no resend queued");
}

#[tokio::test]
async fn erasure_of_a_claimed_attempt_is_terminal_in_the_store() {
    let s = stack!();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/in", json!({}), &[])
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let canary = "canary.erase@example.com";
    let (status, accepted) = s
        .post(&campaign, &ingest_key, registration(canary), None)
        .await;
    assert_eq!(status, 202);
    let id = rid(&accepted);
    let reg = s.store.registration(&id).await.unwrap().unwrap();
    let now = clock::now_ms();
    assert_eq!(
        s.store
            .claim_attempt(&reg, &hook.id, 1, now + 60_000, now)
            .await
            .unwrap(),
        AttemptClaim::Claimed
    );

    // The erasure lands while the request is on its way.
    assert!(leadrelay::erasure::erase(&s.store, &id, now + 10)
        .await
        .unwrap()
        .is_some());
    let body = format!("accepted {canary}");
    let attempt = Attempt {
        registration_id: id.clone(),
        integration_id: hook.id.clone(),
        number: 1,
        trigger: Trigger::Automatic,
        started_at: now,
        duration_ms: 20,
        preceding: Vec::new(),
        request: Some(RequestSummary {
            method: "POST".into(),
            url: format!("http://127.0.0.2:9/in?email={canary}"),
            body_bytes: 80,
            batch: None,
        }),
        response: Some(ResponseSummary {
            status: 200,
            headers: Default::default(),
            body_excerpt: body.clone(),
            body_truncated: false,
        }),
        verdict: explain(
            Some(Provider::Webhook),
            &ProviderResponse::new(200, body.as_str()),
            None,
        ),
        delivery_state: DeliveryState::Delivered,
        next_attempt_at: None,
        integration_version: Some(hook.version),
    };
    let recorded = leadrelay::erasure::record_attempt(&s.store, &attempt, &reg)
        .await
        .unwrap();

    assert_eq!(recorded, Recorded::Erased);
    let items = s.scan_text().await.to_lowercase();
    assert!(!items.contains(canary), "the canary is stored: {items}");
    assert!(!items.contains("canary.erase"), "{items}");
    let log = s.log(&key, &id_of(&accepted)).await;
    assert_eq!(states(&log), ["erased"]);
    let kept = attempts(&log);
    assert_eq!(kept.len(), 1, "the status line is kept: {kept:?}");
    assert_eq!(kept[0]["response"]["status"], 200, "{kept:?}");
    assert!(!log.to_string().contains(canary), "{log}");

    // Nothing writes over `erased`.
    let mut d = s.store.delivery(&id, &hook.id).await.unwrap().unwrap();
    assert_eq!(d.state, DeliveryState::Erased);
    d.state = DeliveryState::Delivered;
    d.attempts = 1;
    s.store.update_delivery(&d, reg.expires_at).await.unwrap();
    d.state = DeliveryState::Retrying;
    d.attempts = 2;
    d.next_attempt_at = Some(now + 60_000);
    s.store.update_delivery(&d, reg.expires_at).await.unwrap();
    let after = s.store.delivery(&id, &hook.id).await.unwrap().unwrap();
    assert_eq!(after.state, DeliveryState::Erased);
    let items = s.scan_text().await.to_lowercase();
    assert!(!items.contains(canary), "{items}");
}

#[tokio::test]
async fn consent_order_only_moves_forward_and_an_older_registration_is_superseded() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(ok()))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    // The marker in the store: forward only.
    let subject = subject_hash("marker@example.com");
    let base = clock::now_ms();
    let expires = base / 1000 + 3600;
    let order = || s.store.delivered_order(&account, &subject, &hook.id);
    assert_eq!(order().await.unwrap(), None);
    let advance = |t: u64| {
        s.store
            .advance_delivered_order(&account, &subject, &hook.id, t, expires)
    };
    assert!(advance(base).await.unwrap());
    assert!(
        !advance(base - 60_000).await.unwrap(),
        "an older receipt does not move it"
    );
    assert_eq!(order().await.unwrap(), Some(base));
    assert!(
        !advance(base).await.unwrap(),
        "the same one does not move it"
    );
    assert!(advance(base + 1).await.unwrap());
    assert_eq!(order().await.unwrap(), Some(base + 1));

    // The pipeline: the newer registration of a person is delivered first; the older one
    // then ends superseded, and the receiver sees one request.
    let email = "order@example.com";
    // Two submissions of the same data (each with its own key; without keys the same
    // body within minutes would be one registration).
    let (_, older) = s
        .post(&campaign, &ingest_key, registration(email), Some("older"))
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (_, newer) = s
        .post(&campaign, &ingest_key, registration(email), Some("newer"))
        .await;
    let (older_id, newer_id) = (id_of(&older), id_of(&newer));
    let messages = receive_all(&s, 2).await;
    assert_eq!(messages.len(), 2);
    let carries = |m: &SqsMessage, id: &str| m.body.as_deref().unwrap_or("").contains(id);
    let newer_msg = messages.iter().find(|m| carries(m, &newer_id)).unwrap();
    let older_msg = messages.iter().find(|m| carries(m, &older_id)).unwrap();

    let first = deliver::process_batch(&deps, vec![newer_msg.clone()], None).await;
    let second = deliver::process_batch(&deps, vec![older_msg.clone()], None).await;
    s.delete(&[newer_msg, older_msg]).await;

    assert!(matches!(first[0].1, deliver::MessageResult::Done(_)));
    assert!(matches!(second[0].1, deliver::MessageResult::Done(_)));
    assert_eq!(server.hits(), 1, "the older registration is never sent");
    let newer_log = s.log(&key, &newer_id).await;
    let older_log = s.log(&key, &older_id).await;
    assert_eq!(states(&newer_log), ["delivered"]);
    assert_eq!(states(&older_log), ["superseded"]);
    let tried = attempts(&older_log);
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(tried[0]["verdict"]["provider_code"], "order.superseded");
    assert!(tried[0]["request"].is_null(), "{tried:?}");
    let newer_reg = s.store.registration(&rid(&newer)).await.unwrap().unwrap();
    assert_eq!(
        s.store
            .delivered_order(&account, &subject_hash(email), &hook.id)
            .await
            .unwrap(),
        Some(newer_reg.received_at)
    );
}
