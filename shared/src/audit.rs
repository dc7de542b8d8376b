//! The audit log: every configuration change and operator action of an account, with
//! the key that made it, when, what it acted on and which fields changed: names only,
//! never a secret's value or a person's data.
//!
//! | action | target | changed |
//! |---|---|---|
//! | `account.created` | `account:<id>` | the first admin key's id |
//! | `key.created`, `key.revoked` | `key:<id>` | `role`, `campaigns`, `personal_data` (created) |
//! | `ingest_key.created` | `campaign:<id>` | the key's id |
//! | `campaign.created`, `campaign.changed` | `campaign:<id>` | the fields set |
//! | `integration.created`, `integration.changed` | `integration:<id>` | `name`, `settings.<name>` for each setting given |
//! | `credentials.rotated` | `integration:<id>` | `credentials.<name>` for each credential set or removed |
//! | `integration.tested` | `integration:<id>` | |
//! | `delivery.resent` | `delivery:<registration>/<integration>` | |
//! | `erasure` | `registrations` | the erased registrations' ids |
//!
//! Entries leave with the account's audit retention (DynamoDB TTL on `expires_at`; the
//! template's `AuditRetentionDays`).

use crate::clock;
use crate::ids::{AccountId, KeyId};
use crate::keys::random_base62;
use crate::model::ApiKey;
use crate::store::{AuditStore, Page, StoreError};
use serde::{Deserialize, Serialize};

/// How long audit entries are kept when the deployment does not say.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// An account was made over the API by the platform key.
    #[serde(rename = "account.created")]
    AccountCreated,
    /// An account key was made.
    #[serde(rename = "key.created")]
    KeyCreated,
    /// A key was revoked.
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    /// An integration was removed (detached from the campaigns named in `changed`).
    #[serde(rename = "integration.deleted")]
    IntegrationDeleted,
    /// An integration was copied; the target is the copy, `changed` names the original.
    #[serde(rename = "integration.copied")]
    IntegrationCopied,
    /// Another ingest key was made for a campaign.
    #[serde(rename = "ingest_key.created")]
    IngestKeyCreated,
    /// A campaign was made.
    #[serde(rename = "campaign.created")]
    CampaignCreated,
    /// A campaign was changed.
    #[serde(rename = "campaign.changed")]
    CampaignChanged,
    /// An integration was made.
    #[serde(rename = "integration.created")]
    IntegrationCreated,
    /// An integration's name or settings were changed.
    #[serde(rename = "integration.changed")]
    IntegrationChanged,
    /// An integration's credentials were set, replaced or removed.
    #[serde(rename = "credentials.rotated")]
    CredentialsRotated,
    /// A test registration was sent to an integration.
    #[serde(rename = "integration.tested")]
    IntegrationTested,
    /// A delivery was resent by hand.
    #[serde(rename = "delivery.resent")]
    DeliveryResent,
    /// A person's data was erased.
    #[serde(rename = "erasure")]
    Erasure,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 14] = [
        Action::AccountCreated,
        Action::KeyCreated,
        Action::KeyRevoked,
        Action::IngestKeyCreated,
        Action::CampaignCreated,
        Action::CampaignChanged,
        Action::IntegrationCreated,
        Action::IntegrationChanged,
        Action::IntegrationDeleted,
        Action::IntegrationCopied,
        Action::CredentialsRotated,
        Action::IntegrationTested,
        Action::DeliveryResent,
        Action::Erasure,
    ];

    /// The wire form (`key.created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AccountCreated => "account.created",
            Action::KeyCreated => "key.created",
            Action::KeyRevoked => "key.revoked",
            Action::IngestKeyCreated => "ingest_key.created",
            Action::CampaignCreated => "campaign.created",
            Action::CampaignChanged => "campaign.changed",
            Action::IntegrationCreated => "integration.created",
            Action::IntegrationChanged => "integration.changed",
            Action::IntegrationDeleted => "integration.deleted",
            Action::IntegrationCopied => "integration.copied",
            Action::CredentialsRotated => "credentials.rotated",
            Action::IntegrationTested => "integration.tested",
            Action::DeliveryResent => "delivery.resent",
            Action::Erasure => "erasure",
        }
    }

    /// The action of this wire form.
    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// One audited change or action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id: `<ms, 13 digits>-<random>`, so ids sort by time.
    pub id: String,
    /// The account it happened in.
    pub account_id: AccountId,
    /// When (ms since the epoch).
    pub at: u64,
    /// The key that did it.
    pub key_id: KeyId,
    /// What was done.
    pub action: Action,
    /// What it was done to (`integration:int_…`, `key:key_…`, ...).
    pub target: String,
    /// What changed: field names (`settings.url`, `credentials.api_key`), never values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// When it is removed (seconds since the epoch: DynamoDB's TTL unit).
    pub expires_at: u64,
}

