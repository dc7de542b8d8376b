//! The [`Store`](leadrelay::store::Store) on DynamoDB: one table, keys as laid out in
//! [`leadrelay::store`], each entity kept
//! as a JSON document in `doc` beside the attributes that keys, indexes and conditions
//! need.

use leadrelay::store::{
    campaign_partition, gsi3_sort_key, may_note_waiting, AccountStore, AttemptClaim, AttemptSlot,
    CampaignStore, DeliveryQuery, ErasureStore, FlowStore, Idempotency, IdempotencyClaim,
    IdempotencyStore, Page, QueryStore, Recorded, RegistrationLog, RegistrationStore, StoreError,
    WaitPlace, Waiting, CAMPAIGN_SHARDS, WAITING_SHARDS,
};
mod codec;

use crate::config::Retryable;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use codec::{
    account_pk, attempt_sk, delivery_item, delivery_sk, doc_item, doc_value, get_n, get_s,
    idempotency_item, idempotency_pk, integration_item, integration_pk, is_live, key, n, now_s,
    order_sk, read_doc, read_idempotency, read_waiting, registration_pk, s, slot_sk, subject_item,
    subject_pk, waiting_pk, Item,
};
use leadrelay::deliver::breaker::Breaker;
use leadrelay::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use leadrelay::model::{
    Account, ApiKey, Attempt, Campaign, Delivery, DeliveryState, Integration, Registration,
    WaitNote,
};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

fn backend<E>(operation: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Retryable + Send + Sync + 'static,
{
    move |e| {
        if e.is_retryable() {
            StoreError::Unavailable {
                operation,
                source: Box::new(e),
            }
        } else {
            StoreError::Backend {
                operation,
                source: Box::new(e),
            }
        }
    }
}

/// One campaign query, as each of its partitions runs it.
struct CampaignRange {
    filter: String,
    values: HashMap<String, AttributeValue>,
    names: HashMap<String, String>,
    after: Option<String>,
    limit: usize,
    newest_first: bool,
}

impl DynamoStore {
    /// Up to `limit` matching deliveries of one `gsi1` partition with their sort keys, and
    /// where it stopped reading when it did not reach the end.
    async fn campaign_partition(
        &self,
        partition: &str,
        range: &CampaignRange,
    ) -> Result<(Vec<(String, Delivery)>, Option<String>), StoreError> {
        let mut values = range.values.clone();
        values.insert(":c".into(), s(partition));
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        // A filtered page can come back short; read on, within a bound, to fill it.
        for _ in 0..20 {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :c AND gsi1sk BETWEEN :from AND :to")
                .filter_expression(&range.filter)
                .set_expression_attribute_values(Some(values.clone()))
                .set_expression_attribute_names(
                    (!range.names.is_empty()).then(|| range.names.clone()),
                )
                .scan_index_forward(!range.newest_first)
                .limit((range.limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend("campaign_deliveries"))?;
            for item in out.items.unwrap_or_default() {
                let key = get_s(&item, "gsi1sk").unwrap_or_default().to_owned();
                if range.after.as_deref() == Some(key.as_str()) {
                    continue;
                }
                items.push((key, read_doc::<Delivery>(&item)?));
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= range.limit {
                break;
            }
        }
        let reached = start
            .as_ref()
            .and_then(|k| get_s(k, "gsi1sk"))
            .map(str::to_owned);
        Ok((items, reached))
    }

    async fn put(&self, item: Item, operation: &'static str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend(operation))?;
        Ok(())
    }

    /// Puts `item` when `condition` holds: `Ok(true)` when written, `Ok(false)` when the
    /// condition failed (the insert-once and state-transition guards).
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
        operation: &'static str,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(*name, value.clone());
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend(operation)(e)),
        }
    }

    /// The document of one item, read as `T`.
    async fn get_doc<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
        operation: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.get(pk, sk, operation)
            .await?
            .map(|i| read_doc(&i))
            .transpose()
    }

    /// The documents of a partition's items whose sort key starts with `prefix`, read as `T`.
    async fn list_docs<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        operation: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        self.query_prefix(pk, Some(prefix), operation)
            .await?
            .iter()
            .map(read_doc)
            .collect()
    }

    async fn get(
        &self,
        pk: String,
        sk: String,
        operation: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend(operation))?;
        Ok(out.item.filter(is_live))
    }

    /// Every item of a partition (whose sort key starts with `prefix`, if given), all pages.
    async fn query_prefix(
        &self,
        pk: String,
        prefix: Option<&str>,
        operation: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk.clone()));
            query = match prefix {
                Some(p) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(p)),
                None => query.key_condition_expression("pk = :pk"),
            };
            let out = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend(operation))?;
            items.extend(out.items.unwrap_or_default().into_iter().filter(is_live));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn is_condition_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

