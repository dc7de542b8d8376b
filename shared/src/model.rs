//! The domain: accounts, campaigns, integrations, registrations, deliveries, attempts, and
//! the delivery job that travels through the queue.
//!
//! Every enum here is stored or returned, so its wire form is pinned by a test.

use crate::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use leadrelay_explain::provider::Provider;
use leadrelay_explain::verdict::{Class, Outcome, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A customer (tenant): owns campaigns, integrations and keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// A name for people.
    pub name: String,
    /// When it was created (ms since the epoch).
    pub created_at: u64,
}

/// A source of registrations, with the integrations its registrations go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Its id.
    pub id: CampaignId,
    /// The account that owns it.
    pub account_id: AccountId,
    /// A name for people.
    pub name: String,
    /// The integrations every registration is delivered to, in order.
    pub integrations: Vec<Attached>,
    /// How long registrations are kept, in days.
    pub retention_days: u32,
    /// When it was created (ms since the epoch).
    pub created_at: u64,
}

/// An integration attached to a campaign, with its provider (which never changes), so
/// accepting a registration needs no read of the integrations themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    /// The integration.
    pub id: IntegrationId,
    /// Its provider.
    pub provider: Provider,
}

/// Whether an integration delivers, or waits for its credentials to be fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// Delivering.
    Active,
    /// Deliveries wait: the provider refused the credentials.
    Paused {
        /// When it was paused (ms since the epoch).
        since: u64,
        /// The outcome that paused it (`unauthorized` or `forbidden`).
        outcome: Outcome,
        /// What the marketer reads: why, and what to fix.
        explanation: String,
        /// What to do to resume it.
        remedy: String,
    },
}

/// Credentials after encryption, each value sealed on its own (so one can be replaced, or
/// a signing secret moved aside during a rotation, without opening the others): only
/// the deliver function can open them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredentials {
    /// Base64 ciphertext by credential name (`api_key`, `signing_secret`, ...).
    pub values: BTreeMap<String, String>,
}

impl SealedCredentials {
    /// The names of the sealed values, shown masked by the API.
    pub fn names(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }
}

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCredentials")
            .field("names", &self.names())
            .finish_non_exhaustive()
    }
}

/// A configured destination: a provider, its settings, a field mapping and credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// Its id.
    pub id: IntegrationId,
    /// The account that owns it; it may serve many of that account's campaigns.
    pub account_id: AccountId,
    /// A name for people.
    pub name: String,
    /// Which provider's API it speaks.
    pub provider: Provider,
    /// The provider's settings (URL, list id, field mapping, ...), validated on write by
    /// [`crate::destination`]. Never holds secrets.
    pub settings: Map<String, Value>,
    /// The encrypted credentials, if the provider needs any.
    pub credentials: Option<SealedCredentials>,
    /// Bumped on every credentials change, so cached plaintext is never stale (the key of
    /// the deliver function's credentials cache; concurrency uses `version`).
    pub credentials_version: u32,
    /// Bumped by every change of the stored integration (settings, credentials, a pause,
    /// a resume, a cooldown): each write is conditional on the version it read, so two
    /// changes never overwrite each other (see [`crate::store::CampaignStore::change_integration`]).
    /// 0 for an integration stored before versions existed.
    #[serde(default)]
    pub version: u64,
    /// Active, or paused after an authentication failure.
    pub status: IntegrationStatus,
    /// Until when its provider asked leadrelay to slow down (ms since the epoch): after a
    /// rate-limited answer, the integration's other deliveries wait for this time instead
    /// of meeting the same limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_until: Option<u64>,
    /// When it was created (ms since the epoch).
    pub created_at: u64,
    /// When it was last changed (ms since the epoch).
    pub updated_at: u64,
}

impl Integration {
    /// A copy to change and write with [`crate::store::CampaignStore::change_integration`]: the
    /// next version of this one.
    pub fn next_version(&self) -> Integration {
        Integration {
            version: self.version + 1,
            ..self.clone()
        }
    }
}

