//! Erasure on request: every registration of one email address, or one registration,
//! erased from the account's data (the workflow itself is [`crate::erasure`]).

use super::{invalid, ManageError};
use crate::clock;
use crate::ids::{AccountId, RegistrationId};
use crate::store::Store;
use serde::Deserialize;

/// What to erase: every registration of one email address, or one registration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureInput {
    /// The person's email address (any case).
    pub email: Option<String>,
    /// One registration's id.
    pub registration_id: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    /// The registrations erased, oldest id first.
    pub registrations: Vec<RegistrationId>,
    /// Deliveries that were still waiting and now never will be sent.
    pub deliveries_stopped: u32,
    /// Attempt records scrubbed.
    pub attempts_scrubbed: u32,
}

/// Erases a person's data from the account's registrations (see [`crate::erasure`]):
/// by email address, every registration with it, or one registration by id. Another
/// account's registration is never touched (its id reads as unknown).
pub async fn erase<S: Store>(
    store: &S,
    account: &AccountId,
    input: ErasureInput,
) -> Result<ErasureReport, ManageError> {
    let ids = match (input.email.as_deref(), input.registration_id.as_deref()) {
        (Some(email), None) => {
            if !email.contains('@') || email.trim().len() > 320 {
                return Err(ManageError::Invalid(vec![invalid(
                    "email",
                    "invalid_email",
                    "email is the address whose registrations are erased, such as lena@example.com",
                )]));
            }
            let subject = crate::erasure::subject_hash(email);
            store.subject_registrations(account, &subject).await?
        }
        (None, Some(raw)) => {
            let Ok(id) = raw.parse::<RegistrationId>() else {
                return Err(ManageError::Invalid(vec![invalid(
                    "registration_id",
                    "invalid_id",
                    "not a registration id",
                )]));
            };
            match store.registration(&id).await? {
                Some(r) if &r.account_id == account => vec![id],
                _ => return Err(ManageError::NotFound("this registration")),
            }
        }
        _ => {
            return Err(ManageError::Invalid(vec![invalid(
                "email",
                "one_of",
                "give either email or registration_id",
            )]))
        }
    };
    let mut report = ErasureReport::default();
    let now = clock::now_ms();
    for id in ids {
        if let Some(erased) = crate::erasure::erase(store, &id, now).await? {
            report.deliveries_stopped += erased.deliveries_stopped;
            report.attempts_scrubbed += erased.attempts_scrubbed;
            report.registrations.push(id);
        }
    }
    tracing::info!(
        account_id = %account,
        registrations = report.registrations.len(),
        deliveries_stopped = report.deliveries_stopped,
        "erasure done"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CampaignId, IntegrationId};
    use crate::store::memory::MemoryStore;
    use crate::store::RegistrationStore;
    use leadrelay_explain::provider::Provider;

    #[tokio::test]
    async fn erasure_in_memory_stops_waiting_deliveries_and_finds_by_address() {
        use crate::model::{Delivery, DeliveryState, Registration, RegistrationData};
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let stranger = AccountId::generate();
        let (a, b) = (IntegrationId::generate(), IntegrationId::generate());
        let registration = |who: &AccountId, email: &str| Registration {
            id: RegistrationId::generate(),
            account_id: who.clone(),
            campaign_id: CampaignId::generate(),
            received_at: 1,
            data: RegistrationData {
                email: Some(email.into()),
                first_name: Some("Ingrid".into()),
                ..RegistrationData::default()
            },
            integration_ids: vec![a.clone(), b.clone()],
            expires_at: clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        let delivery = |r: &Registration, i: &IntegrationId, state| Delivery {
            registration_id: r.id.clone(),
            integration_id: i.clone(),
            campaign_id: r.campaign_id.clone(),
            provider: Provider::Webhook,
            state,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: 1,
            updated_at: 1,
            waiting: None,
        };
        let mine = registration(&account, "ingrid@example.com");
        let theirs = registration(&stranger, "ingrid@example.com");
        for r in [&mine, &theirs] {
            let ds = [
                delivery(r, &a, DeliveryState::Delivered),
                delivery(r, &b, DeliveryState::Retrying),
            ];
            store.create_registration(r, &ds).await.unwrap();
        }

        let input = ErasureInput {
            email: Some("Ingrid@Example.com".into()),
            registration_id: None,
        };
        let report = erase(&store, &account, input).await.unwrap();

        assert_eq!(report.registrations, vec![mine.id.clone()]);
        assert_eq!(report.deliveries_stopped, 1);
        let erased = store.registration(&mine.id).await.unwrap().unwrap();
        assert!(erased.erased_at.is_some());
        assert_eq!(erased.data.email, None);
        let states = [
            store.delivery(&mine.id, &a).await.unwrap().unwrap().state,
            store.delivery(&mine.id, &b).await.unwrap().unwrap().state,
        ];
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Erased]);
        let untouched = store.registration(&theirs.id).await.unwrap().unwrap();
        assert_eq!(untouched.data.first_name.as_deref(), Some("Ingrid"));
        let by_foreign_id = ErasureInput {
            email: None,
            registration_id: Some(theirs.id.to_string()),
        };
        assert!(matches!(
            erase(&store, &account, by_foreign_id).await,
            Err(ManageError::NotFound(_))
        ));
        let again = ErasureInput {
            email: Some("ingrid@example.com".into()),
            registration_id: None,
        };
        assert!(erase(&store, &account, again)
            .await
            .unwrap()
            .registrations
            .is_empty());
    }
}
