//! The [`Store`] on DynamoDB: one table, keys as laid out in [`super`], each entity kept
//! as a JSON document in `doc` beside the attributes that keys, indexes and conditions
//! need.

use super::{
    campaign_partition, gsi1_partition, gsi1_sort_key, gsi3_sort_key, may_note_waiting,
    waiting_due, waiting_shard, AttemptClaim, DeliveryQuery, Idempotency, IdempotencyClaim, Page,
    Recorded, RegistrationLog, Store, StoreError, WaitPlace, Waiting, CAMPAIGN_SHARDS,
    WAITING_SHARDS,
};
use crate::aws::Retryable;
use crate::deliver::breaker::Breaker;
use crate::erasure::{self, Erased};
use crate::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use crate::model::{
    Account, ApiKey, Attempt, Campaign, Delivery, DeliveryState, Integration, Registration,
    WaitNote,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

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

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse().ok())
}

/// An item with its keys and its document.
fn doc_item(pk: String, sk: String, doc: &impl Serialize) -> Item {
    let text = serde_json::to_string(doc).expect("domain types serialize to JSON");
    HashMap::from([
        ("pk".to_owned(), s(pk)),
        ("sk".to_owned(), s(sk)),
        ("doc".to_owned(), s(text)),
    ])
}

fn read_doc<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        pk: get_s(item, "pk").unwrap_or("?").to_owned(),
        sk: get_s(item, "sk").unwrap_or("?").to_owned(),
        reason,
    };
    let text = get_s(item, "doc").ok_or_else(|| corrupt("no doc attribute".into()))?;
    serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// An integration's item: the document, and its version on its own for the conditions.
fn integration_item(i: &Integration) -> Item {
    let mut item = doc_item(account_pk(&i.account_id), format!("INT#{}", i.id), i);
    item.insert("int_version".into(), n(i.version));
    item
}

fn account_pk(id: &AccountId) -> String {
    format!("ACC#{id}")
}

fn registration_pk(id: &RegistrationId) -> String {
    format!("REG#{id}")
}

fn delivery_sk(integration: &IntegrationId) -> String {
    format!("DLV#{integration}")
}

fn attempt_sk(integration: &IntegrationId, number: u32) -> String {
    format!("DLV#{integration}#ATT#{number:04}")
}

fn order_sk(integration: &IntegrationId) -> String {
    format!("ORD#{integration}")
}

fn integration_pk(id: &IntegrationId) -> String {
    format!("INT#{id}")
}

fn slot_sk(slot: u32) -> String {
    format!("SLOT#{slot:03}")
}

fn subject_pk(account: &AccountId, subject: &str) -> String {
    format!("SUBJ#{account}#{subject}")
}

/// The item that finds a registration by its address, if it has one.
fn subject_item(r: &Registration) -> Option<Item> {
    let email = r.data.email.as_deref()?;
    let mut item = key(
        subject_pk(&r.account_id, &erasure::subject_hash(email)),
        registration_pk(&r.id),
    );
    item.insert("expires_at".into(), n(r.expires_at));
    Some(item)
}

fn idempotency_pk(campaign: &CampaignId, key_hash: &str) -> String {
    format!("IDEM#{campaign}#{key_hash}")
}

fn now_s() -> u64 {
    crate::clock::now_ms() / 1000
}

fn is_live(item: &Item) -> bool {
    get_n(item, "expires_at").is_none_or(|t| t > now_s())
}

/// The item of a delivery: its document plus what indexes, filters and conditions read.
fn delivery_item(d: &Delivery, expires_at: u64) -> Item {
    let mut item = doc_item(
        registration_pk(&d.registration_id),
        delivery_sk(&d.integration_id),
        d,
    );
    item.insert(
        "gsi1pk".into(),
        s(gsi1_partition(&d.campaign_id, &d.registration_id)),
    );
    item.insert(
        "gsi1sk".into(),
        s(gsi1_sort_key(
            d.received_at,
            &d.registration_id,
            &d.integration_id,
        )),
    );
    item.insert("delivery_state".into(), s(d.state.as_str()));
    item.insert("attempts".into(), n(u64::from(d.attempts)));
    item.insert("integration_id".into(), s(d.integration_id.as_str()));
    if let Some(last) = &d.last {
        item.insert("outcome".into(), s(last.outcome.as_str()));
        item.insert("class".into(), s(last.class.as_str()));
    }
    if d.state == DeliveryState::Paused {
        item.insert("gsi2pk".into(), s(format!("PAUSED#{}", d.integration_id)));
        item.insert("gsi2sk".into(), s(d.registration_id.as_str()));
    }
    if let Some(due) = waiting_due(d) {
        item.insert(
            "gsi3pk".into(),
            s(waiting_pk(waiting_shard(&d.registration_id))),
        );
        item.insert(
            "gsi3sk".into(),
            s(gsi3_sort_key(due, &d.registration_id, &d.integration_id)),
        );
    }
    item.insert("expires_at".into(), n(expires_at));
    item
}

