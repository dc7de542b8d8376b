//! Batch mode: the jobs of one queue batch that go to the same batch-mode webhook
//! (setting `batch: {"max_items": n}`, [`crate::destination::webhook`]) are sent as one
//! signed request whose body is an array of the items single mode would send.
//!
//! The interval is the event source mapping's: SQS gathers messages for up to
//! `MaximumBatchingWindowInSeconds` (`infra/template.yaml`) and hands them to one
//! invocation; jobs of different invocations never share a request.
//!
//! Everything before and after the send stays per job, exactly as in single mode:
//! each job is loaded, parked, refused by pre-flight or skipped by a condition on its
//! own, claims its own attempt (a job whose attempt already ended is not resent, its
//! consequences are re-applied), and gets its own attempt record and delivery state
//! move. The shared request's verdict is every item's verdict, except for items a 2xx
//! answer lists as failed ([`webhook::item_failures`]): those are explained by the
//! engine from the item's own status and error. Retries are per job, with each job's
//! own delay; retried jobs may meet in another batch later. A job that fails or panics
//! before the send fails alone; a panic during the send returns that batch's claimed
//! jobs to the queue, and their leases hold off a second send until they expire.

use super::send::Sent;
use super::{Checked, Claimed, DeliverError, Deliverer, Handled, Prepared};
use crate::destination::{self, webhook, SendContext};
use crate::exchange::{Credentials, OutgoingRequest, Transport};
use crate::ids::{AccountId, IntegrationId};
use crate::model::{BatchNote, DeliverJob, DeliveryState};
use crate::queue::TaskQueue;
use crate::store::Store;
use crate::vault::Vault;
use crate::{clock, notices};
use futures::{FutureExt, StreamExt};
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::provider::Provider;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::time::Instant;

/// Store calls (and sends of further requests) one batch runs at once.
const AT_ONCE: usize = 16;

/// Runs `futures`, [`AT_ONCE`] at a time, and returns their outputs in order.
async fn in_order<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures::stream::iter(futures)
        .buffered(AT_ONCE)
        .collect()
        .await
}

/// What one unit of work of [`Deliverer::run_all`] is.
enum Unit<K> {
    /// A job sent on its own.
    One(K, DeliverJob),
    /// Jobs for one batch-mode webhook, at most its `max_items`.
    Many(Vec<(K, DeliverJob)>),
}

