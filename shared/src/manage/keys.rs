//! An account and its keys: the bootstrap that makes both, and further keys. A key is
//! shown once, when made, and stored as a hash.

use super::{check_name, ManageError};
use crate::access::Access;
use crate::clock;
use crate::ids::{AccountId, CampaignId, KeyId};
use crate::keys::{self, Secret};
use crate::model::{Account, ApiKey, KeyKind};
use crate::store::Store;

/// Creates an account and its first account key (the command line's bootstrap).
pub async fn bootstrap<S: Store>(
    store: &S,
    name: &str,
) -> Result<(Account, ApiKey, Secret), ManageError> {
    let mut errors = Vec::new();
    check_name(name, &mut errors);
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    let account = Account {
        id: AccountId::generate(),
        name: name.trim().to_owned(),
        created_at: clock::now_ms(),
    };
    store.put_account(&account).await?;
    let (key, secret) = issue_key(store, &account.id, KeyKind::Account, None).await?;
    Ok((account, key, secret))
}

/// Makes a key of `kind` for an account (an ingest key names its campaign).
pub async fn issue_key<S: Store>(
    store: &S,
    account: &AccountId,
    kind: KeyKind,
    campaign: Option<&CampaignId>,
) -> Result<(ApiKey, Secret), ManageError> {
    issue_key_with(store, account, kind, campaign, Access::default()).await
}

/// Makes a key of `kind` with `access` (an account key's role and scope).
pub async fn issue_key_with<S: Store>(
    store: &S,
    account: &AccountId,
    kind: KeyKind,
    campaign: Option<&CampaignId>,
    access: Access,
) -> Result<(ApiKey, Secret), ManageError> {
    let secret = keys::generate_key(kind);
    let key = ApiKey {
        id: KeyId::generate(),
        kind,
        account_id: account.clone(),
        campaign_id: campaign.cloned(),
        hash: keys::hash_key(secret.expose()),
        hint: keys::key_hint(secret.expose()),
        created_at: clock::now_ms(),
        access,
    };
    store.put_key(&key).await?;
    Ok((key, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::AccountStore;

    #[tokio::test]
    async fn bootstrap_makes_an_account_and_a_working_key() {
        let store = MemoryStore::new();
        let (account, key, secret) = bootstrap(&store, "Acme").await.unwrap();
        let found = store
            .key_by_hash(&keys::hash_key(secret.expose()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.account_id, account.id);
        assert_eq!(found.id, key.id);
        assert_eq!(found.kind, KeyKind::Account);
    }
}
