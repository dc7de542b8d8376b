//! An integration's health, as its management view shows it: deliveries delivered and
//! failed over the last 24 hours, the last success, the last failure with its cause,
//! and where it stands now (active, paused, held, cooling down).
//!
//! It is computed when asked, by one bounded read, rather than kept in counters: the
//! account's deliveries received in the window are read from the campaigns' time index
//! (`gsi1`, newest first, at most [`HEALTH_CAP`]), and the one attempt behind each last
//! failure is read for its explanation. Counters would cost a write on every attempt
//! (the hot path, paid for every registration) to save reads that only happen when a
//! person opens the integration; this read costs nothing until then. What it counts is
//! deliveries of registrations received in the window, by their state now; when the cap
//! is reached, `truncated` says so and the counts cover the newest ones.

use crate::deliver::breaker::{Breaker, BreakerState};
use crate::ids::{AccountId, IntegrationId};
use crate::logs::find::campaigns_in_range;
use crate::model::{Delivery, DeliveryState, Integration, IntegrationStatus};
use crate::store::{DeliveryQuery, Store, StoreError};
use leadrelay_explain::verdict::{Class, Outcome};
use std::collections::BTreeMap;

/// The window the counts cover.
pub const HEALTH_WINDOW_MS: u64 = 24 * 3600 * 1000;
/// The most deliveries one health read looks at.
pub const HEALTH_CAP: usize = 5000;
/// Deliveries read per page.
const PAGE: usize = 1000;

/// Where an integration stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Deliveries go out.
    Active,
    /// Paused after an authentication failure, until its credentials change.
    Paused,
    /// Held by its circuit breaker after repeated failures.
    Held,
    /// Waiting out the provider's rate limit.
    CoolingDown,
}

impl HealthState {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Active => "active",
            HealthState::Paused => "paused",
            HealthState::Held => "held",
            HealthState::CoolingDown => "cooling_down",
        }
    }

    /// The state of `integration` with its breaker, at `now_ms`.
    pub fn of(integration: &Integration, breaker: Option<&Breaker>, now_ms: u64) -> Self {
        if matches!(integration.status, IntegrationStatus::Paused { .. }) {
            HealthState::Paused
        } else if breaker.is_some_and(|b| b.state != BreakerState::Closed) {
            HealthState::Held
        } else if integration.cooldown_until.is_some_and(|t| t > now_ms) {
            HealthState::CoolingDown
        } else {
            HealthState::Active
        }
    }
}

/// The last failed attempt of an integration in the window, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFailure {
    /// When it ended (ms since the epoch).
    pub at: u64,
    /// Its registration (the log to open).
    pub registration_id: crate::ids::RegistrationId,
    /// The HTTP status, if a response came.
    pub status: Option<u16>,
    /// Its class.
    pub class: Class,
    /// Its outcome.
    pub outcome: Outcome,
    /// The provider's own code, if it gave one.
    pub provider_code: Option<String>,
    /// The verdict's explanation (empty when the attempt is no longer readable).
    pub explanation: String,
}

/// One integration's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Where it stands now.
    pub state: HealthState,
    /// The window's start (ms since the epoch).
    pub from_ms: u64,
    /// Deliveries received in the window and delivered.
    pub delivered: u64,
    /// Deliveries received in the window that failed for good (failed or exhausted).
    pub failed: u64,
    /// The newest delivered attempt in the window (ms since the epoch).
    pub last_success: Option<u64>,
    /// The newest failed attempt in the window.
    pub last_failure: Option<LastFailure>,
    /// Whether the read stopped at [`HEALTH_CAP`] with more left.
    pub truncated: bool,
}

impl Health {
    fn empty(state: HealthState, from_ms: u64) -> Self {
        Health {
            state,
            from_ms,
            delivered: 0,
            failed: 0,
            last_success: None,
            last_failure: None,
            truncated: false,
        }
    }

