//! The per-integration concurrency limit and circuit breaker against the emulator: slot
//! claims are conditional and expire, the breaker's writes are conditional, and a
//! receiver that counts simultaneous connections never sees more than the limit across
//! two deliver invocations running at once; a delivery held back says so in its log.

use crate::helpers::{id_of, registration};
use leadrelay::deliver::breaker::{Breaker, BreakerState};
use leadrelay::ids::{IntegrationId, RegistrationId};
use leadrelay::model::{DeliveryState, WaitKind};
use leadrelay::store::{FlowStore, RegistrationStore};
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn slot_claims_are_conditional_and_expire() {
    let s = stack!();
    let id = IntegrationId::generate();
    let now = leadrelay::clock::now_ms();

    assert!(s
        .store
        .claim_slot(&id, 0, "a", now + 60_000, now)
        .await
        .unwrap());
    assert!(
        !s.store
            .claim_slot(&id, 0, "b", now + 60_000, now)
            .await
            .unwrap(),
        "held"
    );
    assert!(s
        .store
        .claim_slot(&id, 1, "b", now + 60_000, now)
        .await
        .unwrap());
    let mut slots = s.store.concurrency_slots(&id).await.unwrap();
    slots.sort();
    assert_eq!(slots, [(0, now + 60_000), (1, now + 60_000)]);
    // Someone else's release does not free it; its holder's does.
    s.store.release_slot(&id, 0, "b").await.unwrap();
    assert!(!s
        .store
        .claim_slot(&id, 0, "c", now + 60_000, now)
        .await
        .unwrap());
    s.store.release_slot(&id, 0, "a").await.unwrap();
    assert!(s
        .store
        .claim_slot(&id, 0, "c", now + 60_000, now)
        .await
        .unwrap());
    // A lease that ended (its holder crashed) is free again.
    let later = now + 61_000;
    assert!(s
        .store
        .claim_slot(&id, 1, "d", later + 60_000, later)
        .await
        .unwrap());
}

#[tokio::test]
async fn breaker_writes_are_conditional_on_its_version() {
    let s = stack!();
    let id = IntegrationId::generate();
    let mut b = Breaker::new(id.clone());
    b.state = BreakerState::Held;
    assert!(s.store.put_breaker(&b).await.unwrap());
    assert!(
        !s.store.put_breaker(&b).await.unwrap(),
        "version 0 was taken"
    );
    let stored = s.store.breaker(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.state, BreakerState::Held);
    // Two probes from the same read: only one wins.
    let mut first = stored.clone();
    first.claim_probe(leadrelay::clock::now_ms() + 30_000);
    let second = first.clone();
    assert!(s.store.put_breaker(&first).await.unwrap());
    assert!(!s.store.put_breaker(&second).await.unwrap());
    let waits = (
        s.store.join_wait(&id, 5_000, 1_000).await.unwrap(),
        s.store.join_wait(&id, 5_000, 3_500).await.unwrap(),
    );
    // Places in the line, and the line's start kept from its first job.
    assert_eq!((waits.0.place, waits.1.place), (1, 2));
    assert_eq!((waits.0.since, waits.1.since), (1_000, 1_000));
}

/// A receiver that answers after a pause and counts the connections open at once.
async fn counting_receiver(most: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let (open, most) = (open.clone(), most.clone());
            tokio::spawn(async move {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                    .await;
                let _ = stream.shutdown().await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    format!("http://{addr}/in")
}

#[tokio::test]
async fn two_deliver_invocations_never_exceed_the_integrations_limit() {
    let s = stack!();
    let most = Arc::new(AtomicUsize::new(0));
    let url = counting_receiver(most.clone()).await;
    let (account, key) = s.account().await;
    let hook = s
        .webhook(&account, &url, json!({"max_concurrency": 3}), &[])
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, accepted) = s
            .post(
                &campaign,
                &ingest_key,
                registration(&format!("p{i}@example.com")),
                None,
            )
            .await;
        assert_eq!(status, 202);
        ids.push(id_of(&accepted));
    }

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut delivered = 0;
    while Instant::now() < deadline {
        // Two invocations, each with its own batch, at once.
        let first = s.receive(Duration::from_secs(1)).await;
        let second = s.receive(Duration::from_millis(200)).await;
        let (a, b) = tokio::join!(
            deliver::process_batch(&deps, first.clone(), None),
            deliver::process_batch(&deps, second.clone(), None)
        );
        for (messages, results) in [(&first, a), (&second, b)] {
            let done: Vec<_> = messages
                .iter()
                .filter(|m| {
                    results.iter().any(|(id, r)| {
                        Some(id) == m.message_id.as_ref()
                            && matches!(r, deliver::MessageResult::Done(_))
                    })
                })
                .collect();
            s.delete(&done).await;
        }
        delivered = 0;
        for id in &ids {
            let log = s.log(&key, id).await;
            if log["deliveries"][0]["state"] == "delivered" {
                delivered += 1;
            }
        }
        if delivered == ids.len() {
            break;
        }
    }
    assert_eq!(delivered, ids.len(), "every registration delivered");
    let seen = most.load(Ordering::SeqCst);
    assert!(seen <= 3, "{seen} connections at once, over the limit of 3");
    assert!(seen >= 2, "the sends did overlap ({seen})");
}

