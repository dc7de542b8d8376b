//! An in-memory [`Store`] for unit tests: the same semantics as the DynamoDB one
//! (insert-once claims, conditional updates, expiry on read), none of the I/O.

use super::{
    gsi1_sort_key, matches, may_note_waiting, waiting_due, AccountStore, AttemptClaim, AttemptSlot,
    CampaignStore, DeliveryQuery, FlowStore, Idempotency, IdempotencyClaim, IdempotencyStore, Page,
    QueryStore, Recorded, RegistrationLog, RegistrationStore, StoreError, WaitPlace, Waiting,
};
use crate::deliver::breaker::Breaker;
use crate::erasure;
use crate::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use crate::model::{
    Account, ApiKey, Attempt, Campaign, Delivery, DeliveryState, Integration, Registration,
    WaitNote,
};
use crate::store::ErasureStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

mod audit;

/// An attempt slot: claimed until a time (and reached by an erasure, or not), or ended.
#[derive(Debug, Clone)]
enum Slot {
    Claimed { until: u64, erased: bool },
    Done(Box<Attempt>),
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<AccountId, Account>,
    keys: HashMap<String, ApiKey>,
    campaigns: BTreeMap<(AccountId, CampaignId), Campaign>,
    integrations: BTreeMap<(AccountId, IntegrationId), Integration>,
    idempotency: HashMap<(CampaignId, String), Idempotency>,
    registrations: HashMap<RegistrationId, Registration>,
    deliveries: BTreeMap<(RegistrationId, IntegrationId), Delivery>,
    /// Due times moved by the reconciler (the DynamoDB store keeps them in the index
    /// attributes; a write of the delivery replaces them there, so it does here).
    rescheduled: HashMap<(RegistrationId, IntegrationId), u64>,
    attempts: BTreeMap<(RegistrationId, IntegrationId, u32), Slot>,
    order: HashMap<(AccountId, String, IntegrationId), u64>,
    /// Concurrency slots: (holder, lease end).
    concurrency: BTreeMap<(IntegrationId, u32), (String, u64)>,
    breakers: HashMap<IntegrationId, Breaker>,
    /// Lines of waiting jobs: (integration, until) → (how many joined, first joined at).
    waits: HashMap<(IntegrationId, u64), (u64, u64)>,
    /// Audit entries, by account and id.
    audit: BTreeMap<(AccountId, String), crate::audit::AuditEntry>,
}

/// The in-memory store. Cloning is not offered: share it by reference.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Calls that fail on purpose, by operation name, for tests of failure paths; true
    /// where the failure is a retryable one (a throttle, a timeout).
    failing: Mutex<Vec<(&'static str, bool)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every later call of `operation` fail (`"record_attempt"`, ...).
    pub fn fail(&self, operation: &'static str) {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((operation, false));
    }

    /// Makes every later call of `operation` fail as a throttled (retryable) call would.
    pub fn throttle(&self, operation: &'static str) {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((operation, true));
    }

    /// Lets `operation` succeed again after [`MemoryStore::fail`].
    pub fn heal(&self, operation: &'static str) {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(o, _)| *o != operation);
    }

    /// Ends every attempt lease now, as if their holders had crashed long ago.
    pub fn expire_leases(&self) {
        for slot in self.lock().attempts.values_mut() {
            if let Slot::Claimed { until, .. } = slot {
                *until = 0;
            }
        }
    }

    /// Every delivery (for assertions).
    pub fn all_deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.values().cloned().collect()
    }

    fn check(&self, operation: &'static str) -> Result<(), StoreError> {
        let failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match failing.iter().find(|(op, _)| *op == operation) {
            Some((_, true)) => Err(StoreError::Unavailable {
                operation,
                source: "injected throttle".into(),
            }),
            Some((_, false)) => Err(StoreError::Backend {
                operation,
                source: "injected failure".into(),
            }),
            None => Ok(()),
        }
    }

    /// Every attempt that ended, in key order (for assertions).
    pub fn all_attempts(&self) -> Vec<Attempt> {
        self.lock()
            .attempts
            .values()
            .filter_map(|s| match s {
                Slot::Done(a) => Some((**a).clone()),
                Slot::Claimed { .. } => None,
            })
            .collect()
    }

    /// Every registration (for assertions).
    pub fn all_registrations(&self) -> Vec<Registration> {
        self.lock().registrations.values().cloned().collect()
    }
}

