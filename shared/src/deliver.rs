//! Delivering one job: load, claim the attempt, check, send, judge, record, schedule.
//!
//! # Steps and what a crash at each one leads to
//!
//! 1. A job due later than now hops through the queue again (SQS delays stop at 15 min).
//! 2. Load the registration and the integration; a paused integration parks the delivery.
//! 3. Open the credentials, then claim attempt *n* (insert-once, with a lease) just
//!    before building and sending it: a claim without a result means "may have been
//!    sent". A job whose attempt already ended only re-applies that attempt's
//!    consequences (delivery state, the next job), so a redelivered message never sends
//!    twice; one whose attempt is held by a live lease is handed back to the queue; one
//!    that takes over an expired claim does not send again blindly (step 5). After the
//!    claim the registration is read again: one erased meanwhile is not sent.
//! 4. Build the request; a condition that excludes the registration, pre-flight checks
//!    that refuse bad data, a sequence longer than [`semantics::MAX_REQUESTS_PER_ATTEMPT`],
//!    and an older registration of a person whose newer one was delivered to the same
//!    integration already (`superseded`) are recorded as `not_sent` attempts.
//! 5. Send, classify the answer with the engine. An attempt taken over from an expired
//!    claim is recorded as *outcome unknown* instead, and sent again (as the next
//!    attempt) only where the provider's call is an upsert ([`semantics`]). The requests of
//!    one attempt share one deadline. A provider that needs more than one
//!    request per delivery (`Built::Send::then`) gets them in order within the attempt,
//!    each only after a success, and each completed just before it goes out from the
//!    answers before it where it needs one of their values ([`FollowUp::resolve`]: a
//!    contact id, an OAuth access token). The attempt reports the last one sent (the one
//!    that failed, if one did) and lists the ones before it in `preceding`; an answer
//!    that held a secret is never kept.
//! 6. Record the attempt, then move the delivery, then queue attempt *n+1* if the verdict
//!    is retryable and the schedule allows. Each step is idempotent, and a crash between
//!    them is repaired by step 3 of the redelivered job.
//!
//! Authentication failures (and destinations leadrelay will not connect to) pause the
//! integration instead of burning retries; updating it resumes the parked deliveries.
//!
//! A queue batch is run by [`Deliverer::run_all`]: jobs for a batch-mode webhook take
//! steps 1 to 4 and 6 each on their own and share step 5, one request for all of them.
//!
//! This file holds the pipeline (steps 1 to 6); step 5's requests are sent by `send`,
//! cooldowns and pauses are in `pause`, batches in `batch`, the concurrency limit and
//! the breaker's hold in `guard`, and [`test_send()`] tries an integration storing nothing.

use crate::clock;
use crate::destination::{self, Built, FollowUp, SendContext};
use crate::exchange::{Credentials, OutgoingRequest, Transport};
use crate::model::{
    Attempt, DeliverJob, Delivery, DeliveryState, Integration, IntegrationStatus, LastAttempt,
    Registration, Task, Trigger,
};
use crate::notices;
use crate::queue::{QueueError, TaskQueue};
use crate::schedule::{self, RetrySchedule};
use crate::store::{AttemptClaim, Recorded, Store, StoreError};
use crate::vault::{Vault, VaultError};
use leadrelay_explain::preflight;
use leadrelay_explain::verdict::{Outcome, Verdict};
use send::{send_sequence, Sent};
use std::time::{Duration, Instant};

mod batch;
pub mod breaker;
#[cfg(test)]
mod fixtures;
mod guard;
pub mod limit;
mod pause;
pub mod resume;
pub mod semantics;
mod send;
pub mod test_send;
#[cfg(test)]
mod windows;

/// How one delivery job is run.
#[derive(Debug, Clone)]
pub struct DeliverConfig {
    /// The retry schedule.
    pub schedule: RetrySchedule,
    /// The longest one attempt may take (connect, send, read), all its requests
    /// together.
    pub attempt_timeout: Duration,
}

impl Default for DeliverConfig {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            attempt_timeout: Duration::from_secs(15),
        }
    }
}

/// Everything a delivery needs.
#[derive(Debug)]
pub struct Deliverer<S, Q, T, V> {
    /// Storage.
    pub store: S,
    /// The queue for follow-up jobs.
    pub queue: Q,
    /// The outgoing HTTP client.
    pub transport: T,
    /// Opens credentials.
    pub vault: V,
    /// Schedule and limits.
    pub config: DeliverConfig,
}