/// A transaction cancelled because one of its items was throttled or in another
/// transaction: the SDK reports these as `TransactionCanceledException` (not retried by
/// it), yet trying again later is exactly right.
fn is_transaction_contention<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t)) => {
            let reasons = t.cancellation_reasons();
            !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
                && reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("ThrottlingError" | "ProvisionedThroughputExceeded" | "TransactionConflict")
                    )
                })
        }
        _ => false,
    }
}

fn is_transaction_condition_failure<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    match e.as_service_error() {
        Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t)) => t
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

impl AccountStore for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let pk = account_pk(&account.id);
        self.put(doc_item(pk, "ACC".into(), account), "put_account")
            .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.get_doc(account_pk(id), "ACC".into(), "account").await
    }

    async fn put_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let by_hash = Put::builder()
            .table_name(&self.table)
            .set_item(Some(doc_item(
                format!("KEYHASH#{}", k.hash),
                "KEY".into(),
                k,
            )))
            .build()
            .map_err(backend("put_key"))?;
        let listed = Put::builder()
            .table_name(&self.table)
            .set_item(Some(doc_item(
                account_pk(&k.account_id),
                format!("KEY#{}", k.id),
                k,
            )))
            .build()
            .map_err(backend("put_key"))?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(by_hash).build())
            .transact_items(TransactWriteItem::builder().put(listed).build())
            .send()
            .await
            .map_err(backend("put_key"))?;
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_doc(format!("KEYHASH#{hash}"), "KEY".into(), "key_by_hash")
            .await
    }

    async fn list_keys(&self, account: &AccountId) -> Result<Vec<ApiKey>, StoreError> {
        self.list_docs(account_pk(account), "KEY#", "list_keys")
            .await
    }

    async fn delete_key(&self, account: &AccountId, id: &KeyId) -> Result<bool, StoreError> {
        let Some(item) = self
            .get(account_pk(account), format!("KEY#{id}"), "delete_key")
            .await?
        else {
            return Ok(false);
        };
        let k: ApiKey = read_doc(&item)?;
        let del = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .build()
                .map_err(backend("delete_key"))
        };
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .delete(del(format!("KEYHASH#{}", k.hash), "KEY".into())?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(del(account_pk(account), format!("KEY#{id}"))?)
                    .build(),
            )
            .send()
            .await
            .map_err(backend("delete_key"))?;
        Ok(true)
    }
}

impl CampaignStore for DynamoStore {
    async fn put_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        let item = doc_item(account_pk(&c.account_id), format!("CMP#{}", c.id), c);
        self.put(item, "put_campaign").await
    }

    async fn campaign(
        &self,
        account: &AccountId,
        id: &CampaignId,
    ) -> Result<Option<Campaign>, StoreError> {
        self.get_doc(account_pk(account), format!("CMP#{id}"), "campaign")
            .await
    }

    async fn list_campaigns(&self, account: &AccountId) -> Result<Vec<Campaign>, StoreError> {
        self.list_docs(account_pk(account), "CMP#", "list_campaigns")
            .await
    }

    async fn put_integration(&self, i: &Integration) -> Result<(), StoreError> {
        self.put(integration_item(i), "put_integration").await
    }

    async fn change_integration(&self, next: &Integration) -> Result<bool, StoreError> {
        let Some(read) = next.version.checked_sub(1) else {
            return Ok(false);
        };
        // An item written before versions existed has none: it reads as version 0.
        let condition = if read == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(int_version) OR int_version = :v)"
        } else {
            "int_version = :v"
        };
        self.put_if(
            integration_item(next),
            condition,
            &[(":v", n(read))],
            "change_integration",
        )
        .await
    }

    async fn integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        self.get_doc(account_pk(account), format!("INT#{id}"), "integration")
            .await
    }

    async fn list_integrations(&self, account: &AccountId) -> Result<Vec<Integration>, StoreError> {
        self.list_docs(account_pk(account), "INT#", "list_integrations")
            .await
    }
}

impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        record: &Idempotency,
    ) -> Result<IdempotencyClaim, StoreError> {
        let claimed = self
            .put_if(
                idempotency_item(record),
                "attribute_not_exists(pk) OR expires_at < :now",
                &[(":now", n(now_s()))],
                "claim_idempotency",
            )
            .await?;
        if claimed {
            return Ok(IdempotencyClaim::Claimed);
        }
        let pk = idempotency_pk(&record.campaign_id, &record.key_hash);
        let item = self
            .get(pk.clone(), "IDEM".into(), "claim_idempotency")
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                pk,
                sk: "IDEM".into(),
                reason: "claimed but unreadable".into(),
            })?;
        Ok(IdempotencyClaim::Existing(read_idempotency(
            &item,
            &record.campaign_id,
            &record.key_hash,
        )?))
    }

    async fn take_over_idempotency(
        &self,
        record: &Idempotency,
        expired_lease: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            )))
            .update_expression("SET lease_until = :new")
            .condition_expression("lease_until = :old AND queued = :no")
            .expression_attribute_values(":new", n(record.lease_until))
            .expression_attribute_values(":old", n(expired_lease))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend("take_over_idempotency")(e)),
        }
    }

    async fn finish_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            )))
            .update_expression("SET queued = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(backend("finish_idempotency"))?;
        Ok(())
    }

    async fn release_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            )))
            .update_expression("SET lease_until = :zero")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map_err(backend("release_idempotency"))?;
        Ok(())
    }
}

