//! Storage: what the functions read and write, behind one trait with two implementations,
//! [`DynamoStore`](dynamodb::DynamoStore) for real runs and [`MemoryStore`](memory::MemoryStore)
//! for unit tests.
//!
//! # Table layout (one DynamoDB table)
//!
//! | item | pk | sk | indexes |
//! |---|---|---|---|
//! | account | `ACC#<account>` | `ACC` | |
//! | campaign | `ACC#<account>` | `CMP#<campaign>` | |
//! | integration (attribute `int_version`: its version, for conditional writes) | `ACC#<account>` | `INT#<integration>` | |
//! | key, listed | `ACC#<account>` | `KEY#<key id>` | |
//! | key, by hash | `KEYHASH#<sha256>` | `KEY` | |
//! | idempotency | `IDEM#<campaign>#<sha256 of key>` | `IDEM` | TTL |
//! | registration | `REG#<registration>` | `REG` | TTL |
//! | registration, by address | `SUBJ#<account>#<sha256 of the address>` | `REG#<registration>` | TTL |
//! | delivery | `REG#<registration>` | `DLV#<integration>` | `gsi1`: `CMP#<campaign>#<shard, 2 digits>` / `<received ms, 13 digits>#<registration>#<integration>`; `gsi2` (sparse, while paused): `PAUSED#<integration>` / `<registration>`; TTL |
//! | delivery, while waiting | (same item) | `gsi3` (sparse, while `pending`/`retrying`/`paused`): `WAIT#<shard, 2 digits>` / `<due ms, 13 digits>#<registration>#<integration>` |
//! | attempt | `REG#<registration>` | `DLV#<integration>#ATT#<number, 4 digits>` | TTL |
//! | newest delivered registration of a person, per integration | `SUBJ#<account>#<sha256 of the address>` | `ORD#<integration>` | TTL |
//! | concurrency slot | `INT#<integration>` | `SLOT#<number, 3 digits>` | TTL |
//! | circuit breaker | `INT#<integration>` | `BREAKER` | |
//! | jobs waiting for a time | `INT#<integration>` | `WAIT#<ms since the epoch>` | TTL |
//! | audit entry | `AUDIT#<account>` | `<entry id: ms, 13 digits>-<random>` | TTL |
//!
//! A registration's log (the registration, its deliveries, every attempt) is one Query on
//! `REG#<registration>`; a campaign's deliveries by time are one Query on each of its 16 `gsi1` partitions, merged
//! by sort key; the
//! deliveries waiting on a paused integration are one Query on `gsi2`; the registrations
//! of one email address (for erasure, and found a page at a time by the logs) are one
//! Query on `SUBJ#…`; an account's deliveries are its campaigns' `gsi1` partitions,
//! merged the same way. No request scans.
//! Reads drop items past their `expires_at`, since DynamoDB deletes expired items only
//! eventually.

pub mod memory;

use crate::deliver::breaker::Breaker;
use crate::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use crate::model::{
    Account, ApiKey, Attempt, Campaign, Delivery, DeliveryState, Integration, Registration,
    WaitNote,
};
use leadrelay_explain::verdict::{Class, Outcome};
use std::collections::BTreeMap;
use std::future::Future;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend refused or failed the call.
    #[error("storage call {operation} failed")]
    Backend {
        /// Which call.
        operation: &'static str,
        /// What the backend said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend is throttling or briefly unavailable (throttled, a server error, a
    /// timeout, a broken connection): the same call may succeed later.
    #[error("storage call {operation} failed for now (throttled or unavailable)")]
    Unavailable {
        /// Which call.
        operation: &'static str,
        /// What the backend said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item could not be read back.
    #[error("stored item {pk}/{sk} is unreadable: {reason}")]
    Corrupt {
        /// Its partition key.
        pk: String,
        /// Its sort key.
        sk: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// Might the same call succeed if tried again later (a 503 rather than a 500)?
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// An idempotency record: which registration a campaign's `Idempotency-Key` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The campaign.
    pub campaign_id: CampaignId,
    /// SHA-256 of the key, hex.
    pub key_hash: String,
    /// The registration the key stands for.
    pub registration_id: RegistrationId,
    /// SHA-256 of the request body, to tell a retry from a different request.
    pub body_hash: String,
    /// Whether every delivery job is on the queue.
    pub queued: bool,
    /// Until when the request holding it is working on it (ms since the epoch).
    pub lease_until: u64,
    /// When the record is removed (seconds since the epoch).
    pub expires_at: u64,
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was new: this request owns it.
    Claimed,
    /// The key was used before: this is what it stands for.
    Existing(Idempotency),
}

/// What claiming an attempt found.
///
/// A claim is written just before the attempt's request is built and sent, so a claim
/// with no recorded result means the request may have gone out.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptClaim {
    /// This worker holds the attempt until the lease ends.
    Claimed,
    /// This worker holds the attempt now, but an earlier holder's lease ended without a
    /// recorded result: that holder may have sent it. The attempt must not be sent
    /// again as if nothing had happened (see `docs/delivery-semantics.md`).
    TakenOver,
    /// Another worker holds it and its lease has not ended.
    InProgress,
    /// It already ended: here is its record.
    Done(Box<Attempt>),
}

/// A job's place in the line of jobs waiting for one integration's hold or cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitPlace {
    /// Its place, from 1.
    pub place: u64,
    /// When the line's first job joined (ms since the epoch).
    pub since: u64,
}

