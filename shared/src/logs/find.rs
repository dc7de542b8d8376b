//! Finding what support is asked about: every registration of one email address in an
//! account (in any case), and an account's deliveries across its campaigns.
//!
//! An address is found through the item erasure already keeps for it, keyed by
//! [`subject_hash`](crate::erasure::subject_hash) (the trimmed, lower-cased address,
//! hashed): never a scan, and the address itself is in no key. An erased registration
//! has lost that item (and its address), so it is not found any more.

use super::LogsError;
use crate::ids::{AccountId, CampaignId};
use crate::model::{Attempt, Campaign, Delivery, Registration};
use crate::store::{DeliveryQuery, Page, Store};
use std::collections::BTreeMap;

/// One registration found by its address: when, in which campaign, and each delivery
/// with its latest attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The registration.
    pub registration: Registration,
    /// Its deliveries, by integration, each with its latest attempt (if any ended).
    pub deliveries: Vec<(Delivery, Option<Attempt>)>,
}

/// Whether `email` can be looked up: it has an `@` and is at most 320 characters.
pub fn valid_email(email: &str) -> bool {
    let e = email.trim();
    e.contains('@') && e.len() <= 320
}

/// One page (newest first) of `account`'s registrations with this email address, in
/// any case, from where `start` says the previous page ended. Registrations erased
/// meanwhile are left out.
pub async fn registrations_by_email<S: Store>(
    store: &S,
    account: &AccountId,
    email: &str,
    start: Option<&BTreeMap<String, String>>,
    limit: usize,
) -> Result<Page<Found>, LogsError> {
    let subject = crate::erasure::subject_hash(email);
    let page = store
        .subject_registrations_page(account, &subject, start, limit)
        .await?;
    let logs =
        futures::future::join_all(page.items.iter().map(|id| store.registration_log(id))).await;
    let mut items = Vec::with_capacity(logs.len());
    for log in logs {
        let Some(log) = log? else { continue };
        let r = &log.registration;
        if r.account_id != *account || r.erased_at.is_some() {
            continue;
        }
        let deliveries = log
            .deliveries
            .iter()
            .map(|d| {
                let latest = log
                    .attempts
                    .iter()
                    .filter(|a| a.integration_id == d.integration_id)
                    .max_by_key(|a| a.number)
                    .cloned();
                (d.clone(), latest)
            })
            .collect();
        items.push(Found {
            registration: log.registration,
            deliveries,
        });
    }
    Ok(Page {
        items,
        next: page.next,
    })
}

/// The campaigns an account-wide listing reads: every campaign of the account made
/// before the end of the range (a campaign made later has no deliveries in it).
pub fn campaigns_in_range(campaigns: &[Campaign], query: &DeliveryQuery) -> Vec<CampaignId> {
    campaigns
        .iter()
        .filter(|c| c.created_at < query.to_ms)
        .map(|c| c.id.clone())
        .collect()
}