impl RegistrationStore for DynamoStore {
    async fn create_registration(
        &self,
        r: &Registration,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let mut reg_item = doc_item(registration_pk(&r.id), "REG".into(), r);
        reg_item.insert("expires_at".into(), n(r.expires_at));
        let mut tx = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(reg_item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(backend("create_registration"))?,
                )
                .build(),
        );
        if let Some(subject) = subject_item(r) {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(subject))
                            .build()
                            .map_err(backend("create_registration"))?,
                    )
                    .build(),
            );
        }
        // A transaction holds at most 100 items; a campaign's integrations are far fewer.
        for d in deliveries.iter().take(98) {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(delivery_item(d, r.expires_at)))
                            .build()
                            .map_err(backend("create_registration"))?,
                    )
                    .build(),
            );
        }
        match tx.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_transaction_condition_failure(&e) => Ok(false),
            Err(e) if is_transaction_contention(&e) => Err(StoreError::Unavailable {
                operation: "create_registration",
                source: Box::new(e),
            }),
            Err(e) => Err(backend("create_registration")(e)),
        }
    }

    async fn delete_registration(&self, r: &Registration) -> Result<(), StoreError> {
        let mut items = self
            .query_prefix(registration_pk(&r.id), None, "delete_registration")
            .await?;
        items.extend(subject_item(r));
        for item in items {
            let (Some(pk), Some(sk)) = (get_s(&item, "pk"), get_s(&item, "sk")) else {
                continue;
            };
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.to_owned(), sk.to_owned())))
                .send()
                .await
                .map_err(backend("delete_registration"))?;
        }
        Ok(())
    }

    async fn registration(&self, id: &RegistrationId) -> Result<Option<Registration>, StoreError> {
        self.get_doc(registration_pk(id), "REG".into(), "registration")
            .await
    }

    async fn delivery(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get_doc(registration_pk(r), delivery_sk(i), "delivery")
            .await
    }

    async fn registration_log(
        &self,
        id: &RegistrationId,
    ) -> Result<Option<RegistrationLog>, StoreError> {
        let items = self
            .query_prefix(registration_pk(id), None, "registration_log")
            .await?;
        let mut registration = None;
        let mut deliveries = Vec::new();
        let mut attempts = Vec::new();
        for item in &items {
            let sk = get_s(item, "sk").unwrap_or_default();
            if sk == "REG" {
                registration = Some(read_doc::<Registration>(item)?);
            } else if sk.contains("#ATT#") {
                if get_s(item, "slot") == Some("done") {
                    attempts.push(read_doc::<Attempt>(item)?);
                }
            } else if sk.starts_with("DLV#") {
                deliveries.push(read_doc::<Delivery>(item)?);
            }
        }
        Ok(registration.map(|registration| RegistrationLog {
            registration,
            deliveries,
            attempts,
        }))
    }

    async fn claim_attempt(
        &self,
        r: &Registration,
        integration: &IntegrationId,
        number: u32,
        lease_until: u64,
        now: u64,
    ) -> Result<AttemptClaim, StoreError> {
        let pk = registration_pk(&r.id);
        let sk = attempt_sk(integration, number);
        // This call's own token: when the write is applied but its answer lost (a 500 or
        // a dropped connection after DynamoDB wrote it), the SDK's retry of the same
        // request finds its own claim and succeeds, instead of seeing a live claim of
        // "another worker" and, after the lease, an outcome unknown for an attempt that
        // was never sent.
        let me = leadrelay::deliver::limit::holder();
        let claim = HashMap::from([
            ("pk".to_owned(), s(pk.clone())),
            ("sk".to_owned(), s(sk.clone())),
            ("slot".to_owned(), s("claimed")),
            ("holder".to_owned(), s(me.clone())),
            ("lease_until".to_owned(), n(lease_until)),
            ("expires_at".to_owned(), n(r.expires_at)),
        ]);
        // The old item comes back when an expired claim is taken over: its holder may
        // have sent the attempt.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim))
            .condition_expression(
                "attribute_not_exists(pk) OR (slot = :claimed AND (lease_until < :now OR holder = :me))",
            )
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(me.clone()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                if old.contains_key("erased") {
                    // Keep the erasure's mark on the new claim.
                    self.mark_claim_erased(&r.id, integration, number).await?;
                }
                // Nothing before, or this call's own write repeated by a retry.
                let own = old.is_empty() || get_s(&old, "holder") == Some(me.as_str());
                return Ok(if own {
                    AttemptClaim::Claimed
                } else {
                    AttemptClaim::TakenOver
                });
            }
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(backend("claim_attempt")(e)),
        }
        match self.get(pk, sk, "claim_attempt").await? {
            Some(item) if get_s(&item, "slot") == Some("done") => {
                Ok(AttemptClaim::Done(Box::new(read_doc(&item)?)))
            }
            _ => Ok(AttemptClaim::InProgress),
        }
    }

    async fn record_attempt(&self, a: &Attempt, expires_at: u64) -> Result<Recorded, StoreError> {
        let pk = registration_pk(&a.registration_id);
        let sk = attempt_sk(&a.integration_id, a.number);
        let mut item = doc_item(pk.clone(), sk.clone(), a);
        item.insert("slot".into(), s("done"));
        item.insert("expires_at".into(), n(expires_at));
        // Not over a recorded attempt (an earlier run of the same job), and not over a
        // claim an erasure reached while the attempt was in flight.
        if self
            .put_if(
                item,
                "attribute_not_exists(pk) OR (slot <> :done AND attribute_not_exists(erased))",
                &[(":done", s("done"))],
                "record_attempt",
            )
            .await?
        {
            return Ok(Recorded::Written);
        }
        Ok(match self.get(pk, sk, "record_attempt").await? {
            Some(item) if get_s(&item, "slot") != Some("done") && item.contains_key("erased") => {
                Recorded::Erased
            }
            _ => Recorded::AlreadyRecorded,
        })
    }

    async fn update_delivery(&self, d: &Delivery, expires_at: u64) -> Result<(), StoreError> {
        // A failed condition means a later attempt is recorded already, or the delivery
        // was erased (final).
        self.put_if(
            delivery_item(d, expires_at),
            "attribute_not_exists(pk) OR (attempts <= :n AND delivery_state <> :erased)",
            &[
                (":n", n(u64::from(d.attempts))),
                (":erased", s(DeliveryState::Erased.as_str())),
            ],
            "update_delivery",
        )
        .await
        .map(drop)
    }

    async fn note_waiting(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
        attempt: u32,
        note: &WaitNote,
    ) -> Result<bool, StoreError> {
        const OP: &str = "note_waiting";
        // Lost only to another write of the same delivery: read it again, a few times.
        for _ in 0..3 {
            let Some(item) = self.get(registration_pk(r), delivery_sk(i), OP).await? else {
                return Ok(false);
            };
            let mut d: Delivery = read_doc(&item)?;
            if !may_note_waiting(&d, attempt) {
                return Ok(false);
            }
            let old = get_s(&item, "doc").unwrap_or_default().to_owned();
            d.waiting = Some(note.clone());
            let new = serde_json::to_string(&d).expect("domain types serialize to JSON");
            // Only the document changes, and only from the one read: the state, the
            // attempts and the index attributes (a due time the reconciler moved) stay.
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(registration_pk(r), delivery_sk(i))))
                .update_expression("SET doc = :new")
                .condition_expression(
                    "doc = :old AND delivery_state IN (:pending, :retrying) AND attempts < :attempt",
                )
                .expression_attribute_values(":new", s(new))
                .expression_attribute_values(":old", s(old))
                .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()))
                .expression_attribute_values(":retrying", s(DeliveryState::Retrying.as_str()))
                .expression_attribute_values(":attempt", n(u64::from(attempt)))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(backend(OP)(e)),
            }
        }
        Ok(false)
    }

    async fn paused_deliveries(
        &self,
        integration: &IntegrationId,
        after: Option<&RegistrationId>,
        limit: usize,
    ) -> Result<Vec<(RegistrationId, IntegrationId)>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .expression_attribute_values(":p", s(format!("PAUSED#{integration}")))
            .limit(limit.clamp(1, 1000) as i32);
        query = match after {
            Some(after) => query
                .key_condition_expression("gsi2pk = :p AND gsi2sk > :after")
                .expression_attribute_values(":after", s(after.to_string())),
            None => query.key_condition_expression("gsi2pk = :p"),
        };
        let out = query.send().await.map_err(backend("paused_deliveries"))?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| get_s(item, "gsi2sk")?.parse().ok())
            .map(|r| (r, integration.clone()))
            .collect())
    }

    async fn unpause_delivery(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
        state: DeliveryState,
    ) -> Result<(), StoreError> {
        let Some(item) = self
            .get(registration_pk(r), delivery_sk(i), "unpause_delivery")
            .await?
        else {
            return Ok(());
        };
        let mut d: Delivery = read_doc(&item)?;
        if d.state != DeliveryState::Paused {
            return Ok(());
        }
        d.state = state;
        d.updated_at = leadrelay::clock::now_ms();
        let expires_at = get_n(&item, "expires_at").unwrap_or(0);
        // A failed condition means it moved on meanwhile: nothing to take out.
        self.put_if(
            delivery_item(&d, expires_at),
            "delivery_state = :paused AND attempts = :n",
            &[
                (":paused", s(DeliveryState::Paused.as_str())),
                (":n", n(u64::from(d.attempts))),
            ],
            "unpause_delivery",
        )
        .await
        .map(drop)
    }

    async fn reschedule_waiting(&self, seen: &Waiting, due_ms: u64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                registration_pk(&seen.registration_id),
                delivery_sk(&seen.integration_id),
            )))
            .update_expression("SET gsi3sk = :new")
            .condition_expression("gsi3sk = :old")
            .expression_attribute_values(
                ":old",
                s(gsi3_sort_key(
                    seen.due_ms,
                    &seen.registration_id,
                    &seen.integration_id,
                )),
            )
            .expression_attribute_values(
                ":new",
                s(gsi3_sort_key(
                    due_ms,
                    &seen.registration_id,
                    &seen.integration_id,
                )),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend("reschedule_waiting")(e)),
        }
    }

    async fn delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .get(
                subject_pk(account, subject),
                order_sk(integration),
                "delivered_order",
            )
            .await?
            .and_then(|item| get_n(&item, "newest")))
    }

    async fn advance_delivered_order(
        &self,
        account: &AccountId,
        subject: &str,
        integration: &IntegrationId,
        received_at: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                subject_pk(account, subject),
                order_sk(integration),
            )))
            .update_expression("SET newest = :t, expires_at = :e")
            .condition_expression("attribute_not_exists(newest) OR newest < :t")
            .expression_attribute_values(":t", n(received_at))
            .expression_attribute_values(":e", n(expires_at))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend("advance_delivered_order")(e)),
        }
    }
}

