//! An integration's lifecycle beyond create and change: which campaigns use it, its
//! removal (refused while campaigns use it, unless they are detached first), and a copy
//! with the same settings and credentials under a new id.
//!
//! A removed integration's deliveries still waiting end failed with the explanation
//! that the integration was removed (deliver and the reconciler read it as gone).

use super::ManageError;
use crate::clock;
use crate::ids::{AccountId, CampaignId, IntegrationId};
use crate::model::{Campaign, Integration, IntegrationStatus};
use crate::store::Store;
use crate::vault::Vault;
use std::collections::BTreeMap;

/// The campaigns of `campaigns` that deliver to `id`, in id order.
pub fn campaigns_using<'a>(campaigns: &'a [Campaign], id: &IntegrationId) -> Vec<&'a Campaign> {
    let mut using: Vec<&Campaign> = campaigns
        .iter()
        .filter(|c| c.integrations.iter().any(|a| &a.id == id))
        .collect();
    using.sort_by(|a, b| a.id.cmp(&b.id));
    using
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq)]
pub enum Removal {
    /// Removed; these campaigns no longer deliver to it.
    Removed {
        /// The campaigns it was detached from.
        detached: Vec<CampaignId>,
    },
    /// Not removed: these campaigns use it (detach them, or remove with `force`).
    InUse(Vec<Campaign>),
}

/// Removes one of `account`'s integrations. While campaigns use it, nothing is removed
/// and they are named, unless `force`: then it is detached from each first.
pub async fn delete_integration<S: Store>(
    store: &S,
    account: &AccountId,
    id: &IntegrationId,
    force: bool,
) -> Result<Removal, ManageError> {
    const WHAT: &str = "this integration";
    if store.integration(account, id).await?.is_none() {
        return Err(ManageError::NotFound(WHAT));
    }
    let campaigns = store.list_campaigns(account).await?;
    let using: Vec<Campaign> = campaigns_using(&campaigns, id)
        .into_iter()
        .cloned()
        .collect();
    if !using.is_empty() && !force {
        return Ok(Removal::InUse(using));
    }
    let mut detached = Vec::with_capacity(using.len());
    for mut c in using {
        c.integrations.retain(|a| &a.id != id);
        store.put_campaign(&c).await?;
        detached.push(c.id);
    }
    if !store.delete_integration(account, id).await? {
        return Err(ManageError::NotFound(WHAT));
    }
    tracing::info!(integration_id = %id, detached = detached.len(), "integration removed");
    Ok(Removal::Removed { detached })
}

/// The longest name an integration may have.
const MAX_NAME_CHARS: usize = 100;
/// What a copy's name ends with.
const COPY_SUFFIX: &str = " (copy)";

/// The name of a copy: the original's with " (copy)", cut to stay within 100 characters.
pub fn copy_name(name: &str) -> String {
    let keep = MAX_NAME_CHARS - COPY_SUFFIX.chars().count();
    let base: String = name.chars().take(keep).collect();
    format!("{}{COPY_SUFFIX}", base.trim_end())
}