/// Where an attempt is kept: its registration, integration and number.
fn attempt_key(attempt: &Attempt) -> (RegistrationId, IntegrationId, u32) {
    (
        attempt.registration_id.clone(),
        attempt.integration_id.clone(),
        attempt.number,
    )
}

fn now_s() -> u64 {
    crate::clock::now_ms() / 1000
}

impl AccountStore for MemoryStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        self.check("put_account")?;
        self.lock()
            .accounts
            .insert(account.id.clone(), account.clone());
        Ok(())
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        Ok(self.lock().accounts.get(id).cloned())
    }

    async fn put_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.check("put_key")?;
        self.lock().keys.insert(key.hash.clone(), key.clone());
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.check("key_by_hash")?;
        Ok(self.lock().keys.get(hash).cloned())
    }

    async fn list_keys(&self, account: &AccountId) -> Result<Vec<ApiKey>, StoreError> {
        let mut keys: Vec<ApiKey> = self
            .lock()
            .keys
            .values()
            .filter(|k| &k.account_id == account)
            .cloned()
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn delete_key(&self, account: &AccountId, key: &KeyId) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let before = inner.keys.len();
        inner
            .keys
            .retain(|_, k| !(&k.account_id == account && &k.id == key));
        Ok(inner.keys.len() < before)
    }
}