/// One submitted form, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Its id.
    pub id: RegistrationId,
    /// The account of its campaign.
    pub account_id: AccountId,
    /// The campaign it came from.
    pub campaign_id: CampaignId,
    /// When leadrelay received it (ms since the epoch).
    pub received_at: u64,
    /// The fields, normalised.
    pub data: RegistrationData,
    /// The integrations it is delivered to (the campaign's, when it arrived).
    pub integration_ids: Vec<IntegrationId>,
    /// When it is removed (seconds since the epoch: DynamoDB's TTL unit).
    pub expires_at: u64,
    /// When the person's data was erased from it (ms since the epoch): see
    /// [`crate::erasure`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erased_at: Option<u64>,
}

/// What a person submitted: the well-known fields, consent, and the campaign's own
/// answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistrationData {
    /// The email address, normalised (trimmed, domain in lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Phone number, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Consent flags by purpose (`marketing`, `terms`, ...): only explicit yes/no.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consent: BTreeMap<String, bool>,
    /// The campaign's own answers and custom fields: text, numbers, yes/no.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// When the person submitted it, if the campaign says (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<u64>,
}

impl RegistrationData {
    /// The data as one flat object (`email`, `first_name`, ..., `consent.marketing`, the
    /// custom fields), the form field mappings and conditions read from.
    pub fn flat(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.insert(k.to_owned(), Value::from(v.as_str()));
            }
        };
        put("email", &self.email);
        put("first_name", &self.first_name);
        put("last_name", &self.last_name);
        put("phone", &self.phone);
        for (purpose, given) in &self.consent {
            out.insert(format!("consent.{purpose}"), Value::Bool(*given));
        }
        for (k, v) in &self.fields {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out
    }
}

/// Where one registration × integration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Queued, not tried yet.
    Pending,
    /// The provider took it (or already had it).
    Delivered,
    /// A retryable failure; another attempt is scheduled.
    Retrying,
    /// A permanent failure: retrying the same data cannot help.
    Failed,
    /// Retryable failures until the schedule ran out.
    Exhausted,
    /// Waiting for the integration's credentials to be fixed.
    Paused,
    /// Not sent: a condition of the integration excludes this registration.
    Skipped,
    /// Never sent: the person's data was erased while it waited.
    Erased,
    /// Never sent: a newer registration of the same person had already been delivered
    /// to this integration, and sending this older one would overwrite it.
    Superseded,
}

impl DeliveryState {
    /// Every state, for filters and tests.
    pub const ALL: [DeliveryState; 9] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Retrying,
        DeliveryState::Failed,
        DeliveryState::Exhausted,
        DeliveryState::Paused,
        DeliveryState::Skipped,
        DeliveryState::Erased,
        DeliveryState::Superseded,
    ];

    /// Is nothing more going to happen by itself?
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered
                | DeliveryState::Failed
                | DeliveryState::Exhausted
                | DeliveryState::Skipped
                | DeliveryState::Erased
                | DeliveryState::Superseded
        )
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Failed => "failed",
            DeliveryState::Exhausted => "exhausted",
            DeliveryState::Paused => "paused",
            DeliveryState::Skipped => "skipped",
            DeliveryState::Erased => "erased",
            DeliveryState::Superseded => "superseded",
        }
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The first try, or a scheduled retry.
    #[default]
    Automatic,
    /// Someone pressed resend.
    Manual,
    /// Drained after a paused integration got new credentials.
    Resumed,
}

/// The outcome of the latest attempt, kept on the delivery for lists and filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAttempt {
    /// Its number.
    pub number: u32,
    /// When it ended (ms since the epoch).
    pub at: u64,
    /// Its HTTP status, if a response came.
    pub status: Option<u16>,
    /// Its class.
    pub class: Class,
    /// Its outcome.
    pub outcome: Outcome,
    /// The provider's code, if any.
    pub provider_code: Option<String>,
}