/// Copies one of `account`'s integrations: a new id, the name with " (copy)", the same
/// provider and settings, and the same credentials sealed again for the new id (a
/// ciphertext is bound to its integration). The copy starts active, with no cooldown.
pub async fn copy_integration<S: Store, V: Vault>(
    store: &S,
    vault: &V,
    account: &AccountId,
    id: &IntegrationId,
) -> Result<Integration, ManageError> {
    let original = store
        .integration(account, id)
        .await?
        .ok_or(ManageError::NotFound("this integration"))?;
    let new_id = IntegrationId::generate();
    let credentials = match &original.credentials {
        Some(_) => {
            let opened = vault.open(&original).await?;
            let plain: BTreeMap<String, String> = opened
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect();
            Some(vault.seal(account, &new_id, &plain).await?)
        }
        None => None,
    };
    let now = clock::now_ms();
    let copy = Integration {
        id: new_id,
        account_id: account.clone(),
        name: copy_name(&original.name),
        provider: original.provider,
        settings: original.settings.clone(),
        credentials,
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        cooldown_until: None,
        created_at: now,
        updated_at: now,
    };
    store.put_integration(&copy).await?;
    tracing::info!(integration_id = %copy.id, from = %original.id, "integration copied");
    Ok(copy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::egress::EgressPolicy;
    use crate::manage::campaigns::{create_campaign, CampaignInput};
    use crate::manage::integrations::create_integration;
    use crate::manage::test_support::webhook;
    use crate::store::memory::MemoryStore;
    use crate::store::CampaignStore;
    use crate::vault::InsecureTestVault;

    async fn hook(store: &MemoryStore, account: &AccountId) -> Integration {
        let mut input = webhook("https://hooks.example.com/leads");
        input
            .credentials
            .insert("token".into(), Some("tok-canary".into()));
        input
            .settings
            .as_mut()
            .unwrap()
            .insert("auth".into(), "bearer".into());
        create_integration(
            store,
            &InsecureTestVault,
            EgressPolicy::default(),
            account,
            input,
        )
        .await
        .unwrap()
        .0
    }

    async fn campaign(store: &MemoryStore, account: &AccountId, ids: &[&Integration]) -> Campaign {
        create_campaign(
            store,
            account,
            CampaignInput {
                name: Some("Quiz".into()),
                integration_ids: Some(ids.iter().map(|i| i.id.to_string()).collect()),
                retention_days: None,
            },
        )
        .await
        .unwrap()
        .0
    }

    #[tokio::test]
    async fn an_integration_in_use_is_kept_and_its_campaigns_named_unless_forced() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let used = hook(&store, &account).await;
        let other = hook(&store, &account).await;
        let a = campaign(&store, &account, &[&used, &other]).await;
        let b = campaign(&store, &account, &[&used]).await;
        let unrelated = campaign(&store, &account, &[&other]).await;

        let refused = delete_integration(&store, &account, &used.id, false)
            .await
            .unwrap();
        let Removal::InUse(named) = refused else {
            panic!("refused: {refused:?}")
        };
        let mut expected = vec![a.id.clone(), b.id.clone()];
        expected.sort();
        assert_eq!(
            named.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            expected
        );
        assert!(store
            .integration(&account, &used.id)
            .await
            .unwrap()
            .is_some());

        let forced = delete_integration(&store, &account, &used.id, true)
            .await
            .unwrap();

        assert_eq!(forced, Removal::Removed { detached: expected });
        assert!(store
            .integration(&account, &used.id)
            .await
            .unwrap()
            .is_none());
        let a_now = store.campaign(&account, &a.id).await.unwrap().unwrap();
        let ids: Vec<_> = a_now.integrations.iter().map(|x| &x.id).collect();
        assert_eq!(ids, [&other.id], "the other integration stays attached");
        assert!(store
            .campaign(&account, &b.id)
            .await
            .unwrap()
            .unwrap()
            .integrations
            .is_empty());
        assert_eq!(
            store.campaign(&account, &unrelated.id).await.unwrap(),
            Some(unrelated)
        );
        assert!(matches!(
            delete_integration(&store, &account, &used.id, true).await,
            Err(ManageError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn an_unused_integration_is_removed_and_anothers_is_not_found() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let unused = hook(&store, &account).await;

        let foreign = delete_integration(&store, &AccountId::generate(), &unused.id, true).await;
        let removed = delete_integration(&store, &account, &unused.id, false)
            .await
            .unwrap();

        assert!(matches!(foreign, Err(ManageError::NotFound(_))));
        assert_eq!(removed, Removal::Removed { detached: vec![] });
    }

    #[tokio::test]
    async fn a_copy_has_a_new_id_the_same_settings_and_credentials_sealed_for_it() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let vault = InsecureTestVault;
        let original = hook(&store, &account).await;

        let copy = copy_integration(&store, &vault, &account, &original.id)
            .await
            .unwrap();

        assert_ne!(copy.id, original.id);
        assert_eq!(copy.name, "Hook (copy)");
        assert_eq!(
            (copy.provider, &copy.settings),
            (original.provider, &original.settings)
        );
        let opened = vault.open(&copy).await.unwrap();
        assert_eq!(opened.0["token"].expose(), "tok-canary");
        assert_eq!(
            store.integration(&account, &copy.id).await.unwrap(),
            Some(copy)
        );
        assert!(matches!(
            copy_integration(&store, &vault, &AccountId::generate(), &original.id).await,
            Err(ManageError::NotFound(_))
        ));
    }

    #[test]
    fn a_copys_name_stays_within_the_limit() {
        assert_eq!(copy_name("CRM"), "CRM (copy)");
        let long = "x".repeat(100);
        let name = copy_name(&long);
        assert_eq!(name.chars().count(), 100);
        assert!(name.ends_with(" (copy)"));
    }
}
