//! The reconciler: a safety net that re-queues deliveries nothing will pick up.
//!
//! A registration is written before its jobs are queued. Without an `Idempotency-Key`, a
//! crash between the two (or a failed clean-up after a queue failure) leaves `pending`
//! deliveries with no job; a lost retry job or a dead-lettered message leaves `retrying`
//! ones; a resume drain that stopped half way leaves `paused` ones on an active
//! integration. Every waiting delivery is in the sparse waiting index (`gsi3`) by due
//! time, so a scheduled run finds the overdue ones with Queries only, never a scan.
//!
//! Overdue means due more than [`ReconcileConfig::slack`] ago: longer than a queued job
//! can legitimately take to arrive (the queue's visibility timeout plus the deliver
//! function's timeout), so a job that is merely queued is rarely re-queued. When it is,
//! nothing is sent twice: deliver claims each attempt number once (a conditional write),
//! and the second job finds the attempt claimed or done.
//!
//! Each run handles at most [`ReconcileConfig::page`] deliveries, oldest first. Before
//! queueing, it moves the delivery's due time to now (a conditional write on the index
//! entry it read): that is its claim against a concurrent run, and it moves the delivery
//! out of the overdue range, so the next run goes on with the next ones.

use crate::ids::IntegrationId;
use crate::model::{DeliverJob, DeliveryState, IntegrationStatus, Task, Trigger};
use crate::queue::{QueueError, TaskQueue};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// How the reconciler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// How long past its due time a delivery must be before it counts as stranded.
    pub slack: Duration,
    /// At most this many deliveries per run.
    pub page: usize,
    /// A delivery on a still-paused integration is looked at again after this long.
    pub paused_recheck: Duration,
}

impl Default for ReconcileConfig {
    /// 15 minutes of slack (the queue's 6-minute visibility timeout plus the deliver
    /// function's 1 minute, with room), 200 per run, paused ones rechecked hourly.
    fn default() -> Self {
        ReconcileConfig {
            slack: Duration::from_secs(900),
            page: 200,
            paused_recheck: Duration::from_secs(3600),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Overdue deliveries read from the index.
    pub examined: usize,
    /// Jobs queued again (pending, retrying, or paused on an integration active again).
    pub requeued: usize,
    /// Paused deliveries whose integration is still paused: looked at again later.
    pub still_paused: usize,
    /// Entries that had moved on (ended, changed, or taken by another run): left alone.
    pub moved_on: usize,
    /// True when the run stopped at its page limit: more may be overdue.
    pub more: bool,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed; the deliveries claimed in this run are overdue again after the
    /// slack, and the next run tries them again.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Runs once at `now_ms`: finds overdue waiting deliveries and queues their next job.
pub async fn reconcile<S: Store, Q: TaskQueue>(
    store: &S,
    queue: &Q,
    config: &ReconcileConfig,
    now_ms: u64,
) -> Result<Reconciled, ReconcileError> {
    let cutoff = now_ms.saturating_sub(config.slack.as_millis() as u64);
    let overdue = store.overdue_deliveries(cutoff, config.page).await?;
    let mut done = Reconciled {
        examined: overdue.len(),
        more: overdue.len() >= config.page,
        ..Reconciled::default()
    };
    let mut active: HashMap<IntegrationId, Option<bool>> = HashMap::new();
    let mut jobs = Vec::new();
    for waiting in overdue {
        let delivery = store
            .delivery(&waiting.registration_id, &waiting.integration_id)
            .await?;
        let registration = store.registration(&waiting.registration_id).await?;
        let (Some(delivery), Some(registration)) = (delivery, registration) else {
            done.moved_on += 1;
            continue;
        };
        if delivery.state.is_terminal() {
            // The index lags the table by a moment; the entry is gone by the next run.
            done.moved_on += 1;
            continue;
        }
        if delivery.state == DeliveryState::Paused {
            let integration_active = match active.get(&delivery.integration_id) {
                Some(known) => *known,
                None => {
                    let known = store
                        .integration(&registration.account_id, &delivery.integration_id)
                        .await?
                        .map(|i| i.status == IntegrationStatus::Active);
                    active.insert(delivery.integration_id.clone(), known);
                    known
                }
            };
            // A removed integration (None) is queued too: deliver records why it ended.
            if integration_active == Some(false) {
                let later = now_ms + config.paused_recheck.as_millis() as u64;
                if store.reschedule_waiting(&waiting, later).await? {
                    done.still_paused += 1;
                } else {
                    done.moved_on += 1;
                }
                continue;
            }
        }
        if !store.reschedule_waiting(&waiting, now_ms).await? {
            done.moved_on += 1;
            continue;
        }
        if delivery.state == DeliveryState::Paused {
            store
                .unpause_delivery(
                    &delivery.registration_id,
                    &delivery.integration_id,
                    DeliveryState::Pending,
                )
                .await?;
        }
        jobs.push((
            Task::DeliverV1(DeliverJob {
                account_id: registration.account_id.clone(),
                registration_id: delivery.registration_id.clone(),
                integration_id: delivery.integration_id.clone(),
                attempt: delivery.attempts + 1,
                not_before: None,
                trigger: Trigger::Automatic,
            }),
            Duration::ZERO,
        ));
    }
    if !jobs.is_empty() {
        queue.send_all(&jobs).await?;
    }
    done.requeued = jobs.len();
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, CampaignId, RegistrationId};
    use crate::ingest::pending_deliveries;
    use crate::model::{Attached, Campaign, Integration, Registration};
    use crate::queue::memory::MemoryQueue;
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, RegistrationStore};
    use leadrelay_explain::provider::Provider;

    const NOW: u64 = 10_000_000_000;
    const SLACK: u64 = 900_000;

    async fn stranded(store: &MemoryStore, received_at: u64) -> Registration {
        let account = AccountId::generate();
        let integration = IntegrationId::generate();
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: account.clone(),
            name: "Quiz".into(),
            integrations: vec![Attached {
                id: integration,
                provider: Provider::Webhook,
            }],
            retention_days: 30,
            created_at: 0,
        };
        let registration = Registration {
            id: RegistrationId::generate(),
            account_id: account,
            campaign_id: campaign.id.clone(),
            received_at,
            integration_ids: campaign.integrations.iter().map(|a| a.id.clone()).collect(),
            expires_at: u64::MAX / 2,
            data: Default::default(),
            erased_at: None,
        };
        let deliveries = pending_deliveries(&campaign, &registration);
        store
            .create_registration(&registration, &deliveries)
            .await
            .unwrap();
        registration
    }