/// One registration × one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The registration.
    pub registration_id: RegistrationId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// The campaign of the registration (for campaign queries).
    pub campaign_id: CampaignId,
    /// The integration's provider, when the delivery was created.
    pub provider: Provider,
    /// Where it stands.
    pub state: DeliveryState,
    /// How many attempts have ended.
    pub attempts: u32,
    /// When the next attempt is due, while retrying (ms since the epoch).
    pub next_attempt_at: Option<u64>,
    /// The latest attempt's outcome.
    pub last: Option<LastAttempt>,
    /// When the registration was received (ms since the epoch), for ordering.
    pub received_at: u64,
    /// When it last changed (ms since the epoch).
    pub updated_at: u64,
    /// Why its job went back to the queue with no attempt made, while it waits for that
    /// (see [`crate::store::RegistrationStore::note_waiting`]); cleared by the next attempt recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitNote>,
}

/// What held a waiting delivery back without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// The integration is held by its circuit breaker.
    Held,
    /// The provider asked leadrelay to slow down: the integration's cooldown runs.
    Cooldown,
}

/// A note on a waiting delivery for its log: its job went back to the queue with no
/// attempt made or counted, and when it comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitNote {
    /// What held it back.
    pub kind: WaitKind,
    /// When its job comes back (ms since the epoch).
    pub until: u64,
    /// What the marketer reads ([`crate::notices`]).
    pub note: String,
}

/// What was sent, without secrets: enough to recognise the request in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSummary {
    /// `POST`, `PUT`, ...
    pub method: String,
    /// The URL, with userinfo and query values removed.
    pub url: String,
    /// Size of the body sent, in bytes.
    pub body_bytes: u64,
    /// Set when the request carried several registrations (a batch-mode webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchNote>,
}

/// Which batch request an attempt went out in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchNote {
    /// The batch request's `webhook-id`.
    pub id: String,
    /// How many registrations it carried.
    pub items: u32,
    /// This registration's item id in it (the `id` of its item).
    pub item_id: String,
}

/// What came back, bounded: a few headers of interest and the opening of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseSummary {
    /// The status.
    pub status: u16,
    /// Headers that explain the outcome (`retry-after`, rate-limit headers, content type,
    /// location), never cookies or credentials.
    pub headers: BTreeMap<String, String>,
    /// The opening of the body, as text.
    pub body_excerpt: String,
    /// Whether the body was longer than what was read or kept.
    pub body_truncated: bool,
}

/// A request an attempt sent, and that succeeded, before the request it reports: a
/// provider that needs two calls for one delivery (Klaviyo's profile import before its
/// subscription job, Mailchimp's member upsert before its tags).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What was sent.
    pub request: RequestSummary,
    /// The status that came back.
    pub status: Option<u16>,
    /// What it came to (always a success: a failed step ends the attempt).
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// One try of a delivery, as the log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The registration.
    pub registration_id: RegistrationId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// 1 for the first try.
    pub number: u32,
    /// What started it.
    pub trigger: Trigger,
    /// When it started (ms since the epoch).
    pub started_at: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Requests sent before `request` in this attempt, in order, each of which
    /// succeeded (empty for providers that take one request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preceding: Vec<Step>,
    /// What was sent, if anything was (pre-flight refusals send nothing); the request
    /// whose answer `verdict` judges.
    pub request: Option<RequestSummary>,
    /// What came back, if a response did.
    pub response: Option<ResponseSummary>,
    /// The classification and its explanation.
    pub verdict: Verdict,
    /// The state the delivery moved to.
    pub delivery_state: DeliveryState,
    /// When the next attempt is due, if one is scheduled (ms since the epoch).
    pub next_attempt_at: Option<u64>,
    /// The [`Integration::version`] the attempt was made with: a pause it causes applies
    /// only while the integration is still at that version, so a replayed old attempt
    /// never pauses an integration that was changed (fixed, resumed) since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_version: Option<u64>,
}

