//! What a marketer reads and does in the logs: a registration's log, a manual resend and
//! its refusals, a campaign's summary, and the one-line headline of a delivery. The logs
//! function's router calls these and only maps their answers to HTTP.

pub mod find;

use crate::clock;
use crate::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use crate::model::{Attempt, DeliverJob, Delivery, DeliveryState, Task, Trigger};
use crate::queue::{QueueError, TaskQueue};
use crate::store::{DeliveryQuery, RegistrationLog, Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A summary reads at most this many deliveries.
pub const SUMMARY_CAP: usize = 20_000;
/// Deliveries a summary reads per page.
const SUMMARY_PAGE: usize = 1000;
/// How many causes a summary lists.
const TOP_CAUSES: usize = 10;

/// Why a logs call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// No such thing in this account (a 404, as if it did not exist): what.
    #[error("{0} does not exist")]
    NotFound(&'static str),
    /// The person's data was erased from the registration: nothing to resend.
    #[error("the registration was erased")]
    Erased,
    /// The delivery waits on a paused integration: its credentials need updating.
    #[error("the integration is paused")]
    Paused,
    /// The resend could not be queued; a retry in a few seconds will likely succeed.
    #[error("the resend could not be queued")]
    QueueUnavailable(#[source] QueueError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The log of one of `account`'s registrations (anyone else's is not found).
pub async fn registration_log<S: Store>(
    store: &S,
    account: &AccountId,
    id: &RegistrationId,
) -> Result<RegistrationLog, LogsError> {
    match store.registration_log(id).await? {
        Some(log) if log.registration.account_id == *account => Ok(log),
        _ => Err(LogsError::NotFound("this registration")),
    }
}

/// A resend queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resent {
    /// The attempt number it will be.
    pub attempt: u32,
}

/// Queues one delivery of one of `account`'s registrations to be sent again now (a
/// manual attempt), unless the registration was erased or the integration is paused.
pub async fn resend<S: Store, Q: TaskQueue>(
    store: &S,
    queue: &Q,
    account: &AccountId,
    rid: &RegistrationId,
    iid: &IntegrationId,
) -> Result<Resent, LogsError> {
    const WHAT: &str = "this delivery";
    let registration = match store.registration(rid).await? {
        Some(r) if r.account_id == *account => r,
        _ => return Err(LogsError::NotFound(WHAT)),
    };
    let delivery = store
        .delivery(rid, iid)
        .await?
        .ok_or(LogsError::NotFound(WHAT))?;
    if registration.erased_at.is_some() {
        return Err(LogsError::Erased);
    }
    if delivery.state == DeliveryState::Paused {
        return Err(LogsError::Paused);
    }
    let job = DeliverJob {
        account_id: registration.account_id.clone(),
        registration_id: rid.clone(),
        integration_id: iid.clone(),
        attempt: delivery.attempts + 1,
        not_before: None,
        trigger: Trigger::Manual,
    };
    let attempt = job.attempt;
    queue
        .send_all(&[(Task::DeliverV1(job), Duration::ZERO)])
        .await
        .map_err(LogsError::QueueUnavailable)?;
    tracing::info!(registration_id = %rid, integration_id = %iid, attempt, "resend queued");
    Ok(Resent { attempt })
}

/// That `id` is one of `account`'s campaigns.
pub async fn own_campaign<S: Store>(
    store: &S,
    account: &AccountId,
    id: &CampaignId,
) -> Result<(), LogsError> {
    store
        .campaign(account, id)
        .await?
        .map(|_| ())
        .ok_or(LogsError::NotFound("this campaign"))
}

/// Counts of one integration's deliveries in a summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationCounts {
    /// The integration.
    pub integration_id: String,
    /// Its provider.
    pub provider: &'static str,
    /// Deliveries per state.
    pub states: BTreeMap<&'static str, u64>,
    /// Deliveries per outcome of their last attempt.
    pub outcomes: BTreeMap<&'static str, u64>,
}

/// A cause of failed last attempts, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CauseCount {
    /// The provider.
    pub provider: String,
    /// The outcome.
    pub outcome: &'static str,
    /// The provider's own code, if it gave one.
    pub provider_code: Option<String>,
    /// Deliveries whose last attempt ended so.
    pub count: u64,
}

/// A campaign's deliveries counted: per integration by state and outcome, and the most
/// frequent causes of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Where it started (ms since the epoch).
    pub from_ms: u64,
    /// Where it ended (ms since the epoch).
    pub to_ms: u64,
    /// Deliveries read.
    pub deliveries: usize,
    /// Whether it stopped at [`SUMMARY_CAP`] with more left.
    pub truncated: bool,
    /// Per integration, by integration id.
    pub integrations: Vec<IntegrationCounts>,
    /// The most frequent causes, most first (at most 10).
    pub top_causes: Vec<CauseCount>,
}