/// What a job came to (all of these mean: the message is done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// An attempt was made or refused, and recorded; the delivery moved to this state.
    Attempted(DeliveryState, Outcome),
    /// A condition of the integration excluded the registration.
    Skipped,
    /// The integration is paused; the delivery waits for it.
    Parked,
    /// The job was not due yet and went back to the queue.
    Rescheduled,
    /// The integration's provider asked to slow down: the job went back to the queue
    /// until the cooldown ends, with no attempt made or counted.
    Cooling,
    /// The integration is held by its circuit breaker: the job went back to the queue
    /// until the hold ends, with no attempt made or counted.
    Held,
    /// Every concurrency slot of the integration was taken: the job went back to the
    /// queue for a moment, with no attempt made or counted.
    WaitingForSlot,
    /// Another worker holds the attempt's claim: the job went back to the queue until
    /// that worker's lease ends, with nothing sent.
    WaitingForHolder,
    /// The attempt had already ended (a redelivered message); its consequences were
    /// re-applied.
    AlreadyDone,
    /// The registration is gone (expired or erased): nothing to deliver.
    Gone,
}

/// Why a job must go back to the queue (listed as a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The credentials could not be opened.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Another worker holds this attempt.
    #[error("attempt {0} is held by another worker")]
    Busy(u32),
    /// Not enough time is left in this invocation to make the attempt.
    #[error("not enough time left in this invocation")]
    NoTime,
    /// Running the job panicked (caught, so that the other jobs of a batch go on).
    #[error("the job panicked")]
    Panicked,
    /// The integration read is older than the version the job was queued for (a stale
    /// read): the job comes back later.
    #[error("the integration read is older than version {0}")]
    Stale(u64),
}

/// Whether an attempt's consequences are applied right after it ended, or again for a
/// redelivered job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Right after the attempt this worker made.
    Fresh,
    /// For an attempt that had ended before this job arrived.
    Replay,
}

/// How a job stood after steps 1 to 3.
enum Prepared {
    /// It ended before an attempt was claimed (or its attempt had already ended).
    Finished(Handled),
    /// Attempt *n* is claimed: build, check and send it.
    Claimed(Box<Claimed>),
}

/// What a claimed attempt is made with.
struct Claimed {
    registration: Registration,
    integration: Integration,
    credentials: Credentials,
    /// An earlier holder's claim expired without a result: its send may have happened.
    taken_over: bool,
    /// When the invocation ends, if it does.
    deadline: Option<Instant>,
    /// When the claim's lease ends (another worker may take the attempt over after it).
    lease_ends: Instant,
    /// The concurrency slot and probe it holds while it sends.
    guard: guard::Guard,
}

/// A request built and checked, ready to send.
struct Checked {
    request: OutgoingRequest,
    data: serde_json::Map<String, serde_json::Value>,
    then: Vec<FollowUp>,
}

/// Writes of an attempt's record tried when the table is throttled or unavailable and
/// nothing was sent (a refusal, an outcome unknown): giving up costs only a retry.
const RECORD_TRIES: u32 = 4;
/// The wait before the second write; it doubles before each further one (0.25 + 0.5 +
/// 1 s in all, inside `RECORD_MARGIN`), up to `RECORD_RETRY_WAIT_MAX`.
const RECORD_RETRY_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between two writes of a record.
const RECORD_RETRY_WAIT_MAX: Duration = Duration::from_secs(2);
/// The record of an attempt that was sent is tried again until this long before its
/// claim's lease ends (after it, another worker may take the attempt over) or shortly
/// before the invocation does: giving up there turns a sent attempt into "outcome
/// unknown".
const RECORD_BEFORE_LEASE_END: Duration = Duration::from_secs(5);
/// What an invocation keeps after the last write of a record (returning the batch).
const RECORD_BEFORE_INVOCATION_END: Duration = Duration::from_millis(500);

/// May a record that failed `tries` times be written again after `wait`?
fn record_again(tries: u32, wait: Duration, until: Option<Instant>) -> bool {
    match until {
        Some(until) => Instant::now() + wait < until,
        None => tries < RECORD_TRIES,
    }
}

impl Claimed {
    /// Until when the record of this attempt, once sent, may be tried again.
    fn record_until(&self) -> Instant {
        let lease = self
            .lease_ends
            .checked_sub(RECORD_BEFORE_LEASE_END)
            .unwrap_or_else(Instant::now);
        match self
            .deadline
            .and_then(|d| d.checked_sub(RECORD_BEFORE_INVOCATION_END))
        {
            Some(invocation) => lease.min(invocation),
            None => lease,
        }
    }
}