/// What writing an ended attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The attempt is recorded.
    Written,
    /// An earlier run of the same job had recorded it already; nothing changed.
    AlreadyRecorded,
    /// The registration was erased while the attempt was in flight: the attempt is to be
    /// recorded scrubbed, as erasure leaves attempts (no body excerpt, no path, no quoted
    /// values), and nothing more may be written for the delivery.
    Erased,
}

/// Everything the log shows for one registration.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationLog {
    /// The registration.
    pub registration: Registration,
    /// Its deliveries, by integration.
    pub deliveries: Vec<Delivery>,
    /// Every attempt, by integration then number.
    pub attempts: Vec<Attempt>,
}

/// A campaign's deliveries in a time range, filtered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryQuery {
    /// The campaign.
    pub campaign_id: Option<CampaignId>,
    /// From this time, inclusive (ms since the epoch).
    pub from_ms: u64,
    /// To this time, exclusive (ms since the epoch).
    pub to_ms: u64,
    /// Only deliveries whose latest attempt had this outcome.
    pub outcome: Option<Outcome>,
    /// Only deliveries whose latest attempt had this class.
    pub class: Option<Class>,
    /// Only deliveries in this state.
    pub state: Option<DeliveryState>,
    /// Only deliveries to this integration.
    pub integration_id: Option<IntegrationId>,
    /// Newest first when true.
    pub newest_first: bool,
    /// At most this many.
    pub limit: usize,
    /// Where the previous page ended.
    pub start: Option<BTreeMap<String, String>>,
}

/// One page of results and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The position after the last item, when there may be more.
    pub next: Option<BTreeMap<String, String>>,
}

/// Storage for every function: each aggregate's store together. Implementations are cheap
/// to share by reference; a use case that needs less names the smaller trait it uses.
pub trait Store:
    AccountStore
    + CampaignStore
    + IdempotencyStore
    + RegistrationStore
    + ErasureStore
    + FlowStore
    + QueryStore
    + AuditStore
{
}

impl<T> Store for T where
    T: AccountStore
        + CampaignStore
        + IdempotencyStore
        + RegistrationStore
        + ErasureStore
        + FlowStore
        + QueryStore
        + AuditStore
{
}