fn waiting_pk(shard: u32) -> String {
    format!("WAIT#{shard:02}")
}

/// A waiting-index entry read back from its sort key.
fn read_waiting(item: &Item) -> Option<Waiting> {
    let mut parts = get_s(item, "gsi3sk")?.splitn(3, '#');
    let due_ms = parts.next()?.parse().ok()?;
    let registration_id = parts.next()?.parse().ok()?;
    let integration_id = parts.next()?.parse().ok()?;
    Some(Waiting {
        registration_id,
        integration_id,
        due_ms,
    })
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

    /// Marks an attempt claim as reached by an erasure; false when the attempt is no
    /// longer a claim (it was recorded meanwhile).
    async fn mark_claim_erased(&self, pk: &str, sk: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), sk.to_owned())))
            .update_expression("SET erased = :yes")
            .condition_expression("slot = :claimed")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(backend("erase_registration")(e)),
        }
    }

    /// Ends a waiting delivery `erased`, written only over the state it was read in (a
    /// delivery that moved on meanwhile is read again); true when it was stopped.
    async fn stop_delivery(
        &self,
        item: &Item,
        at_ms: u64,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "erase_registration";
        let mut item = item.clone();
        for _ in 0..5 {
            let mut delivery: Delivery = read_doc(&item)?;
            let (state, attempts) = (delivery.state, delivery.attempts);
            if !erasure::stop_delivery(&mut delivery, at_ms) {
                return Ok(false);
            }
            if self
                .put_if(
                    delivery_item(&delivery, expires_at),
                    "delivery_state = :state AND attempts = :n",
                    &[
                        (":state", s(state.as_str())),
                        (":n", n(u64::from(attempts))),
                    ],
                    OP,
                )
                .await?
            {
                return Ok(true);
            }
            let (Some(pk), Some(sk)) = (get_s(&item, "pk"), get_s(&item, "sk")) else {
                return Ok(false);
            };
            match self.get(pk.to_owned(), sk.to_owned(), OP).await? {
                Some(fresh) => item = fresh,
                None => return Ok(false),
            }
        }
        Ok(false)
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

fn idempotency_item(r: &Idempotency) -> Item {
    HashMap::from([
        (
            "pk".to_owned(),
            s(idempotency_pk(&r.campaign_id, &r.key_hash)),
        ),
        ("sk".to_owned(), s("IDEM")),
        ("registration_id".to_owned(), s(r.registration_id.as_str())),
        ("body_hash".to_owned(), s(r.body_hash.clone())),
        ("queued".to_owned(), AttributeValue::Bool(r.queued)),
        ("lease_until".to_owned(), n(r.lease_until)),
        ("expires_at".to_owned(), n(r.expires_at)),
    ])
}

fn read_idempotency(
    item: &Item,
    campaign: &CampaignId,
    key_hash: &str,
) -> Result<Idempotency, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        pk: idempotency_pk(campaign, key_hash),
        sk: "IDEM".into(),
        reason: reason.into(),
    };
    Ok(Idempotency {
        campaign_id: campaign.clone(),
        key_hash: key_hash.to_owned(),
        registration_id: get_s(item, "registration_id")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| corrupt("registration_id"))?,
        body_hash: get_s(item, "body_hash")
            .ok_or_else(|| corrupt("body_hash"))?
            .to_owned(),
        queued: item
            .get("queued")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        lease_until: get_n(item, "lease_until").unwrap_or(0),
        expires_at: get_n(item, "expires_at").unwrap_or(0),
    })
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