/// A lease outlives the attempt by this much, so a slow write after the send does not
/// let a second worker in.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

impl<S: Store, Q: TaskQueue, T: Transport, V: Vault> Deliverer<S, Q, T, V> {
    /// Runs one job. `deadline` is when the invocation ends, if it does.
    pub async fn run(
        &self,
        job: &DeliverJob,
        deadline: Option<Instant>,
    ) -> Result<Handled, DeliverError> {
        match self.prepare(job, deadline).await? {
            Prepared::Finished(handled) => Ok(handled),
            // A batch-mode webhook gets an array even when a job comes alone.
            Prepared::Claimed(mut c)
                if destination::webhook::batch_size(&c.integration).is_some() =>
            {
                let guard = std::mem::take(&mut c.guard);
                let integration = c.integration.clone();
                let mut results = self.send_claimed(vec![(job, c)]).await;
                let result = results.pop().expect("send_claimed answers once per job");
                self.leave(&integration, guard, attempted(&result)).await;
                result
            }
            Prepared::Claimed(mut c) => {
                let guard = std::mem::take(&mut c.guard);
                let result = self.attempt(job, &c).await;
                self.leave(&c.integration, guard, attempted(&result)).await;
                result
            }
        }
    }

    /// Steps 1 to 3: everything up to a claimed attempt, or how the job ended before it.
    async fn prepare(
        &self,
        job: &DeliverJob,
        deadline: Option<Instant>,
    ) -> Result<Prepared, DeliverError> {
        let now = clock::now_ms();
        if let Some(due) = job.not_before {
            // Queue delays are whole seconds, rounded up; anything still early hops again.
            if due > now + 50 {
                let delay = schedule::queue_delay(Duration::from_millis(due - now));
                self.queue
                    .send_all(&[(Task::DeliverV1(job.clone()), delay)])
                    .await?;
                return Ok(Prepared::Finished(Handled::Rescheduled));
            }
        }
        let Some(registration) = self.store.registration(&job.registration_id).await? else {
            return Ok(Prepared::Finished(Handled::Gone));
        };
        if registration.account_id != job.account_id {
            tracing::error!(registration_id = %job.registration_id, "job names another account");
            return Ok(Prepared::Finished(Handled::Gone));
        }
        if let Some(erased_at) = registration.erased_at {
            // Erasure stops waiting deliveries itself; this finishes one it did not reach.
            let delivery = self
                .store
                .delivery(&job.registration_id, &job.integration_id)
                .await?;
            if let Some(mut d) = delivery {
                if crate::erasure::stop_delivery(&mut d, erased_at) {
                    self.store
                        .update_delivery(&d, registration.expires_at)
                        .await?;
                }
            }
            return Ok(Prepared::Finished(Handled::Gone));
        }
        let Some(integration) = self
            .store
            .integration(&job.account_id, &job.integration_id)
            .await?
        else {
            let verdict = notices::integration_removed();
            let delivery_state = DeliveryState::Failed;
            return self
                .finish_without_send(job, &registration, None, verdict, delivery_state)
                .await
                .map(Prepared::Finished);
        };
        if let IntegrationStatus::Paused { .. } = integration.status {
            return self
                .park(job, &registration, &integration)
                .await
                .map(Prepared::Finished);
        }
        if let Some(until) = integration.cooldown_until.filter(|t| *t > now + 50) {
            return self
                .wait_for_cooldown(job, &integration, until, now)
                .await
                .map(Prepared::Finished);
        }
        if let Some(deadline) = deadline {
            let needed = semantics::time_needed_to_start(self.config.attempt_timeout);
            if Instant::now() + needed > deadline {
                return self.release_for_lack_of_time(job).await;
            }
        }
        let lease = self.config.attempt_timeout + LEASE_MARGIN;
        let guard = match self.enter(job, &integration, now, lease).await? {
            Ok(guard) => guard,
            Err(handled) => return Ok(Prepared::Finished(handled)),
        };
        let held = integration.clone();
        match self
            .claim(job, registration, integration, now, lease, deadline)
            .await
        {
            Ok(Prepared::Claimed(mut c)) => {
                c.guard = guard;
                Ok(Prepared::Claimed(c))
            }
            other => {
                self.leave(&held, guard, None).await;
                other
            }
        }
    }