impl CampaignStore for MemoryStore {
    async fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.check("put_campaign")?;
        self.lock().campaigns.insert(
            (campaign.account_id.clone(), campaign.id.clone()),
            campaign.clone(),
        );
        Ok(())
    }

    async fn campaign(
        &self,
        account: &AccountId,
        id: &CampaignId,
    ) -> Result<Option<Campaign>, StoreError> {
        self.check("campaign")?;
        Ok(self
            .lock()
            .campaigns
            .get(&(account.clone(), id.clone()))
            .cloned())
    }

    async fn list_campaigns(&self, account: &AccountId) -> Result<Vec<Campaign>, StoreError> {
        Ok(self
            .lock()
            .campaigns
            .values()
            .filter(|c| &c.account_id == account)
            .cloned()
            .collect())
    }

    async fn put_integration(&self, integration: &Integration) -> Result<(), StoreError> {
        self.check("put_integration")?;
        self.lock().integrations.insert(
            (integration.account_id.clone(), integration.id.clone()),
            integration.clone(),
        );
        Ok(())
    }

    async fn change_integration(&self, next: &Integration) -> Result<bool, StoreError> {
        self.check("change_integration")?;
        let mut inner = self.lock();
        let key = (next.account_id.clone(), next.id.clone());
        match inner.integrations.get_mut(&key) {
            Some(stored) if Some(stored.version) == next.version.checked_sub(1) => {
                *stored = next.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        self.check("integration")?;
        Ok(self
            .lock()
            .integrations
            .get(&(account.clone(), id.clone()))
            .cloned())
    }

    async fn list_integrations(&self, account: &AccountId) -> Result<Vec<Integration>, StoreError> {
        Ok(self
            .lock()
            .integrations
            .values()
            .filter(|i| &i.account_id == account)
            .cloned()
            .collect())
    }

    async fn delete_integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> Result<bool, StoreError> {
        self.check("delete_integration")?;
        Ok(self
            .lock()
            .integrations
            .remove(&(account.clone(), id.clone()))
            .is_some())
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim_idempotency(
        &self,
        record: &Idempotency,
    ) -> Result<IdempotencyClaim, StoreError> {
        self.check("claim_idempotency")?;
        let mut inner = self.lock();
        let key = (record.campaign_id.clone(), record.key_hash.clone());
        match inner.idempotency.get(&key) {
            Some(existing) if existing.expires_at > now_s() => {
                Ok(IdempotencyClaim::Existing(existing.clone()))
            }
            _ => {
                inner.idempotency.insert(key, record.clone());
                Ok(IdempotencyClaim::Claimed)
            }
        }
    }

    async fn take_over_idempotency(
        &self,
        record: &Idempotency,
        expired_lease: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let key = (record.campaign_id.clone(), record.key_hash.clone());
        match inner.idempotency.get_mut(&key) {
            Some(existing) if existing.lease_until == expired_lease && !existing.queued => {
                existing.lease_until = record.lease_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn finish_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        self.check("finish_idempotency")?;
        let mut inner = self.lock();
        if let Some(existing) = inner
            .idempotency
            .get_mut(&(record.campaign_id.clone(), record.key_hash.clone()))
        {
            existing.queued = true;
        }
        Ok(())
    }

    async fn release_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(existing) = inner
            .idempotency
            .get_mut(&(record.campaign_id.clone(), record.key_hash.clone()))
        {
            existing.lease_until = 0;
        }
        Ok(())
    }
}

impl RegistrationStore for MemoryStore {
    async fn create_registration(
        &self,
        registration: &Registration,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        self.check("create_registration")?;
        let mut inner = self.lock();
        if inner.registrations.contains_key(&registration.id) {
            return Ok(false);
        }
        inner
            .registrations
            .insert(registration.id.clone(), registration.clone());
        for d in deliveries {
            inner.deliveries.insert(
                (d.registration_id.clone(), d.integration_id.clone()),
                d.clone(),
            );
        }
        Ok(true)
    }

    async fn delete_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.registrations.remove(&registration.id);
        inner.deliveries.retain(|(r, _), _| r != &registration.id);
        Ok(())
    }

    async fn registration(&self, id: &RegistrationId) -> Result<Option<Registration>, StoreError> {
        self.check("registration")?;
        Ok(self
            .lock()
            .registrations
            .get(id)
            .filter(|r| r.expires_at > now_s())
            .cloned())
    }

    async fn delivery(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .lock()
            .deliveries
            .get(&(registration.clone(), integration.clone()))
            .cloned())
    }

    async fn registration_log(
        &self,
        id: &RegistrationId,
    ) -> Result<Option<RegistrationLog>, StoreError> {
        let inner = self.lock();
        let Some(registration) = inner
            .registrations
            .get(id)
            .filter(|r| r.expires_at > now_s())
            .cloned()
        else {
            return Ok(None);
        };
        let deliveries = inner
            .deliveries
            .iter()
            .filter(|((r, _), _)| r == id)
            .map(|(_, d)| d.clone())
            .collect();
        let attempts = inner
            .attempts
            .iter()
            .filter(|((r, _, _), _)| r == id)
            .filter_map(|(_, s)| match s {
                Slot::Done(a) => Some((**a).clone()),
                Slot::Claimed { .. } => None,
            })
            .collect();
        Ok(Some(RegistrationLog {
            registration,
            deliveries,
            attempts,
        }))
    }

    async fn claim_attempt(
        &self,
        registration: &Registration,
        integration: &IntegrationId,
        number: u32,
        lease_until: u64,
        now: u64,
    ) -> Result<AttemptClaim, StoreError> {
        self.check("claim_attempt")?;
        let mut inner = self.lock();
        let key = (registration.id.clone(), integration.clone(), number);
        let (claim, erased) = match inner.attempts.get(&key) {
            Some(Slot::Done(a)) => return Ok(AttemptClaim::Done(a.clone())),
            Some(Slot::Claimed { until, .. }) if *until >= now => {
                return Ok(AttemptClaim::InProgress)
            }
            Some(Slot::Claimed { erased, .. }) => (AttemptClaim::TakenOver, *erased),
            None => (AttemptClaim::Claimed, false),
        };
        inner.attempts.insert(
            key,
            Slot::Claimed {
                until: lease_until,
                erased,
            },
        );
        Ok(claim)
    }

    async fn record_attempt(
        &self,
        attempt: &Attempt,
        _expires_at: u64,
    ) -> Result<Recorded, StoreError> {
        self.check("record_attempt")?;
        let mut inner = self.lock();
        let key = attempt_key(attempt);
        match inner.attempts.get(&key) {
            Some(Slot::Done(_)) => return Ok(Recorded::AlreadyRecorded),
            Some(Slot::Claimed { erased: true, .. }) => return Ok(Recorded::Erased),
            _ => {}
        }
        inner
            .attempts
            .insert(key, Slot::Done(Box::new(attempt.clone())));
        Ok(Recorded::Written)
    }

    async fn update_delivery(
        &self,
        delivery: &Delivery,
        _expires_at: u64,
    ) -> Result<(), StoreError> {
        self.check("update_delivery")?;
        let mut inner = self.lock();
        let key = (
            delivery.registration_id.clone(),
            delivery.integration_id.clone(),
        );
        let kept = inner.deliveries.get(&key).is_some_and(|stored| {
            stored.attempts > delivery.attempts || stored.state == DeliveryState::Erased
        });
        if !kept {
            inner.rescheduled.remove(&key);
            inner.deliveries.insert(key, delivery.clone());
        }
        Ok(())
    }

    async fn note_waiting(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        attempt: u32,
        note: &WaitNote,
    ) -> Result<bool, StoreError> {
        self.check("note_waiting")?;
        let mut inner = self.lock();
        // Only the note changes: a due time the reconciler moved stays moved.
        match inner
            .deliveries
            .get_mut(&(registration.clone(), integration.clone()))
        {
            Some(d) if may_note_waiting(d, attempt) => {
                d.waiting = Some(note.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn paused_deliveries(
        &self,
        integration: &IntegrationId,
        after: Option<&RegistrationId>,
        limit: usize,
    ) -> Result<Vec<(RegistrationId, IntegrationId)>, StoreError> {
        self.check("paused_deliveries")?;
        Ok(self
            .lock()
            .deliveries
            .values()
            .filter(|d| &d.integration_id == integration && d.state == DeliveryState::Paused)
            .filter(|d| after.is_none_or(|a| &d.registration_id > a))
            .take(limit)
            .map(|d| (d.registration_id.clone(), d.integration_id.clone()))
            .collect())
    }

    async fn unpause_delivery(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        state: DeliveryState,
    ) -> Result<(), StoreError> {
        self.check("unpause_delivery")?;
        let mut inner = self.lock();
        if let Some(d) = inner
            .deliveries
            .get_mut(&(registration.clone(), integration.clone()))
        {
            if d.state == DeliveryState::Paused {
                d.state = state;
                d.updated_at = crate::clock::now_ms();
            }
        }
        inner
            .rescheduled
            .remove(&(registration.clone(), integration.clone()));
        Ok(())
    }

    async fn reschedule_waiting(&self, seen: &Waiting, due_ms: u64) -> Result<bool, StoreError> {
        self.check("reschedule_waiting")?;
        let mut inner = self.lock();
        let key = (seen.registration_id.clone(), seen.integration_id.clone());
        let Some(d) = inner.deliveries.get(&key) else {
            return Ok(false);
        };
        let current = waiting_due(d).map(|own| inner.rescheduled.get(&key).copied().unwrap_or(own));
        if current != Some(seen.due_ms) {
            return Ok(false);
        }
        inner.rescheduled.insert(key, due_ms);
        Ok(true)
    }

    async fn delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
    ) -> Result<Option<u64>, StoreError> {
        self.check("delivered_order")?;
        Ok(self
            .lock()
            .order
            .get(&(account.clone(), subject.to_owned(), integration.clone()))
            .copied())
    }

    async fn advance_delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
        received_at: u64,
        _expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.check("advance_delivered_order")?;
        let mut inner = self.lock();
        let marker = inner
            .order
            .entry((account.clone(), subject.to_owned(), integration.clone()))
            .or_insert(0);
        if *marker >= received_at {
            return Ok(false);
        }
        *marker = received_at;
        Ok(true)
    }
}

impl ErasureStore for MemoryStore {
    async fn attempt_slots(&self, id: &RegistrationId) -> Result<Vec<AttemptSlot>, StoreError> {
        self.check("attempt_slots")?;
        Ok(self
            .lock()
            .attempts
            .iter()
            .filter(|((r, _, _), _)| r == id)
            .map(|((_, integration, number), slot)| match slot {
                Slot::Done(a) => AttemptSlot::Recorded(a.clone()),
                Slot::Claimed { .. } => AttemptSlot::InFlight {
                    integration_id: integration.clone(),
                    number: *number,
                },
            })
            .collect())
    }

    async fn put_erased_registration(&self, registration: &Registration) -> Result<(), StoreError> {
        self.check("put_erased_registration")?;
        self.lock()
            .registrations
            .insert(registration.id.clone(), registration.clone());
        Ok(())
    }

    async fn mark_claim_erased(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        number: u32,
    ) -> Result<bool, StoreError> {
        self.check("mark_claim_erased")?;
        let mut inner = self.lock();
        let key = (registration.clone(), integration.clone(), number);
        Ok(match inner.attempts.get_mut(&key) {
            Some(Slot::Claimed { erased, .. }) => {
                *erased = true;
                true
            }
            _ => false,
        })
    }

    async fn put_scrubbed_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        self.check("put_scrubbed_attempt")?;
        let key = attempt_key(attempt);
        self.lock()
            .attempts
            .insert(key, Slot::Done(Box::new(attempt.clone())));
        Ok(())
    }

    async fn record_scrubbed_attempt(
        &self,
        attempt: &Attempt,
        _expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.check("record_attempt")?;
        let mut inner = self.lock();
        let key = attempt_key(attempt);
        if matches!(inner.attempts.get(&key), Some(Slot::Done(_))) {
            return Ok(false);
        }
        inner
            .attempts
            .insert(key, Slot::Done(Box::new(attempt.clone())));
        Ok(true)
    }

    async fn put_stopped_delivery(
        &self,
        seen: &Delivery,
        stopped: &Delivery,
        _expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.check("put_stopped_delivery")?;
        let mut inner = self.lock();
        let key = (seen.registration_id.clone(), seen.integration_id.clone());
        let Some(stored) = inner.deliveries.get_mut(&key) else {
            return Ok(false);
        };
        if (stored.state, stored.attempts) != (seen.state, seen.attempts) {
            return Ok(false);
        }
        *stored = stopped.clone();
        inner.rescheduled.remove(&key);
        Ok(true)
    }

    async fn forget_subject(&self, _registration: &Registration) -> Result<(), StoreError> {
        // Registrations are found by their address as they are: an erased one has none.
        self.check("forget_subject")?;
        Ok(())
    }
}

impl FlowStore for MemoryStore {
    async fn concurrency_slots(
        &self,
        integration: &IntegrationId,
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        self.check("concurrency_slots")?;
        Ok(self
            .lock()
            .concurrency
            .iter()
            .filter(|((i, _), _)| i == integration)
            .map(|((_, n), (_, until))| (*n, *until))
            .collect())
    }

    async fn claim_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
        lease_until: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.check("claim_slot")?;
        let mut inner = self.lock();
        let key = (integration.clone(), slot);
        if inner
            .concurrency
            .get(&key)
            .is_some_and(|(_, until)| *until >= now)
        {
            return Ok(false);
        }
        inner
            .concurrency
            .insert(key, (holder.to_owned(), lease_until));
        Ok(true)
    }

    async fn release_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
    ) -> Result<(), StoreError> {
        self.check("release_slot")?;
        let mut inner = self.lock();
        let key = (integration.clone(), slot);
        if inner
            .concurrency
            .get(&key)
            .is_some_and(|(h, _)| h == holder)
        {
            inner.concurrency.remove(&key);
        }
        Ok(())
    }

    async fn breaker(&self, integration: &IntegrationId) -> Result<Option<Breaker>, StoreError> {
        self.check("breaker")?;
        Ok(self.lock().breakers.get(integration).cloned())
    }

    async fn put_breaker(&self, breaker: &Breaker) -> Result<bool, StoreError> {
        self.check("put_breaker")?;
        let mut inner = self.lock();
        let stored = inner
            .breakers
            .get(&breaker.integration_id)
            .map_or(0, |b| b.version);
        if stored != breaker.version {
            return Ok(false);
        }
        let written = Breaker {
            version: breaker.version + 1,
            ..breaker.clone()
        };
        inner
            .breakers
            .insert(breaker.integration_id.clone(), written);
        Ok(true)
    }

    async fn join_wait(
        &self,
        integration: &IntegrationId,
        until: u64,
        now_ms: u64,
    ) -> Result<WaitPlace, StoreError> {
        self.check("join_wait")?;
        let mut inner = self.lock();
        let line = inner
            .waits
            .entry((integration.clone(), until))
            .or_insert((0, now_ms));
        line.0 += 1;
        Ok(WaitPlace {
            place: line.0,
            since: line.1,
        })
    }
}