    fn count(&mut self, d: &Delivery) {
        match d.state {
            DeliveryState::Delivered => self.delivered += 1,
            DeliveryState::Failed | DeliveryState::Exhausted => self.failed += 1,
            _ => {}
        }
        let Some(last) = &d.last else { return };
        if last.outcome.is_success() {
            if self.last_success.is_none_or(|t| last.at > t) {
                self.last_success = Some(last.at);
            }
        } else if self.last_failure.as_ref().is_none_or(|f| last.at > f.at) {
            self.last_failure = Some(LastFailure {
                at: last.at,
                registration_id: d.registration_id.clone(),
                status: last.status,
                class: last.class,
                outcome: last.outcome,
                provider_code: last.provider_code.clone(),
                explanation: String::new(),
            });
        }
    }
}

/// The health of each of `integrations` (all of `account`'s), at `now_ms`: one bounded
/// read of the account's deliveries in the window (filtered to the integration when
/// there is one), then one read of each last failure's attempt.
pub async fn health<S: Store>(
    store: &S,
    account: &AccountId,
    integrations: &[Integration],
    now_ms: u64,
) -> Result<BTreeMap<IntegrationId, Health>, StoreError> {
    let from_ms = now_ms.saturating_sub(HEALTH_WINDOW_MS);
    let mut out = BTreeMap::new();
    for i in integrations {
        let breaker = store.breaker(&i.id).await?;
        let state = HealthState::of(i, breaker.as_ref(), now_ms);
        out.insert(i.id.clone(), Health::empty(state, from_ms));
    }
    if integrations.is_empty() {
        return Ok(out);
    }
    let mut query = DeliveryQuery {
        from_ms,
        to_ms: now_ms + 1,
        integration_id: match integrations {
            [one] => Some(one.id.clone()),
            _ => None,
        },
        newest_first: true,
        limit: PAGE,
        ..DeliveryQuery::default()
    };
    let campaigns = campaigns_in_range(&store.list_campaigns(account).await?, &query);
    let mut read = 0usize;
    let mut truncated = false;
    loop {
        let page = store.deliveries_of_campaigns(&campaigns, &query).await?;
        for d in &page.items {
            read += 1;
            if let Some(h) = out.get_mut(&d.integration_id) {
                h.count(d);
            }
        }
        match page.next {
            Some(next) if read < HEALTH_CAP => query.start = Some(next),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    for (id, h) in out.iter_mut() {
        h.truncated = truncated;
        let Some(failure) = &mut h.last_failure else {
            continue;
        };
        let Some(log) = store.registration_log(&failure.registration_id).await? else {
            continue;
        };
        if let Some(a) = log
            .attempts
            .iter()
            .filter(|a| &a.integration_id == id && !a.verdict.outcome.is_success())
            .max_by_key(|a| a.number)
        {
            failure.explanation = a.verdict.explanation.clone();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::{CampaignId, RegistrationId};
    use crate::model::{
        Attached, Attempt, Campaign, LastAttempt, Registration, RegistrationData, Trigger,
    };
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, FlowStore, RegistrationStore};
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::Verdict;

    fn integration(account: &AccountId) -> Integration {
        Integration {
            id: IntegrationId::generate(),
            account_id: account.clone(),
            name: "Hook".into(),
            provider: Provider::Webhook,
            settings: serde_json::Map::new(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            cooldown_until: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    /// A registration received at `at` delivered to `i` in `state`, its last attempt
    /// ending with `outcome` and explained as `why`.
    async fn delivery(
        store: &MemoryStore,
        campaign: &Campaign,
        i: &Integration,
        at: u64,
        state: DeliveryState,
        outcome: Outcome,
        why: &str,
    ) {
        let r = Registration {
            id: RegistrationId::generate(),
            account_id: campaign.account_id.clone(),
            campaign_id: campaign.id.clone(),
            received_at: at,
            data: RegistrationData::default(),
            integration_ids: vec![i.id.clone()],
            expires_at: crate::clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        let class = if outcome.is_success() {
            Class::Success
        } else {
            Class::ClientError
        };
        let d = Delivery {
            registration_id: r.id.clone(),
            integration_id: i.id.clone(),
            campaign_id: campaign.id.clone(),
            provider: Provider::Webhook,
            state,
            attempts: 1,
            next_attempt_at: None,
            last: Some(LastAttempt {
                number: 1,
                at: at + 5,
                status: Some(if outcome.is_success() { 200 } else { 422 }),
                class,
                outcome,
                provider_code: None,
            }),
            received_at: at,
            updated_at: at + 5,
            waiting: None,
        };
        assert!(store.create_registration(&r, &[d]).await.unwrap());
        let attempt = Attempt {
            registration_id: r.id.clone(),
            integration_id: i.id.clone(),
            number: 1,
            trigger: Trigger::Automatic,
            started_at: at,
            duration_ms: 5,
            preceding: Vec::new(),
            request: None,
            response: None,
            verdict: Verdict {
                status: None,
                class,
                reason: None,
                outcome,
                retryable: false,
                retry_after_s: None,
                provider_code: None,
                field: None,
                message: None,
                explanation: why.into(),
                remedy: String::new(),
            },
            delivery_state: state,
            next_attempt_at: None,
            integration_version: None,
        };
        store.record_attempt(&attempt, r.expires_at).await.unwrap();
    }

    #[tokio::test]
    async fn health_counts_the_last_day_and_explains_the_last_failure() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let (hook, quiet) = (integration(&account), integration(&account));
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: account.clone(),
            name: "Quiz".into(),
            integrations: vec![Attached {
                id: hook.id.clone(),
                provider: Provider::Webhook,
            }],
            retention_days: 30,
            created_at: 0,
        };
        store.put_campaign(&campaign).await.unwrap();
        let now = 10 * HEALTH_WINDOW_MS;
        let (d, f) = (DeliveryState::Delivered, DeliveryState::Failed);
        let (ok, bad) = (Outcome::Delivered, Outcome::InvalidData);
        delivery(
            &store,
            &campaign,
            &hook,
            now - HEALTH_WINDOW_MS - 10,
            f,
            bad,
            "too old",
        )
        .await;
        delivery(&store, &campaign, &hook, now - 5000, d, ok, "").await;
        delivery(
            &store,
            &campaign,
            &hook,
            now - 4000,
            f,
            bad,
            "older failure",
        )
        .await;
        delivery(
            &store,
            &campaign,
            &hook,
            now - 3000,
            f,
            bad,
            "the email is invalid",
        )
        .await;
        delivery(&store, &campaign, &hook, now - 2000, d, ok, "").await;

        let all = health(&store, &account, &[hook.clone(), quiet.clone()], now)
            .await
            .unwrap();
        let one = health(&store, &account, std::slice::from_ref(&hook), now)
            .await
            .unwrap();

        let h = &all[&hook.id];
        assert_eq!(
            (h.delivered, h.failed),
            (2, 2),
            "the old one is outside the window"
        );
        assert_eq!(h.last_success, Some(now - 2000 + 5));
        let failure = h.last_failure.as_ref().unwrap();
        assert_eq!(failure.at, now - 3000 + 5);
        assert_eq!(failure.outcome, Outcome::InvalidData);
        assert_eq!(failure.explanation, "the email is invalid");
        assert_eq!(h.state, HealthState::Active);
        assert!(!h.truncated);
        assert_eq!(&one[&hook.id], h, "alone or in the list, the same");
        let q = &all[&quiet.id];
        assert_eq!(
            (q.delivered, q.failed, q.last_failure.as_ref()),
            (0, 0, None)
        );
    }

    #[tokio::test]
    async fn the_state_says_paused_held_or_cooling_down() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let now = 1_000_000;
        let active = integration(&account);
        let paused = Integration {
            status: IntegrationStatus::Paused {
                since: 1,
                outcome: Outcome::Unauthorized,
                explanation: "401".into(),
                remedy: "update the key".into(),
            },
            ..integration(&account)
        };
        let cooling = Integration {
            cooldown_until: Some(now + 60_000),
            ..integration(&account)
        };
        let cooled = Integration {
            cooldown_until: Some(now - 1),
            ..integration(&account)
        };
        let held = integration(&account);
        let breaker = Breaker {
            state: BreakerState::Held,
            ..Breaker::new(held.id.clone())
        };
        assert!(store.put_breaker(&breaker).await.unwrap());

        let all = [&active, &paused, &cooling, &cooled, &held]
            .map(|i| (*i).clone())
            .to_vec();
        let h = health(&store, &account, &all, now).await.unwrap();

        let states: Vec<&str> = all.iter().map(|i| h[&i.id].state.as_str()).collect();
        assert_eq!(
            states,
            ["active", "paused", "cooling_down", "active", "held"]
        );
    }
}
