//! Accepting a registration: authenticate the campaign's key, read the body, store the
//! registration with one pending delivery per integration, queue one job per delivery,
//! and only then acknowledge.
//!
//! # Idempotency
//!
//! With an `Idempotency-Key`, the first request claims the key (insert-once) with a lease;
//! a repeat with the same body gets the same registration id and queues nothing new; a
//! repeat with another body is refused. Concurrent repeats wait for the first to finish.
//! When queueing fails, the lease is released so the client's retry (same key) takes
//! over and completes the same registration: the registration is kept (never removed,
//! since a job that did reach the queue may have been delivered already), and the retry
//! queues every job again; a job whose attempt already ran finds it recorded and sends
//! nothing. Without a key, a registration none of whose jobs were queued is removed
//! again and the caller is told to retry; one some of whose jobs were queued is kept and
//! answered 202 (with `deliveries` counting the queued jobs): its other deliveries stay
//! `pending` until the reconciler queues them. See `docs/delivery-semantics.md`.
//!
//! A registration without a key is keyed by its body for [`REPEAT_WINDOW`]: a client
//! that never got its answer (a timeout, a crash after the registration was stored) and
//! posts the same body again gets the same registration, instead of a second one that
//! would send the same person twice. Every registration names its person (an email
//! address or a phone number is required), so two posts of the very same body within
//! minutes are the same person's same registration either way.

use crate::clock;
use crate::ids::{CampaignId, RegistrationId};
use crate::intake::{self, Encoding, FieldError, IntakeError};
use crate::keys::{self, hash_key};
use crate::model::{
    Campaign, DeliverJob, Delivery, DeliveryState, KeyKind, Registration, Task, Trigger,
};
use crate::queue::{QueueError, TaskQueue};
use crate::store::{Idempotency, IdempotencyClaim, Store, StoreError};
use leadrelay_explain::email::{self, EmailRules};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a request may hold an idempotency key before another may take over.
pub const LEASE: Duration = Duration::from_secs(30);
/// How long idempotency keys are remembered.
pub const KEY_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// How long a repeat waits for the first request with its key to finish.
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(5);
/// How long a body without an `Idempotency-Key` is remembered: a repeat within this
/// window is the same registration.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Longest `Idempotency-Key` accepted.
pub const MAX_KEY_CHARS: usize = 255;
/// What a caller is told to wait before retrying after a queue failure, in seconds.
pub const RETRY_AFTER_S: u64 = 2;

/// One request to the ingest endpoint, transport removed.
#[derive(Debug, Clone, Copy)]
pub struct IngestRequest<'a> {
    /// The campaign id from the path.
    pub campaign_id: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<&'a str>,
    /// Whether the request carries leadrelay's own delivery header (a webhook pointed
    /// back at ingest).
    pub from_leadrelay: bool,
    /// The body.
    pub body: &'a [u8],
}

/// Whether a request carries leadrelay's own delivery header (`has_header` says whether
/// a header of that name is present): the edge's answer for
/// [`IngestRequest::from_leadrelay`], so it need not know the header.
pub fn sent_by_leadrelay(has_header: impl Fn(&str) -> bool) -> bool {
    has_header(crate::exchange::DELIVERY_HEADER)
}

/// Something a campaign should know about an accepted registration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// The field.
    pub field: String,
    /// A stable code.
    pub code: String,
    /// What will happen, in words.
    pub message: String,
}

/// An accepted registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its id.
    pub registration_id: RegistrationId,
    /// How many delivery jobs were queued for it.
    pub deliveries: usize,
    /// True when this repeats an earlier request with the same idempotency key.
    pub replayed: bool,
    /// Things the campaign should know (an address most providers will refuse).
    pub warnings: Vec<Warning>,
}

