//! Cooldowns and pauses. A rate-limited answer cools the integration down, and its other
//! deliveries wait in the queue until the cooldown ends, with no attempt counted. A
//! refused authorization (or a destination leadrelay will not connect to) pauses the
//! integration, unless it changed since the attempt read it, and its deliveries park
//! until it is resumed ([`super::resume`] drains them then).

use super::{DeliverError, Deliverer, Handled};
use crate::clock;
use crate::exchange::Transport;
use crate::model::{
    Attempt, DeliverJob, DeliveryState, Integration, IntegrationStatus, Registration, Task,
    Trigger, WaitKind, WaitNote,
};
use crate::notices;
use crate::queue::TaskQueue;
use crate::schedule;
use crate::store::Store;
use crate::vault::Vault;
use std::time::Duration;

impl<S: Store, Q: TaskQueue, T: Transport, V: Vault> Deliverer<S, Q, T, V> {
    /// After a rate-limited answer, holds the integration's other deliveries until this
    /// one's retry is due: they would only meet the same limit.
    pub(super) async fn cool(
        &self,
        integration: &Integration,
        attempt: &Attempt,
    ) -> Result<(), DeliverError> {
        let Some(until) = attempt.next_attempt_at else {
            return Ok(());
        };
        if integration.cooldown_until.is_some_and(|t| t >= until) {
            return Ok(());
        }
        if self.store.cool_integration(integration, until).await? {
            tracing::info!(integration_id = %integration.id, wait_ms = until.saturating_sub(clock::now_ms()), "integration cooling down after a rate limit");
        }
        Ok(())
    }

    /// Pauses the integration after an attempt that was refused its credentials (or a
    /// destination leadrelay will not connect to), unless it changed since the attempt.
    pub(super) async fn pause(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        attempt: &Attempt,
    ) -> Result<(), DeliverError> {
        // The pause applies to the integration as this attempt found it, and only
        // while it is still at that version: an attempt that was in flight while
        // the integration was edited, or an old attempt replayed after a resume,
        // must not pause what was changed since.
        let used = attempt.integration_version.unwrap_or(integration.version);
        let paused = Integration {
            status: IntegrationStatus::Paused {
                since: attempt.started_at,
                outcome: attempt.verdict.outcome,
                explanation: attempt.verdict.explanation.clone(),
                remedy: notices::pause_remedy(integration.provider, attempt.verdict.outcome),
            },
            updated_at: clock::now_ms(),
            ..integration.next_version()
        };
        if integration.version == used && self.store.change_integration(&paused).await? {
            tracing::warn!(integration_id = %integration.id, outcome = attempt.verdict.outcome.as_str(), version = paused.version, "integration paused");
        } else {
            // The integration changed since this attempt read it (new settings or
            // credentials, a resume, a pause by another delivery): try again with
            // it as it is now (a job that finds it paused parks).
            tracing::info!(integration_id = %integration.id, attempt_version = used, "pause not applied: the integration changed since the attempt");
            self.resume_one(job, registration, integration, attempt.number + 1)
                .await?;
        }
        Ok(())
    }

    /// Sends a job back to the queue until its integration's cooldown ends, each waiting
    /// delivery at its place in the line, no faster than the integration's concurrency
    /// limit and than the pace at which the line gathered (see [`super::limit::spread_after`]),
    /// so they do not all arrive at the same second. No attempt is made or counted.
    pub(super) async fn wait_for_cooldown(
        &self,
        job: &DeliverJob,
        integration: &Integration,
        until: u64,
        now: u64,
    ) -> Result<Handled, DeliverError> {
        let due = self.after_wait(integration, until).await?;
        let later = DeliverJob {
            not_before: Some(due),
            ..job.clone()
        };
        let delay = schedule::queue_delay(Duration::from_millis(due - now));
        self.queue
            .send_all(&[(Task::DeliverV1(later), delay)])
            .await?;
        tracing::info!(integration_id = %job.integration_id, wait_ms = due - now, "delivery waits for the integration's cooldown");
        let note = WaitNote {
            kind: WaitKind::Cooldown,
            until: due,
            note: notices::cooldown_wait(integration.provider, until, due),
        };
        self.note_wait(job, note).await;
        Ok(Handled::Cooling)
    }