#[tokio::test]
async fn a_held_delivery_notes_it_in_its_log_until_its_attempt_and_an_ended_one_takes_no_note() {
    let s = stack!();
    let server = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let post = |email: &'static str| {
        let (s, campaign, ingest_key) = (&s, &campaign, &ingest_key);
        async move {
            let (status, accepted) = s
                .post(campaign, ingest_key, registration(email), None)
                .await;
            assert_eq!(status, 202);
            id_of(&accepted)
        }
    };
    let delivery = |id: &str| {
        let (store, id, hook) = (&s.store, id.parse::<RegistrationId>().unwrap(), &hook.id);
        async move { store.delivery(&id, hook).await.unwrap().unwrap() }
    };
    // One delivered before the hold, one erased while it waits.
    let delivered = post("done@example.com").await;
    let logs = s
        .settle(
            &deps,
            &key,
            std::slice::from_ref(&delivered),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(logs[0]["deliveries"][0]["state"], "delivered");
    let held = post("held@example.com").await;
    let erased = post("erased@example.com").await;
    leadrelay::erasure::erase(
        &s.store,
        &erased.parse().unwrap(),
        leadrelay::clock::now_ms(),
    )
    .await
    .unwrap()
    .unwrap();

    // The integration is held for a moment: the job goes back with no attempt made.
    let hold_until = leadrelay::clock::now_ms() + 4_000;
    let mut b = Breaker::new(hook.id.clone());
    b.state = BreakerState::Held;
    b.held_since = Some(leadrelay::clock::now_ms());
    b.held_until = Some(hold_until);
    b.holds = 1;
    b.reason = Some("The webhook answered with server errors 5 times.".into());
    assert!(s.store.put_breaker(&b).await.unwrap());
    let mut messages = Vec::new();
    for _ in 0..10 {
        messages.extend(s.receive(Duration::from_secs(1)).await);
        if messages.len() >= 2 {
            break;
        }
    }
    assert_eq!(messages.len(), 2, "the held and the erased one's jobs");
    let results = deliver::process_batch(&deps, messages.clone(), None).await;
    assert!(
        results
            .iter()
            .all(|(_, r)| matches!(r, deliver::MessageResult::Done(_))),
        "{results:?}"
    );
    s.delete(&messages.iter().collect::<Vec<_>>()).await;
    assert_eq!(
        server.hits(),
        1,
        "only the delivery before the hold was sent"
    );

    // Stored on the delivery in DynamoDB, and shown by the log.
    let stored = delivery(&held).await;
    let note = stored.waiting.clone().expect("a note on the held delivery");
    assert_eq!(note.kind, WaitKind::Held);
    assert!(note.until >= hold_until, "{note:?}");
    assert!(note.note.contains("server errors 5 times"), "{}", note.note);
    assert_eq!((stored.state, stored.attempts), (DeliveryState::Pending, 0));
    let log = s.log(&key, &held).await;
    let shown = &log["deliveries"][0];
    assert_eq!(shown["waiting"]["kind"], "held", "{log}");
    assert_eq!(shown["waiting"]["note"], note.note.as_str());
    assert_eq!(
        shown["waiting"]["until"],
        leadrelay::clock::rfc3339(note.until).as_str()
    );
    assert_eq!(shown["headline"], note.note.as_str());
    assert_eq!(
        shown["attempts"].as_array().unwrap().len(),
        0,
        "no attempt used"
    );

    // Never written on a delivery that ended or was erased, even by a stale job.
    for (id, attempt, state) in [
        (&delivered, 2, DeliveryState::Delivered),
        (&erased, 1, DeliveryState::Erased),
    ] {
        let r: RegistrationId = id.parse().unwrap();
        assert!(
            !s.store
                .note_waiting(&r, &hook.id, attempt, &note)
                .await
                .unwrap(),
            "{state:?}"
        );
        let d = delivery(id).await;
        assert_eq!((d.state, d.waiting), (state, None));
    }
    // Nor for an attempt that already ended: only while that attempt is still to come.
    let r: RegistrationId = delivered.parse().unwrap();
    let mut retrying = delivery(&delivered).await;
    retrying.state = DeliveryState::Retrying;
    retrying.attempts = 2;
    retrying.next_attempt_at = Some(leadrelay::clock::now_ms() + 60_000);
    let expires_at = s.store.registration(&r).await.unwrap().unwrap().expires_at;
    s.store
        .update_delivery(&retrying, expires_at)
        .await
        .unwrap();
    assert!(!s.store.note_waiting(&r, &hook.id, 2, &note).await.unwrap());
    assert!(s.store.note_waiting(&r, &hook.id, 3, &note).await.unwrap());
    let d = delivery(&delivered).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Retrying, 2));
    assert_eq!(d.waiting.as_ref(), Some(&note));

    // After the hold the probe goes out; its recorded attempt clears the note.
    let logs = s
        .settle(
            &deps,
            &key,
            std::slice::from_ref(&held),
            Duration::from_secs(60),
        )
        .await;
    let shown = &logs[0]["deliveries"][0];
    assert_eq!(shown["state"], "delivered", "{}", logs[0]);
    assert!(shown["waiting"].is_null(), "{shown}");
    assert_ne!(shown["headline"], note.note.as_str());
    assert_eq!(delivery(&held).await.waiting, None);
    assert_eq!(server.hits(), 2);
}
