//! The pipeline's hook into [`super::limit`] and [`super::breaker`]: before a job claims
//! its attempt it passes the breaker and takes a concurrency slot ([`Deliverer::enter`]);
//! after its send it gives the slot back and reports the outcome ([`Deliverer::leave`]).
//! A job turned back here goes to the queue again with its attempt number unchanged:
//! nothing is claimed, sent, recorded or counted.

use super::breaker::{self, Breaker, Change, Gate, Policy};
use super::limit::{self, Slot};
use super::{DeliverError, Deliverer, Handled};
use crate::destination;
use crate::exchange::Transport;
use crate::model::{DeliverJob, Integration, Task, WaitKind, WaitNote};
use crate::queue::TaskQueue;
use crate::store::Store;
use crate::vault::Vault;
use crate::{clock, notices, schedule};
use leadrelay_explain::verdict::Outcome;
use std::time::Duration;

/// What a job holds while it sends.
#[derive(Debug, Default)]
pub(super) struct Guard {
    /// Its concurrency slot (none for a batch-mode webhook).
    pub slot: Option<Slot>,
    /// Whether it is the breaker's probe.
    pub probe: bool,
}

/// Tries of a conditional write that lost to another worker before giving up.
const TRIES: usize = 4;

impl<S: Store, Q: TaskQueue, T: Transport, V: Vault> Deliverer<S, Q, T, V> {
    /// Passes the breaker and claims a slot; `Err(handled)` when the job went back to the
    /// queue instead. `lease` is how long the slot (and a probe) is held at most.
    pub(super) async fn enter(
        &self,
        job: &DeliverJob,
        integration: &Integration,
        now: u64,
        lease: Duration,
    ) -> Result<Result<Guard, Handled>, DeliverError> {
        let lease_until = now + lease.as_millis() as u64;
        let current = self
            .store
            .breaker(&integration.id)
            .await?
            .unwrap_or_else(|| Breaker::new(integration.id.clone()));
        if let Gate::Wait(until) = current.gate(now) {
            return self
                .hold(job, integration, &current, until, now)
                .await
                .map(Err);
        }
        let slot = if destination::webhook::batch_size(integration).is_some() {
            None
        } else {
            match self.claim_slot(integration, now, lease_until).await? {
                Some(slot) => Some(slot),
                None => return self.no_slot(job, integration, now).await.map(Err),
            }
        };
        let mut guard = Guard { slot, probe: false };
        if current.gate(now) == Gate::MayProbe {
            match self.claim_probe(current, now, lease_until).await? {
                Ok(probe) => guard.probe = probe,
                Err((b, until)) => {
                    self.leave(integration, guard, None).await;
                    return self.hold(job, integration, &b, until, now).await.map(Err);
                }
            }
        }
        Ok(Ok(guard))
    }

    /// Gives the slot back and counts `outcome` (when an attempt ended) in the breaker.
    /// Failures here are logged, not raised: the attempt is recorded already, a slot's
    /// lease ends by itself, and a lost count only delays a hold.
    pub(super) async fn leave(
        &self,
        integration: &Integration,
        guard: Guard,
        outcome: Option<Outcome>,
    ) {
        if let Some(slot) = &guard.slot {
            if let Err(e) = self
                .store
                .release_slot(&integration.id, slot.number, &slot.holder)
                .await
            {
                tracing::warn!(integration_id = %integration.id, error = %e, "concurrency slot not released; its lease ends it");
            }
        }
        if let Some(outcome) = outcome {
            if let Err(e) = self.count(integration, outcome, guard.probe).await {
                tracing::warn!(integration_id = %integration.id, error = %e, "breaker count lost");
            }
        }
    }

    async fn count(
        &self,
        integration: &Integration,
        outcome: Outcome,
        probe: bool,
    ) -> Result<(), DeliverError> {
        let policy = Policy::of(integration);
        let kind = breaker::kind(outcome);
        for _ in 0..TRIES {
            let mut b = self
                .store
                .breaker(&integration.id)
                .await?
                .unwrap_or_else(|| Breaker::new(integration.id.clone()));
            // A probe's report only counts while it is still the probe.
            let probing = probe && b.state == breaker::BreakerState::Probing;
            let (changed, change) = b.record(kind, probing, clock::now_ms(), &policy, |n| {
                notices::breaker_reason(integration.provider, n, outcome)
            });
            if !changed {
                return Ok(());
            }
            if self.store.put_breaker(&b).await? {
                match change {
                    Some(Change::Held) => {
                        tracing::warn!(integration_id = %integration.id, outcome = outcome.as_str(), held_until = b.held_until, "integration held by its circuit breaker")
                    }
                    Some(Change::Released) => {
                        tracing::info!(integration_id = %integration.id, "integration released by its circuit breaker")
                    }
                    None => {}
                }
                return Ok(());
            }
        }
        tracing::warn!(integration_id = %integration.id, "breaker count gave way to other workers");
        Ok(())
    }