/// The audit log of each account ([`crate::audit`]).
pub trait AuditStore: Send + Sync {
    /// Writes an entry (kept until its `expires_at`).
    fn put_audit(
        &self,
        entry: &crate::audit::AuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An account's entries in a time range, newest first, filtered and paged: `next`
    /// holds `after`, the last entry's id, when there may be more.
    fn audit_entries(
        &self,
        query: &crate::audit::AuditQuery,
    ) -> impl Future<Output = Result<Page<crate::audit::AuditEntry>, StoreError>> + Send;
}

/// Accounts and their API keys.
pub trait AccountStore: Send + Sync {
    /// Creates or replaces an account.
    fn put_account(&self, account: &Account)
        -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An account by id.
    fn account(
        &self,
        id: &AccountId,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;

    /// Stores a key (its hash) and lists it under its account.
    fn put_key(&self, key: &ApiKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The key whose hash this is.
    fn key_by_hash(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<ApiKey>, StoreError>> + Send;

    /// An account's keys.
    fn list_keys(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;

    /// Revokes a key; false when the account has no such key.
    fn delete_key(
        &self,
        account: &AccountId,
        key: &KeyId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Campaigns and their integrations.
pub trait CampaignStore: Send + Sync {
    /// Creates or replaces a campaign.
    fn put_campaign(
        &self,
        campaign: &Campaign,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A campaign of an account.
    fn campaign(
        &self,
        account: &AccountId,
        id: &CampaignId,
    ) -> impl Future<Output = Result<Option<Campaign>, StoreError>> + Send;

    /// An account's campaigns.
    fn list_campaigns(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<Campaign>, StoreError>> + Send;

    /// Creates an integration, or replaces it whatever it holds (new integrations and test
    /// set-ups); a change of a stored one goes through [`CampaignStore::change_integration`].
    fn put_integration(
        &self,
        integration: &Integration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes `next` over the stored integration if that is still at `next.version - 1`,
    /// the version `next` was made from ([`Integration::next_version`]): every change of
    /// an integration (settings, credentials, a pause, a resume, a cooldown, ...) is one
    /// conditional write, so none overwrites another made since it read. False when the
    /// integration changed (or went) meanwhile: nothing was written.
    fn change_integration(
        &self,
        next: &Integration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets an integration's `cooldown_until` to `until_ms`, unless the stored
    /// integration changed since `current` was read (a new setting, new credentials, a
    /// pause, another cooldown); true when it is set now.
    fn cool_integration(
        &self,
        current: &Integration,
        until_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let cooled = Integration {
            cooldown_until: Some(until_ms),
            ..current.next_version()
        };
        async move { self.change_integration(&cooled).await }
    }

    /// An integration of an account.
    fn integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> impl Future<Output = Result<Option<Integration>, StoreError>> + Send;

    /// An account's integrations.
    fn list_integrations(
        &self,
        account: &AccountId,
    ) -> impl Future<Output = Result<Vec<Integration>, StoreError>> + Send;

    /// Removes an integration; false when the account has no such integration.
    fn delete_integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Idempotency keys of submissions.
pub trait IdempotencyStore: Send + Sync {
    /// Claims an idempotency key for `record` (insert-once).
    fn claim_idempotency(
        &self,
        record: &Idempotency,
    ) -> impl Future<Output = Result<IdempotencyClaim, StoreError>> + Send;

    /// Takes over a key whose holder's lease ended at `expired_lease`; false when someone
    /// else took it first.
    fn take_over_idempotency(
        &self,
        record: &Idempotency,
        expired_lease: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks a key's registration as fully queued.
    fn finish_idempotency(
        &self,
        record: &Idempotency,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a lease early, so a retry can take over at once.
    fn release_idempotency(
        &self,
        record: &Idempotency,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Registrations, their deliveries and the attempts of each.
pub trait RegistrationStore: Send + Sync {
    /// Stores a registration and its pending deliveries in one transaction; false when it
    /// existed already (a retry), in which case nothing changes.
    fn create_registration(
        &self,
        registration: &Registration,
        deliveries: &[Delivery],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes a registration that was never acknowledged (its jobs could not be queued).
    fn delete_registration(
        &self,
        registration: &Registration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A registration by id.
    fn registration(
        &self,
        id: &RegistrationId,
    ) -> impl Future<Output = Result<Option<Registration>, StoreError>> + Send;

    /// One delivery.
    fn delivery(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// A registration with its deliveries and attempts: one query.
    fn registration_log(
        &self,
        id: &RegistrationId,
    ) -> impl Future<Output = Result<Option<RegistrationLog>, StoreError>> + Send;

    /// Claims attempt `number` of a delivery until `lease_until` (ms since the epoch).
    /// An attempt whose holder's lease ended before `now` can be claimed again.
    fn claim_attempt(
        &self,
        registration: &Registration,
        integration: &IntegrationId,
        number: u32,
        lease_until: u64,
        now: u64,
    ) -> impl Future<Output = Result<AttemptClaim, StoreError>> + Send;

    /// Writes an ended attempt over its claim, unless it was recorded already. When an
    /// erasure reached the claim first, nothing is written and [`Recorded::Erased`] says
    /// so: the caller records the attempt scrubbed instead
    /// ([`crate::erasure::record_attempt`] does both).
    fn record_attempt(
        &self,
        attempt: &Attempt,
        expires_at: u64,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// Moves a delivery to the state of its attempt `delivery.attempts`, unless a later
    /// attempt has been recorded already (so replays are harmless), or it was erased
    /// (`erased` is final: nothing is written over it). Paused deliveries are listed
    /// under their integration until resumed.
    fn update_delivery(
        &self,
        delivery: &Delivery,
        expires_at: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Leaves `note` on a delivery whose job went back to the queue with no attempt made,
    /// to wait for attempt `attempt`: written only while the delivery is `pending` or
    /// `retrying` with fewer than `attempt` attempts ended, and exactly as read (one
    /// conditional write), touching nothing but the note (not its state, attempts or due
    /// time). False when nothing was written: no such delivery, or it ended, was erased,
    /// paused, or moved on meanwhile.
    fn note_waiting(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        attempt: u32,
        note: &WaitNote,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The deliveries waiting on a paused integration (at most `limit`), in order of
    /// registration id, from the first after `after` (from the start when `None`).
    fn paused_deliveries(
        &self,
        integration: &IntegrationId,
        after: Option<&RegistrationId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(RegistrationId, IntegrationId)>, StoreError>> + Send;

    /// Takes a delivery out of the paused list, setting its state to `state`.
    fn unpause_delivery(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        state: DeliveryState,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The receipt time (ms since the epoch) of the newest registration of a person
    /// (by [`subject_hash`](crate::erasure::subject_hash)) delivered to an integration.
    fn delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Moves that marker forward to `received_at` (never back); true when it moved.
    fn advance_delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
        received_at: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a waiting delivery's due time to `due_ms`, provided it is still waiting
    /// exactly as `seen` (nothing wrote it since); true when moved. This is the
    /// reconciler's claim: of two runs, only one moves it.
    fn reschedule_waiting(
        &self,
        seen: &Waiting,
        due_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// What erasing a registration writes, step by step; the workflow, and what each step
/// keeps, is the erasure use case's ([`crate::erasure::erase`]).
pub trait ErasureStore: Send + Sync {
    /// A registration's attempts as stored: the recorded ones, and the claims in flight.
    fn attempt_slots(
        &self,
        registration: &RegistrationId,
    ) -> impl Future<Output = Result<Vec<AttemptSlot>, StoreError>> + Send;
    /// Writes the erased copy of a registration over the stored one.
    fn put_erased_registration(
        &self,
        registration: &Registration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks an attempt's claim as reached by an erasure, so that its result is recorded
    /// scrubbed; false when it is no longer a claim (it was recorded meanwhile).
    fn mark_claim_erased(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        number: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes a scrubbed copy of a recorded attempt over it, marked erased, keeping its
    /// expiry.
    fn put_scrubbed_attempt(
        &self,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a scrubbed attempt over a claim an erasure reached, unless the attempt was
    /// recorded already; true when written.
    fn record_scrubbed_attempt(
        &self,
        attempt: &Attempt,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Writes `stopped` over a delivery still exactly in the state and attempt count of
    /// `seen` (one conditional write); false when it moved on meanwhile.
    fn put_stopped_delivery(
        &self,
        seen: &Delivery,
        stopped: &Delivery,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Forgets a registration's address: it is no longer found by
    /// [`QueryStore::subject_registrations`].
    fn forget_subject(
        &self,
        registration: &Registration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An attempt as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptSlot {
    /// Recorded.
    Recorded(Box<Attempt>),
    /// Claimed and not recorded yet: in flight, or its worker died.
    InFlight {
        /// The delivery's integration.
        integration_id: IntegrationId,
        /// The attempt's number.
        number: u32,
    },
}

/// Per-integration flow control: concurrency slots, the circuit breaker, the line of jobs waiting for a time.
pub trait FlowStore: Send + Sync {
    /// The lease slots of an integration now held or once held: (slot number, lease end in
    /// ms since the epoch). See [`crate::deliver::limit`].
    fn concurrency_slots(
        &self,
        integration: &IntegrationId,
    ) -> impl Future<Output = Result<Vec<(u32, u64)>, StoreError>> + Send;

    /// Claims slot `slot` for `holder` until `lease_until`, if it is free or its lease ended
    /// before `now` (one conditional write); true when claimed.
    fn claim_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
        lease_until: u64,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Frees a slot, if `holder` still holds it.
    fn release_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An integration's circuit breaker, if it was ever written.
    fn breaker(
        &self,
        integration: &IntegrationId,
    ) -> impl Future<Output = Result<Option<Breaker>, StoreError>> + Send;

    /// Writes `breaker` with version `breaker.version + 1`, unless the stored version is
    /// no longer `breaker.version` (0: none stored); true when written.
    fn put_breaker(
        &self,
        breaker: &Breaker,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Counts one more job waiting for `until` (ms since the epoch), joining at `now_ms`,
    /// and returns its place in that line (from 1) and when the line's first job joined:
    /// how far apart, and at what pace, the waiting jobs come back.
    fn join_wait(
        &self,
        integration: &IntegrationId,
        until: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<WaitPlace, StoreError>> + Send;
}

/// Reads across registrations: a campaign's deliveries, a person's registrations, overdue waiting deliveries.
pub trait QueryStore: Send + Sync {
    /// The registrations of an account whose email address has this
    /// [`subject_hash`](crate::erasure::subject_hash); erased ones are no longer found.
    fn subject_registrations(
        &self,
        account: &AccountId,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<RegistrationId>, StoreError>> + Send;

    /// Waiting deliveries (pending, retrying, paused) due at or before `until_ms`, oldest
    /// first, at most `limit`: Queries on the sparse waiting index, never a scan.
    fn overdue_deliveries(
        &self,
        until_ms: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Waiting>, StoreError>> + Send;

    /// A campaign's deliveries in a time range, filtered and paged.
    fn campaign_deliveries(
        &self,
        query: &DeliveryQuery,
    ) -> impl Future<Output = Result<Page<Delivery>, StoreError>> + Send;

    /// The deliveries of every campaign in `campaigns`, merged by time: the query's
    /// campaign is ignored, everything else applies as in [`QueryStore::campaign_deliveries`].
    fn deliveries_of_campaigns(
        &self,
        campaigns: &[CampaignId],
        query: &DeliveryQuery,
    ) -> impl Future<Output = Result<Page<Delivery>, StoreError>> + Send;

    /// One page (at most `limit`, newest first) of the registrations found by
    /// [`QueryStore::subject_registrations`], from where `start` says the last page ended.
    fn subject_registrations_page(
        &self,
        account: &AccountId,
        subject: &str,
        start: Option<&BTreeMap<String, String>>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<RegistrationId>, StoreError>> + Send;
}

/// How many partitions the waiting index (`gsi3`) spreads waiting deliveries over.
pub const WAITING_SHARDS: u32 = 16;

/// A delivery in the waiting index: who, and when it was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The registration.
    pub registration_id: RegistrationId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// When it was due (ms since the epoch).
    pub due_ms: u64,
}

/// May a wait note for attempt `attempt` be left on `d` (see [`RegistrationStore::note_waiting`])?
pub fn may_note_waiting(d: &Delivery, attempt: u32) -> bool {
    matches!(d.state, DeliveryState::Pending | DeliveryState::Retrying) && d.attempts < attempt
}

/// When a waiting delivery is due, or `None` when it is not waiting (it ended): a pending
/// one from its last change (creation or resume), a retrying one at its next attempt, a
/// paused one from when it was parked.
pub fn waiting_due(d: &Delivery) -> Option<u64> {
    match d.state {
        DeliveryState::Pending | DeliveryState::Paused => Some(d.updated_at),
        DeliveryState::Retrying => Some(d.next_attempt_at.unwrap_or(d.updated_at)),
        _ => None,
    }
}

/// How many partitions a campaign's deliveries are spread over in `gsi1`, so one big
/// campaign stays under DynamoDB's per-partition write limit (docs/deploy.md has the
/// figure).
pub const CAMPAIGN_SHARDS: u32 = 16;

/// A stable hash (FNV-1a) of a registration id: the shard of its deliveries.
fn registration_hash(registration: &RegistrationId) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in registration.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The waiting-index shard of a delivery.
pub fn waiting_shard(registration: &RegistrationId) -> u32 {
    registration_hash(registration) % WAITING_SHARDS
}

/// The `gsi1` partition of a delivery: `CMP#<campaign>#<shard, 2 digits>`.
pub fn gsi1_partition(campaign: &CampaignId, registration: &RegistrationId) -> String {
    campaign_partition(campaign, registration_hash(registration) % CAMPAIGN_SHARDS)
}

/// One of a campaign's `gsi1` partitions.
pub fn campaign_partition(campaign: &CampaignId, shard: u32) -> String {
    format!("CMP#{campaign}#{shard:02}")
}

/// The sort key of a delivery in `gsi3`: due time first, so "overdue" is one key range.
pub fn gsi3_sort_key(
    due_ms: u64,
    registration: &RegistrationId,
    integration: &IntegrationId,
) -> String {
    format!("{due_ms:013}#{registration}#{integration}")
}

/// The sort key of a delivery in `gsi1`: time first, so a range of times is one range of keys.
pub fn gsi1_sort_key(
    received_at: u64,
    registration: &RegistrationId,
    integration: &IntegrationId,
) -> String {
    format!("{received_at:013}#{registration}#{integration}")
}

/// Does a delivery pass a query's filters (time range excluded)?
pub fn matches(query: &DeliveryQuery, d: &Delivery) -> bool {
    query
        .outcome
        .is_none_or(|o| d.last.as_ref().is_some_and(|l| l.outcome == o))
        && query
            .class
            .is_none_or(|c| d.last.as_ref().is_some_and(|l| l.class == c))
        && query.state.is_none_or(|s| d.state == s)
        && query
            .integration_id
            .as_ref()
            .is_none_or(|i| &d.integration_id == i)
}