/// One page of `account`'s deliveries across its campaigns (`query.campaign_id` is
/// ignored: give one campaign to [`crate::store::QueryStore::campaign_deliveries`]).
pub async fn account_deliveries<S: Store>(
    store: &S,
    account: &AccountId,
    query: &DeliveryQuery,
) -> Result<Page<Delivery>, LogsError> {
    let campaigns = store.list_campaigns(account).await?;
    let ids = campaigns_in_range(&campaigns, query);
    Ok(store.deliveries_of_campaigns(&ids, query).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::{IntegrationId, RegistrationId};
    use crate::model::{Attached, DeliveryState, RegistrationData};
    use crate::store::memory::MemoryStore;
    use crate::store::{CampaignStore, RegistrationStore};
    use leadrelay_explain::provider::Provider;

    struct World {
        store: MemoryStore,
        account: AccountId,
        campaigns: Vec<Campaign>,
        integration: IntegrationId,
    }

    async fn world(campaigns: usize) -> World {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let integration = IntegrationId::generate();
        let mut made = Vec::new();
        for n in 0..campaigns {
            let c = Campaign {
                id: CampaignId::generate(),
                account_id: account.clone(),
                name: format!("Quiz {n}"),
                integrations: vec![Attached {
                    id: integration.clone(),
                    provider: Provider::Webhook,
                }],
                retention_days: 30,
                created_at: 0,
            };
            store.put_campaign(&c).await.unwrap();
            made.push(c);
        }
        World {
            store,
            account,
            campaigns: made,
            integration,
        }
    }

    impl World {
        async fn register(&self, campaign: usize, email: &str, at: u64) -> RegistrationId {
            let c = &self.campaigns[campaign];
            let r = Registration {
                id: RegistrationId::generate(),
                account_id: self.account.clone(),
                campaign_id: c.id.clone(),
                received_at: at,
                data: RegistrationData {
                    email: Some(email.into()),
                    ..RegistrationData::default()
                },
                integration_ids: vec![self.integration.clone()],
                expires_at: crate::clock::now_ms() / 1000 + 3600,
                erased_at: None,
            };
            let d = Delivery {
                registration_id: r.id.clone(),
                integration_id: self.integration.clone(),
                campaign_id: c.id.clone(),
                provider: Provider::Webhook,
                state: DeliveryState::Delivered,
                attempts: 1,
                next_attempt_at: None,
                last: None,
                received_at: at,
                updated_at: at,
                waiting: None,
            };
            assert!(self.store.create_registration(&r, &[d]).await.unwrap());
            std::thread::sleep(std::time::Duration::from_millis(2));
            r.id
        }
    }

    #[tokio::test]
    async fn an_address_is_found_in_any_case_a_page_at_a_time_newest_first() {
        let w = world(2).await;
        let first = w.register(0, "lena@example.com", 10).await;
        let second = w.register(1, "Lena@Example.COM", 20).await;
        let third = w.register(0, " LENA@example.com", 30).await;
        w.register(0, "other@example.com", 40).await;
        let elsewhere = world(1).await;
        elsewhere.register(0, "lena@example.com", 50).await;

        let one = registrations_by_email(&w.store, &w.account, "LeNa@eXample.com", None, 2)
            .await
            .unwrap();
        let two = registrations_by_email(
            &w.store,
            &w.account,
            "lena@example.com",
            one.next.as_ref(),
            2,
        )
        .await
        .unwrap();

        let ids = |p: &Page<Found>| -> Vec<RegistrationId> {
            p.items.iter().map(|f| f.registration.id.clone()).collect()
        };
        assert_eq!(ids(&one), [third, second.clone()]);
        assert!(one.next.is_some());
        assert_eq!(ids(&two), [first]);
        assert_eq!(two.next, None);
        assert_eq!(one.items[1].registration.campaign_id, w.campaigns[1].id);
        assert_eq!(one.items[1].deliveries[0].0.state, DeliveryState::Delivered);
    }

    #[tokio::test]
    async fn an_erased_registration_is_no_longer_found() {
        let w = world(1).await;
        let kept = w.register(0, "lena@example.com", 10).await;
        let erased = w.register(0, "lena@example.com", 20).await;

        crate::erasure::erase(&w.store, &erased, 99).await.unwrap();
        let page = registrations_by_email(&w.store, &w.account, "LENA@example.com", None, 10)
            .await
            .unwrap();

        let ids: Vec<_> = page.items.iter().map(|f| &f.registration.id).collect();
        assert_eq!(ids, [&kept]);
    }

    #[tokio::test]
    async fn an_accounts_deliveries_span_its_campaigns_and_page_through_a_long_range() {
        let w = world(3).await;
        let day = 86_400_000;
        for n in 0..9u64 {
            w.register((n % 3) as usize, "x@example.com", 1 + n * 10 * day)
                .await;
        }
        let other = world(1).await;
        other.register(0, "x@example.com", 5).await;
        let mut query = DeliveryQuery {
            from_ms: 0,
            to_ms: 100 * day,
            newest_first: false,
            limit: 4,
            ..DeliveryQuery::default()
        };

        let mut seen = Vec::new();
        loop {
            let page = account_deliveries(&w.store, &w.account, &query)
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|d| d.received_at));
            match page.next {
                Some(next) => query.start = Some(next),
                None => break,
            }
        }

        let expected: Vec<u64> = (0..9u64).map(|n| 1 + n * 10 * day).collect();
        assert_eq!(seen, expected, "every delivery, once, oldest first");
    }

    #[test]
    fn campaigns_made_after_the_range_are_not_read() {
        let c = |created_at| Campaign {
            id: CampaignId::generate(),
            account_id: AccountId::generate(),
            name: "c".into(),
            integrations: Vec::new(),
            retention_days: 1,
            created_at,
        };
        let (early, late) = (c(5), c(50));
        let query = DeliveryQuery {
            to_ms: 10,
            ..DeliveryQuery::default()
        };
        assert_eq!(
            campaigns_in_range(&[early.clone(), late], &query),
            [early.id]
        );
        assert!(valid_email(" a@b ") && !valid_email("nope"));
    }
}