    fn jobs(queue: &MemoryQueue) -> Vec<DeliverJob> {
        queue
            .drain()
            .into_iter()
            .filter_map(|(t, _)| t.as_deliver().cloned())
            .collect()
    }

    #[tokio::test]
    async fn an_overdue_pending_delivery_is_queued_once_and_a_fresh_one_not_at_all() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let old = stranded(&store, NOW - SLACK - 1).await;
        let _fresh = stranded(&store, NOW - SLACK + 60_000).await;
        let config = ReconcileConfig::default();

        let first = reconcile(&store, &queue, &config, NOW).await.unwrap();
        let again = reconcile(&store, &queue, &config, NOW).await.unwrap();

        assert_eq!((first.examined, first.requeued), (1, 1));
        assert_eq!((again.examined, again.requeued), (0, 0));
        let queued = jobs(&queue);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].registration_id, old.id);
        assert_eq!(queued[0].attempt, 1);
        assert_eq!(queued[0].account_id, old.account_id);
    }

    #[tokio::test]
    async fn a_run_is_bounded_by_its_page_and_the_next_run_goes_on() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        for i in 0..5 {
            stranded(&store, NOW - SLACK - 10 - i).await;
        }
        let config = ReconcileConfig {
            page: 2,
            ..ReconcileConfig::default()
        };

        let runs: Vec<Reconciled> = futures::future::join_all(
            (0..3).map(|_| async { reconcile(&store, &queue, &config, NOW).await.unwrap() }),
        )
        .await;

        assert_eq!(
            runs.iter().map(|r| r.requeued).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert!(runs[0].more && !runs[2].more);
        let mut ids: Vec<RegistrationId> = jobs(&queue)
            .into_iter()
            .map(|j| j.registration_id)
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }

    #[tokio::test]
    async fn paused_deliveries_wait_while_their_integration_is_paused_and_go_once_it_is_active() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let r = stranded(&store, NOW - SLACK - 1).await;
        let integration_id = r.integration_ids[0].clone();
        let mut d = store
            .delivery(&r.id, &integration_id)
            .await
            .unwrap()
            .unwrap();
        d.state = DeliveryState::Paused;
        d.attempts = 1;
        store.update_delivery(&d, u64::MAX / 2).await.unwrap();
        let mut integration = Integration {
            id: integration_id.clone(),
            account_id: r.account_id.clone(),
            name: "hook".into(),
            provider: Provider::Webhook,
            settings: Default::default(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            cooldown_until: None,
            created_at: 0,
            updated_at: 0,
        };
        integration.status = IntegrationStatus::Paused {
            since: 0,
            outcome: leadrelay_explain::verdict::Outcome::Unauthorized,
            explanation: String::new(),
            remedy: String::new(),
        };
        store.put_integration(&integration).await.unwrap();
        let config = ReconcileConfig::default();

        let held = reconcile(&store, &queue, &config, NOW).await.unwrap();
        integration.status = IntegrationStatus::Active;
        store.put_integration(&integration).await.unwrap();
        let too_soon = reconcile(&store, &queue, &config, NOW + 60_000)
            .await
            .unwrap();
        let later = NOW + config.paused_recheck.as_millis() as u64 + SLACK + 1;
        let resumed = reconcile(&store, &queue, &config, later).await.unwrap();

        assert_eq!((held.still_paused, held.requeued), (1, 0));
        assert_eq!(too_soon.examined, 0);
        assert_eq!(resumed.requeued, 1);
        let queued = jobs(&queue);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].attempt, 2);
        let now = store
            .delivery(&r.id, &integration_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.state, DeliveryState::Pending);
    }

    #[tokio::test]
    async fn ended_deliveries_are_not_waiting() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let r = stranded(&store, NOW - SLACK - 1).await;
        let mut d = store
            .delivery(&r.id, &r.integration_ids[0])
            .await
            .unwrap()
            .unwrap();
        d.state = DeliveryState::Delivered;
        d.attempts = 1;
        store.update_delivery(&d, u64::MAX / 2).await.unwrap();

        let run = reconcile(&store, &queue, &ReconcileConfig::default(), NOW)
            .await
            .unwrap();

        assert_eq!(run.examined, 0);
        assert!(queue.is_empty());
    }
}