    /// Claims a free slot, or `None` when every one is held by a live lease.
    async fn claim_slot(
        &self,
        integration: &Integration,
        now: u64,
        lease_until: u64,
    ) -> Result<Option<Slot>, DeliverError> {
        let max = limit::max_concurrency(integration);
        for _ in 0..TRIES {
            let taken = self.store.concurrency_slots(&integration.id).await?;
            let Some(number) = limit::pick_free(max, &taken, now) else {
                return Ok(None);
            };
            let holder = limit::holder();
            if self
                .store
                .claim_slot(&integration.id, number, &holder, lease_until, now)
                .await?
            {
                return Ok(Some(Slot { number, holder }));
            }
        }
        Ok(None)
    }

    /// Claims the probe of a breaker whose hold ended: `Ok(true)` when this job probes,
    /// `Ok(false)` when the breaker closed meanwhile, `Err` (with when to come back) when
    /// another worker probes.
    async fn claim_probe(
        &self,
        mut current: Breaker,
        now: u64,
        lease_until: u64,
    ) -> Result<Result<bool, (Breaker, u64)>, DeliverError> {
        for _ in 0..TRIES {
            match current.gate(now) {
                Gate::Pass => return Ok(Ok(false)),
                Gate::Wait(until) => return Ok(Err((current, until))),
                Gate::MayProbe => {}
            }
            let mut probing = current.clone();
            probing.claim_probe(lease_until);
            if self.store.put_breaker(&probing).await? {
                tracing::info!(integration_id = %current.integration_id, "breaker probe sent");
                return Ok(Ok(true));
            }
            let Some(fresh) = self.store.breaker(&current.integration_id).await? else {
                return Ok(Ok(false));
            };
            current = fresh;
        }
        Ok(Err((current, lease_until)))
    }

    /// Sends a job back to wait for a held integration: after the hold, spread in
    /// proportion to the number waiting. No attempt is made or counted.
    async fn hold(
        &self,
        job: &DeliverJob,
        integration: &Integration,
        b: &Breaker,
        until: u64,
        now: u64,
    ) -> Result<Handled, DeliverError> {
        let due = self.after_wait(integration, until).await?;
        self.requeue(job, due, now).await?;
        let note = notices::breaker_held(integration.provider, b, due);
        tracing::info!(registration_id = %job.registration_id, integration_id = %job.integration_id, attempt = job.attempt, wait_ms = due - now, note = %note, "delivery held by the integration's circuit breaker");
        self.note_wait(
            job,
            WaitNote {
                kind: WaitKind::Held,
                until: due,
                note,
            },
        )
        .await;
        Ok(Handled::Held)
    }

