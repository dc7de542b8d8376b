//! Resuming a paused integration: its parked deliveries are re-queued in chunks, through
//! the queue, by the deliver function.
//!
//! Updating a paused integration writes it active and queues one [`DrainJob`]; it does
//! no more, so the admin call returns at once whatever the backlog. Each drain job takes
//! one chunk of the parked deliveries (the `gsi2` index, in order of registration id,
//! after the previous chunk's last one), queues their delivery jobs (SQS batches of ten),
//! moves them to `pending`, and queues the drain job for the next chunk. Every step is
//! idempotent, and nothing is acknowledged before all of them are done: when one fails,
//! the drain message goes back to the queue and, delivered again, repeats its chunk from
//! where the index stands. A delivery that gets two jobs that way is still sent once (its
//! attempt is claimed once).
//!
//! A drain stops when the integration is paused again (the next resume starts a new one)
//! or is gone. A delivery parked behind the drain's position after it passed (a job that
//! read the integration paused just before the resume) is re-queued by the job itself,
//! which reads the integration again after parking.

use super::DeliverError;
use crate::model::{
    DeliverJob, DeliveryState, DrainJob, Integration, IntegrationStatus, Task, Trigger,
};
use crate::queue::{QueueError, TaskQueue};
use crate::store::Store;
use futures::{StreamExt, TryStreamExt};
use std::time::{Duration, Instant};

/// How many parked deliveries one drain job re-queues.
pub const DRAIN_CHUNK: usize = 100;

/// How many storage calls of a chunk run at once.
const PARALLEL: usize = 16;

/// The time a chunk needs, at most: a drain job with less left in the invocation waits
/// for the next one.
const CHUNK_BUDGET: Duration = Duration::from_secs(10);

/// What one drain job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// It re-queued this many deliveries and queued the drain job for the next chunk.
    Continued(usize),
    /// It re-queued this many deliveries, the last ones.
    Finished(usize),
    /// The integration is paused again, or gone: nothing was re-queued.
    Stopped,
}

/// The first drain job of a resume: queues it for `integration` as just written.
pub async fn start<Q: TaskQueue>(queue: &Q, integration: &Integration) -> Result<(), QueueError> {
    let job = DrainJob {
        account_id: integration.account_id.clone(),
        integration_id: integration.id.clone(),
        version: integration.version,
        after: None,
        chunk: 0,
    };
    queue
        .send_all(&[(Task::DrainV1(job), Duration::ZERO)])
        .await
}

/// Runs one drain job: re-queues one chunk of the deliveries parked on the integration
/// and queues the next drain job. An error means the message must come back.
pub async fn drain<S: Store, Q: TaskQueue>(
    store: &S,
    queue: &Q,
    job: &DrainJob,
    deadline: Option<Instant>,
) -> Result<Drained, DeliverError> {
    if deadline.is_some_and(|d| Instant::now() + CHUNK_BUDGET > d) {
        return Err(DeliverError::NoTime);
    }
    let Some(integration) = store
        .integration(&job.account_id, &job.integration_id)
        .await?
    else {
        tracing::warn!(integration_id = %job.integration_id, "drain stopped: the integration is gone");
        return Ok(Drained::Stopped);
    };
    if integration.version < job.version {
        // Older than the resume that queued this job: a stale read, try again later.
        return Err(DeliverError::Stale(job.version));
    }
    if let IntegrationStatus::Paused { .. } = integration.status {
        tracing::info!(integration_id = %job.integration_id, chunk = job.chunk, "drain stopped: the integration is paused again");
        return Ok(Drained::Stopped);
    }
    let parked = store
        .paused_deliveries(&job.integration_id, job.after.as_ref(), DRAIN_CHUNK)
        .await?;
    // The index is eventually consistent: only deliveries still parked get a job.
    let deliveries: Vec<_> = futures::stream::iter(parked.iter())
        .map(|(registration, integration)| store.delivery(registration, integration))
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    let parked_now: Vec<_> = deliveries
        .into_iter()
        .flatten()
        .filter(|d| d.state == DeliveryState::Paused)
        .collect();
    let jobs: Vec<(Task, Duration)> = parked_now
        .iter()
        .map(|d| {
            let job = DeliverJob {
                account_id: integration.account_id.clone(),
                registration_id: d.registration_id.clone(),
                integration_id: d.integration_id.clone(),
                attempt: d.attempts + 1,
                not_before: None,
                trigger: Trigger::Resumed,
            };
            (Task::DeliverV1(job), Duration::ZERO)
        })
        .collect();
    queue.send_all(&jobs).await?;
    futures::stream::iter(parked_now.iter())
        .map(|d| {
            store.unpause_delivery(
                &d.registration_id,
                &d.integration_id,
                DeliveryState::Pending,
            )
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    let queued = parked_now.len();
    match parked.last() {
        Some((last, _)) if parked.len() == DRAIN_CHUNK => {
            let next = DrainJob {
                after: Some(last.clone()),
                chunk: job.chunk + 1,
                ..job.clone()
            };
            queue
                .send_all(&[(Task::DrainV1(next), Duration::ZERO)])
                .await?;
            tracing::info!(integration_id = %job.integration_id, chunk = job.chunk, queued, "drain chunk re-queued");
            Ok(Drained::Continued(queued))
        }
        _ => {
            tracing::info!(integration_id = %job.integration_id, chunk = job.chunk, queued, "drain finished");
            Ok(Drained::Finished(queued))
        }
    }
}

impl<S: Store, Q: TaskQueue, T: crate::exchange::Transport, V: crate::vault::Vault>
    super::Deliverer<S, Q, T, V>
{
    /// Runs one drain job ([`drain`]) with this deliverer's storage and queue.
    pub async fn drain(
        &self,
        job: &DrainJob,
        deadline: Option<Instant>,
    ) -> Result<Drained, DeliverError> {
        drain(&self.store, &self.queue, job, deadline).await
    }
}