    /// Step 3: claims attempt *n*, or finds how it ended.
    async fn claim(
        &self,
        job: &DeliverJob,
        registration: Registration,
        integration: Integration,
        now: u64,
        lease: Duration,
        deadline: Option<Instant>,
    ) -> Result<Prepared, DeliverError> {
        // Before the claim: a claim without a result must mean "may have been sent".
        let credentials = self.vault.open(&integration).await?;
        let lease_until = now + lease.as_millis() as u64;
        // The same instant on the monotonic clock (`now` was read a moment ago).
        let lease_ends = (Instant::now() + lease)
            .checked_sub(Duration::from_millis(clock::now_ms().saturating_sub(now)))
            .unwrap_or_else(Instant::now);
        let taken_over = match self
            .store
            .claim_attempt(
                &registration,
                &job.integration_id,
                job.attempt,
                lease_until,
                now,
            )
            .await?
        {
            AttemptClaim::Claimed => false,
            AttemptClaim::TakenOver => true,
            AttemptClaim::InProgress => return self.wait_for_holder(job, lease, now).await,
            AttemptClaim::Done(attempt) => {
                self.apply(job, &registration, &integration, &attempt, Pass::Replay)
                    .await?;
                return Ok(Prepared::Finished(Handled::AlreadyDone));
            }
        };
        // An erasure that started after the read above either is seen now, or comes
        // after the claim and marks it (so the result is recorded scrubbed).
        match self.store.registration(&job.registration_id).await? {
            Some(r) if r.erased_at.is_none() => {}
            _ => return Ok(Prepared::Finished(Handled::Gone)),
        }
        Ok(Prepared::Claimed(Box::new(Claimed {
            registration,
            integration,
            credentials,
            taken_over,
            deadline,
            lease_ends,
            guard: guard::Guard::default(),
        })))
    }

    /// Another worker holds the attempt (a redelivered or duplicated message; in the
    /// stack, usually a worker that died mid-attempt): the job goes back to the queue as
    /// a new message, due when the holder's lease has surely ended, and this message is
    /// done. Failing the message instead would count a receive against the dead-letter
    /// limit each time it met the lease, and a few crashes in a row would dead-letter a
    /// job that only had to wait. When it comes back it finds the attempt recorded, or
    /// takes the expired claim over (outcome unknown, see `docs/delivery-semantics.md`).
    /// If queueing fails, the message itself comes back (`Busy`).
    async fn wait_for_holder(
        &self,
        job: &DeliverJob,
        lease: Duration,
        now: u64,
    ) -> Result<Prepared, DeliverError> {
        let due = now + lease.as_millis() as u64 + 1000;
        let later = DeliverJob {
            not_before: Some(due),
            ..job.clone()
        };
        let delay = schedule::queue_delay(Duration::from_millis(due - now));
        match self
            .queue
            .send_all(&[(Task::DeliverV1(later), delay)])
            .await
        {
            Ok(()) => {
                tracing::info!(registration_id = %job.registration_id, integration_id = %job.integration_id, attempt = job.attempt, wait_ms = due - now, "attempt held by another worker: job queued again for when its lease ends");
                Ok(Prepared::Finished(Handled::WaitingForHolder))
            }
            Err(_) => Err(DeliverError::Busy(job.attempt)),
        }
    }

    /// Too little of the invocation is left for an attempt: the job goes back to the
    /// queue as a new message, due at once, with no attempt made or counted (and no
    /// receive counted against the dead-letter limit). If that fails, the message
    /// itself comes back.
    async fn release_for_lack_of_time(&self, job: &DeliverJob) -> Result<Prepared, DeliverError> {
        match self
            .queue
            .send_all(&[(Task::DeliverV1(job.clone()), Duration::ZERO)])
            .await
        {
            Ok(()) => {
                tracing::info!(registration_id = %job.registration_id, integration_id = %job.integration_id, "not enough time left for an attempt: job queued again");
                Ok(Prepared::Finished(Handled::Rescheduled))
            }
            Err(_) => Err(DeliverError::NoTime),
        }
    }

    /// The instant the requests of an attempt started now must end by.
    fn attempt_deadline(&self, invocation: Option<Instant>) -> Instant {
        let own = Instant::now() + self.config.attempt_timeout;
        match invocation.and_then(|d| d.checked_sub(semantics::RECORD_MARGIN)) {
            Some(d) => own.min(d),
            None => own,
        }
    }

