//! Tests of the crash windows of deliver and ingest (`docs/delivery-semantics.md`), of
//! one deadline per attempt, of erasure racing an attempt, and of consent order.

use super::*;
use crate::exchange::Exchange;
use crate::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use crate::model::{RegistrationData, ResponseSummary};
use crate::queue::memory::MemoryQueue;
use crate::store::memory::MemoryStore;
use crate::store::{CampaignStore, RegistrationStore};
use crate::vault::InsecureTestVault;
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::provider::Provider;
use leadrelay_explain::verdict::Outcome;
use std::sync::Mutex;

/// Answers 200 with a body quoting the address, after `delay`, and counts sends by URL.
struct Receiver {
    delay: Duration,
    sent: Mutex<Vec<String>>,
}

impl Transport for Receiver {
    async fn send(&self, request: &OutgoingRequest) -> Exchange {
        self.sent.lock().unwrap().push(request.url.clone());
        tokio::time::sleep(self.delay).await;
        let body = "accepted lena@example.com";
        Exchange {
            response: ProviderResponse::new(200, body),
            summary: Some(ResponseSummary {
                status: 200,
                headers: Default::default(),
                body_excerpt: body.to_owned(),
                body_truncated: false,
            }),
            duration_ms: self.delay.as_millis() as u64,
            blocked: None,
        }
    }
}

type World = Deliverer<MemoryStore, MemoryQueue, Receiver, InsecureTestVault>;

fn world(delay: Duration) -> World {
    Deliverer {
        store: MemoryStore::new(),
        queue: MemoryQueue::new(),
        transport: Receiver {
            delay,
            sent: Mutex::new(Vec::new()),
        },
        vault: InsecureTestVault,
        config: DeliverConfig {
            schedule: RetrySchedule::parse("30, 60").unwrap(),
            attempt_timeout: Duration::from_secs(5),
        },
    }
}

fn account() -> AccountId {
    "acc_0123456789abcdefghjkmnpqrs".parse().unwrap()
}

async fn hook(w: &World, url: &str) -> Integration {
    let integration = Integration {
        id: IntegrationId::generate(),
        account_id: account(),
        name: "hook".into(),
        provider: Provider::Webhook,
        settings: serde_json::json!({ "url": url })
            .as_object()
            .cloned()
            .unwrap(),
        credentials: None,
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        created_at: 0,
        updated_at: 0,
        cooldown_until: None,
    };
    w.store.put_integration(&integration).await.unwrap();
    integration
}

async fn register(w: &World, integration: &Integration, received_at: u64) -> DeliverJob {
    let registration = Registration {
        id: RegistrationId::generate(),
        account_id: account(),
        campaign_id: CampaignId::generate(),
        received_at,
        data: RegistrationData {
            email: Some("lena@example.com".into()),
            ..RegistrationData::default()
        },
        integration_ids: vec![integration.id.clone()],
        expires_at: clock::now_ms() / 1000 + 3600,
        erased_at: None,
    };
    let delivery = Delivery {
        registration_id: registration.id.clone(),
        integration_id: integration.id.clone(),
        campaign_id: registration.campaign_id.clone(),
        provider: integration.provider,
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at: None,
        last: None,
        received_at,
        updated_at: received_at,
        waiting: None,
    };
    w.store
        .create_registration(&registration, &[delivery])
        .await
        .unwrap();
    DeliverJob {
        account_id: account(),
        registration_id: registration.id,
        integration_id: integration.id.clone(),
        attempt: 1,
        not_before: None,
        trigger: Trigger::Automatic,
    }
}

fn sends(w: &World) -> usize {
    w.transport.sent.lock().unwrap().len()
}

async fn state(w: &World, job: &DeliverJob) -> DeliveryState {
    w.store
        .delivery(&job.registration_id, &job.integration_id)
        .await
        .unwrap()
        .unwrap()
        .state
}

#[tokio::test]
async fn a_failed_record_after_the_send_is_not_sent_again_to_a_webhook() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;

    // Sent, then the record fails: the message goes back to the queue.
    w.store.fail("record_attempt");
    assert!(w.run(&job, None).await.is_err());
    w.store.heal("record_attempt");
    // It comes back after the visibility timeout, when the lease has ended.
    w.store.expire_leases();
    let again = w.run(&job, None).await.unwrap();

    assert_eq!(sends(&w), 1, "no second send");
    assert_eq!(
        again,
        Handled::Attempted(DeliveryState::Failed, Outcome::Unexpected)
    );
    let attempts = w.store.all_attempts();
    assert_eq!(attempts.len(), 1);
    let v = &attempts[0].verdict;
    assert_eq!(v.provider_code.as_deref(), Some("attempt.outcome_unknown"));
    let id = destination::message_id(
        &w.store
            .registration(&job.registration_id)
            .await
            .unwrap()
            .unwrap(),
        &integration,
    );
    assert!(v.remedy.contains(&id), "{}", v.remedy);
    assert_eq!(state(&w, &job).await, DeliveryState::Failed);
    assert!(w.queue.is_empty(), "no resend queued");
}