/// A delivery job: what the queue carries. Ids only; the data stays in the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverJob {
    /// The account (for tenant checks on load).
    pub account_id: AccountId,
    /// The registration.
    pub registration_id: RegistrationId,
    /// The integration.
    pub integration_id: IntegrationId,
    /// Which attempt this job is (1 for the first).
    pub attempt: u32,
    /// Not before this time (ms since the epoch): waits longer than the queue's 15-minute
    /// delay limit hop through the queue until it is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// What started it.
    #[serde(default)]
    pub trigger: Trigger,
}

/// A queue message: tagged and versioned, so old messages stay readable after a deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Task {
    /// Deliver one registration to one integration.
    DeliverV1(DeliverJob),
    /// Re-queue one chunk of the deliveries parked on a resumed integration, then the
    /// next chunk ([`crate::deliver::resume`]).
    DrainV1(DrainJob),
}

impl Task {
    /// The delivery job, if this is one.
    pub fn as_deliver(&self) -> Option<&DeliverJob> {
        match self {
            Task::DeliverV1(job) => Some(job),
            Task::DrainV1(_) => None,
        }
    }
}

/// A drain job: re-queue the next chunk of the deliveries parked on a resumed integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainJob {
    /// The account.
    pub account_id: AccountId,
    /// The resumed integration.
    pub integration_id: IntegrationId,
    /// The [`Integration::version`] the resume wrote: a read of an older version is stale
    /// (the job is tried again later); a pause at this version or later stops the drain.
    pub version: u64,
    /// The last registration of the chunk before (parked deliveries are taken in order
    /// of registration id), or none for the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<RegistrationId>,
    /// How many chunks came before this one (for the logs).
    #[serde(default)]
    pub chunk: u32,
}

/// Which key an API caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Posts registrations to one campaign.
    Ingest,
    /// Reads and manages one account, as far as its [`Access`](crate::access::Access) lets it.
    Account,
    /// Creates accounts and their first admin key; reads no account's data.
    Platform,
}

