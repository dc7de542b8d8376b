//! Keys with roles: an account key made by another (never with more rights than its
//! maker's, see [`Access::covers`]), the platform key, and an account made over the API
//! by the platform key with its first admin key.

use super::keys::{bootstrap, issue_key, issue_key_with};
use super::{invalid, ManageError};
use crate::access::{Access, Role};
use crate::ids::{AccountId, CampaignId};
use crate::model::{Account, ApiKey, KeyKind};
use crate::store::Store;
use serde::Deserialize;

/// An account key to make: its role (default `admin`), the campaigns it is restricted
/// to (none: the whole account), and whether a viewer sees personal data.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// `admin`, `operator` or `viewer`.
    #[serde(default)]
    pub role: Option<Role>,
    /// Campaign ids it is restricted to.
    #[serde(default)]
    pub campaigns: Vec<String>,
    /// Whether a viewer sees personal data.
    #[serde(default)]
    pub personal_data: bool,
}

/// Makes an account key in `maker`'s account with the rights `input` asks for: the
/// campaigns must be the account's own, and the key never gets more rights than
/// `maker` holds (403).
pub async fn create_key<S: Store>(
    store: &S,
    maker: &ApiKey,
    input: KeyInput,
) -> Result<(ApiKey, crate::keys::Secret), ManageError> {
    let mut errors = Vec::new();
    let mut campaigns: Vec<CampaignId> = Vec::new();
    for (i, raw) in input.campaigns.iter().enumerate() {
        let field = format!("campaigns[{i}]");
        let Ok(id) = raw.parse::<CampaignId>() else {
            errors.push(invalid(&field, "invalid_id", "not a campaign id"));
            continue;
        };
        if campaigns.contains(&id) {
            errors.push(invalid(&field, "duplicate", "listed twice"));
        } else if store.campaign(&maker.account_id, &id).await?.is_none() {
            errors.push(invalid(
                &field,
                "not_found",
                "no such campaign in this account",
            ));
        } else {
            campaigns.push(id);
        }
    }
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    let access = Access {
        role: input.role.unwrap_or_default(),
        campaigns,
        personal_data: input.personal_data,
    };
    if !maker.access.covers(&access) {
        return Err(ManageError::Forbidden(
            "a key cannot make a key with more rights than its own (a higher role, more campaigns, or personal data it does not see)".into(),
        ));
    }
    issue_key_with(store, &maker.account_id, KeyKind::Account, None, access).await
}

/// Makes the platform key: it creates accounts over the API and reads none. It belongs
/// to no account (its account id names no stored account).
pub async fn platform_key<S: Store>(
    store: &S,
) -> Result<(ApiKey, crate::keys::Secret), ManageError> {
    issue_key(store, &AccountId::generate(), KeyKind::Platform, None).await
}

/// Creates an account and its first admin key, shown once (`POST /v1/accounts`, the
/// platform key's one route).
pub async fn create_account<S: Store>(
    store: &S,
    name: &str,
) -> Result<(Account, ApiKey, crate::keys::Secret), ManageError> {
    bootstrap(store, name).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::hash_key;
    use crate::manage::campaigns::{create_campaign, CampaignInput};
    use crate::store::memory::MemoryStore;
    use crate::store::AccountStore;

    async fn account_with_campaign(store: &MemoryStore) -> (ApiKey, CampaignId) {
        let (account, admin, _) = bootstrap(store, "Acme").await.unwrap();
        let (c, _, _) = create_campaign(
            store,
            &account.id,
            CampaignInput {
                name: Some("Quiz".into()),
                ..CampaignInput::default()
            },
        )
        .await
        .unwrap();
        (admin, c.id)
    }

    #[tokio::test]
    async fn an_admin_makes_a_restricted_viewer_which_is_stored_with_its_rights() {
        let store = MemoryStore::new();
        let (admin, campaign) = account_with_campaign(&store).await;

        let (key, secret) = create_key(
            &store,
            &admin,
            KeyInput {
                role: Some(Role::Viewer),
                campaigns: vec![campaign.to_string()],
                personal_data: true,
            },
        )
        .await
        .unwrap();

        let stored = store
            .key_by_hash(&hash_key(secret.expose()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored, key);
        assert_eq!(stored.access.role, Role::Viewer);
        assert_eq!(stored.access.campaigns, [campaign]);
        assert!(stored.access.personal_data);
        assert!(secret.expose().starts_with("lr_ak_"));
    }

    #[tokio::test]
    async fn a_key_is_refused_more_rights_than_its_maker_and_unknown_campaigns() {
        let store = MemoryStore::new();
        let (admin, campaign) = account_with_campaign(&store).await;
        let (operator, _) = create_key(
            &store,
            &admin,
            KeyInput {
                role: Some(Role::Operator),
                campaigns: vec![campaign.to_string()],
                ..KeyInput::default()
            },
        )
        .await
        .unwrap();

        let wider = create_key(
            &store,
            &operator,
            KeyInput {
                role: Some(Role::Operator),
                ..KeyInput::default()
            },
        )
        .await;
        let unknown = create_key(
            &store,
            &admin,
            KeyInput {
                campaigns: vec![CampaignId::generate().to_string(), "nope".into()],
                ..KeyInput::default()
            },
        )
        .await;

        assert!(matches!(wider, Err(ManageError::Forbidden(_))), "{wider:?}");
        let Err(ManageError::Invalid(errors)) = unknown else {
            panic!("{unknown:?}")
        };
        assert_eq!(
            errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["campaigns[0]", "campaigns[1]"]
        );
    }

    #[tokio::test]
    async fn the_platform_key_belongs_to_no_account_and_makes_accounts() {
        let store = MemoryStore::new();
        let (platform, secret) = platform_key(&store).await.unwrap();
        assert_eq!(platform.kind, KeyKind::Platform);
        assert!(secret.expose().starts_with("lr_pk_"));
        assert!(store.account(&platform.account_id).await.unwrap().is_none());

        let (account, admin, _) = create_account(&store, "Globex").await.unwrap();

        assert_eq!(admin.account_id, account.id);
        assert_eq!(
            (admin.kind, admin.access.role),
            (KeyKind::Account, Role::Admin)
        );
    }
}