#[tokio::test]
async fn an_expired_claim_of_a_batch_mode_webhook_is_not_sent_again() {
    let w = world(Duration::ZERO);
    let mut integration = hook(&w, "https://hooks.example.com/batch").await;
    integration
        .settings
        .insert("batch".into(), serde_json::json!({"max_items": 10}));
    w.store.put_integration(&integration).await.unwrap();
    let job = register(&w, &integration, clock::now_ms()).await;

    w.store.fail("record_attempt");
    assert!(w.run(&job, None).await.is_err());
    w.store.heal("record_attempt");
    w.store.expire_leases();
    let results = w.run_all(vec![(0, job.clone())], None, 4).await;

    assert_eq!(sends(&w), 1);
    assert!(matches!(
        results[0].1,
        Ok(Handled::Attempted(DeliveryState::Failed, _))
    ));
}

#[tokio::test]
async fn a_record_throttled_for_a_moment_is_written_by_the_worker_that_sent() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;
    w.store.throttle("record_attempt");

    // The table answers "throttled" for 0.4 s after the send, then heals.
    let (handled, ()) = tokio::join!(w.run(&job, None), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        w.store.heal("record_attempt");
    });
    let handled = handled.unwrap();

    assert_eq!(
        handled,
        Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
    );
    assert_eq!(sends(&w), 1);
    assert_eq!(w.store.all_attempts().len(), 1);
}

#[tokio::test]
async fn a_record_throttled_for_seconds_is_still_written_while_the_claim_holds() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;
    w.store.throttle("record_attempt");

    // Longer than a few quick tries (1.75 s): the attempt was sent, and its lease (the
    // attempt timeout plus 30 s) leaves time, so the worker that sent it keeps trying
    // rather than leave it to be taken over as "outcome unknown".
    let (handled, ()) = tokio::join!(w.run(&job, None), async {
        tokio::time::sleep(Duration::from_millis(2_600)).await;
        w.store.heal("record_attempt");
    });

    assert_eq!(
        handled.unwrap(),
        Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
    );
    assert_eq!(sends(&w), 1);
    assert_eq!(w.store.all_attempts().len(), 1);
}

#[tokio::test]
async fn a_claim_still_leased_sends_nothing_and_waits_on_the_queue_for_the_lease() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;
    w.store.fail("record_attempt");
    assert!(w.run(&job, None).await.is_err());
    w.store.heal("record_attempt");

    w.queue.drain();
    assert_eq!(w.run(&job, None).await.unwrap(), Handled::WaitingForHolder);
    assert_eq!(sends(&w), 1);
    // The job waits on the queue as a new message, due after the holder's lease, so the
    // redelivered message is done without counting a receive against the DLQ limit.
    let queued = w.queue.drain();
    assert_eq!(queued.len(), 1);
    let later = queued[0].0.as_deliver().expect("a deliver job").clone();
    assert!(queued[0].1 >= Duration::from_secs(30));
    assert!(later.not_before.unwrap() > clock::now_ms() + 30_000);
    assert_eq!(later.attempt, 1);

    // When it comes back after the lease, the attempt is taken over: recorded as outcome
    // unknown, not sent again.
    w.store.expire_leases();
    w.run(&later, None).await.unwrap();
    assert_eq!(sends(&w), 1);
}

#[tokio::test]
async fn an_erasure_while_the_attempt_is_in_flight_keeps_no_payload_and_stays_erased() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;

    let Prepared::Claimed(claimed) = w.prepare(&job, None).await.unwrap() else {
        panic!("claimed")
    };
    // The person's data is erased while the request is on its way.
    crate::erasure::erase(&w.store, &job.registration_id, clock::now_ms())
        .await
        .unwrap();
    let handled = w.attempt(&job, &claimed).await.unwrap();

    assert_eq!(handled, Handled::Gone);
    assert_eq!(sends(&w), 1);
    assert_eq!(state(&w, &job).await, DeliveryState::Erased);
    let attempts = w.store.all_attempts();
    assert_eq!(attempts.len(), 1, "the status line is kept");
    let kept = serde_json::to_string(&attempts[0]).unwrap();
    assert!(!kept.contains("lena@example.com"), "{kept}");
    assert_eq!(attempts[0].response.as_ref().unwrap().body_excerpt, "");
    assert!(w.queue.is_empty());
}