/// Why a registration was not accepted. Each variant maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No key, or not a valid one (401).
    #[error("a valid ingest key is required: send 'Authorization: Bearer <ingest key>'")]
    Unauthorized,
    /// A valid key of another campaign (403).
    #[error("this ingest key belongs to another campaign")]
    WrongCampaign,
    /// The campaign does not exist (404).
    #[error("campaign {0} does not exist")]
    CampaignNotFound(String),
    /// The body is too large (413).
    #[error("the body is {0} bytes; at most {max} are accepted", max = intake::MAX_BODY_BYTES)]
    TooLarge(usize),
    /// The body's type is not one this API reads (415).
    #[error("content type '{0}' is not accepted: send application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType(String),
    /// Some fields are invalid (422).
    #[error("the registration has invalid fields")]
    Invalid(Vec<FieldError>),
    /// The same idempotency key came with a different body (422).
    #[error("Idempotency-Key '{0}' was already used with a different body; use a new key for a new registration")]
    KeyReused(String),
    /// The idempotency key itself is unusable (400).
    #[error("Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters")]
    BadKey,
    /// A request with the same key (or, without a key, the same body) is still being
    /// processed (409). The text names which.
    #[error("a request with {0} is still being processed; retry shortly")]
    InProgress(String),
    /// A delivery of leadrelay's own arrived here (508).
    #[error("this request came from a leadrelay delivery; a webhook integration points back at leadrelay's own ingest")]
    Loop,
    /// The queue did not take every job (503): nothing was acknowledged; retry.
    #[error("the registration could not be queued; retry in {0} s with the same body (and the same Idempotency-Key, if one was sent)")]
    QueueUnavailable(u64),
    /// Storage failed (500; details logged, not returned).
    #[error("storage failed")]
    Store(#[from] StoreError),
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Accepts one registration, or says exactly why not.
pub async fn ingest<S: Store, Q: TaskQueue>(
    store: &S,
    queue: &Q,
    request: IngestRequest<'_>,
) -> Result<Accepted, IngestError> {
    if request.from_leadrelay {
        return Err(IngestError::Loop);
    }
    let campaign_id: CampaignId = request.campaign_id.parse().map_err(|_| {
        IngestError::CampaignNotFound(request.campaign_id.chars().take(64).collect())
    })?;
    let token = keys::bearer(request.authorization).ok_or(IngestError::Unauthorized)?;
    if KeyKind::of_key(token) != Some(KeyKind::Ingest) {
        return Err(IngestError::Unauthorized);
    }
    let key = store
        .key_by_hash(&hash_key(token))
        .await?
        .filter(|k| k.kind == KeyKind::Ingest)
        .ok_or(IngestError::Unauthorized)?;
    if key.campaign_id.as_ref() != Some(&campaign_id) {
        return Err(IngestError::WrongCampaign);
    }
    let encoding = Encoding::from_content_type(request.content_type).ok_or_else(|| {
        IngestError::UnsupportedMediaType(
            request
                .content_type
                .unwrap_or("")
                .chars()
                .take(80)
                .collect(),
        )
    })?;
    let data = intake::parse(request.body, encoding).map_err(|e| match e {
        IntakeError::TooLarge(n) => IngestError::TooLarge(n),
        IntakeError::Invalid(errors) => IngestError::Invalid(errors),
    })?;
    let campaign = store
        .campaign(&key.account_id, &campaign_id)
        .await?
        .ok_or_else(|| IngestError::CampaignNotFound(campaign_id.to_string()))?;

    let now = clock::now_ms();
    let mut registration = Registration {
        id: RegistrationId::generate(),
        account_id: campaign.account_id.clone(),
        campaign_id: campaign.id.clone(),
        received_at: now,
        integration_ids: campaign.integrations.iter().map(|a| a.id.clone()).collect(),
        expires_at: now / 1000 + u64::from(campaign.retention_days.max(1)) * 86_400,
        data,
        erased_at: None,
    };
    let warnings = warnings(&registration);

    let body_hash = sha256_hex(request.body);
    let (key_hash, retention, named) = match request.idempotency_key {
        Some(idem_key) => {
            if idem_key.is_empty()
                || idem_key.len() > MAX_KEY_CHARS
                || !idem_key.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(IngestError::BadKey);
            }
            let named = format!(
                "Idempotency-Key '{}'",
                idem_key.chars().take(80).collect::<String>()
            );
            (sha256_hex(idem_key.as_bytes()), KEY_RETENTION, named)
        }
        // Keyed by the body: a NUL byte never occurs in a key (printable ASCII only),
        // so the two kinds never meet.
        None => (
            sha256_hex(format!("\0body\0{body_hash}").as_bytes()),
            REPEAT_WINDOW,
            "the same body".to_owned(),
        ),
    };
    let mut record = Idempotency {
        campaign_id: campaign.id.clone(),
        key_hash,
        registration_id: registration.id.clone(),
        body_hash,
        queued: false,
        lease_until: now + LEASE.as_millis() as u64,
        expires_at: now / 1000 + retention.as_secs(),
    };
    let waited_until = now + WAIT_FOR_FIRST.as_millis() as u64;
    loop {
        match store.claim_idempotency(&record).await? {
            IdempotencyClaim::Claimed => break,
            IdempotencyClaim::Existing(existing) => {
                if existing.body_hash != record.body_hash {
                    let key = request.idempotency_key.unwrap_or_default();
                    return Err(IngestError::KeyReused(key.chars().take(80).collect()));
                }
                if existing.queued {
                    return Ok(Accepted {
                        registration_id: existing.registration_id,
                        deliveries: campaign.integrations.len(),
                        replayed: true,
                        warnings,
                    });
                }
                let now = clock::now_ms();
                if existing.lease_until < now {
                    record.registration_id = existing.registration_id.clone();
                    record.lease_until = now + LEASE.as_millis() as u64;
                    if store
                        .take_over_idempotency(&record, existing.lease_until)
                        .await?
                    {
                        // The earlier request stored this registration (or failed before
                        // it could); complete it under its own id and time.
                        if let Some(stored) = store.registration(&existing.registration_id).await? {
                            registration = stored;
                        } else {
                            registration.id = existing.registration_id;
                        }
                        break;
                    }
                    continue;
                }
                if now >= waited_until {
                    return Err(IngestError::InProgress(named));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    // Keyed by the body only, a queue failure is handled as without a key (the client
    // was never told to keep its key); the retry of the same body still finds the record.
    let keyed = request.idempotency_key.is_some();
    match store_and_queue(store, queue, &campaign, &registration, keyed).await {
        Ok(queued) => {
            store.finish_idempotency(&record).await?;
            Ok(Accepted {
                registration_id: registration.id,
                deliveries: queued,
                replayed: false,
                warnings,
            })
        }
        Err(e) => {
            // Let the client's retry take over at once instead of waiting out the lease.
            if let Err(release) = store.release_idempotency(&record).await {
                tracing::warn!(error = %release, "idempotency lease not released");
            }
            Err(e)
        }
    }
}

/// The pending deliveries of a new registration.
pub fn pending_deliveries(campaign: &Campaign, registration: &Registration) -> Vec<Delivery> {
    campaign
        .integrations
        .iter()
        .map(|attached| Delivery {
            registration_id: registration.id.clone(),
            integration_id: attached.id.clone(),
            campaign_id: campaign.id.clone(),
            provider: attached.provider,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: registration.received_at,
            updated_at: registration.received_at,
            waiting: None,
        })
        .collect()
}

/// Stores the registration and queues its jobs; how many were queued. With `keyed`
/// (an idempotency key) a queue failure keeps the registration for the retry.
async fn store_and_queue<S: Store, Q: TaskQueue>(
    store: &S,
    queue: &Q,
    campaign: &Campaign,
    registration: &Registration,
    keyed: bool,
) -> Result<usize, IngestError> {
    let deliveries = pending_deliveries(campaign, registration);
    let created = store.create_registration(registration, &deliveries).await?;
    let jobs: Vec<(Task, Duration)> = registration
        .integration_ids
        .iter()
        .map(|integration_id| {
            let job = DeliverJob {
                account_id: campaign.account_id.clone(),
                registration_id: registration.id.clone(),
                integration_id: integration_id.clone(),
                attempt: 1,
                not_before: None,
                trigger: Trigger::Automatic,
            };
            (Task::DeliverV1(job), Duration::ZERO)
        })
        .collect();
    if jobs.is_empty() {
        return Ok(0);
    }
    let total = jobs.len();
    let queued = match queue.send_all(&jobs).await {
        Ok(()) => return Ok(total),
        Err(QueueError::Partial { queued, .. }) => queued.len(),
        Err(_) => 0,
    };
    tracing::error!(registration_id = %registration.id, queued, total, "delivery jobs not all queued");
    if keyed {
        // Kept: the retry with the same key queues every job again, and jobs that ran
        // already find their attempt recorded.
        return Err(IngestError::QueueUnavailable(RETRY_AFTER_S));
    }
    if queued > 0 {
        // A queued job may have been delivered already: removing the registration (or
        // asking for a retry, which makes a second one) would send it twice. Accepted;
        // the reconciler queues the deliveries still pending.
        return Ok(queued);
    }
    if created {
        // Without an idempotency key nobody can complete this registration, and no job
        // of it reached the queue: remove it so the log shows no registration that was
        // never acknowledged.
        if let Err(del) = store.delete_registration(registration).await {
            tracing::error!(registration_id = %registration.id, error = %del, "unacknowledged registration not removed");
        }
    }
    Err(IngestError::QueueUnavailable(RETRY_AFTER_S))
}

/// What most providers will refuse, said at once so the campaign can ask the person to
/// correct it.
fn warnings(registration: &Registration) -> Vec<Warning> {
    let Some(address) = &registration.data.email else {
        return Vec::new();
    };
    match email::check(address, &EmailRules::DEFAULT) {
        Ok(()) => Vec::new(),
        Err(issue) => vec![Warning {
            field: "email".into(),
            code: format!("email_{}", issue.code()),
            message: format!(
                "accepted, but most email platforms will refuse it: {issue}. Each integration checks it before sending and logs why it was not sent."
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, IntegrationId, KeyId};
    use crate::model::{ApiKey, Attached};
    use crate::queue::memory::MemoryQueue;
    use crate::store::memory::MemoryStore;
    use crate::store::{AccountStore, CampaignStore, RegistrationStore};
    use leadrelay_explain::provider::Provider;

    struct Fixture {
        store: MemoryStore,
        queue: MemoryQueue,
        key: String,
        campaign: Campaign,
    }

    async fn fixture(integrations: usize) -> Fixture {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: account.clone(),
            name: "Spring quiz".into(),
            integrations: (0..integrations)
                .map(|_| Attached {
                    id: IntegrationId::generate(),
                    provider: Provider::Webhook,
                })
                .collect(),
            retention_days: 30,
            created_at: 0,
        };
        store.put_campaign(&campaign).await.unwrap();
        let key = keys::generate_key(KeyKind::Ingest);
        store
            .put_key(&ApiKey {
                id: KeyId::generate(),
                kind: KeyKind::Ingest,
                account_id: account,
                campaign_id: Some(campaign.id.clone()),
                hash: hash_key(key.expose()),
                hint: keys::key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
        Fixture {
            store,
            queue: MemoryQueue::new(),
            key: format!("Bearer {}", key.expose()),
            campaign,
        }
    }

    fn request<'a>(f: &'a Fixture, body: &'a [u8], key: Option<&'a str>) -> IngestRequest<'a> {
        IngestRequest {
            campaign_id: f.campaign.id.as_str(),
            authorization: Some(&f.key),
            content_type: Some("application/json"),
            idempotency_key: key,
            from_leadrelay: false,
            body,
        }
    }

    #[tokio::test]
    async fn an_accepted_registration_is_stored_and_one_job_queued_per_integration() {
        let f = fixture(2).await;

        let accepted = ingest(
            &f.store,
            &f.queue,
            request(&f, br#"{"email":"a@b.co"}"#, None),
        )
        .await
        .unwrap();

        assert_eq!(accepted.deliveries, 2);
        assert_eq!(f.queue.len(), 2);
        let log = f
            .store
            .registration_log(&accepted.registration_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(log.deliveries.len(), 2);
        assert!(log
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Pending));
    }

    #[tokio::test]
    async fn a_missing_or_foreign_key_is_refused_before_anything_is_read() {
        let f = fixture(1).await;
        let other = fixture(1).await;

        let mut r = request(&f, b"{}", None);
        r.authorization = None;
        assert!(matches!(
            ingest(&f.store, &f.queue, r).await,
            Err(IngestError::Unauthorized)
        ));
        let mut r = request(&f, b"{}", None);
        r.authorization = Some(&other.key);
        assert!(matches!(
            ingest(&f.store, &f.queue, r).await,
            Err(IngestError::Unauthorized)
        ));
        assert!(f.queue.is_empty());
    }

    #[tokio::test]
    async fn the_same_key_and_body_returns_the_same_registration_and_queues_nothing_new() {
        let f = fixture(1).await;
        let body = br#"{"email":"a@b.co"}"#;

        let first = ingest(&f.store, &f.queue, request(&f, body, Some("k1")))
            .await
            .unwrap();
        let again = ingest(&f.store, &f.queue, request(&f, body, Some("k1")))
            .await
            .unwrap();
        let other = ingest(
            &f.store,
            &f.queue,
            request(&f, br#"{"email":"c@d.co"}"#, Some("k1")),
        )
        .await;

        assert_eq!(first.registration_id, again.registration_id);
        assert!(again.replayed);
        assert_eq!(f.queue.len(), 1);
        assert!(matches!(other, Err(IngestError::KeyReused(k)) if k == "k1"));
    }

    #[tokio::test]
    async fn a_queue_failure_is_a_503_and_the_retry_completes_the_same_registration() {
        let f = fixture(2).await;
        let body = br#"{"email":"a@b.co"}"#;
        f.queue.refuse_next(1);

        let failed = ingest(&f.store, &f.queue, request(&f, body, Some("k"))).await;
        let retried = ingest(&f.store, &f.queue, request(&f, body, Some("k")))
            .await
            .unwrap();

        assert!(matches!(failed, Err(IngestError::QueueUnavailable(_))));
        assert!(!retried.replayed);
        assert_eq!(f.store.all_registrations().len(), 1);
        let jobs = f.queue.drain();
        assert!(jobs.iter().all(|(t, _)| t
            .as_deliver()
            .is_some_and(|j| j.registration_id == retried.registration_id)));
        assert!(jobs.len() >= 2);
    }

    #[tokio::test]
    async fn without_a_key_the_same_body_again_is_the_same_registration() {
        let f = fixture(1).await;
        let body = br#"{"email":"a@b.co","first_name":"Ada"}"#;

        // A client that never got its answer posts the same body again.
        let first = ingest(&f.store, &f.queue, request(&f, body, None))
            .await
            .unwrap();
        let again = ingest(&f.store, &f.queue, request(&f, body, None))
            .await
            .unwrap();
        assert_eq!(first.registration_id, again.registration_id);
        assert!(!first.replayed && again.replayed);
        assert_eq!(f.queue.len(), 1, "its job was queued once");
        assert_eq!(f.store.all_registrations().len(), 1);

        // The same person with other data is a new registration.
        let changed = ingest(
            &f.store,
            &f.queue,
            request(&f, br#"{"email":"a@b.co","first_name":"Ada L."}"#, None),
        )
        .await
        .unwrap();
        assert_ne!(changed.registration_id, first.registration_id);

        // A key of the client's own is its own line, even for the same body.
        let keyed = ingest(&f.store, &f.queue, request(&f, body, Some("k")))
            .await
            .unwrap();
        assert_ne!(keyed.registration_id, first.registration_id);
    }

    #[tokio::test]
    async fn without_a_key_a_queue_failure_leaves_no_registration_behind() {
        let f = fixture(1).await;
        f.queue.refuse_next(1);

        let failed = ingest(
            &f.store,
            &f.queue,
            request(&f, br#"{"email":"a@b.co"}"#, None),
        )
        .await;

        assert!(matches!(failed, Err(IngestError::QueueUnavailable(_))));
        assert!(f.store.all_registrations().is_empty());
    }

    #[tokio::test]
    async fn invalid_input_names_the_field_and_stores_nothing() {
        let f = fixture(1).await;

        let err = ingest(
            &f.store,
            &f.queue,
            request(&f, br#"{"email":"nope"}"#, None),
        )
        .await;

        let Err(IngestError::Invalid(errors)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].field, "email");
        assert!(f.store.all_registrations().is_empty());
        assert!(f.queue.is_empty());
    }

    #[tokio::test]
    async fn the_seed_address_is_accepted_with_a_warning() {
        let f = fixture(1).await;

        let accepted = ingest(
            &f.store,
            &f.queue,
            request(
                &f,
                r#"{"email":"calebæhnson@provider.com"}"#.as_bytes(),
                None,
            ),
        )
        .await
        .unwrap();

        assert_eq!(accepted.warnings.len(), 1);
        assert_eq!(accepted.warnings[0].code, "email_non_ascii");
        assert!(
            accepted.warnings[0].message.contains("'æ'"),
            "{}",
            accepted.warnings[0].message
        );
    }

    #[tokio::test]
    async fn a_delivery_of_our_own_is_refused_as_a_loop() {
        let f = fixture(1).await;
        let mut r = request(&f, b"{}", None);
        r.from_leadrelay = true;
        assert!(matches!(
            ingest(&f.store, &f.queue, r).await,
            Err(IngestError::Loop)
        ));
    }
}
