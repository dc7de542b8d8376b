//! The deliver function: an SQS batch in, partial batch failures out.
//!
//! Each message is one delivery job, run by [`leadrelay::deliver::Deliverer`], or one
//! chunk of a resumed integration's drain ([`leadrelay::deliver::resume`]). Messages
//! run concurrently (bounded), each isolated: a message that does not parse, fails, or
//! panics is reported alone in `batchItemFailures` and comes back after the visibility
//! timeout (or reaches the dead-letter queue); its neighbours are unaffected. Jobs of
//! the batch for the same batch-mode webhook go out as one request, each still with its
//! own attempt, verdict and result.

pub mod config;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use leadrelay::deliver::resume::Drained;
use leadrelay::deliver::{Deliverer, Handled};
use leadrelay::exchange::Transport;
use leadrelay::model::{DeliverJob, DrainJob, Task};
use leadrelay::queue::TaskQueue;
use leadrelay::store::Store;
use leadrelay::vault::Vault;
use std::time::{Duration, Instant};

/// What the handler uses.
#[derive(Debug)]
pub struct Deps<S, Q, T, V> {
    /// The delivery pipeline.
    pub deliverer: Deliverer<S, Q, T, V>,
    /// Messages handled at once.
    pub concurrency: usize,
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageResult {
    /// Done: delete it.
    Done(Handled),
    /// A drain chunk done: delete it.
    Drained(Drained),
    /// Back to the queue (reported as a failure).
    Failed(String),
}

/// Handles one batch.
pub async fn handler<S, Q, T, V>(
    deps: &Deps<S, Q, T, V>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    S: Store,
    Q: TaskQueue,
    T: Transport,
    V: Vault,
{
    let deadline = deadline_of(event.context.deadline);
    tracing::info!(
        messages = event.payload.records.len(),
        remaining_ms = event
            .context
            .deadline
            .saturating_sub(leadrelay::clock::now_ms()),
        "batch received"
    );
    let results = process_batch(deps, event.payload.records, deadline).await;
    let mut response = SqsBatchResponse::default();
    for (message_id, result) in results {
        if let MessageResult::Failed(_) = result {
            response.add_failure(message_id);
        }
    }
    Ok(response)
}

/// The invocation's deadline (ms since the epoch) as an instant.
///
/// A deadline already past when the batch arrives cannot be Lambda's (it hands out the
/// batch with the whole timeout ahead); local emulators send such values, and they are
/// ignored rather than failing every message.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    let remaining = deadline_ms.checked_sub(leadrelay::clock::now_ms())?;
    (remaining > 0).then(|| Instant::now() + Duration::from_millis(remaining))
}

/// Runs every message of a batch; returns each message id with how it ended.
///
/// Jobs for a batch-mode webhook are sent together
/// ([`leadrelay::deliver::Deliverer::run_all`]); a message that is not a job fails alone.
pub async fn process_batch<S, Q, T, V>(
    deps: &Deps<S, Q, T, V>,
    records: Vec<SqsMessage>,
    deadline: Option<Instant>,
) -> Vec<(String, MessageResult)>
where
    S: Store,
    Q: TaskQueue,
    T: Transport,
    V: Vault,
{
    let mut results = Vec::with_capacity(records.len());
    let mut jobs = Vec::with_capacity(records.len());
    let mut drains = Vec::new();
    for record in &records {
        let id = record.message_id.clone().unwrap_or_default();
        match parse(&id, record) {
            Ok(Parsed::Deliver(job)) => {
                let ids = (id, job.registration_id.clone(), job.integration_id.clone());
                jobs.push((ids, job));
            }
            Ok(Parsed::Drain(job)) => drains.push((id, job)),
            Err(failed) => results.push((id, failed)),
        }
    }
    // A drain chunk is a few hundred storage and queue calls; they run one at a time.
    for (message_id, job) in drains {
        let result = match deps.deliverer.drain(&job, deadline).await {
            Ok(drained) => MessageResult::Drained(drained),
            Err(e) => {
                tracing::warn!(message_id = %message_id, integration_id = %job.integration_id, chunk = job.chunk, error = %e, "drain chunk returned to the queue");
                MessageResult::Failed(e.to_string())
            }
        };
        results.push((message_id, result));
    }
    let ran = deps
        .deliverer
        .run_all(jobs, deadline, deps.concurrency)
        .await;
    for ((message_id, registration_id, integration_id), result) in ran {
        let result = match result {
            Ok(handled) => MessageResult::Done(handled),
            Err(e) => {
                tracing::warn!(message_id = %message_id, registration_id = %registration_id, integration_id = %integration_id, error = %e, "job returned to the queue");
                MessageResult::Failed(e.to_string())
            }
        };
        results.push((message_id, result));
    }
    results
}

/// What a message asks for.
enum Parsed {
    Deliver(DeliverJob),
    Drain(DrainJob),
}

/// The job a message carries, or why it is not one.
fn parse(message_id: &str, record: &SqsMessage) -> Result<Parsed, MessageResult> {
    match record.body.as_deref().map(serde_json::from_str::<Task>) {
        Some(Ok(Task::DeliverV1(job))) => Ok(Parsed::Deliver(job)),
        Some(Ok(Task::DrainV1(job))) => Ok(Parsed::Drain(job)),
        Some(Err(e)) => {
            // A malformed job is a pipeline failure: let it reach the dead-letter queue.
            tracing::error!(message_id, error = %e, "message is not a delivery job");
            Err(MessageResult::Failed("invalid message".into()))
        }
        None => {
            tracing::error!(message_id, "message has no body");
            Err(MessageResult::Failed("empty message".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrelay::deliver::{DeliverConfig, Deliverer};
    use leadrelay::exchange::{Exchange, OutgoingRequest};
    use leadrelay::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
    use leadrelay::model::{Integration, IntegrationStatus, Registration, RegistrationData};
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::store::{CampaignStore, RegistrationStore};
    use leadrelay::vault::InsecureTestVault;
    use leadrelay_explain::answer::ProviderResponse;
    use leadrelay_explain::provider::Provider;

    /// Answers 200, except for URLs containing "panic", where it panics.
    struct Fake;

    impl Transport for Fake {
        async fn send(&self, request: &OutgoingRequest) -> Exchange {
            assert!(!request.url.contains("panic"), "transport exploded");
            Exchange {
                response: ProviderResponse::new(200, "{}"),
                summary: None,
                duration_ms: 1,
                blocked: None,
            }
        }
    }

    fn integration(account: &AccountId, url: &str) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            account_id: account.clone(),
            name: "hook".into(),
            provider: Provider::Webhook,
            settings: serde_json::json!({"url": url})
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
        }
    }

    async fn deps_and_event() -> (
        Deps<MemoryStore, MemoryQueue, Fake, InsecureTestVault>,
        Vec<SqsMessage>,
    ) {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let ok = integration(&account, "https://hooks.example.com/ok");
        let boom = integration(&account, "https://hooks.example.com/panic");
        let registration = Registration {
            id: RegistrationId::generate(),
            account_id: account.clone(),
            campaign_id: CampaignId::generate(),
            received_at: leadrelay::clock::now_ms(),
            data: RegistrationData {
                email: Some("lena@example.com".into()),
                ..RegistrationData::default()
            },
            integration_ids: vec![ok.id.clone(), boom.id.clone()],
            expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        store.put_integration(&ok).await.unwrap();
        store.put_integration(&boom).await.unwrap();
        store.create_registration(&registration, &[]).await.unwrap();
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/events/batch.json"))
                .unwrap()
                .replace("{account_id}", account.as_str())
                .replace("{registration_id}", registration.id.as_str())
                .replace("{integration_ok}", ok.id.as_str())
                .replace("{integration_panic}", boom.id.as_str());
        let event: SqsEvent = serde_json::from_str(&text).unwrap();
        let deps = Deps {
            deliverer: Deliverer {
                store,
                queue: MemoryQueue::new(),
                transport: Fake,
                vault: InsecureTestVault,
                config: DeliverConfig::default(),
            },
            concurrency: 4,
        };
        (deps, event.records)
    }

    #[tokio::test]
    async fn a_poison_message_and_a_panic_fail_alone() {
        let (deps, records) = deps_and_event().await;

        let mut results = process_batch(&deps, records, None).await;
        results.sort_by(|a, b| a.0.cmp(&b.0));

        let failed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| matches!(r, MessageResult::Failed(_)))
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(failed, ["m-panic", "m-poison"]);
        let ok = results.iter().find(|(id, _)| id == "m-ok").unwrap();
        assert!(matches!(
            ok.1,
            MessageResult::Done(Handled::Attempted(
                leadrelay::model::DeliveryState::Delivered,
                _
            ))
        ));
    }

    #[tokio::test]
    async fn the_handler_reports_only_failed_ids() {
        let (deps, records) = deps_and_event().await;
        let mut context = lambda_runtime::Context::default();
        context.deadline = leadrelay::clock::now_ms() + 60_000;

        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();

        let response = handler(&deps, LambdaEvent::new(event, context))
            .await
            .unwrap();

        let mut ids: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        ids.sort();
        assert_eq!(ids, ["m-panic", "m-poison"]);
    }

    #[tokio::test]
    async fn too_little_time_left_queues_the_job_again_unsent() {
        let (deps, records) = deps_and_event().await;
        let ok: Vec<SqsMessage> = records
            .into_iter()
            .filter(|r| r.message_id.as_deref() == Some("m-ok"))
            .collect();

        let results = process_batch(&deps, ok, Some(Instant::now() + Duration::from_secs(1))).await;

        // The message is done and its job waits on the queue as a new message (no
        // receive counted towards the dead-letter limit), with nothing sent or recorded.
        assert_eq!(
            results[0].1,
            MessageResult::Done(leadrelay::deliver::Handled::Rescheduled)
        );
        let queued = deps.deliverer.queue.drain();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0.as_deliver().map(|j| j.attempt), Some(1));
        assert!(deps.deliverer.store.all_attempts().is_empty());

        // If that queueing fails, the message itself comes back.
        let (deps, records) = deps_and_event().await;
        let ok: Vec<SqsMessage> = records
            .into_iter()
            .filter(|r| r.message_id.as_deref() == Some("m-ok"))
            .collect();
        deps.deliverer.queue.refuse_next(1);
        let results = process_batch(&deps, ok, Some(Instant::now() + Duration::from_secs(1))).await;
        assert!(matches!(results[0].1, MessageResult::Failed(_)));
        assert!(deps.deliverer.store.all_attempts().is_empty());
    }

    /// Answers 200 and keeps the bodies.
    #[derive(Default)]
    struct Keeping(std::sync::Mutex<Vec<(String, serde_json::Value)>>);

    impl Transport for Keeping {
        async fn send(&self, request: &OutgoingRequest) -> Exchange {
            let body = serde_json::from_slice(&request.body).unwrap_or_default();
            self.0.lock().unwrap().push((request.url.clone(), body));
            Exchange {
                response: ProviderResponse::new(200, "{}"),
                summary: None,
                duration_ms: 1,
                blocked: None,
            }
        }
    }

    #[tokio::test]
    async fn jobs_for_a_batch_webhook_share_one_request_and_a_poison_message_still_fails_alone() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let single = integration(&account, "https://hooks.example.com/one");
        let mut batch = integration(&account, "https://hooks.example.com/batch");
        batch
            .settings
            .insert("batch".into(), serde_json::json!({"max_items": 10}));
        store.put_integration(&single).await.unwrap();
        store.put_integration(&batch).await.unwrap();
        let mut records =
            vec![serde_json::json!({"messageId": "m-poison", "body": "{\"type\": 7}"})];
        for n in 0..2 {
            let registration = Registration {
                id: RegistrationId::generate(),
                account_id: account.clone(),
                campaign_id: CampaignId::generate(),
                received_at: leadrelay::clock::now_ms(),
                data: RegistrationData {
                    email: Some(format!("p{n}@example.com")),
                    ..RegistrationData::default()
                },
                integration_ids: vec![single.id.clone(), batch.id.clone()],
                expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
                erased_at: None,
            };
            store.create_registration(&registration, &[]).await.unwrap();
            for i in [&single, &batch] {
                let job = Task::DeliverV1(leadrelay::model::DeliverJob {
                    account_id: account.clone(),
                    registration_id: registration.id.clone(),
                    integration_id: i.id.clone(),
                    attempt: 1,
                    not_before: None,
                    trigger: leadrelay::model::Trigger::Automatic,
                });
                records.push(serde_json::json!({
                    "messageId": format!("m-{n}-{}", i.id),
                    "body": serde_json::to_string(&job).unwrap()
                }));
            }
        }
        let records: Vec<SqsMessage> =
            serde_json::from_value(serde_json::Value::Array(records)).unwrap();
        let deps = Deps {
            deliverer: Deliverer {
                store,
                queue: MemoryQueue::new(),
                transport: Keeping::default(),
                vault: InsecureTestVault,
                config: DeliverConfig::default(),
            },
            concurrency: 4,
        };

        let results = process_batch(&deps, records, None).await;

        assert_eq!(results.len(), 5);
        for (id, result) in &results {
            if id == "m-poison" {
                assert!(matches!(result, MessageResult::Failed(_)));
            } else {
                assert!(
                    matches!(
                        result,
                        MessageResult::Done(Handled::Attempted(
                            leadrelay::model::DeliveryState::Delivered,
                            _
                        ))
                    ),
                    "{id}: {result:?}"
                );
            }
        }
        let mut sent = deps.deliverer.transport.0.lock().unwrap().clone();
        sent.sort_by(|a, b| a.0.cmp(&b.0));
        let shapes: Vec<(&str, Option<usize>)> = sent
            .iter()
            .map(|(url, body)| (url.as_str(), body.as_array().map(Vec::len)))
            .collect();
        assert_eq!(
            shapes,
            [
                ("https://hooks.example.com/batch", Some(2)),
                ("https://hooks.example.com/one", None),
                ("https://hooks.example.com/one", None)
            ]
        );
    }

    #[tokio::test]
    async fn a_panic_while_a_batch_is_sent_fails_that_batch_only_and_its_retry_waits_for_the_lease()
    {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let ok = integration(&account, "https://hooks.example.com/ok");
        let mut boom = integration(&account, "https://hooks.example.com/panic");
        boom.settings
            .insert("batch".into(), serde_json::json!({"max_items": 10}));
        store.put_integration(&ok).await.unwrap();
        store.put_integration(&boom).await.unwrap();
        let mut records = Vec::new();
        for n in 0..2 {
            let registration = Registration {
                id: RegistrationId::generate(),
                account_id: account.clone(),
                campaign_id: CampaignId::generate(),
                received_at: leadrelay::clock::now_ms(),
                data: RegistrationData {
                    email: Some(format!("p{n}@example.com")),
                    ..RegistrationData::default()
                },
                integration_ids: vec![ok.id.clone(), boom.id.clone()],
                expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
                erased_at: None,
            };
            store.create_registration(&registration, &[]).await.unwrap();
            for (name, i) in [("ok", &ok), ("boom", &boom)] {
                let job = Task::DeliverV1(leadrelay::model::DeliverJob {
                    account_id: account.clone(),
                    registration_id: registration.id.clone(),
                    integration_id: i.id.clone(),
                    attempt: 1,
                    not_before: None,
                    trigger: leadrelay::model::Trigger::Automatic,
                });
                records.push(serde_json::json!({
                    "messageId": format!("m-{name}-{n}"),
                    "body": serde_json::to_string(&job).unwrap()
                }));
            }
        }
        let records: Vec<SqsMessage> =
            serde_json::from_value(serde_json::Value::Array(records)).unwrap();
        let deps = Deps {
            deliverer: Deliverer {
                store,
                queue: MemoryQueue::new(),
                transport: Fake,
                vault: InsecureTestVault,
                config: DeliverConfig::default(),
            },
            concurrency: 4,
        };

        let mut first = process_batch(&deps, records.clone(), None).await;
        first.sort_by(|a, b| a.0.cmp(&b.0));
        let again = process_batch(&deps, records, None).await;

        let failed: Vec<&str> = first
            .iter()
            .filter(|(_, r)| matches!(r, MessageResult::Failed(_)))
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(failed, ["m-boom-0", "m-boom-1"]);
        assert_eq!(
            deps.deliverer.store.all_attempts().len(),
            2,
            "the single-mode ones"
        );
        // The retries meet the leases: nothing is sent, and each job waits on the queue
        // (as a new message) until its lease has ended.
        for (id, result) in &again {
            if id.starts_with("m-boom") {
                assert_eq!(
                    *result,
                    MessageResult::Done(leadrelay::deliver::Handled::WaitingForHolder)
                );
            }
        }
        let waiting: Vec<_> = deps
            .deliverer
            .queue
            .drain()
            .into_iter()
            .filter(|(_, delay)| *delay >= Duration::from_secs(30))
            .collect();
        assert_eq!(waiting.len(), 2);
    }

    #[test]
    fn a_deadline_already_past_is_ignored() {
        assert!(deadline_of(1).is_none());
        assert!(deadline_of(leadrelay::clock::now_ms() + 30_000).is_some());
    }

    /// Runs the queue through the handler as Lambda's event source mapping would: ten
    /// messages at a time, each failed one coming back; returns how many messages failed.
    async fn pump<T: Transport>(
        deps: &Deps<MemoryStore, MemoryQueue, T, InsecureTestVault>,
    ) -> usize {
        let mut waiting: Vec<leadrelay::model::Task> = Vec::new();
        let mut batches = 0;
        let mut failed = 0;
        loop {
            waiting.extend(deps.deliverer.queue.drain().into_iter().map(|(t, _)| t));
            if waiting.is_empty() {
                return failed;
            }
            batches += 1;
            assert!(batches < 10_000, "the queue never empties");
            let take = waiting.len().min(10);
            let tasks: Vec<_> = waiting.drain(..take).collect();
            let records: Vec<SqsMessage> = tasks
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    serde_json::from_value(serde_json::json!({
                        "messageId": format!("m{batches}-{i}"),
                        "body": serde_json::to_string(t).unwrap(),
                    }))
                    .unwrap()
                })
                .collect();
            let results = process_batch(deps, records, None).await;
            for (id, result) in results {
                if let MessageResult::Failed(_) = result {
                    failed += 1;
                    let i: usize = id.rsplit('-').next().unwrap().parse().unwrap();
                    waiting.push(tasks[i].clone());
                }
            }
        }
    }

    #[tokio::test]
    async fn a_resumed_backlog_of_5000_is_delivered_despite_a_queue_failure_half_way() {
        use leadrelay::model::{Delivery, DeliveryState, IntegrationStatus};
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let mut hook = integration(&account, "https://hooks.example.com/old");
        hook.status = IntegrationStatus::Paused {
            since: 1,
            outcome: leadrelay_explain::verdict::Outcome::Unauthorized,
            explanation: "refused".into(),
            remedy: "fix it".into(),
        };
        store.put_integration(&hook).await.unwrap();
        let campaign = CampaignId::generate();
        for n in 0..5000 {
            let registration = Registration {
                id: RegistrationId::generate(),
                account_id: account.clone(),
                campaign_id: campaign.clone(),
                received_at: leadrelay::clock::now_ms(),
                data: RegistrationData {
                    email: Some(format!("p{n}@example.com")),
                    ..RegistrationData::default()
                },
                integration_ids: vec![hook.id.clone()],
                expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
                erased_at: None,
            };
            let parked = Delivery {
                registration_id: registration.id.clone(),
                integration_id: hook.id.clone(),
                campaign_id: campaign.clone(),
                provider: Provider::Webhook,
                state: DeliveryState::Paused,
                attempts: 0,
                next_attempt_at: None,
                last: None,
                received_at: registration.received_at,
                updated_at: registration.received_at,
                waiting: None,
            };
            store
                .create_registration(&registration, &[parked])
                .await
                .unwrap();
        }
        let deps = Deps {
            deliverer: Deliverer {
                store,
                queue: MemoryQueue::new(),
                transport: Keeping::default(),
                vault: InsecureTestVault,
                config: DeliverConfig::default(),
            },
            concurrency: 4,
        };
        // SQS fails once, half way through the backlog's jobs.
        deps.deliverer.queue.refuse_after(2_500, 3);

        let fix = || leadrelay::manage::integrations::IntegrationInput {
            settings: serde_json::json!({"url": "https://hooks.example.com/fixed"})
                .as_object()
                .cloned(),
            ..Default::default()
        };
        let update = |input| {
            leadrelay::manage::integrations::update_integration(
                &deps.deliverer.store,
                &deps.deliverer.queue,
                &InsecureTestVault,
                leadrelay::egress::EgressPolicy::default(),
                &account,
                &hook.id,
                input,
            )
        };
        if update(fix()).await.is_err() {
            // As a client would after a failed call: send the change again.
            update(fix()).await.expect("the second try is made");
        }
        let failed = pump(&deps).await;
        assert!(failed > 0, "the injected failure hit a drain chunk");

        let sent = deps.deliverer.transport.0.lock().unwrap().len();
        let attempts = deps.deliverer.store.all_attempts();
        assert_eq!(attempts.len(), 5000, "every parked delivery was attempted");
        assert!(attempts
            .iter()
            .all(|a| a.delivery_state == DeliveryState::Delivered));
        assert_eq!(sent, 5000, "each one sent once");
    }
}