#[tokio::test]
async fn an_erased_delivery_is_never_written_over() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;
    crate::erasure::erase(&w.store, &job.registration_id, clock::now_ms())
        .await
        .unwrap();
    let mut d = w
        .store
        .delivery(&job.registration_id, &job.integration_id)
        .await
        .unwrap()
        .unwrap();
    d.state = DeliveryState::Delivered;
    d.attempts = 1;

    w.store.update_delivery(&d, 0).await.unwrap();

    assert_eq!(state(&w, &job).await, DeliveryState::Erased);
}

#[tokio::test]
async fn an_older_registration_after_a_newer_one_was_delivered_is_superseded_and_not_sent() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let now = clock::now_ms();
    let older = register(&w, &integration, now - 60_000).await;
    let newer = register(&w, &integration, now).await;

    let first = w.run(&newer, None).await.unwrap();
    let second = w.run(&older, None).await.unwrap();

    assert_eq!(
        first,
        Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
    );
    assert_eq!(
        second,
        Handled::Attempted(DeliveryState::Superseded, Outcome::Unexpected)
    );
    assert_eq!(sends(&w), 1, "the older one is never sent");
    assert_eq!(state(&w, &older).await, DeliveryState::Superseded);
    let attempt = w
        .store
        .all_attempts()
        .into_iter()
        .find(|a| a.registration_id == older.registration_id)
        .unwrap();
    assert_eq!(
        attempt.verdict.provider_code.as_deref(),
        Some("order.superseded")
    );
    assert!(attempt.verdict.explanation.contains("newer registration"));
    assert!(attempt.request.is_none());
}

#[tokio::test]
async fn an_older_registration_delivered_first_does_not_hold_back_the_newer_one() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let now = clock::now_ms();
    let older = register(&w, &integration, now - 60_000).await;
    let newer = register(&w, &integration, now).await;

    w.run(&older, None).await.unwrap();
    w.run(&newer, None).await.unwrap();

    assert_eq!(sends(&w), 2);
    assert_eq!(state(&w, &newer).await, DeliveryState::Delivered);
    // The marker only moves forward.
    assert!(!w
        .store
        .advance_delivered_order(
            &account(),
            &crate::erasure::subject_hash("lena@example.com"),
            &integration.id,
            now - 60_000,
            0
        )
        .await
        .unwrap());
}