    /// Parks a delivery on a paused integration (no attempt is made or counted).
    pub(super) async fn park(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
    ) -> Result<Handled, DeliverError> {
        let current = self
            .store
            .delivery(&registration.id, &integration.id)
            .await?;
        let mut delivery = current.unwrap_or_else(|| {
            self.delivery(
                registration,
                integration,
                DeliveryState::Pending,
                0,
                None,
                None,
            )
        });
        delivery.state = DeliveryState::Paused;
        delivery.attempts = delivery.attempts.max(job.attempt.saturating_sub(1));
        delivery.next_attempt_at = None;
        // The pause says why it waits now.
        delivery.waiting = None;
        delivery.updated_at = clock::now_ms();
        self.store
            .update_delivery(&delivery, registration.expires_at)
            .await?;
        // Resumed between our read and our write? Then nobody will drain this one.
        let fresh = self
            .store
            .integration(&integration.account_id, &integration.id)
            .await?;
        if let Some(fresh) = fresh {
            if fresh.status == IntegrationStatus::Active {
                self.resume_one(job, registration, &fresh, job.attempt)
                    .await?;
            }
        }
        Ok(Handled::Parked)
    }

    pub(super) async fn resume_one(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        attempt: u32,
    ) -> Result<(), DeliverError> {
        self.store
            .unpause_delivery(&registration.id, &integration.id, DeliveryState::Pending)
            .await?;
        let next = DeliverJob {
            attempt,
            not_before: None,
            trigger: Trigger::Resumed,
            ..job.clone()
        };
        self.queue
            .send_all(&[(Task::DeliverV1(next), Duration::ZERO)])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{another, setup, Scripted};
    use super::super::Prepared;
    use super::*;
    use crate::model::Delivery;
    use crate::queue::memory::MemoryQueue;
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, RegistrationStore};
    use crate::vault::InsecureTestVault;
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::Outcome;