impl<S: Store, Q: TaskQueue, T: Transport, V: Vault> Deliverer<S, Q, T, V> {
    /// Runs the jobs of one queue batch, `concurrency` units at a time, and returns each
    /// job's key with how it ended. Jobs for a batch-mode webhook go out together (in
    /// requests of at most its `max_items` and [`webhook::BATCH_MAX_BYTES`]); every
    /// other job runs as [`Deliverer::run`] does. A job that panics fails alone, as [`DeliverError::Panicked`].
    pub async fn run_all<K: Send>(
        &self,
        jobs: Vec<(K, DeliverJob)>,
        deadline: Option<Instant>,
        concurrency: usize,
    ) -> Vec<(K, Result<Handled, DeliverError>)> {
        let units = self.plan(jobs).await;
        futures::stream::iter(units)
            .map(|unit| async move {
                match unit {
                    Unit::One(key, job) => {
                        let result = AssertUnwindSafe(self.run(&job, deadline))
                            .catch_unwind()
                            .await
                            .unwrap_or_else(|_| {
                                tracing::error!(registration_id = %job.registration_id, integration_id = %job.integration_id, "job panicked");
                                Err(DeliverError::Panicked)
                            });
                        vec![(key, result)]
                    }
                    Unit::Many(members) => {
                        let (keys, jobs): (Vec<K>, Vec<DeliverJob>) = members.into_iter().unzip();
                        let results = self.run_batch(&jobs, deadline).await;
                        keys.into_iter().zip(results).collect()
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Groups the jobs: those for a batch-mode webhook by integration, in chunks of its
    /// `max_items`; the rest one by one.
    async fn plan<K>(&self, jobs: Vec<(K, DeliverJob)>) -> Vec<Unit<K>> {
        let mut keys: Vec<(AccountId, IntegrationId)> = jobs
            .iter()
            .map(|(_, j)| (j.account_id.clone(), j.integration_id.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        let sizes: HashMap<(AccountId, IntegrationId), usize> =
            in_order(keys.into_iter().map(|key| async move {
                // A failed read leaves the job to run alone, where it meets (and fails
                // on) the same store by itself.
                let size = match self.store.integration(&key.0, &key.1).await {
                    Ok(Some(integration)) => webhook::batch_size(&integration),
                    _ => None,
                };
                (key, size)
            }))
            .await
            .into_iter()
            .filter_map(|(key, size)| size.map(|n| (key, n)))
            .collect();
        let mut units = Vec::new();
        let mut open: BTreeMap<(AccountId, IntegrationId), Vec<(K, DeliverJob)>> = BTreeMap::new();
        for (key, job) in jobs {
            let target = (job.account_id.clone(), job.integration_id.clone());
            let Some(&max) = sizes.get(&target) else {
                units.push(Unit::One(key, job));
                continue;
            };
            let group = open.entry(target).or_default();
            group.push((key, job));
            if group.len() >= max {
                units.push(Unit::Many(std::mem::take(group)));
            }
        }
        units.extend(open.into_values().filter(|g| !g.is_empty()).map(Unit::Many));
        units
    }

    /// Runs the jobs of one batch-mode webhook: each is prepared on its own, and the
    /// claimed ones are sent together. One result per job, in order.
    async fn run_batch(
        &self,
        jobs: &[DeliverJob],
        deadline: Option<Instant>,
    ) -> Vec<Result<Handled, DeliverError>> {
        let prepared = in_order(
            jobs.iter()
                .map(|job| AssertUnwindSafe(self.prepare(job, deadline)).catch_unwind()),
        )
        .await;
        let mut results: Vec<Option<Result<Handled, DeliverError>>> =
            jobs.iter().map(|_| None).collect();
        let mut claimed = Vec::new();
        let mut slots = Vec::new();
        let mut alone = Vec::new();
        for (slot, (job, prepared)) in jobs.iter().zip(prepared).enumerate() {
            match prepared {
                // Taken out of batch mode since the plan read it: sent as it now says.
                Ok(Ok(Prepared::Claimed(c))) if webhook::batch_size(&c.integration).is_none() => {
                    alone.push((slot, job, c));
                }
                Ok(Ok(Prepared::Claimed(c))) => {
                    claimed.push((job, c));
                    slots.push(slot);
                }
                Ok(Ok(Prepared::Finished(handled))) => results[slot] = Some(Ok(handled)),
                Ok(Err(e)) => results[slot] = Some(Err(e)),
                Err(_) => {
                    tracing::error!(registration_id = %job.registration_id, integration_id = %job.integration_id, "job panicked");
                    results[slot] = Some(Err(DeliverError::Panicked));
                }
            }
        }
        let singles = in_order(alone.iter_mut().map(|(_, job, c)| {
            let guard = std::mem::take(&mut c.guard);
            let c = &*c;
            async move {
                let result = AssertUnwindSafe(self.attempt(job, c))
                    .catch_unwind()
                    .await
                    .unwrap_or(Err(DeliverError::Panicked));
                self.leave(&c.integration, guard, super::attempted(&result))
                    .await;
                result
            }
        }))
        .await;
        for ((slot, ..), result) in alone.iter().zip(singles) {
            results[*slot] = Some(result);
        }
        // One request for the batch: the breaker counts it once, and releases what each
        // job held.
        let guards: Vec<_> = claimed
            .iter_mut()
            .map(|(_, c)| (c.integration.clone(), std::mem::take(&mut c.guard)))
            .collect();
        let batch_slots = slots.clone();
        if !claimed.is_empty() {
            match AssertUnwindSafe(self.send_claimed(claimed))
                .catch_unwind()
                .await
            {
                Ok(sent) => {
                    for (slot, result) in slots.into_iter().zip(sent) {
                        results[slot] = Some(result);
                    }
                }
                Err(_) => {
                    tracing::error!(jobs = slots.len(), "batch send panicked");
                    for slot in slots {
                        results[slot] = Some(Err(DeliverError::Panicked));
                    }
                }
            }
        }
        let mut outcome = batch_slots
            .iter()
            .find_map(|slot| results[*slot].as_ref().and_then(super::attempted));
        for (integration, guard) in guards {
            self.leave(&integration, guard, outcome.take()).await;
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(DeliverError::Panicked)))
            .collect()
    }

    /// Steps 4 to 6 for claimed attempts of one batch-mode webhook: each is built and
    /// checked on its own, the ones that pass go out as one request, and each gets its
    /// own attempt record. One result per job, in order.
    pub(super) async fn send_claimed(
        &self,
        claimed: Vec<(&DeliverJob, Box<Claimed>)>,
    ) -> Vec<Result<Handled, DeliverError>> {
        let started_at = clock::now_ms();
        let timestamp = started_at / 1000;
        let checks = in_order(claimed.iter().map(|(job, c)| async move {
            let cx = SendContext {
                message_id: destination::message_id(&c.registration, &c.integration),
                timestamp,
                attempt: job.attempt,
            };
            let checked = self
                .check(
                    job,
                    &c.registration,
                    &c.integration,
                    &c.credentials,
                    &cx,
                    c.taken_over,
                )
                .await;
            (cx.message_id, checked)
        }))
        .await;
        let mut results: Vec<Option<Result<Handled, DeliverError>>> =
            claimed.iter().map(|_| None).collect();
        let mut ready: Vec<Ready> = Vec::new();
        let mut unknown = Vec::new();
        for (slot, (message_id, checked)) in checks.into_iter().enumerate() {
            match checked {
                // Its claim was taken over: it may be in a batch sent already.
                Ok(Ok(checked)) if claimed[slot].1.taken_over => {
                    unknown.push((slot, message_id, checked.request));
                }
                Ok(Ok(checked)) => ready.push(Ready::new(slot, message_id, checked)),
                Ok(Err(handled)) => results[slot] = Some(Ok(handled)),
                Err(e) => results[slot] = Some(Err(e)),
            }
        }
        let recorded = in_order(unknown.iter().map(|(slot, message_id, request)| {
            let (job, c) = &claimed[*slot];
            self.record_unknown(job, &c.registration, &c.integration, message_id, request)
        }))
        .await;
        for ((slot, ..), result) in unknown.iter().zip(recorded) {
            results[*slot] = Some(result);
        }
        let sent =
            in_order(chunks(&ready).map(|chunk| self.send_request(&claimed, chunk, started_at)))
                .await;
        for (chunk, recorded) in chunks(&ready).zip(sent) {
            for (r, result) in chunk.iter().zip(recorded) {
                results[r.slot] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(DeliverError::Panicked)))
            .collect()
    }

    /// Sends `ready` as one request and records each job's attempt; one result per item.
    async fn send_request(
        &self,
        claimed: &[(&DeliverJob, Box<Claimed>)],
        ready: &[Ready],
        started_at: u64,
    ) -> Vec<Result<Handled, DeliverError>> {
        let Some(first) = ready.first() else {
            return Vec::new();
        };
        let timestamp = started_at / 1000;
        let (_, lead) = &claimed[first.slot];
        let id = webhook::batch_id(
            ready
                .iter()
                .map(|r| (r.message_id.as_str(), claimed[r.slot].0.attempt)),
        );
        let items: Vec<Value> = ready.iter().map(|r| r.item.clone()).collect();
        let count = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        match webhook::build_batch(&lead.integration, &lead.credentials, items, &id, timestamp) {
            Err(e) => {
                let verdict = notices::misconfigured(Provider::Webhook, &e.field, &e.message);
                in_order(ready.iter().map(|r| {
                    let (job, c) = &claimed[r.slot];
                    self.finish_without_send(
                        job,
                        &c.registration,
                        Some(&c.integration),
                        verdict.clone(),
                        DeliveryState::Failed,
                    )
                }))
                .await
            }
            Ok(request) => {
                let deadline = self.attempt_deadline(lead.deadline);
                // The attempt's time is the request's, not the checks' before it.
                let sent_at = clock::now_ms();
                let exchange =
                    super::semantics::send_within(&self.transport, &request, deadline).await;
                let verdict = match &exchange.blocked {
                    Some(detail) => notices::blocked_address(Provider::Webhook, detail),
                    None => leadrelay_explain::explain::explain(
                        Some(Provider::Webhook),
                        &exchange.response,
                        None,
                    ),
                };
                let failures = if exchange.blocked.is_none() && verdict.outcome.is_success() {
                    webhook::item_failures(&exchange.response.body)
                } else {
                    BTreeMap::new()
                };
                tracing::info!(
                    integration_id = %lead.integration.id,
                    items = count,
                    status = verdict.status,
                    outcome = verdict.outcome.as_str(),
                    failed_items = failures.len(),
                    duration_ms = exchange.duration_ms,
                    "batch sent"
                );
                let summary = request.summary();
                in_order(ready.iter().map(|r| {
                    let (job, c) = &claimed[r.slot];
                    let verdict = match failures.get(&r.message_id) {
                        Some(failure) => leadrelay_explain::explain::explain(
                            Some(Provider::Webhook),
                            &item_response(failure),
                            Some(&r.data),
                        ),
                        None => verdict.clone(),
                    };
                    let mut request = summary.clone();
                    request.batch = Some(BatchNote {
                        id: id.clone(),
                        items: count,
                        item_id: r.message_id.clone(),
                    });
                    let sent = Sent {
                        verdict,
                        request,
                        response: exchange.summary.clone(),
                        duration_ms: exchange.duration_ms,
                        blocked: exchange.blocked.is_some(),
                        preceding: Vec::new(),
                    };
                    self.record_sent(
                        job,
                        &c.registration,
                        &c.integration,
                        sent_at,
                        sent,
                        c.record_until(),
                    )
                }))
                .await
            }
        }
    }
}

/// Splits the ready items into runs whose array body stays within
/// [`webhook::BATCH_MAX_BYTES`] (an item larger than that goes alone).
fn chunks(ready: &[Ready]) -> impl Iterator<Item = &[Ready]> {
    let mut rest = ready;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // "[" + items joined by "," + "]".
        let mut bytes = 1;
        let mut n = 0;
        while n < rest.len() && (n == 0 || bytes + rest[n].bytes < webhook::BATCH_MAX_BYTES) {
            // The item and the comma (or closing bracket) after it.
            bytes += rest[n].bytes + 1;
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// The request a test send makes: for a batch-mode webhook, the single request's body
/// as the one item of a batch (what its receiver always gets); otherwise `request`.
pub(super) fn as_batch_of_one(
    integration: &crate::model::Integration,
    credentials: &Credentials,
    request: OutgoingRequest,
    cx: &SendContext,
) -> Result<OutgoingRequest, crate::setting::SettingError> {
    if webhook::batch_size(integration).is_none() {
        return Ok(request);
    }
    let item = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let id = webhook::batch_id([(cx.message_id.as_str(), cx.attempt)]);
    webhook::build_batch(integration, credentials, vec![item], &id, cx.timestamp)
}

/// A job of a batch that passed its checks.
struct Ready {
    /// Its place among the claimed jobs.
    slot: usize,
    /// Its item id (the single-mode `webhook-id`).
    message_id: String,
    /// The fields, for the engine's field attribution.
    data: serde_json::Map<String, Value>,
    /// The item: the body single mode would send.
    item: Value,
    /// Its size in the array body, in bytes.
    bytes: usize,
}

impl Ready {
    fn new(slot: usize, message_id: String, checked: Checked) -> Ready {
        // The webhook adapter built this body from a JSON value a moment ago.
        let item = serde_json::from_slice(&checked.request.body).unwrap_or(Value::Null);
        Ready {
            slot,
            message_id,
            data: checked.data,
            bytes: checked.request.body.len(),
            item,
        }
    }
}

/// An item's failure as the engine reads it: its status, its error as the body.
fn item_response(failure: &webhook::ItemFailure) -> ProviderResponse {
    let mut response = ProviderResponse::new(failure.status, failure.error.clone());
    if failure.error.first() == Some(&b'{') || failure.error.first() == Some(&b'[') {
        response
            .headers
            .push(("content-type".into(), "application/json".into()));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::DeliverConfig;
    use crate::exchange::Exchange;
    use crate::ids::{CampaignId, RegistrationId};
    use crate::model::{
        Integration, IntegrationStatus, Registration, RegistrationData, Task, Trigger,
    };
    use crate::queue::memory::MemoryQueue;
    use crate::schedule::RetrySchedule;
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, RegistrationStore};
    use crate::vault::InsecureTestVault;
    use leadrelay_explain::verdict::Outcome;
    use serde_json::json;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Answers each request with the next (status, body) in turn, the last one for ever
    /// after, and keeps the requests.
    struct Receiver {
        answers: Mutex<Vec<(u16, String)>>,
        requests: Mutex<Vec<OutgoingRequest>>,
    }

    impl Transport for Receiver {
        async fn send(&self, request: &OutgoingRequest) -> Exchange {
            self.requests.lock().unwrap().push(request.clone());
            let mut answers = self.answers.lock().unwrap();
            let (status, body) = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            Exchange {
                response: ProviderResponse::new(status, body),
                summary: None,
                duration_ms: 3,
                blocked: None,
            }
        }
    }

    type World = Deliverer<MemoryStore, MemoryQueue, Receiver, InsecureTestVault>;

    fn world(answers: Vec<(u16, &str)>) -> World {
        Deliverer {
            store: MemoryStore::new(),
            queue: MemoryQueue::new(),
            transport: Receiver {
                answers: Mutex::new(
                    answers
                        .into_iter()
                        .map(|(s, b)| (s, b.to_owned()))
                        .collect(),
                ),
                requests: Mutex::new(Vec::new()),
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

    async fn hook(w: &World, settings: serde_json::Value) -> Integration {
        let integration = Integration {
            id: IntegrationId::generate(),
            account_id: account(),
            name: "hook".into(),
            provider: Provider::Webhook,
            settings: settings.as_object().cloned().unwrap(),
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

    async fn batch_hook(w: &World, max_items: u64) -> Integration {
        hook(
            w,
            json!({"url": "https://hooks.example.com/batch", "batch": {"max_items": max_items}, "conditions": [{"field": "score", "not_equals": 0}]}),
        )
        .await
    }

    /// A registration for `integrations` with this address and score, and its jobs.
    async fn register(
        w: &World,
        email: &str,
        score: i64,
        integrations: &[&Integration],
    ) -> Vec<DeliverJob> {
        let mut data = RegistrationData {
            email: Some(email.into()),
            ..RegistrationData::default()
        };
        data.fields.insert("score".into(), json!(score));
        let registration = Registration {
            id: RegistrationId::generate(),
            account_id: account(),
            campaign_id: CampaignId::generate(),
            received_at: clock::now_ms(),
            data,
            integration_ids: integrations.iter().map(|i| i.id.clone()).collect(),
            expires_at: clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        w.store
            .create_registration(&registration, &[])
            .await
            .unwrap();
        integrations
            .iter()
            .map(|i| DeliverJob {
                account_id: account(),
                registration_id: registration.id.clone(),
                integration_id: i.id.clone(),
                attempt: 1,
                not_before: None,
                trigger: Trigger::Automatic,
            })
            .collect()
    }

    async fn run(w: &World, jobs: &[DeliverJob]) -> Vec<Result<Handled, DeliverError>> {
        let keyed = jobs.iter().cloned().enumerate().collect();
        let mut out = w.run_all(keyed, None, 4).await;
        out.sort_by_key(|(k, _)| *k);
        out.into_iter().map(|(_, r)| r).collect()
    }

    fn states(results: &[Result<Handled, DeliverError>]) -> Vec<Option<DeliveryState>> {
        results
            .iter()
            .map(|r| match r {
                Ok(Handled::Attempted(state, _)) => Some(*state),
                _ => None,
            })
            .collect()
    }

    fn bodies(w: &World) -> Vec<Value> {
        w.transport
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    fn attempt_of(w: &World, job: &DeliverJob) -> crate::model::Attempt {
        w.store
            .all_attempts()
            .into_iter()
            .find(|a| {
                a.registration_id == job.registration_id
                    && a.integration_id == job.integration_id
                    && a.number == job.attempt
            })
            .expect("an attempt")
    }

    async fn three(w: &World, max_items: u64) -> (Integration, Vec<DeliverJob>) {
        let hook = batch_hook(w, max_items).await;
        let mut jobs = Vec::new();
        for email in ["ana@example.com", "ben@example.com", "cleo@example.com"] {
            jobs.extend(register(w, email, 1, &[&hook]).await);
        }
        (hook, jobs)
    }

    #[tokio::test]
    async fn jobs_for_one_batch_webhook_go_out_as_one_array_and_each_gets_its_attempt() {
        let w = world(vec![(200, "{}")]);
        let (_, jobs) = three(&w, 100).await;

        let results = run(&w, &jobs).await;

        assert_eq!(states(&results), [Some(DeliveryState::Delivered); 3]);
        let bodies = bodies(&w);
        assert_eq!(bodies.len(), 1, "one request");
        let items = bodies[0].as_array().unwrap();
        let emails: Vec<&str> = items
            .iter()
            .map(|i| i["data"]["email"].as_str().unwrap())
            .collect();
        assert_eq!(
            emails,
            ["ana@example.com", "ben@example.com", "cleo@example.com"]
        );
        let request = w.transport.requests.lock().unwrap()[0].clone();
        let batch_id = request
            .headers
            .iter()
            .find(|(n, _)| n == "webhook-id")
            .unwrap()
            .1
            .expose()
            .to_owned();
        for (job, item) in jobs.iter().zip(items) {
            let attempt = attempt_of(&w, job);
            let note = attempt.request.unwrap().batch.expect("a batch note");
            assert_eq!(note.id, batch_id);
            assert_eq!(note.items, 3);
            assert_eq!(note.item_id, item["id"].as_str().unwrap());
            assert_eq!(item["registration_id"], job.registration_id.as_str());
        }
    }

    #[tokio::test]
    async fn a_server_error_retries_every_job_with_its_own_next_attempt() {
        let w = world(vec![(503, "down"), (200, "{}")]);
        let (_, jobs) = three(&w, 100).await;

        let first = run(&w, &jobs).await;
        let next: Vec<DeliverJob> = w
            .queue
            .drain()
            .into_iter()
            .filter_map(|(t, _)| t.as_deliver().cloned())
            .map(|mut j| {
                j.not_before = None;
                j
            })
            .collect();
        let second = run(&w, &next).await;

        assert_eq!(states(&first), [Some(DeliveryState::Retrying); 3]);
        assert_eq!(next.len(), 3);
        assert!(next.iter().all(|j| j.attempt == 2));
        assert_eq!(states(&second), [Some(DeliveryState::Delivered); 3]);
        let ids: Vec<String> = w
            .transport
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                r.headers
                    .iter()
                    .find(|(n, _)| n == "webhook-id")
                    .unwrap()
                    .1
                    .expose()
                    .to_owned()
            })
            .collect();
        assert_ne!(ids[0], ids[1], "attempt numbers are part of the batch id");
        assert_eq!(w.store.all_attempts().len(), 6);
    }

    #[tokio::test]
    async fn a_2xx_listing_failed_items_fails_or_retries_only_those() {
        let w = world(vec![(200, "{}")]);
        let (_, jobs) = three(&w, 100).await;
        let ids: Vec<String> = {
            // The item ids are the single-mode message ids, known before sending.
            let mut ids = Vec::new();
            for job in &jobs {
                let r = w
                    .store
                    .registration(&job.registration_id)
                    .await
                    .unwrap()
                    .unwrap();
                let i = w
                    .store
                    .integration(&job.account_id, &job.integration_id)
                    .await
                    .unwrap()
                    .unwrap();
                ids.push(destination::message_id(&r, &i));
            }
            ids
        };
        let answer = json!({"results": [
            {"id": ids[0], "status": 422, "error": {"errors": [{"field": "email", "message": "this address is on our block list"}]}},
            {"id": ids[2], "status": 503, "error": "try later"}
        ]});
        *w.transport.answers.lock().unwrap() = vec![(200, answer.to_string())];

        let results = run(&w, &jobs).await;

        assert_eq!(
            states(&results),
            [
                Some(DeliveryState::Failed),
                Some(DeliveryState::Delivered),
                Some(DeliveryState::Retrying)
            ]
        );
        let refused = attempt_of(&w, &jobs[0]).verdict;
        assert_eq!(refused.status, Some(422));
        assert_eq!(refused.field.as_deref(), Some("email"));
        assert!(
            refused
                .message
                .as_deref()
                .unwrap_or("")
                .contains("block list"),
            "{refused:?}"
        );
        assert_eq!(attempt_of(&w, &jobs[2]).verdict.status, Some(503));
        let queued = w.queue.drain();
        assert_eq!(queued.len(), 1);
        let Task::DeliverV1(next) = &queued[0].0 else {
            panic!("not a delivery job")
        };
        assert_eq!(next.registration_id, jobs[2].registration_id);
    }

    #[tokio::test]
    async fn an_items_401_in_a_2xx_pauses_the_integration_as_the_docs_say() {
        let w = world(vec![(200, "{}")]);
        let (hook, jobs) = three(&w, 100).await;
        let r = w
            .store
            .registration(&jobs[1].registration_id)
            .await
            .unwrap()
            .unwrap();
        let answer =
            json!({"results": [{"id": destination::message_id(&r, &hook), "status": 401}]});
        *w.transport.answers.lock().unwrap() = vec![(200, answer.to_string())];

        let results = run(&w, &jobs).await;

        assert_eq!(
            states(&results),
            [
                Some(DeliveryState::Delivered),
                Some(DeliveryState::Paused),
                Some(DeliveryState::Delivered)
            ]
        );
        let stored = w
            .store
            .integration(&account(), &hook.id)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(stored.status, IntegrationStatus::Paused { .. }));
    }

    #[tokio::test]
    async fn a_redelivered_batch_sends_nothing_again_and_records_no_second_attempt() {
        let w = world(vec![(200, "{}")]);
        let (_, jobs) = three(&w, 100).await;
        run(&w, &jobs).await;

        let again = run(&w, &jobs).await;

        assert!(
            again.iter().all(|r| matches!(r, Ok(Handled::AlreadyDone))),
            "{again:?}"
        );
        assert_eq!(w.transport.requests.lock().unwrap().len(), 1);
        assert_eq!(w.store.all_attempts().len(), 3);
    }

    #[tokio::test]
    async fn refusals_skips_and_gone_jobs_stay_per_job_and_the_rest_is_sent() {
        let w = world(vec![(200, "{}")]);
        let hook = batch_hook(&w, 100).await;
        let ok = register(&w, "ana@example.com", 1, &[&hook]).await;
        let refused = register(&w, "calebæhnson@provider.com", 1, &[&hook]).await;
        let skipped = register(&w, "ben@example.com", 0, &[&hook]).await;
        let mut gone = ok[0].clone();
        gone.registration_id = RegistrationId::generate();
        let jobs = [ok[0].clone(), refused[0].clone(), skipped[0].clone(), gone];

        let results = run(&w, &jobs).await;

        assert!(matches!(
            results[0],
            Ok(Handled::Attempted(DeliveryState::Delivered, _))
        ));
        assert!(matches!(
            results[1],
            Ok(Handled::Attempted(DeliveryState::Failed, _))
        ));
        assert!(matches!(results[2], Ok(Handled::Skipped)));
        assert!(matches!(results[3], Ok(Handled::Gone)));
        assert!(attempt_of(&w, &refused[0]).request.is_none(), "never sent");
        let bodies = bodies(&w);
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_paused_batch_webhook_parks_each_job() {
        let w = world(vec![(401, "")]);
        let (hook, jobs) = three(&w, 100).await;
        run(&w, &jobs[..2]).await;

        let late = run(&w, &jobs[2..]).await;

        let stored = w
            .store
            .integration(&account(), &hook.id)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(stored.status, IntegrationStatus::Paused { .. }));
        assert!(matches!(late[0], Ok(Handled::Parked)));
        assert_eq!(w.transport.requests.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn batches_hold_at_most_max_items_and_single_mode_jobs_go_alone() {
        let w = world(vec![(200, "{}")]);
        let (batch, mut jobs) = three(&w, 2).await;
        let single = hook(&w, json!({"url": "https://hooks.example.com/one"})).await;
        jobs.extend(register(&w, "dan@example.com", 1, &[&single, &batch]).await);

        let results = run(&w, &jobs).await;

        assert_eq!(states(&results), [Some(DeliveryState::Delivered); 5]);
        let requests = w.transport.requests.lock().unwrap().clone();
        let mut sizes: Vec<Option<usize>> = requests
            .iter()
            .map(|r| {
                serde_json::from_slice::<Value>(&r.body)
                    .unwrap()
                    .as_array()
                    .map(Vec::len)
            })
            .collect();
        sizes.sort();
        assert_eq!(sizes, [None, Some(2), Some(2)]);
        let one = requests.iter().find(|r| r.url.ends_with("/one")).unwrap();
        let body: Value = serde_json::from_slice(&one.body).unwrap();
        assert_eq!(body["data"]["email"], "dan@example.com");
    }

    #[tokio::test]
    async fn a_batch_job_run_alone_is_a_batch_of_one() {
        let w = world(vec![(200, "{}")]);
        let (_, jobs) = three(&w, 10).await;

        let handled = w.run(&jobs[0], None).await.unwrap();

        assert_eq!(
            handled,
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
        assert_eq!(bodies(&w)[0].as_array().map(Vec::len), Some(1));
    }

    #[tokio::test]
    async fn a_test_send_to_a_batch_webhook_sends_an_array_of_one() {
        let w = world(vec![(200, "{}")]);
        let (hook, jobs) = three(&w, 10).await;
        let registration = w
            .store
            .registration(&jobs[0].registration_id)
            .await
            .unwrap()
            .unwrap();

        let result =
            crate::deliver::test_send::test_send(&w.transport, &w.vault, &hook, &registration)
                .await
                .unwrap();

        assert_eq!(result.verdict.outcome, Outcome::Delivered);
        let sent = bodies(&w);
        assert_eq!(sent[0].as_array().map(Vec::len), Some(1));
        assert_eq!(sent[0][0]["data"]["email"], "ana@example.com");
        assert!(w.store.all_attempts().is_empty());
    }

    #[tokio::test]
    async fn jobs_planned_as_a_batch_for_an_integration_no_longer_in_batch_mode_go_alone() {
        let w = world(vec![(200, "{}")]);
        let single = hook(&w, json!({"url": "https://hooks.example.com/one"})).await;
        let mut jobs = register(&w, "ana@example.com", 1, &[&single]).await;
        jobs.extend(register(&w, "ben@example.com", 1, &[&single]).await);

        let results = w.run_batch(&jobs, None).await;

        assert_eq!(states(&results), [Some(DeliveryState::Delivered); 2]);
        let bodies = bodies(&w);
        assert_eq!(bodies.len(), 2);
        assert!(bodies.iter().all(Value::is_object));
    }

    #[test]
    fn requests_are_split_to_keep_each_body_within_the_byte_limit() {
        let ready = |bytes: usize| Ready {
            slot: 0,
            message_id: String::new(),
            data: serde_json::Map::new(),
            item: Value::Null,
            bytes,
        };
        let third = webhook::BATCH_MAX_BYTES / 3;
        let items: Vec<Ready> = [third, third, third, 10, webhook::BATCH_MAX_BYTES * 2, 10]
            .into_iter()
            .map(ready)
            .collect();

        let sizes: Vec<usize> = chunks(&items).map(<[Ready]>::len).collect();

        // Three thirds with brackets and commas are 3 bytes over the limit.
        assert_eq!(sizes, [2, 2, 1, 1]);
        assert_eq!(chunks(&items[..0]).count(), 0);
        assert_eq!(chunks(&items[3..4]).count(), 1);
    }

    #[tokio::test]
    async fn a_failed_write_fails_only_its_own_job() {
        let w = world(vec![(200, "{}")]);
        let (_, jobs) = three(&w, 10).await;
        w.store.fail("update_delivery");

        let results = run(&w, &jobs).await;

        assert!(results
            .iter()
            .all(|r| matches!(r, Err(DeliverError::Store(_)))));
        assert_eq!(
            w.store.all_attempts().len(),
            3,
            "each attempt recorded before the failure"
        );
    }
}