#[tokio::test]
async fn a_sequence_stops_at_the_attempts_deadline_and_is_recorded_as_timed_out() {
    // Three requests of 300 ms each, in an attempt of 450 ms.
    let w = world(Duration::from_millis(300));
    let integration = hook(&w, "https://a.example/1").await;
    let then: Vec<FollowUp> = vec![
        OutgoingRequest {
            method: crate::exchange::Method::Post,
            url: "https://a.example/2".into(),
            headers: Vec::new(),
            body: Vec::new(),
            secret_segments: Vec::new(),
        }
        .into(),
        OutgoingRequest {
            method: crate::exchange::Method::Post,
            url: "https://a.example/3".into(),
            headers: Vec::new(),
            body: Vec::new(),
            secret_segments: Vec::new(),
        }
        .into(),
    ];
    let first = OutgoingRequest {
        method: crate::exchange::Method::Post,
        url: "https://a.example/1".into(),
        headers: Vec::new(),
        body: Vec::new(),
        secret_segments: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_millis(450);

    let sent = send_sequence(
        &w.transport,
        &integration,
        &first,
        &then,
        &serde_json::Map::new(),
        deadline,
    )
    .await;

    assert_eq!(sends(&w), 1, "no follow-up started without time for it");
    assert_eq!(sent.verdict.outcome, Outcome::Timeout);
    assert!(sent.verdict.retryable);
    assert_eq!(
        sent.verdict.provider_code.as_deref(),
        Some("attempt.out_of_time")
    );
}

#[tokio::test]
async fn a_request_slower_than_what_is_left_is_cut_and_reads_as_a_timeout() {
    let w = world(Duration::from_secs(30));
    let integration = hook(&w, "https://a.example/1").await;
    let job = register(&w, &integration, clock::now_ms()).await;
    let mut w = w;
    w.config.attempt_timeout = Duration::from_millis(200);

    let handled = w.run(&job, None).await.unwrap();

    assert_eq!(
        handled,
        Handled::Attempted(DeliveryState::Retrying, Outcome::Timeout)
    );
    assert_eq!(w.queue.len(), 1, "the next attempt is queued");
    assert_eq!(w.store.all_attempts().len(), 1, "recorded");
}

#[tokio::test]
async fn with_too_little_time_left_a_job_goes_back_to_the_queue_without_an_attempt() {
    let w = world(Duration::ZERO);
    let integration = hook(&w, "https://hooks.example.com/in").await;
    let job = register(&w, &integration, clock::now_ms()).await;

    // The invocation ends in 4 s; an attempt needs 5 s and the writes after it.
    let handled = w
        .run(&job, Some(Instant::now() + Duration::from_secs(4)))
        .await
        .unwrap();

    assert_eq!(handled, Handled::Rescheduled);
    assert_eq!(sends(&w), 0);
    assert!(w.store.all_attempts().is_empty());
    let queued = w.queue.drain();
    assert_eq!(queued, vec![(Task::DeliverV1(job), Duration::ZERO)]);
}

mod ingest {
    use super::*;
    use crate::ingest::{ingest, IngestError, IngestRequest};
    use crate::keys::{self, hash_key};
    use crate::model::{ApiKey, Attached, Campaign, KeyKind};
    use crate::store::{AccountStore, CampaignStore};

    /// A campaign with two webhook integrations, and its ingest key.
    async fn campaign(w: &World) -> (Campaign, String) {
        let a = hook(w, "https://a.example.com/in").await;
        let b = hook(w, "https://b.example.com/in").await;
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: account(),
            name: "c".into(),
            integrations: [a, b]
                .iter()
                .map(|i| Attached {
                    id: i.id.clone(),
                    provider: i.provider,
                })
                .collect(),
            retention_days: 30,
            created_at: 0,
        };
        w.store.put_campaign(&campaign).await.unwrap();
        let key = keys::generate_key(KeyKind::Ingest);
        w.store
            .put_key(&ApiKey {
                id: crate::ids::KeyId::generate(),
                kind: KeyKind::Ingest,
                account_id: account(),
                campaign_id: Some(campaign.id.clone()),
                hash: hash_key(key.expose()),
                hint: keys::key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
        (campaign, format!("Bearer {}", key.expose()))
    }

    fn post<'a>(c: &'a Campaign, auth: &'a str, key: Option<&'a str>) -> IngestRequest<'a> {
        IngestRequest {
            campaign_id: c.id.as_str(),
            authorization: Some(auth),
            content_type: Some("application/json"),
            idempotency_key: key,
            from_leadrelay: false,
            body: br#"{"email":"lena@example.com"}"#,
        }
    }

    async fn deliver_queued(w: &World) -> Vec<Handled> {
        let mut out = Vec::new();
        for (task, _) in w.queue.drain() {
            let job = task
                .as_deliver()
                .expect("only delivery jobs are queued here")
                .clone();
            out.push(w.run(&job, None).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_partly_queued_registration_with_a_key_is_kept_and_the_retry_sends_nothing_twice() {
        let w = world(Duration::ZERO);
        let (c, auth) = campaign(&w).await;

        // SQS takes one of the two jobs.
        w.queue.refuse_next(1);
        let failed = ingest(&w.store, &w.queue, post(&c, &auth, Some("k1"))).await;
        assert!(matches!(failed, Err(IngestError::QueueUnavailable(_))));
        // The job that was queued is delivered before the client retries.
        let first = deliver_queued(&w).await;
        assert_eq!(
            first,
            vec![Handled::Attempted(
                DeliveryState::Delivered,
                Outcome::Delivered
            )]
        );
        let retried = ingest(&w.store, &w.queue, post(&c, &auth, Some("k1")))
            .await
            .unwrap();
        deliver_queued(&w).await;

        let mut urls = w.transport.sent.lock().unwrap().clone();
        urls.sort();
        assert_eq!(
            urls,
            ["https://a.example.com/in", "https://b.example.com/in"],
            "each integration got the registration once"
        );
        assert_eq!(w.store.all_registrations().len(), 1);
        assert!(w
            .store
            .all_deliveries()
            .iter()
            .all(|d| d.state == DeliveryState::Delivered
                && d.registration_id == retried.registration_id));
    }

    #[tokio::test]
    async fn a_partly_queued_registration_without_a_key_is_accepted_and_kept() {
        let w = world(Duration::ZERO);
        let (c, auth) = campaign(&w).await;

        w.queue.refuse_next(1);
        let accepted = ingest(&w.store, &w.queue, post(&c, &auth, None))
            .await
            .unwrap();
        deliver_queued(&w).await;

        assert_eq!(accepted.deliveries, 1, "the queued part");
        assert_eq!(sends(&w), 1);
        let mut states: Vec<DeliveryState> =
            w.store.all_deliveries().iter().map(|d| d.state).collect();
        states.sort_by_key(|s| s.as_str());
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Pending]);
    }

    #[tokio::test]
    async fn nothing_queued_without_a_key_still_removes_the_registration() {
        let w = world(Duration::ZERO);
        let (c, auth) = campaign(&w).await;

        w.queue.refuse_next(2);
        let failed = ingest(&w.store, &w.queue, post(&c, &auth, None)).await;

        assert!(matches!(failed, Err(IngestError::QueueUnavailable(_))));
        assert!(w.store.all_registrations().is_empty());
    }
}