impl QueryStore for MemoryStore {
    async fn subject_registrations(
        &self,
        account: &AccountId,
        subject: &str,
    ) -> Result<Vec<RegistrationId>, StoreError> {
        self.check("subject_registrations")?;
        let mut ids: Vec<RegistrationId> = self
            .lock()
            .registrations
            .values()
            .filter(|r| &r.account_id == account && r.expires_at > now_s())
            .filter(|r| {
                r.data
                    .email
                    .as_deref()
                    .is_some_and(|e| erasure::subject_hash(e) == subject)
            })
            .map(|r| r.id.clone())
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn overdue_deliveries(
        &self,
        until_ms: u64,
        limit: usize,
    ) -> Result<Vec<Waiting>, StoreError> {
        self.check("overdue_deliveries")?;
        let inner = self.lock();
        let mut waiting: Vec<Waiting> = inner
            .deliveries
            .iter()
            .filter_map(|(key, d)| {
                let due =
                    waiting_due(d).map(|own| inner.rescheduled.get(key).copied().unwrap_or(own))?;
                (due <= until_ms).then(|| Waiting {
                    registration_id: key.0.clone(),
                    integration_id: key.1.clone(),
                    due_ms: due,
                })
            })
            .collect();
        waiting.sort_by(|a, b| {
            (a.due_ms, &a.registration_id, &a.integration_id).cmp(&(
                b.due_ms,
                &b.registration_id,
                &b.integration_id,
            ))
        });
        waiting.truncate(limit);
        Ok(waiting)
    }

    async fn campaign_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        let campaigns: Vec<CampaignId> = query.campaign_id.iter().cloned().collect();
        self.deliveries_of_campaigns(&campaigns, query).await
    }