    /// Leaves `note` on the job's delivery, for its log, after the job went back to the
    /// queue. A failure is logged, not raised: the job waits all the same.
    pub(super) async fn note_wait(&self, job: &DeliverJob, note: WaitNote) {
        match self
            .store
            .note_waiting(
                &job.registration_id,
                &job.integration_id,
                job.attempt,
                &note,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(registration_id = %job.registration_id, integration_id = %job.integration_id, attempt = job.attempt, "wait not noted: the delivery is no longer waiting for this attempt")
            }
            Err(e) => {
                tracing::warn!(registration_id = %job.registration_id, integration_id = %job.integration_id, attempt = job.attempt, error = %e, "wait note not written; the job waits all the same")
            }
        }
    }

    /// Sends a job back for a moment when every slot is taken. No attempt is counted.
    async fn no_slot(
        &self,
        job: &DeliverJob,
        integration: &Integration,
        now: u64,
    ) -> Result<Handled, DeliverError> {
        let wait = limit::no_slot_delay(limit::max_concurrency(integration));
        self.requeue(job, now + wait.as_millis() as u64, now)
            .await?;
        tracing::info!(registration_id = %job.registration_id, integration_id = %job.integration_id, attempt = job.attempt, wait_ms = wait.as_millis() as u64, "delivery waits for a free slot of the integration");
        Ok(Handled::WaitingForSlot)
    }

    /// When a job waiting for `until` comes back: its place in the line of waiting jobs,
    /// at the rate the integration's limit lets through.
    pub(super) async fn after_wait(
        &self,
        integration: &Integration,
        until: u64,
    ) -> Result<u64, DeliverError> {
        let now = crate::clock::now_ms();
        let line = self.store.join_wait(&integration.id, until, now).await?;
        Ok(limit::spread_after(
            until,
            line.place,
            limit::max_concurrency(integration),
            now.saturating_sub(line.since),
        ))
    }

    async fn requeue(&self, job: &DeliverJob, due: u64, now: u64) -> Result<(), DeliverError> {
        let later = DeliverJob {
            not_before: Some(due),
            ..job.clone()
        };
        let delay = schedule::queue_delay(Duration::from_millis(due.saturating_sub(now)));
        self.queue
            .send_all(&[(Task::DeliverV1(later), delay)])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::breaker::BreakerState;
    use crate::deliver::{DeliverConfig, Deliverer};
    use crate::exchange::{Exchange, OutgoingRequest};
    use crate::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
    use crate::model::{DeliveryState, IntegrationStatus, Registration, RegistrationData, Trigger};
    use crate::queue::memory::MemoryQueue;
    use crate::schedule::RetrySchedule;
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, FlowStore, RegistrationStore};
    use crate::vault::InsecureTestVault;
    use leadrelay_explain::answer::ProviderResponse;
    use leadrelay_explain::provider::Provider;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A provider that counts the requests it is answering at once.
    #[derive(Default)]
    struct Provider_ {
        in_flight: AtomicUsize,
        most: AtomicUsize,
        sent: AtomicUsize,
        statuses: Mutex<Vec<u16>>,
    }

    impl Transport for Provider_ {
        async fn send(&self, _: &OutgoingRequest) -> Exchange {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.sent.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let status = {
                let mut s = self.statuses.lock().unwrap();
                if s.len() > 1 {
                    s.remove(0)
                } else {
                    s.first().copied().unwrap_or(200)
                }
            };
            Exchange {
                response: ProviderResponse::new(status, ""),
                summary: None,
                duration_ms: 5,
                blocked: None,
            }
        }
    }

    type D = Deliverer<MemoryStore, MemoryQueue, Provider_, InsecureTestVault>;

    async fn setup(
        settings: serde_json::Value,
        statuses: Vec<u16>,
        jobs: usize,
    ) -> (D, Vec<DeliverJob>) {
        let account = AccountId::generate();
        let integration = Integration {
            id: IntegrationId::generate(),
            account_id: account.clone(),
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
        let store = MemoryStore::new();
        store.put_integration(&integration).await.unwrap();
        let mut out = Vec::new();
        for _ in 0..jobs {
            let registration = Registration {
                id: RegistrationId::generate(),
                account_id: account.clone(),
                campaign_id: CampaignId::generate(),
                received_at: clock::now_ms(),
                data: RegistrationData {
                    email: Some("lena@example.com".into()),
                    ..RegistrationData::default()
                },
                integration_ids: vec![integration.id.clone()],
                expires_at: clock::now_ms() / 1000 + 3600,
                erased_at: None,
            };
            store.create_registration(&registration, &[]).await.unwrap();
            out.push(DeliverJob {
                account_id: account.clone(),
                registration_id: registration.id,
                integration_id: integration.id.clone(),
                attempt: 1,
                not_before: None,
                trigger: Trigger::Automatic,
            });
        }
        let d = Deliverer {
            store,
            queue: MemoryQueue::new(),
            transport: Provider_ {
                statuses: Mutex::new(statuses),
                ..Provider_::default()
            },
            vault: InsecureTestVault,
            config: DeliverConfig {
                schedule: RetrySchedule::parse("60, 60, 60").unwrap(),
                attempt_timeout: Duration::from_secs(5),
            },
        };
        (d, out)
    }

    /// The jobs sent back to the queue, due now (as if their delay had passed).
    fn requeued(d: &D) -> Vec<DeliverJob> {
        d.queue
            .drain()
            .into_iter()
            .filter_map(|(task, _)| task.as_deliver().cloned())
            .map(|job| DeliverJob {
                not_before: None,
                ..job
            })
            .collect()
    }

    #[tokio::test]
    async fn the_limit_holds_across_concurrent_invocations_and_waiting_burns_no_attempt() {
        let (d, jobs) = setup(
            serde_json::json!({"url": "https://hooks.example.com/in", "max_concurrency": 3}),
            vec![200],
            40,
        )
        .await;
        let mut pending = jobs;
        let mut rounds = 0;
        let mut waited = 0;
        while !pending.is_empty() {
            rounds += 1;
            assert!(rounds < 200, "every job ends");
            // Two invocations at once, each running its half of the jobs concurrently.
            let half = pending.split_off(pending.len() / 2);
            let (x, y) = tokio::join!(
                d.run_all(pending.into_iter().map(|j| ((), j)).collect(), None, 50),
                d.run_all(half.into_iter().map(|j| ((), j)).collect(), None, 50)
            );
            for (_, r) in x.into_iter().chain(y) {
                match r.unwrap() {
                    Handled::WaitingForSlot => waited += 1,
                    Handled::Attempted(DeliveryState::Delivered, _) => {}
                    other => panic!("{other:?}"),
                }
            }
            pending = requeued(&d);
        }
        assert_eq!(d.transport.sent.load(Ordering::SeqCst), 40);
        assert!(
            d.transport.most.load(Ordering::SeqCst) <= 3,
            "at most 3 at once"
        );
        assert!(waited > 0, "some jobs found every slot taken");
        assert!(
            d.store.all_attempts().iter().all(|a| a.number == 1),
            "no attempt burnt"
        );
        assert!(
            d.store
                .concurrency_slots(&d.store.all_attempts()[0].integration_id)
                .await
                .unwrap()
                .is_empty(),
            "every slot released"
        );
    }

    #[tokio::test]
    async fn a_slot_whose_holder_crashed_is_free_after_its_lease() {
        let (d, jobs) = setup(
            serde_json::json!({"url": "https://hooks.example.com/in", "max_concurrency": 1}),
            vec![200],
            1,
        )
        .await;
        let id = &jobs[0].integration_id;
        let now = clock::now_ms();
        assert!(d
            .store
            .claim_slot(id, 0, "crashed", now + 60_000, now)
            .await
            .unwrap());
        assert_eq!(
            d.run(&jobs[0], None).await.unwrap(),
            Handled::WaitingForSlot
        );
        assert!(d
            .store
            .claim_slot(id, 0, "crashed", now - 1, now)
            .await
            .is_ok());
        // The crashed holder's lease is over now.
        d.store.release_slot(id, 0, "crashed").await.unwrap();
        assert!(d
            .store
            .claim_slot(id, 0, "crashed", now + 1, now)
            .await
            .unwrap());
        let later = clock::now_ms() + 10;
        while clock::now_ms() < later {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let job = requeued(&d).pop().unwrap();
        assert_eq!(
            d.run(&job, None).await.unwrap(),
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
    }

    #[tokio::test]
    async fn the_breaker_holds_after_n_failures_lets_one_probe_through_and_releases_on_success() {
        let (d, jobs) = setup(
            serde_json::json!({"url": "https://hooks.example.com/in", "breaker_failures": 3}),
            vec![503, 503, 503, 200],
            7,
        )
        .await;
        for job in &jobs[..3] {
            assert_eq!(
                d.run(job, None).await.unwrap(),
                Handled::Attempted(DeliveryState::Retrying, Outcome::ServerError)
            );
        }
        d.queue.drain();
        let id = jobs[0].integration_id.clone();
        let b = d.store.breaker(&id).await.unwrap().expect("written");
        assert_eq!(b.state, BreakerState::Held);
        assert!(
            b.reason.as_deref().unwrap().contains("3 times"),
            "{:?}",
            b.reason
        );

        // Held: the next job waits, nothing is sent, no attempt is recorded.
        assert_eq!(d.run(&jobs[3], None).await.unwrap(), Handled::Held);
        assert_eq!(d.transport.sent.load(Ordering::SeqCst), 3);
        assert_eq!(d.store.all_attempts().len(), 3);
        let waiting = requeued(&d);
        assert_eq!(waiting[0].attempt, 1, "waiting burns no attempt");

        // The hold ends: of two jobs at once only one probes.
        let mut over = d.store.breaker(&id).await.unwrap().unwrap();
        over.held_until = Some(clock::now_ms() - 1);
        assert!(d.store.put_breaker(&over).await.unwrap());
        let (a, b) = tokio::join!(d.run(&jobs[4], None), d.run(&jobs[5], None));
        let mut results = [a.unwrap(), b.unwrap()];
        results.sort_by_key(|h| format!("{h:?}"));
        assert_eq!(
            results,
            [
                Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered),
                Handled::Held
            ]
        );
        assert_eq!(d.transport.sent.load(Ordering::SeqCst), 4, "one probe");
        let b = d.store.breaker(&id).await.unwrap().unwrap();
        assert_eq!(
            b.state,
            BreakerState::Closed,
            "released by the probe's success"
        );
        assert_eq!(
            d.run(&jobs[6], None).await.unwrap(),
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
    }

    #[tokio::test]
    async fn a_held_job_leaves_a_note_on_its_delivery_and_the_next_attempt_clears_it() {
        let (d, jobs) = setup(
            serde_json::json!({"url": "https://hooks.example.com/in", "breaker_failures": 1}),
            vec![503, 200],
            1,
        )
        .await;
        let job = &jobs[0];
        let delivery = || async {
            d.store
                .delivery(&job.registration_id, &job.integration_id)
                .await
                .unwrap()
                .unwrap()
        };
        assert_eq!(
            d.run(job, None).await.unwrap(),
            Handled::Attempted(DeliveryState::Retrying, Outcome::ServerError)
        );
        let retry = requeued(&d).pop().unwrap();
        assert_eq!(retry.attempt, 2);
        assert_eq!(delivery().await.waiting, None);

        // Held: the retry goes back to the queue, and the delivery says why and until when.
        assert_eq!(d.run(&retry, None).await.unwrap(), Handled::Held);
        let b = d.store.breaker(&job.integration_id).await.unwrap().unwrap();
        let waiting = requeued(&d);
        let held = delivery().await;
        let note = held.waiting.clone().expect("a note on the delivery");
        assert_eq!(note.kind, WaitKind::Held);
        assert!(note.until >= b.held_until.unwrap(), "{note:?} vs {b:?}");
        assert!(
            note.note.starts_with("Waiting, not failed"),
            "{}",
            note.note
        );
        assert!(
            note.note.contains(&clock::rfc3339(note.until)),
            "{}",
            note.note
        );
        assert!(
            note.note.contains("does not use up any of its retries"),
            "{}",
            note.note
        );
        assert_eq!(
            (held.state, held.attempts),
            (DeliveryState::Retrying, 1),
            "the note moves nothing else"
        );
        assert_eq!(waiting[0].attempt, 2, "no attempt used");

        // A note that cannot be written does not fail the job: it is queued all the same.
        d.store.fail("note_waiting");
        assert_eq!(d.run(&waiting[0], None).await.unwrap(), Handled::Held);
        let again = requeued(&d);
        assert_eq!(again.len(), 1);
        d.store.heal("note_waiting");

        // The hold ends; the probe's attempt is recorded and the note goes.
        let mut over = b;
        over.held_until = Some(clock::now_ms() - 1);
        assert!(d.store.put_breaker(&over).await.unwrap());
        assert_eq!(
            d.run(&again[0], None).await.unwrap(),
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
        let done = delivery().await;
        assert_eq!((done.state, done.attempts), (DeliveryState::Delivered, 2));
        assert_eq!(done.waiting, None, "cleared by the attempt");

        // An ended delivery takes no note, even from a stale job.
        assert!(!d
            .store
            .note_waiting(&job.registration_id, &job.integration_id, 3, &note)
            .await
            .unwrap());
        assert_eq!(delivery().await.waiting, None);
    }

    #[tokio::test]
    async fn a_failed_probe_holds_again_for_longer() {
        let (d, jobs) = setup(
            serde_json::json!({"url": "https://hooks.example.com/in", "breaker_failures": 1}),
            vec![503],
            2,
        )
        .await;
        d.run(&jobs[0], None).await.unwrap();
        let id = jobs[0].integration_id.clone();
        let mut over = d.store.breaker(&id).await.unwrap().unwrap();
        let first_hold = over.held_until.unwrap() - over.held_since.unwrap();
        over.held_until = Some(clock::now_ms() - 1);
        assert!(d.store.put_breaker(&over).await.unwrap());
        let probe_at = clock::now_ms();
        d.run(&jobs[1], None).await.unwrap();
        let b = d.store.breaker(&id).await.unwrap().unwrap();
        assert_eq!(b.state, BreakerState::Held);
        assert_eq!(b.holds, 2);
        assert!(b.held_until.unwrap() >= probe_at + 2 * first_hold);
    }
}
