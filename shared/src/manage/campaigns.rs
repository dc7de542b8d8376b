//! Campaigns: created with their first ingest key, changed (name, integrations,
//! retention). A campaign attaches only its own account's integrations.

use super::keys::issue_key;
use super::{check_name, invalid, ManageError};
use crate::clock;
use crate::ids::{AccountId, CampaignId, IntegrationId};
use crate::intake::FieldError;
use crate::keys::Secret;
use crate::model::{ApiKey, Attached, Campaign, KeyKind};
use crate::store::Store;
use serde::Deserialize;

/// Default registration retention.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Longest retention.
pub const MAX_RETENTION_DAYS: u32 = 365;

/// A campaign to create, or the fields of one to change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// Its name.
    pub name: Option<String>,
    /// The integrations its registrations go to.
    pub integration_ids: Option<Vec<String>>,
    /// Retention in days.
    pub retention_days: Option<u32>,
}

async fn attached<S: Store>(
    store: &S,
    account: &AccountId,
    ids: &[String],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<Attached>, ManageError> {
    let mut out: Vec<Attached> = Vec::new();
    for (i, raw) in ids.iter().enumerate() {
        let field = format!("integration_ids[{i}]");
        let Ok(id) = raw.parse::<IntegrationId>() else {
            errors.push(invalid(&field, "invalid_id", "not an integration id"));
            continue;
        };
        if out.iter().any(|a| a.id == id) {
            errors.push(invalid(&field, "duplicate", "listed twice"));
            continue;
        }
        match store.integration(account, &id).await? {
            Some(integration) => out.push(Attached {
                id,
                provider: integration.provider,
            }),
            None => errors.push(invalid(
                &field,
                "not_found",
                "no such integration in this account",
            )),
        }
    }
    Ok(out)
}

fn check_retention(days: Option<u32>, errors: &mut Vec<FieldError>) -> u32 {
    match days {
        None => DEFAULT_RETENTION_DAYS,
        Some(d) if (1..=MAX_RETENTION_DAYS).contains(&d) => d,
        Some(_) => {
            errors.push(invalid(
                "retention_days",
                "out_of_range",
                format!("retention_days is 1 to {MAX_RETENTION_DAYS}"),
            ));
            DEFAULT_RETENTION_DAYS
        }
    }
}

/// Creates a campaign and its first ingest key.
pub async fn create_campaign<S: Store>(
    store: &S,
    account: &AccountId,
    input: CampaignInput,
) -> Result<(Campaign, ApiKey, Secret), ManageError> {
    let mut errors = Vec::new();
    let name = input.name.unwrap_or_default();
    check_name(&name, &mut errors);
    let retention_days = check_retention(input.retention_days, &mut errors);
    let integrations = attached(
        store,
        account,
        &input.integration_ids.unwrap_or_default(),
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    let campaign = Campaign {
        id: CampaignId::generate(),
        account_id: account.clone(),
        name: name.trim().to_owned(),
        integrations,
        retention_days,
        created_at: clock::now_ms(),
    };
    store.put_campaign(&campaign).await?;
    let (key, secret) = issue_key(store, account, KeyKind::Ingest, Some(&campaign.id)).await?;
    Ok((campaign, key, secret))
}

/// Changes a campaign's name, integrations or retention.
pub async fn update_campaign<S: Store>(
    store: &S,
    account: &AccountId,
    id: &CampaignId,
    input: CampaignInput,
) -> Result<Campaign, ManageError> {
    let mut campaign = store
        .campaign(account, id)
        .await?
        .ok_or(ManageError::NotFound("this campaign"))?;
    let mut errors = Vec::new();
    if let Some(name) = input.name {
        check_name(&name, &mut errors);
        campaign.name = name.trim().to_owned();
    }
    if input.retention_days.is_some() {
        campaign.retention_days = check_retention(input.retention_days, &mut errors);
    }
    if let Some(ids) = input.integration_ids {
        campaign.integrations = attached(store, account, &ids, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    store.put_campaign(&campaign).await?;
    Ok(campaign)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::EgressPolicy;
    use crate::manage::integrations::create_integration;
    use crate::manage::test_support::webhook;
    use crate::store::memory::MemoryStore;
    use crate::vault::InsecureTestVault;

    #[tokio::test]
    async fn campaigns_attach_only_their_own_accounts_integrations() {
        let store = MemoryStore::new();
        let mine = AccountId::generate();
        let theirs = AccountId::generate();
        let (foreign, _) = create_integration(
            &store,
            &InsecureTestVault,
            EgressPolicy::default(),
            &theirs,
            webhook("https://h.example.com"),
        )
        .await
        .unwrap();

        let err = create_campaign(
            &store,
            &mine,
            CampaignInput {
                name: Some("Quiz".into()),
                integration_ids: Some(vec![foreign.id.to_string()]),
                retention_days: Some(0),
            },
        )
        .await
        .unwrap_err();

        let ManageError::Invalid(errors) = err else {
            panic!()
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["retention_days", "integration_ids[0]"]);
    }
}