impl ErasureStore for DynamoStore {
    async fn attempt_slots(&self, id: &RegistrationId) -> Result<Vec<AttemptSlot>, StoreError> {
        const OP: &str = "attempt_slots";
        let items = self
            .query_prefix(registration_pk(id), Some("DLV#"), OP)
            .await?;
        let mut slots = Vec::new();
        for item in &items {
            let sk = get_s(item, "sk").unwrap_or_default();
            let Some((integration, number)) = sk
                .strip_prefix("DLV#")
                .and_then(|rest| rest.split_once("#ATT#"))
            else {
                continue;
            };
            let corrupt = || StoreError::Corrupt {
                pk: registration_pk(id),
                sk: sk.to_owned(),
                reason: "an attempt's sort key that does not parse".into(),
            };
            slots.push(if get_s(item, "slot") == Some("done") {
                AttemptSlot::Recorded(Box::new(read_doc(item)?))
            } else {
                AttemptSlot::InFlight {
                    integration_id: integration.parse().map_err(|_| corrupt())?,
                    number: number.parse().map_err(|_| corrupt())?,
                }
            });
        }
        Ok(slots)
    }

    async fn put_erased_registration(&self, r: &Registration) -> Result<(), StoreError> {
        let mut item = doc_item(registration_pk(&r.id), "REG".into(), r);
        item.insert("expires_at".into(), n(r.expires_at));
        self.put(item, "put_erased_registration").await
    }