/// Which entries of an account to read: newest first, filtered, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The account.
    pub account_id: AccountId,
    /// From this time, inclusive (ms since the epoch).
    pub from_ms: u64,
    /// To this time, exclusive (ms since the epoch).
    pub to_ms: u64,
    /// Only this action.
    pub action: Option<Action>,
    /// Only this target (exactly as recorded).
    pub target: Option<String>,
    /// Only what this key did.
    pub key_id: Option<KeyId>,
    /// At most this many.
    pub limit: usize,
    /// After this entry id (the previous page's last), newest first.
    pub after: Option<String>,
}

impl AuditQuery {
    /// Does an entry pass the filters (the time range and page position included)?
    pub fn matches(&self, e: &AuditEntry) -> bool {
        e.account_id == self.account_id
            && e.at >= self.from_ms
            && e.at < self.to_ms
            && self
                .after
                .as_ref()
                .is_none_or(|a| e.id.as_str() < a.as_str())
            && self.action.is_none_or(|a| e.action == a)
            && self.target.as_ref().is_none_or(|t| &e.target == t)
            && self.key_id.as_ref().is_none_or(|k| &e.key_id == k)
    }
}

/// Is `text` the shape of an entry id (a page cursor is one)?
pub fn is_entry_id(text: &str) -> bool {
    let Some((time, rest)) = text.split_once('-') else {
        return false;
    };
    time.len() == 13
        && time.bytes().all(|b| b.is_ascii_digit())
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new entry for what `key` did, kept for `retention_days`.
pub fn entry(
    key: &ApiKey,
    action: Action,
    target: impl Into<String>,
    changed: Vec<String>,
    retention_days: u32,
) -> AuditEntry {
    let at = clock::now_ms();
    AuditEntry {
        id: format!("{at:013}-{}", random_base62(10)),
        account_id: key.account_id.clone(),
        at,
        key_id: key.id.clone(),
        action,
        target: target.into(),
        changed,
        expires_at: at / 1000 + u64::from(retention_days) * 86_400,
    }
}

/// Records what `key` did. A change already made is not undone when its entry cannot be
/// written: the failure is returned for the caller to log.
pub async fn record<S: AuditStore>(store: &S, entry: &AuditEntry) -> Result<(), StoreError> {
    store.put_audit(entry).await
}

/// An account's entries, newest first.
pub async fn read<S: AuditStore>(
    store: &S,
    query: &AuditQuery,
) -> Result<Page<AuditEntry>, StoreError> {
    store.audit_entries(query).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::access::Access;
    use crate::model::KeyKind;
    use crate::store::memory::MemoryStore;

    fn key() -> ApiKey {
        ApiKey {
            id: KeyId::generate(),
            kind: KeyKind::Account,
            account_id: AccountId::generate(),
            campaign_id: None,
            hash: String::new(),
            hint: String::new(),
            created_at: 0,
            access: Access::default(),
        }
    }

    fn query(k: &ApiKey) -> AuditQuery {
        AuditQuery {
            account_id: k.account_id.clone(),
            from_ms: 0,
            to_ms: u64::MAX,
            action: None,
            target: None,
            key_id: None,
            limit: 10,
            after: None,
        }
    }

    #[test]
    fn actions_have_dotted_wire_forms_and_entries_expire_after_their_retention() {
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        let e = entry(&key(), Action::KeyCreated, "key:x", vec![], 30);
        assert_eq!(e.expires_at, e.at / 1000 + 30 * 86_400);
        assert!(is_entry_id(&e.id), "{}", e.id);
        assert!(!is_entry_id("12-ab") && !is_entry_id("abcdefghijklm-x"));
    }

    #[tokio::test]
    async fn entries_read_back_newest_first_filtered_and_paged() {
        let store = MemoryStore::new();
        let k = key();
        let other = key();
        for (i, action) in [
            Action::CampaignCreated,
            Action::KeyCreated,
            Action::CampaignChanged,
        ]
        .into_iter()
        .enumerate()
        {
            let mut e = entry(&k, action, format!("campaign:{i}"), vec!["name".into()], 1);
            e.at += i as u64;
            e.id = format!("{:013}-{i}", e.at);
            record(&store, &e).await.unwrap();
        }
        record(
            &store,
            &entry(&other, Action::Erasure, "registrations", vec![], 1),
        )
        .await
        .unwrap();

        let all = read(&store, &query(&k)).await.unwrap();
        let actions: Vec<_> = all.items.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                Action::CampaignChanged,
                Action::KeyCreated,
                Action::CampaignCreated
            ]
        );
        let first = read(
            &store,
            &AuditQuery {
                limit: 2,
                ..query(&k)
            },
        )
        .await
        .unwrap();
        assert_eq!(first.items.len(), 2);
        let after = first.next.unwrap()["after"].clone();
        let second = read(
            &store,
            &AuditQuery {
                after: Some(after),
                ..query(&k)
            },
        )
        .await
        .unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.items[0].action, Action::CampaignCreated);
        assert!(second.next.is_none());
        let filtered = read(
            &store,
            &AuditQuery {
                action: Some(Action::KeyCreated),
                target: Some("campaign:1".into()),
                key_id: Some(k.id.clone()),
                ..query(&k)
            },
        )
        .await
        .unwrap();
        assert_eq!(filtered.items.len(), 1);
    }
}