impl Store for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let pk = account_pk(&account.id);
        self.put(doc_item(pk, "ACC".into(), account), "put_account")
            .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.get(account_pk(id), "ACC".into(), "account")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
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
        self.get(format!("KEYHASH#{hash}"), "KEY".into(), "key_by_hash")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
    }

    async fn list_keys(&self, account: &AccountId) -> Result<Vec<ApiKey>, StoreError> {
        self.query_prefix(account_pk(account), Some("KEY#"), "list_keys")
            .await?
            .iter()
            .map(read_doc)
            .collect()
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

    async fn put_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        let item = doc_item(account_pk(&c.account_id), format!("CMP#{}", c.id), c);
        self.put(item, "put_campaign").await
    }

    async fn campaign(
        &self,
        account: &AccountId,
        id: &CampaignId,
    ) -> Result<Option<Campaign>, StoreError> {
        self.get(account_pk(account), format!("CMP#{id}"), "campaign")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
    }

    async fn list_campaigns(&self, account: &AccountId) -> Result<Vec<Campaign>, StoreError> {
        self.query_prefix(account_pk(account), Some("CMP#"), "list_campaigns")
            .await?
            .iter()
            .map(read_doc)
            .collect()
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
        self.get(account_pk(account), format!("INT#{id}"), "integration")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
    }

    async fn list_integrations(&self, account: &AccountId) -> Result<Vec<Integration>, StoreError> {
        self.query_prefix(account_pk(account), Some("INT#"), "list_integrations")
            .await?
            .iter()
            .map(read_doc)
            .collect()
    }

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
        self.get(registration_pk(id), "REG".into(), "registration")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
    }

    async fn delivery(
        &self,
        r: &RegistrationId,
        i: &IntegrationId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get(registration_pk(r), delivery_sk(i), "delivery")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
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
        let me = crate::deliver::limit::holder();
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
                    self.mark_claim_erased(&pk, &sk).await?;
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

    async fn record_attempt(
        &self,
        a: &Attempt,
        expires_at: u64,
        personal: &[String],
    ) -> Result<Recorded, StoreError> {
        let pk = registration_pk(&a.registration_id);
        let sk = attempt_sk(&a.integration_id, a.number);
        let item_of = |a: &Attempt, erased: bool| {
            let mut item = doc_item(pk.clone(), sk.clone(), a);
            item.insert("slot".into(), s("done"));
            item.insert("expires_at".into(), n(expires_at));
            if erased {
                item.insert("erased".into(), AttributeValue::Bool(true));
            }
            item
        };
        // Not over a recorded attempt (an earlier run of the same job), and not over a
        // claim an erasure reached while the attempt was in flight.
        if self
            .put_if(
                item_of(a, false),
                "attribute_not_exists(pk) OR (slot <> :done AND attribute_not_exists(erased))",
                &[(":done", s("done"))],
                "record_attempt",
            )
            .await?
        {
            return Ok(Recorded::Written);
        }
        let current = self.get(pk.clone(), sk.clone(), "record_attempt").await?;
        match current {
            Some(item) if get_s(&item, "slot") != Some("done") && item.contains_key("erased") => {
                let mut scrubbed = a.clone();
                erasure::erase_attempt(&mut scrubbed, personal);
                let written = self
                    .put_if(
                        item_of(&scrubbed, true),
                        "attribute_not_exists(pk) OR slot <> :done",
                        &[(":done", s("done"))],
                        "record_attempt",
                    )
                    .await?;
                Ok(if written {
                    Recorded::Erased
                } else {
                    Recorded::AlreadyRecorded
                })
            }
            _ => Ok(Recorded::AlreadyRecorded),
        }
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

    async fn erase_registration(
        &self,
        id: &RegistrationId,
        at_ms: u64,
    ) -> Result<Option<Erased>, StoreError> {
        const OP: &str = "erase_registration";
        let items = self.query_prefix(registration_pk(id), None, OP).await?;
        let Some(reg_item) = items.iter().find(|i| get_s(i, "sk") == Some("REG")) else {
            return Ok(None);
        };
        let mut registration: Registration = read_doc(reg_item)?;
        let subject = subject_item(&registration);
        let values = erasure::erase_registration(&mut registration, at_ms);
        let expires_at = registration.expires_at;
        // The registration first: from then on deliver refuses to send it, whatever
        // happens to the rest.
        let mut item = doc_item(registration_pk(id), "REG".into(), &registration);
        item.insert("expires_at".into(), n(expires_at));
        self.put(item, OP).await?;
        let mut erased = Erased::default();
        for item in &items {
            let sk = get_s(item, "sk").unwrap_or_default();
            let kept = get_n(item, "expires_at").unwrap_or(expires_at);
            if sk.contains("#ATT#") {
                let mut item = item.clone();
                if get_s(&item, "slot") != Some("done") {
                    // In flight: mark the claim, so its result is recorded scrubbed.
                    if self.mark_claim_erased(&registration_pk(id), sk).await? {
                        continue;
                    }
                    // It ended meanwhile: scrub what was recorded.
                    match self.get(registration_pk(id), sk.to_owned(), OP).await? {
                        Some(done) if get_s(&done, "slot") == Some("done") => item = done,
                        _ => continue,
                    }
                }
                let mut attempt: Attempt = read_doc(&item)?;
                erasure::erase_attempt(&mut attempt, &values);
                let mut scrubbed = doc_item(registration_pk(id), sk.to_owned(), &attempt);
                scrubbed.insert("slot".into(), s("done"));
                scrubbed.insert("erased".into(), AttributeValue::Bool(true));
                scrubbed.insert("expires_at".into(), n(kept));
                self.put(scrubbed, OP).await?;
                erased.attempts_scrubbed += 1;
            } else if sk.starts_with("DLV#") && self.stop_delivery(item, at_ms, kept).await? {
                erased.deliveries_stopped += 1;
            }
        }
        if let Some(subject) = subject {
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
                .map_err(backend(OP))?;
        }
        Ok(Some(erased))
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
        d.updated_at = crate::clock::now_ms();
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
        self.get(integration_pk(integration), "BREAKER".into(), "breaker")
            .await?
            .map(|i| read_doc(&i))
            .transpose()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LastAttempt, Trigger};
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::{Class, Outcome};

    #[test]
    fn delivery_items_carry_their_index_and_filter_attributes() {
        let d = Delivery {
            registration_id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            integration_id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            provider: Provider::Webhook,
            state: DeliveryState::Paused,
            attempts: 2,
            next_attempt_at: None,
            last: Some(LastAttempt {
                number: 2,
                at: 5,
                status: Some(401),
                class: Class::ClientError,
                outcome: Outcome::Unauthorized,
                provider_code: None,
            }),
            received_at: 42,
            updated_at: 43,
            waiting: None,
        };

        let item = delivery_item(&d, 99);

        assert_eq!(
            get_s(&item, "pk"),
            Some("REG#reg_0123456789abcdefghjkmnpqrs")
        );
        assert_eq!(
            get_s(&item, "sk"),
            Some("DLV#int_0123456789abcdefghjkmnpqrs")
        );
        let partition = get_s(&item, "gsi1pk").unwrap();
        assert!(
            partition.starts_with("CMP#cmp_0123456789abcdefghjkmnpqrs#")
                && partition.len() == "CMP#cmp_0123456789abcdefghjkmnpqrs#00".len(),
            "{partition}"
        );
        assert!(get_s(&item, "gsi3pk").unwrap().starts_with("WAIT#"));
        assert!(get_s(&item, "gsi3sk")
            .unwrap()
            .starts_with("0000000000043#reg_"));
        assert!(get_s(&item, "gsi1sk")
            .unwrap()
            .starts_with("0000000000042#reg_"));
        assert_eq!(
            get_s(&item, "gsi2pk"),
            Some("PAUSED#int_0123456789abcdefghjkmnpqrs")
        );
        assert_eq!(get_s(&item, "outcome"), Some("unauthorized"));
        assert_eq!(get_s(&item, "class"), Some("4xx"));
        assert_eq!(get_n(&item, "attempts"), Some(2));
        assert_eq!(read_doc::<Delivery>(&item).unwrap(), d);
        let _ = Trigger::Automatic;
    }

    #[test]
    fn idempotency_items_round_trip() {
        let r = Idempotency {
            campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            key_hash: "ab".into(),
            registration_id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            body_hash: "cd".into(),
            queued: true,
            lease_until: 7,
            expires_at: 8,
        };
        let item = idempotency_item(&r);
        assert_eq!(read_idempotency(&item, &r.campaign_id, "ab").unwrap(), r);
    }

    #[test]
    fn unreadable_documents_are_reported_with_their_keys() {
        let item = key("REG#x".into(), "REG".into());
        let err = read_doc::<Registration>(&item).unwrap_err();
        assert!(err.to_string().contains("REG#x"), "{err}");
    }
}