    async fn mark_claim_erased(
        &self,
        registration: &RegistrationId,
        integration: &IntegrationId,
        number: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                registration_pk(registration),
                attempt_sk(integration, number),
            )))
            .update_expression("SET erased = :yes")
            .condition_expression("slot = :claimed")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend("mark_claim_erased")(e)),
        }
    }

    async fn put_scrubbed_attempt(&self, a: &Attempt) -> Result<(), StoreError> {
        // An update, so the item keeps its own expiry.
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                registration_pk(&a.registration_id),
                attempt_sk(&a.integration_id, a.number),
            )))
            .update_expression("SET doc = :doc, slot = :done, erased = :yes")
            .expression_attribute_values(":doc", doc_value(a))
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(backend("put_scrubbed_attempt"))?;
        Ok(())
    }

    async fn record_scrubbed_attempt(
        &self,
        a: &Attempt,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        let mut item = doc_item(
            registration_pk(&a.registration_id),
            attempt_sk(&a.integration_id, a.number),
            a,
        );
        item.insert("slot".into(), s("done"));
        item.insert("expires_at".into(), n(expires_at));
        item.insert("erased".into(), AttributeValue::Bool(true));
        self.put_if(
            item,
            "attribute_not_exists(pk) OR slot <> :done",
            &[(":done", s("done"))],
            "record_attempt",
        )
        .await
    }

    async fn put_stopped_delivery(
        &self,
        seen: &Delivery,
        stopped: &Delivery,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.put_if(
            delivery_item(stopped, expires_at),
            "delivery_state = :state AND attempts = :n",
            &[
                (":state", s(seen.state.as_str())),
                (":n", n(u64::from(seen.attempts))),
            ],
            "put_stopped_delivery",
        )
        .await
    }

    async fn forget_subject(&self, r: &Registration) -> Result<(), StoreError> {
        let Some(subject) = subject_item(r) else {
            return Ok(());
        };
        let (pk, sk) = (get_s(&subject, "pk"), get_s(&subject, "sk"));
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                pk.unwrap_or_default().to_owned(),
                sk.unwrap_or_default().to_owned(),
            )))
            .send()
            .await
            .map_err(backend("forget_subject"))?;
        Ok(())
    }
}