/// Counts the deliveries `query` selects (its limit and start are set here), at most
/// [`SUMMARY_CAP`] of them.
pub async fn summary<S: Store>(store: &S, mut query: DeliveryQuery) -> Result<Summary, StoreError> {
    query.limit = SUMMARY_PAGE;
    let mut by_integration: BTreeMap<String, IntegrationCounts> = BTreeMap::new();
    let mut causes: HashMap<(String, &'static str, Option<String>), u64> = HashMap::new();
    let mut read = 0usize;
    let mut truncated = false;
    loop {
        let page = store.campaign_deliveries(&query).await?;
        for d in &page.items {
            read += 1;
            let entry = by_integration
                .entry(d.integration_id.to_string())
                .or_insert_with(|| IntegrationCounts {
                    integration_id: d.integration_id.to_string(),
                    provider: d.provider.as_str(),
                    ..IntegrationCounts::default()
                });
            *entry.states.entry(d.state.as_str()).or_default() += 1;
            if let Some(last) = &d.last {
                *entry.outcomes.entry(last.outcome.as_str()).or_default() += 1;
                if !last.outcome.is_success() {
                    *causes
                        .entry((
                            d.provider.as_str().to_owned(),
                            last.outcome.as_str(),
                            last.provider_code.clone(),
                        ))
                        .or_default() += 1;
                }
            }
        }
        match page.next {
            Some(next) if read < SUMMARY_CAP => query.start = Some(next),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    let mut top: Vec<_> = causes.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Summary {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        deliveries: read,
        truncated,
        integrations: by_integration.into_values().collect(),
        top_causes: top
            .into_iter()
            .take(TOP_CAUSES)
            .map(|((provider, outcome, provider_code), count)| CauseCount {
                provider,
                outcome,
                provider_code,
                count,
            })
            .collect(),
    })
}

/// One line saying where a delivery stands: while its job waits with no attempt made
/// (a held integration, a cooldown), the note saying so.
pub fn headline(d: &Delivery, latest: Option<&Attempt>) -> String {
    let provider = d.provider.display_name();
    if let (DeliveryState::Pending | DeliveryState::Retrying, Some(w)) = (d.state, &d.waiting) {
        return w.note.clone();
    }
    match (d.state, latest) {
        (DeliveryState::Pending, _) => format!("Queued for {provider}; not tried yet."),
        (DeliveryState::Skipped, _) => {
            format!("Not sent to {provider}: a condition of the integration excludes it.")
        }
        (DeliveryState::Erased, _) => {
            format!("Never sent to {provider}: the person's data was erased while it waited.")
        }
        (DeliveryState::Superseded, _) => format!(
            "Not sent to {provider}: a newer registration of the same person had already been delivered there."
        ),
        (DeliveryState::Paused, _) => crate::notices::waiting_on_pause(d.provider),
        (state, Some(a)) => {
            let status = a
                .verdict
                .status
                .map_or_else(|| a.verdict.class.as_str().to_owned(), |s| s.to_string());
            let what = match state {
                DeliveryState::Delivered => "delivered",
                DeliveryState::Retrying => "will retry",
                DeliveryState::Failed => "failed",
                DeliveryState::Exhausted => "gave up after every retry",
                _ => state.as_str(),
            };
            let next = match (state, d.next_attempt_at) {
                (DeliveryState::Retrying, Some(t)) => {
                    format!(", next try at {}", clock::clock_time(t))
                }
                _ => String::new(),
            };
            format!(
                "{provider}: {what} ({status}, {}) after {} attempt{}{next}.",
                a.verdict.outcome.as_str().replace('_', " "),
                d.attempts,
                if d.attempts == 1 { "" } else { "s" }
            )
        }
        (state, None) => format!("{provider}: {}.", state.as_str()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{WaitKind, WaitNote};
    use leadrelay_explain::provider::Provider;

    fn delivery(state: DeliveryState, waiting: Option<WaitNote>) -> Delivery {
        Delivery {
            registration_id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            integration_id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            provider: Provider::Webhook,
            state,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: 1,
            updated_at: 1,
            waiting,
        }
    }

    #[test]
    fn a_waiting_delivery_headlines_its_wait_note() {
        let note = WaitNote {
            kind: WaitKind::Cooldown,
            until: 5_000,
            note: "Waiting, not failed: the webhook asked leadrelay to slow down.".into(),
        };

        let waiting = delivery(DeliveryState::Pending, Some(note.clone()));
        let plain = delivery(DeliveryState::Pending, None);
        let paused = delivery(DeliveryState::Paused, Some(note.clone()));

        assert_eq!(headline(&waiting, None), note.note);
        assert_eq!(
            headline(&plain, None),
            "Queued for the webhook endpoint; not tried yet."
        );
        assert_eq!(
            headline(&paused, None),
            crate::notices::waiting_on_pause(Provider::Webhook),
            "a pause says why it waits"
        );
    }
}