    async fn deliveries_of_campaigns(
        &self,
        campaigns: &[CampaignId],
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        self.check("deliveries_of_campaigns")?;
        let inner = self.lock();
        let mut rows: Vec<(String, &Delivery)> = inner
            .deliveries
            .values()
            .filter(|d| campaigns.contains(&d.campaign_id))
            .filter(|d| d.received_at >= query.from_ms && d.received_at < query.to_ms)
            .map(|d| {
                (
                    gsi1_sort_key(d.received_at, &d.registration_id, &d.integration_id),
                    d,
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if query.newest_first {
            rows.reverse();
        }
        let after = query.start.as_ref().and_then(|s| s.get("gsi1sk")).cloned();
        let mut items = Vec::new();
        let mut next = None;
        for (sort, d) in rows {
            if let Some(after) = &after {
                let past = if query.newest_first {
                    &sort < after
                } else {
                    &sort > after
                };
                if !past {
                    continue;
                }
            }
            if !matches(query, d) {
                continue;
            }
            if items.len() == query.limit {
                break;
            }
            items.push(d.clone());
            next = Some(BTreeMap::from([("gsi1sk".to_owned(), sort)]));
        }
        if items.len() < query.limit {
            next = None;
        }
        Ok(Page { items, next })
    }

    async fn subject_registrations_page(
        &self,
        account: &AccountId,
        subject: &str,
        start: Option<&BTreeMap<String, String>>,
        limit: usize,
    ) -> Result<Page<RegistrationId>, StoreError> {
        let mut ids = self.subject_registrations(account, subject).await?;
        ids.reverse();
        let after = start.and_then(|s| s.get("sk"));
        let mut items: Vec<RegistrationId> = ids
            .into_iter()
            .filter(|id| after.is_none_or(|a| format!("REG#{id}") < *a))
            .take(limit + 1)
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        let next = match items.last() {
            Some(last) if more => Some(BTreeMap::from([("sk".to_owned(), format!("REG#{last}"))])),
            _ => None,
        };
        Ok(Page { items, next })
    }
}