impl FlowStore for DynamoStore {
    async fn concurrency_slots(
        &self,
        integration: &IntegrationId,
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        // Expired leases are free whatever TTL did: read every slot item, live or not.
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :slot)")
                .expression_attribute_values(":pk", s(integration_pk(integration)))
                .expression_attribute_values(":slot", s("SLOT#"))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend("concurrency_slots"))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items
            .iter()
            .filter_map(|item| {
                let slot = get_s(item, "sk")?.strip_prefix("SLOT#")?.parse().ok()?;
                Some((slot, get_n(item, "lease_until").unwrap_or(0)))
            })
            .collect())
    }

    async fn claim_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
        lease_until: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut item = key(integration_pk(integration), slot_sk(slot));
        item.insert("holder".into(), s(holder));
        item.insert("lease_until".into(), n(lease_until));
        // Kept an hour past the lease, then removed by TTL; expired leases are free anyway.
        item.insert("expires_at".into(), n(lease_until / 1000 + 3600));
        self.put_if(
            item,
            "attribute_not_exists(pk) OR lease_until < :now",
            &[(":now", n(now))],
            "claim_slot",
        )
        .await
    }

    async fn release_slot(
        &self,
        integration: &IntegrationId,
        slot: u32,
        holder: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(integration), slot_sk(slot))))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Its lease ended and another worker holds it now: not ours to free.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(backend("release_slot")(e)),
        }
    }

    async fn breaker(&self, integration: &IntegrationId) -> Result<Option<Breaker>, StoreError> {
        self.get_doc(integration_pk(integration), "BREAKER".into(), "breaker")
            .await
    }

    async fn put_breaker(&self, breaker: &Breaker) -> Result<bool, StoreError> {
        let written = Breaker {
            version: breaker.version + 1,
            ..breaker.clone()
        };
        let mut item = doc_item(
            integration_pk(&breaker.integration_id),
            "BREAKER".into(),
            &written,
        );
        item.insert("version".into(), n(written.version));
        if breaker.version == 0 {
            self.put_if(item, "attribute_not_exists(pk)", &[], "put_breaker")
                .await
        } else {
            self.put_if(
                item,
                "version = :read",
                &[(":read", n(breaker.version))],
                "put_breaker",
            )
            .await
        }
    }

    async fn join_wait(
        &self,
        integration: &IntegrationId,
        until: u64,
        now_ms: u64,
    ) -> Result<WaitPlace, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                integration_pk(integration),
                format!("WAIT#{until:013}"),
            )))
            .update_expression(
                "ADD waiting :one SET expires_at = :expires, first_at = if_not_exists(first_at, :now)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(until / 1000 + 3600))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(backend("join_wait"))?;
        let attributes = out.attributes.as_ref();
        Ok(WaitPlace {
            place: attributes.and_then(|a| get_n(a, "waiting")).unwrap_or(1),
            since: attributes
                .and_then(|a| get_n(a, "first_at"))
                .unwrap_or(now_ms),
        })
    }
}

impl QueryStore for DynamoStore {
    async fn subject_registrations(
        &self,
        account: &AccountId,
        subject: &str,
    ) -> Result<Vec<RegistrationId>, StoreError> {
        let items = self
            .query_prefix(
                subject_pk(account, subject),
                Some("REG#"),
                "subject_registrations",
            )
            .await?;
        Ok(items
            .iter()
            .filter_map(|i| get_s(i, "sk")?.strip_prefix("REG#"))
            .filter_map(|id| id.parse().ok())
            .collect())
    }