    async fn attempt(&self, job: &DeliverJob, c: &Claimed) -> Result<Handled, DeliverError> {
        let (registration, integration, credentials) =
            (&c.registration, &c.integration, &c.credentials);
        let started_at = clock::now_ms();
        let cx = SendContext {
            message_id: destination::message_id(registration, integration),
            timestamp: started_at / 1000,
            attempt: job.attempt,
        };
        let Checked {
            request,
            data,
            then,
        } = match self
            .check(
                job,
                registration,
                integration,
                credentials,
                &cx,
                c.taken_over,
            )
            .await?
        {
            Ok(checked) => checked,
            Err(handled) => return Ok(handled),
        };
        if c.taken_over {
            return self
                .record_unknown(job, registration, integration, &cx.message_id, &request)
                .await;
        }
        let deadline = self.attempt_deadline(c.deadline);
        // The attempt's time is its requests', not the checks' before them (a marketer
        // and the receiver's own log must agree on when it was sent).
        let sent_at = clock::now_ms();
        let sent = send_sequence(
            &self.transport,
            integration,
            &request,
            &then,
            &data,
            deadline,
        )
        .await;
        self.record_sent(
            job,
            registration,
            integration,
            sent_at,
            sent,
            c.record_until(),
        )
        .await
    }

    /// Records an attempt taken over from an expired claim as *outcome unknown*, and
    /// applies it: the next attempt resends it where that is safe, otherwise the
    /// delivery fails, explained ([`semantics::repeat_is_safe`]).
    async fn record_unknown(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        message_id: &str,
        request: &OutgoingRequest,
    ) -> Result<Handled, DeliverError> {
        let repeat = semantics::repeat_is_safe(integration);
        let verdict = notices::outcome_unknown(integration.provider, message_id, repeat);
        let (state, next_attempt_at) = self.next_state(job, &verdict, false);
        tracing::warn!(registration_id = %registration.id, integration_id = %integration.id, attempt = job.attempt, resend = repeat, "attempt taken over with no recorded result: outcome unknown");
        let attempt = Attempt {
            registration_id: registration.id.clone(),
            integration_id: integration.id.clone(),
            number: job.attempt,
            trigger: job.trigger,
            started_at: clock::now_ms(),
            duration_ms: 0,
            preceding: Vec::new(),
            request: Some(request.summary()),
            response: None,
            verdict,
            delivery_state: state,
            next_attempt_at,
            integration_version: Some(integration.version),
        };
        if self.record(&attempt, registration, None).await? == Recorded::Erased {
            return Ok(Handled::Gone);
        }
        self.apply(job, registration, integration, &attempt, Pass::Fresh)
            .await?;
        Ok(Handled::Attempted(state, attempt.verdict.outcome))
    }