/// A stored key: its hash, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Its id (shown in lists, used to revoke).
    pub id: KeyId,
    /// Ingest or account.
    pub kind: KeyKind,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// For an ingest key, the one campaign it posts to.
    pub campaign_id: Option<CampaignId>,
    /// SHA-256 of the key, hex.
    pub hash: String,
    /// The last four characters, to tell keys apart in lists.
    pub hint: String,
    /// When it was created (ms since the epoch).
    pub created_at: u64,
    /// An account key's role and scope; a key stored without one is an unrestricted admin.
    #[serde(default)]
    pub access: crate::access::Access,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_wire_form_is_tagged_and_versioned() {
        let job = DeliverJob {
            account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            registration_id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            integration_id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            attempt: 2,
            not_before: None,
            trigger: Trigger::Manual,
        };

        let text = serde_json::to_string(&Task::DeliverV1(job.clone())).unwrap();

        assert_eq!(
            text,
            r#"{"type":"deliver_v1","account_id":"acc_0123456789abcdefghjkmnpqrs","registration_id":"reg_0123456789abcdefghjkmnpqrs","integration_id":"int_0123456789abcdefghjkmnpqrs","attempt":2,"trigger":"manual"}"#
        );
        assert_eq!(
            serde_json::from_str::<Task>(&text).unwrap(),
            Task::DeliverV1(job)
        );
    }

    #[test]
    fn delivery_states_have_snake_case_wire_forms() {
        for state in DeliveryState::ALL {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                Value::from(state.as_str())
            );
        }
        assert!(DeliveryState::Exhausted.is_terminal());
        assert!(!DeliveryState::Paused.is_terminal());
        assert_eq!(
            serde_json::to_value(Trigger::Resumed).unwrap(),
            Value::from("resumed")
        );
        assert_eq!(
            serde_json::to_value(KeyKind::Account).unwrap(),
            Value::from("account")
        );
        assert_eq!(
            serde_json::to_value(WaitKind::Held).unwrap(),
            Value::from("held")
        );
        assert_eq!(
            serde_json::to_value(WaitKind::Cooldown).unwrap(),
            Value::from("cooldown")
        );
    }

    #[test]
    fn a_wait_note_rides_on_the_delivery_and_old_deliveries_still_read() {
        let old = r#"{"registration_id":"reg_0123456789abcdefghjkmnpqrs","integration_id":"int_0123456789abcdefghjkmnpqrs","campaign_id":"cmp_0123456789abcdefghjkmnpqrs","provider":"webhook","state":"pending","attempts":0,"next_attempt_at":null,"last":null,"received_at":1,"updated_at":1}"#;
        let mut d: Delivery = serde_json::from_str(old).unwrap();
        assert_eq!(d.waiting, None);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            old,
            "left out when none"
        );

        d.waiting = Some(WaitNote {
            kind: WaitKind::Held,
            until: 5,
            note: "Waiting, not failed".into(),
        });

        let text = serde_json::to_string(&d).unwrap();
        assert!(
            text.ends_with(r#""waiting":{"kind":"held","until":5,"note":"Waiting, not failed"}}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Delivery>(&text).unwrap(), d);
    }

    #[test]
    fn flat_data_lists_consent_and_custom_fields() {
        let mut data = RegistrationData {
            email: Some("a@b.co".into()),
            ..RegistrationData::default()
        };
        data.consent.insert("marketing".into(), true);
        data.fields.insert("score".into(), Value::from(42));

        let flat = data.flat();

        assert_eq!(flat["email"], "a@b.co");
        assert_eq!(flat["consent.marketing"], true);
        assert_eq!(flat["score"], 42);
        assert!(!flat.contains_key("first_name"));
    }

    #[test]
    fn attempts_list_preceding_steps_only_when_there_are_some() {
        let step = Step {
            request: RequestSummary {
                method: "POST".into(),
                url: "https://a.klaviyo.com/api/profile-import".into(),
                body_bytes: 120,
                batch: None,
            },
            status: Some(201),
            outcome: Outcome::Delivered,
            duration_ms: 40,
        };

        let text = serde_json::to_string(&step).unwrap();

        assert_eq!(
            text,
            r#"{"request":{"method":"POST","url":"https://a.klaviyo.com/api/profile-import","body_bytes":120},"status":201,"outcome":"delivered","duration_ms":40}"#
        );
        // Attempts recorded before steps existed still read.
        let old = r#"{"registration_id":"reg_0123456789abcdefghjkmnpqrs","integration_id":"int_0123456789abcdefghjkmnpqrs","number":1,"trigger":"automatic","started_at":0,"duration_ms":0,"request":null,"response":null,"verdict":{"status":null,"class":"not_sent","reason":null,"outcome":"invalid_data","retryable":false,"retry_after_s":null,"provider_code":null,"field":null,"message":null,"explanation":"","remedy":""},"delivery_state":"failed","next_attempt_at":null}"#;
        let attempt: Attempt = serde_json::from_str(old).unwrap();
        assert!(attempt.preceding.is_empty());
        assert!(!serde_json::to_string(&attempt)
            .unwrap()
            .contains("preceding"));
    }

    #[test]
    fn sealed_credentials_never_debug_print_their_ciphertext() {
        let sealed = SealedCredentials {
            values: BTreeMap::from([("api_key".to_owned(), "c2VjcmV0".to_owned())]),
        };
        let shown = format!("{sealed:?}");
        assert!(!shown.contains("c2VjcmV0"));
        assert!(shown.contains("api_key"));
    }

    #[test]
    fn a_batch_note_rides_on_the_request_summary_and_is_left_out_when_single() {
        let mut summary = RequestSummary {
            method: "POST".into(),
            url: "https://hooks.example.com/in".into(),
            body_bytes: 2,
            batch: None,
        };
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            r#"{"method":"POST","url":"https://hooks.example.com/in","body_bytes":2}"#
        );

        summary.batch = Some(BatchNote {
            id: "msg_batch_1".into(),
            items: 3,
            item_id: "msg_a".into(),
        });

        let text = serde_json::to_string(&summary).unwrap();
        assert!(
            text.ends_with(r#""batch":{"id":"msg_batch_1","items":3,"item_id":"msg_a"}}"#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<RequestSummary>(&text).unwrap(),
            summary
        );
    }
}