    async fn overdue_deliveries(
        &self,
        until_ms: u64,
        limit: usize,
    ) -> Result<Vec<Waiting>, StoreError> {
        // "due <= until": every sort key below the next millisecond's 13 digits.
        let below = format!("{:013}", until_ms.saturating_add(1));
        let limit = limit.clamp(1, 1000);
        let queries = (0..WAITING_SHARDS).map(|shard| {
            self.client
                .query()
                .table_name(&self.table)
                .index_name("gsi3")
                .key_condition_expression("gsi3pk = :p AND gsi3sk < :below")
                .expression_attribute_values(":p", s(waiting_pk(shard)))
                .expression_attribute_values(":below", s(below.clone()))
                .limit(limit as i32)
                .send()
        });
        let mut waiting = Vec::new();
        for out in futures::future::join_all(queries).await {
            let out = out.map_err(backend("overdue_deliveries"))?;
            waiting.extend(out.items().iter().filter_map(read_waiting));
        }
        waiting.sort_by(|a, b| {
            (a.due_ms, &a.registration_id, &a.integration_id).cmp(&(
                b.due_ms,
                &b.registration_id,
                &b.integration_id,
            ))
        });
        waiting.truncate(limit);
        Ok(waiting)
    }

    async fn campaign_deliveries(&self, q: &DeliveryQuery) -> Result<Page<Delivery>, StoreError> {
        let Some(campaign) = &q.campaign_id else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let mut filters = vec!["expires_at > :now".to_owned()];
        let mut values: HashMap<String, AttributeValue> =
            HashMap::from([(":now".to_owned(), n(now_s()))]);
        let mut names = HashMap::new();
        if let Some(o) = q.outcome {
            filters.push("outcome = :o".into());
            values.insert(":o".into(), s(o.as_str()));
        }
        if let Some(c) = q.class {
            filters.push("#cl = :cl".into());
            names.insert("#cl".to_owned(), "class".to_owned());
            values.insert(":cl".into(), s(c.as_str()));
        }
        if let Some(st) = q.state {
            filters.push("delivery_state = :st".into());
            values.insert(":st".into(), s(st.as_str()));
        }
        if let Some(i) = &q.integration_id {
            filters.push("integration_id = :i".into());
            values.insert(":i".into(), s(i.as_str()));
        }
        let limit = q.limit.clamp(1, 1000);
        // The position is the sort key of the last item shown (or read): the next page is
        // what lies beyond it, in every partition. Keys are unique (time, registration,
        // integration), so the one equal to it is the only one to drop.
        let after = q.start.as_ref().and_then(|m| m.get("gsi1sk")).cloned();
        let (mut lo, mut hi) = (format!("{:013}", q.from_ms), format!("{:013}", q.to_ms));
        match (&after, q.newest_first) {
            (Some(a), false) if *a > lo => lo = a.clone(),
            (Some(a), true) if *a < hi => hi = a.clone(),
            _ => {}
        }
        if lo > hi {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        values.insert(":from".into(), s(lo));
        values.insert(":to".into(), s(hi));
        let range = CampaignRange {
            filter: filters.join(" AND "),
            values,
            names,
            after,
            limit,
            newest_first: q.newest_first,
        };
        // Its 16 shards, and the single partition deliveries written before sharding used.
        let partitions: Vec<String> = std::iter::once(format!("CMP#{campaign}"))
            .chain((0..CAMPAIGN_SHARDS).map(|n| campaign_partition(campaign, n)))
            .collect();
        let reads = futures::future::join_all(
            partitions
                .iter()
                .map(|p| self.campaign_partition(p, &range)),
        )
        .await;
        let mut rows: Vec<(String, Delivery)> = Vec::new();
        // The nearest place a partition stopped reading before its end: nothing beyond it
        // may be shown yet, since that partition may hold earlier items past it.
        let mut bound: Option<String> = None;
        for read in reads {
            let (items, reached) = read?;
            rows.extend(items);
            if let Some(k) = reached {
                bound = Some(match bound {
                    Some(b) if (q.newest_first && b > k) || (!q.newest_first && b < k) => b,
                    _ => k,
                });
            }
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if q.newest_first {
            rows.reverse();
        }
        if let Some(b) = &bound {
            rows.retain(|(k, _)| if q.newest_first { k >= b } else { k <= b });
        }
        let more = rows.len() > limit || bound.is_some();
        rows.truncate(limit);
        let next = match rows.last() {
            Some((k, _)) if rows.len() == limit && more => Some(k.clone()),
            _ => bound,
        }
        .map(|k| BTreeMap::from([("gsi1sk".to_owned(), k)]));
        Ok(Page {
            items: rows.into_iter().map(|(_, d)| d).collect(),
            next,
        })
    }
}