    #[tokio::test]
    async fn a_rate_limit_holds_the_integrations_other_deliveries_until_its_retry() {
        let (d, job) = setup(vec![429, 200, 200], "60").await;
        let other = another(&d, &job).await;

        let first = d.run(&job, None).await.unwrap();
        let retry = d.queue.drain();
        let held = d.run(&other, None).await.unwrap();

        assert_eq!(
            first,
            Handled::Attempted(DeliveryState::Retrying, Outcome::RateLimited)
        );
        assert_eq!(held, Handled::Cooling);
        assert_eq!(
            d.transport.urls.lock().unwrap().len(),
            1,
            "the second was not sent"
        );
        let integration = d
            .store
            .integration(&job.account_id, &job.integration_id)
            .await
            .unwrap()
            .unwrap();
        let Task::DeliverV1(next) = &retry[0].0 else {
            panic!("not a delivery job")
        };
        let until = integration.cooldown_until.expect("cooling down");
        assert_eq!(Some(until), next.not_before, "until the first one's retry");
        let waiting = d.queue.drain();
        let Task::DeliverV1(later) = &waiting[0].0 else {
            panic!("not a delivery job")
        };
        assert_eq!(later.attempt, 1, "no attempt is counted while waiting");
        assert_eq!(later.registration_id, other.registration_id);
        let due = later.not_before.unwrap();
        assert!(due >= until && due <= until + 30_000, "{due} vs {until}");
        assert!(d
            .store
            .all_attempts()
            .iter()
            .all(|a| a.registration_id == job.registration_id));

        // Once the cooldown has passed, the job is sent as usual.
        let mut cooled = integration.clone();
        cooled.cooldown_until = Some(clock::now_ms() - 1);
        d.store.put_integration(&cooled).await.unwrap();
        let sent = d.run(&other, None).await.unwrap();
        assert_eq!(
            sent,
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
    }

    #[tokio::test]
    async fn a_job_waiting_for_a_cooldown_notes_it_on_its_delivery_until_its_attempt() {
        let (d, job) = setup(vec![429, 200], "60").await;
        let other = another(&d, &job).await;
        let registration = d
            .store
            .registration(&other.registration_id)
            .await
            .unwrap()
            .unwrap();
        let pending = Delivery {
            registration_id: registration.id.clone(),
            integration_id: other.integration_id.clone(),
            campaign_id: registration.campaign_id.clone(),
            provider: Provider::Webhook,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: registration.received_at,
            updated_at: registration.received_at,
            waiting: None,
        };
        d.store
            .update_delivery(&pending, registration.expires_at)
            .await
            .unwrap();
        let delivery = |job: &DeliverJob| {
            let (r, i) = (job.registration_id.clone(), job.integration_id.clone());
            let store = &d.store;
            async move { store.delivery(&r, &i).await.unwrap().unwrap() }
        };

        d.run(&job, None).await.unwrap();
        d.queue.drain();
        assert_eq!(d.run(&other, None).await.unwrap(), Handled::Cooling);

        let integration = d
            .store
            .integration(&job.account_id, &job.integration_id)
            .await
            .unwrap()
            .unwrap();
        let until = integration.cooldown_until.expect("cooling down");
        let waiting = d.queue.drain();
        let Task::DeliverV1(later) = &waiting[0].0 else {
            panic!("not a delivery job")
        };
        let noted = delivery(&other).await;
        let note = noted.waiting.clone().expect("a note on the delivery");
        assert_eq!(note.kind, WaitKind::Cooldown);
        assert_eq!(
            Some(note.until),
            later.not_before,
            "when the job comes back"
        );
        assert!(note.note.contains(&clock::rfc3339(until)), "{}", note.note);
        assert!(note.note.contains("slow down"), "{}", note.note);
        assert_eq!((noted.state, noted.attempts), (DeliveryState::Pending, 0));

        // The cooldown passes; the attempt is recorded and the note goes.
        let mut cooled = integration.clone();
        cooled.cooldown_until = Some(clock::now_ms() - 1);
        d.store.put_integration(&cooled).await.unwrap();
        assert_eq!(
            d.run(&other, None).await.unwrap(),
            Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
        );
        assert_eq!(delivery(&other).await.waiting, None);

        // An erased delivery takes no note.
        crate::erasure::erase(&d.store, &job.registration_id, clock::now_ms())
            .await
            .unwrap();
        assert!(!d
            .store
            .note_waiting(&job.registration_id, &job.integration_id, 2, &note)
            .await
            .unwrap());
        let erased = delivery(&job).await;
        assert_eq!(
            (erased.state, erased.waiting),
            (DeliveryState::Erased, None)
        );
    }

    /// Races between a pause and an edit.
    mod versions {
        use super::*;

        /// Changes the webhook's URL through management, as a marketer fixing it would.
        async fn edit_url(
            d: &Deliverer<MemoryStore, MemoryQueue, Scripted, InsecureTestVault>,
            job: &DeliverJob,
            url: &str,
        ) {
            let input = crate::manage::integrations::IntegrationInput {
                settings: serde_json::json!({ "url": url }).as_object().cloned(),
                ..Default::default()
            };
            crate::manage::integrations::update_integration(
                &d.store,
                &d.queue,
                &InsecureTestVault,
                crate::egress::EgressPolicy::default(),
                &job.account_id,
                &job.integration_id,
                input,
            )
            .await
            .expect("the edit is made");
        }

        async fn stored(
            d: &Deliverer<MemoryStore, MemoryQueue, Scripted, InsecureTestVault>,
            job: &DeliverJob,
        ) -> Integration {
            d.store
                .integration(&job.account_id, &job.integration_id)
                .await
                .unwrap()
                .unwrap()
        }

        #[tokio::test]
        async fn a_401_in_flight_while_the_url_is_edited_does_not_pause_the_edited_integration() {
            let (d, job) = setup(vec![401, 200], "60").await;
            let Prepared::Claimed(c) = d.prepare(&job, None).await.unwrap() else {
                panic!("the attempt is claimed")
            };

            // The customer fixes the URL while the attempt (to the old one) is in flight.
            edit_url(&d, &job, "https://hooks.example.com/fixed").await;
            let handled = d.attempt(&job, &c).await.unwrap();

            assert_eq!(
                handled,
                Handled::Attempted(DeliveryState::Paused, Outcome::Unauthorized)
            );
            let now = stored(&d, &job).await;
            assert_eq!(now.status, IntegrationStatus::Active, "the edit stands");
            assert_eq!(now.settings["url"], "https://hooks.example.com/fixed");
            // The delivery is tried again, with the fixed URL.
            let next: Vec<DeliverJob> = d
                .queue
                .drain()
                .iter()
                .filter_map(|(t, _)| t.as_deliver().cloned())
                .collect();
            assert_eq!(next.len(), 1);
            assert_eq!(next[0].attempt, 2);
            assert_eq!(
                d.run(&next[0], None).await.unwrap(),
                Handled::Attempted(DeliveryState::Delivered, Outcome::Delivered)
            );
            assert_eq!(
                d.transport.urls.lock().unwrap().last().unwrap(),
                "https://hooks.example.com/fixed"
            );
        }

        #[tokio::test]
        async fn a_replayed_old_401_does_not_re_pause_a_just_resumed_integration() {
            let (d, job) = setup(vec![401, 200], "60").await;
            let first = d.run(&job, None).await.unwrap();
            assert_eq!(
                first,
                Handled::Attempted(DeliveryState::Paused, Outcome::Unauthorized)
            );
            assert!(matches!(
                stored(&d, &job).await.status,
                IntegrationStatus::Paused { .. }
            ));

            edit_url(&d, &job, "https://hooks.example.com/fixed").await;
            assert_eq!(stored(&d, &job).await.status, IntegrationStatus::Active);
            // The first job's message comes again (its acknowledgement was lost).
            let replayed = d.run(&job, None).await.unwrap();

            assert_eq!(replayed, Handled::AlreadyDone);
            assert_eq!(
                stored(&d, &job).await.status,
                IntegrationStatus::Active,
                "the replayed 401 does not pause the resumed integration"
            );
            assert_eq!(d.transport.urls.lock().unwrap().len(), 1, "no second send");
        }

        #[tokio::test]
        async fn an_edit_against_an_old_version_is_a_conflict_not_an_overwrite() {
            let (d, job) = setup(vec![], "60").await;
            let read = stored(&d, &job).await;
            let edit = |name: &str| crate::manage::integrations::IntegrationInput {
                name: Some(name.into()),
                version: Some(read.version),
                ..Default::default()
            };
            let update = |input| {
                crate::manage::integrations::update_integration(
                    &d.store,
                    &d.queue,
                    &InsecureTestVault,
                    crate::egress::EgressPolicy::default(),
                    &job.account_id,
                    &job.integration_id,
                    input,
                )
            };

            let won = update(edit("first")).await.unwrap();
            let lost = update(edit("second")).await.unwrap_err();

            assert_eq!(won.integration.version, read.version + 1);
            assert!(
                matches!(lost, crate::manage::ManageError::Conflict(_)),
                "{lost:?}"
            );
            assert_eq!(stored(&d, &job).await.name, "first");
            // And the store itself refuses a write made from an old version.
            let mut stale = read.next_version();
            stale.name = "stale".into();
            assert!(!d.store.change_integration(&stale).await.unwrap());
            assert_eq!(stored(&d, &job).await.name, "first");
        }
    }

    #[tokio::test]
    async fn a_cooldown_gives_way_to_a_concurrent_change_of_the_integration() {
        let (d, job) = setup(vec![429], "60").await;
        let read = d
            .store
            .integration(&job.account_id, &job.integration_id)
            .await
            .unwrap()
            .unwrap();
        let mut changed = read.next_version();
        changed.name = "renamed".into();
        assert!(d.store.change_integration(&changed).await.unwrap());

        assert!(!d
            .store
            .cool_integration(&read, clock::now_ms() + 60_000)
            .await
            .unwrap());
        assert!(d
            .store
            .cool_integration(&changed, clock::now_ms() + 60_000)
            .await
            .unwrap());
    }
}