    /// Writes an ended attempt, scrubbed if the registration was erased meanwhile.
    /// `until`: for an attempt that was sent, how long a throttled or unavailable table
    /// may be tried again; `None`: a few times (`RECORD_TRIES`).
    async fn record(
        &self,
        attempt: &Attempt,
        registration: &Registration,
        until: Option<Instant>,
    ) -> Result<Recorded, DeliverError> {
        // Giving up sends the message back, and after the lease an attempt that was sent
        // could only be taken over as "outcome unknown": so the record of a sent attempt
        // is tried again for as long as the claim and the invocation allow. A write
        // applied whose answer was lost is found recorded.
        let mut wait = RECORD_RETRY_WAIT;
        let mut tries = 1;
        let recorded = loop {
            match crate::erasure::record_attempt(&self.store, attempt, registration).await {
                Err(e) if e.is_retryable() && record_again(tries, wait, until) => {
                    tracing::warn!(registration_id = %registration.id, integration_id = %attempt.integration_id, attempt = attempt.number, tries, error = %e, "attempt record failed for now: trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RECORD_RETRY_WAIT_MAX);
                    tries += 1;
                }
                other => break other?,
            }
        };
        if recorded == Recorded::Erased {
            tracing::info!(registration_id = %registration.id, integration_id = %attempt.integration_id, attempt = attempt.number, "registration erased while the attempt ran: recorded scrubbed");
        }
        Ok(recorded)
    }

    /// Step 4: builds the request and checks it, or records why it is not sent.
    async fn check(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        credentials: &Credentials,
        cx: &SendContext,
        taken_over: bool,
    ) -> Result<Result<Checked, Handled>, DeliverError> {
        let (request, data, then) = match destination::build(
            integration,
            credentials,
            registration,
            cx,
        ) {
            Ok(Built::Send {
                request,
                data,
                then,
            }) => (request, data, then),
            Ok(Built::Skip { reason }) => {
                tracing::info!(registration_id = %registration.id, integration_id = %integration.id, "delivery skipped by condition");
                // Recorded like a refusal before sending, so the log says which
                // condition excluded it (and the claimed attempt is closed).
                let verdict = notices::skipped(integration.provider, &reason);
                self.finish_without_send(
                    job,
                    registration,
                    Some(integration),
                    verdict,
                    DeliveryState::Skipped,
                )
                .await?;
                return Ok(Err(Handled::Skipped));
            }
            Err(e) => {
                let verdict = notices::misconfigured(integration.provider, &e.field, &e.message);
                return self
                    .finish_without_send(
                        job,
                        registration,
                        Some(integration),
                        verdict,
                        DeliveryState::Failed,
                    )
                    .await
                    .map(Err);
            }
        };
        if destination::preflight_enabled(integration) {
            if let Err(verdict) = preflight::preflight(Some(integration.provider), &data) {
                return self
                    .finish_without_send(
                        job,
                        registration,
                        Some(integration),
                        verdict,
                        DeliveryState::Failed,
                    )
                    .await
                    .map(Err);
            }
        }
        if then.len() + 1 > semantics::MAX_REQUESTS_PER_ATTEMPT {
            let field = match integration.provider {
                leadrelay_explain::provider::Provider::Activecampaign => "settings.list_ids",
                _ => "settings",
            };
            let problem = format!(
                "a delivery would take {} requests; at most {} are sent per attempt",
                then.len() + 1,
                semantics::MAX_REQUESTS_PER_ATTEMPT
            );
            let verdict = notices::misconfigured(integration.provider, field, &problem);
            return self
                .finish_without_send(
                    job,
                    registration,
                    Some(integration),
                    verdict,
                    DeliveryState::Failed,
                )
                .await
                .map(Err);
        }
        // An attempt that may have been sent already is judged as such first.
        if !taken_over {
            if let Some(newer) = self.newer_delivered(registration, integration).await? {
                let verdict = notices::superseded(integration.provider, newer);
                return self
                    .finish_without_send(
                        job,
                        registration,
                        Some(integration),
                        verdict,
                        DeliveryState::Superseded,
                    )
                    .await
                    .map(Err);
            }
        }
        Ok(Ok(Checked {
            request,
            data,
            then,
        }))
    }

    /// When a newer registration of the same person was delivered to this integration
    /// already, its receipt time.
    async fn newer_delivered(
        &self,
        registration: &Registration,
        integration: &Integration,
    ) -> Result<Option<u64>, DeliverError> {
        let Some(email) = registration.data.email.as_deref() else {
            return Ok(None);
        };
        let subject = crate::erasure::subject_hash(email);
        let newest = self
            .store
            .delivered_order(&registration.account_id, &subject, &integration.id)
            .await?;
        Ok(newest.filter(|t| *t > registration.received_at))
    }

    /// Steps 5 and 6 after the send: records the attempt and applies its consequences.
    async fn record_sent(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        started_at: u64,
        sent: Sent,
        record_until: Instant,
    ) -> Result<Handled, DeliverError> {
        let Sent {
            verdict,
            request,
            response,
            duration_ms,
            blocked,
            preceding,
        } = sent;
        let (state, next_attempt_at) = self.next_state(job, &verdict, blocked);
        let attempt = Attempt {
            registration_id: registration.id.clone(),
            integration_id: integration.id.clone(),
            number: job.attempt,
            trigger: job.trigger,
            started_at,
            duration_ms,
            preceding,
            request: Some(request),
            response,
            verdict,
            delivery_state: state,
            next_attempt_at,
            integration_version: Some(integration.version),
        };
        if self
            .record(&attempt, registration, Some(record_until))
            .await?
            == Recorded::Erased
        {
            return Ok(Handled::Gone);
        }
        tracing::info!(
            registration_id = %registration.id,
            integration_id = %integration.id,
            provider = %integration.provider,
            attempt = job.attempt,
            step = attempt.preceding.len() + 1,
            status = attempt.verdict.status,
            outcome = attempt.verdict.outcome.as_str(),
            state = state.as_str(),
            duration_ms,
            "attempt recorded"
        );
        self.apply(job, registration, integration, &attempt, Pass::Fresh)
            .await?;
        Ok(Handled::Attempted(state, attempt.verdict.outcome))
    }

    /// The state a verdict moves the delivery to, and when the next attempt is due.
    fn next_state(
        &self,
        job: &DeliverJob,
        verdict: &Verdict,
        blocked: bool,
    ) -> (DeliveryState, Option<u64>) {
        let outcome = verdict.outcome;
        if outcome.is_success() {
            return (DeliveryState::Delivered, None);
        }
        if blocked || matches!(outcome, Outcome::Unauthorized | Outcome::Forbidden) {
            return (DeliveryState::Paused, None);
        }
        if !verdict.retryable {
            return (DeliveryState::Failed, None);
        }
        match self.config.schedule.delay(
            job.attempt,
            verdict.retry_after_s,
            schedule::jitter_unit(),
        ) {
            Some(wait) => (
                DeliveryState::Retrying,
                Some(clock::now_ms() + wait.as_millis() as u64),
            ),
            None => (DeliveryState::Exhausted, None),
        }
    }

    /// Records a verdict that was decided without sending (pre-flight, misconfiguration,
    /// a removed integration), as an attempt.
    async fn finish_without_send(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: Option<&Integration>,
        verdict: Verdict,
        state: DeliveryState,
    ) -> Result<Handled, DeliverError> {
        let outcome = verdict.outcome;
        let attempt = Attempt {
            registration_id: registration.id.clone(),
            integration_id: job.integration_id.clone(),
            number: job.attempt,
            trigger: job.trigger,
            started_at: clock::now_ms(),
            duration_ms: 0,
            preceding: Vec::new(),
            request: None,
            response: None,
            verdict,
            delivery_state: state,
            next_attempt_at: None,
            integration_version: integration.map(|i| i.version),
        };
        if self.record(&attempt, registration, None).await? == Recorded::Erased {
            return Ok(Handled::Gone);
        }
        tracing::info!(
            registration_id = %registration.id,
            integration_id = %job.integration_id,
            attempt = job.attempt,
            outcome = outcome.as_str(),
            "attempt refused before sending"
        );
        match integration {
            Some(integration) => {
                self.apply(job, registration, integration, &attempt, Pass::Fresh)
                    .await?
            }
            None => {
                let mut delivery = self
                    .store
                    .delivery(&registration.id, &job.integration_id)
                    .await?
                    .unwrap_or_else(|| self.orphan_delivery(registration, job));
                delivery.state = state;
                delivery.attempts = job.attempt;
                delivery.last = Some(last_of(&attempt));
                delivery.waiting = None;
                delivery.updated_at = clock::now_ms();
                self.store
                    .update_delivery(&delivery, registration.expires_at)
                    .await?;
            }
        }
        Ok(Handled::Attempted(state, outcome))
    }

    fn orphan_delivery(&self, registration: &Registration, job: &DeliverJob) -> Delivery {
        Delivery {
            registration_id: registration.id.clone(),
            integration_id: job.integration_id.clone(),
            campaign_id: registration.campaign_id.clone(),
            provider: leadrelay_explain::provider::Provider::Webhook,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: registration.received_at,
            updated_at: registration.received_at,
            waiting: None,
        }
    }

    fn delivery(
        &self,
        registration: &Registration,
        integration: &Integration,
        state: DeliveryState,
        attempts: u32,
        next_attempt_at: Option<u64>,
        last: Option<LastAttempt>,
    ) -> Delivery {
        Delivery {
            registration_id: registration.id.clone(),
            integration_id: integration.id.clone(),
            campaign_id: registration.campaign_id.clone(),
            provider: integration.provider,
            state,
            attempts,
            next_attempt_at,
            last,
            received_at: registration.received_at,
            updated_at: clock::now_ms(),
            waiting: None,
        }
    }

    /// Applies an ended attempt's consequences: the delivery's state, a pause, the next
    /// job. Idempotent: a redelivered job calls it again for the same attempt.
    async fn apply(
        &self,
        job: &DeliverJob,
        registration: &Registration,
        integration: &Integration,
        attempt: &Attempt,
        pass: Pass,
    ) -> Result<(), DeliverError> {
        // Just after our own claim no later attempt can have ended by itself; on a replay
        // one may have, and then this attempt's consequences are history. (The delivery
        // write is guarded either way: it never moves a delivery back.)
        if pass == Pass::Replay {
            let current = self
                .store
                .delivery(&registration.id, &integration.id)
                .await?;
            if current
                .as_ref()
                .is_some_and(|d| d.attempts > attempt.number)
            {
                return Ok(());
            }
        }
        let delivery = self.delivery(
            registration,
            integration,
            attempt.delivery_state,
            attempt.number,
            attempt.next_attempt_at,
            Some(last_of(attempt)),
        );
        self.store
            .update_delivery(&delivery, registration.expires_at)
            .await?;
        if attempt.delivery_state == DeliveryState::Delivered {
            self.mark_delivered_order(registration, integration).await?;
        }
        if pass == Pass::Fresh && attempt.verdict.outcome == Outcome::RateLimited {
            self.cool(integration, attempt).await?;
        }
        match attempt.delivery_state {
            DeliveryState::Retrying => {
                let due = attempt.next_attempt_at.unwrap_or_else(clock::now_ms);
                let remaining = Duration::from_millis(due.saturating_sub(clock::now_ms()));
                let next = DeliverJob {
                    attempt: attempt.number + 1,
                    not_before: Some(due),
                    trigger: Trigger::Automatic,
                    ..job.clone()
                };
                self.queue
                    .send_all(&[(Task::DeliverV1(next), schedule::queue_delay(remaining))])
                    .await?;
            }
            DeliveryState::Paused => {
                self.pause(job, registration, integration, attempt).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Moves the person's marker for this integration forward to this registration
    /// (never back), so older registrations of theirs end `superseded`.
    async fn mark_delivered_order(
        &self,
        registration: &Registration,
        integration: &Integration,
    ) -> Result<(), DeliverError> {
        let Some(email) = registration.data.email.as_deref() else {
            return Ok(());
        };
        self.store
            .advance_delivered_order(
                &registration.account_id,
                &crate::erasure::subject_hash(email),
                &integration.id,
                registration.received_at,
                registration.expires_at,
            )
            .await?;
        Ok(())
    }
}

/// The outcome of an attempt that ended, for the breaker.
fn attempted(result: &Result<Handled, DeliverError>) -> Option<Outcome> {
    match result {
        Ok(Handled::Attempted(_, outcome)) => Some(*outcome),
        _ => None,
    }
}

fn last_of(attempt: &Attempt) -> LastAttempt {
    LastAttempt {
        number: attempt.number,
        at: attempt.started_at + attempt.duration_ms,
        status: attempt.verdict.status,
        class: attempt.verdict.class,
        outcome: attempt.verdict.outcome,
        provider_code: attempt.verdict.provider_code.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::setup;
    use super::*;

    #[tokio::test]
    async fn a_job_due_later_than_the_queue_can_delay_hops_again_without_sending() {
        let (d, mut job) = setup(vec![200], "30").await;
        job.not_before = Some(clock::now_ms() + 2 * 3600 * 1000);

        let handled = d.run(&job, None).await.unwrap();

        assert_eq!(handled, Handled::Rescheduled);
        let sent = d.queue.drain();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, schedule::MAX_QUEUE_DELAY);
        assert_eq!(sent[0].0, Task::DeliverV1(job));
        assert!(d.transport.urls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_retryable_failure_queues_the_next_attempt_with_its_due_time() {
        let (d, job) = setup(vec![503], "120").await;

        let handled = d.run(&job, None).await.unwrap();

        assert_eq!(
            handled,
            Handled::Attempted(DeliveryState::Retrying, Outcome::ServerError)
        );
        let sent = d.queue.drain();
        let Task::DeliverV1(next) = &sent[0].0 else {
            panic!("not a delivery job")
        };
        assert_eq!(next.attempt, 2);
        let due = next.not_before.unwrap();
        let wait = due.saturating_sub(clock::now_ms());
        assert!((110_000..=145_000).contains(&wait), "due in {wait} ms");
        assert!(sent[0].1 >= Duration::from_secs(110) && sent[0].1 <= schedule::MAX_QUEUE_DELAY);
    }

    #[tokio::test]
    async fn the_last_retryable_failure_exhausts_the_delivery() {
        let (d, mut job) = setup(vec![503], "1").await;
        job.attempt = 2;

        let handled = d.run(&job, None).await.unwrap();

        assert_eq!(
            handled,
            Handled::Attempted(DeliveryState::Exhausted, Outcome::ServerError)
        );
        assert!(d.queue.is_empty());
    }

    #[tokio::test]
    async fn a_failed_write_after_the_send_is_repaired_by_the_redelivered_job() {
        let (d, job) = setup(vec![503, 200], "1").await;

        // The attempt is recorded, then the queue refuses the follow-up job: the
        // message goes back to SQS and comes again.
        d.queue.refuse_next(1);
        assert!(d.run(&job, None).await.is_err());
        let again = d.run(&job, None).await.unwrap();

        assert_eq!(again, Handled::AlreadyDone);
        assert_eq!(d.transport.urls.lock().unwrap().len(), 1, "no second send");
        let sent = d.queue.drain();
        let Task::DeliverV1(next) = &sent[0].0 else {
            panic!("not a delivery job")
        };
        assert_eq!(
            next.attempt, 2,
            "the follow-up was queued on the second pass"
        );
        assert_eq!(d.store.all_attempts().len(), 1);
    }
}
