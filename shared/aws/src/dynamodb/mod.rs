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
mod accounts;
mod audit;
mod campaigns;
mod codec;
mod erasure;
mod find;
mod flow;
mod idempotency;
mod queries;
mod registrations;

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

    /// Updates one item with `update` when `condition` holds (always, when `None`): true
    /// when written, false when the condition failed.
    async fn update_if(
        &self,
        key: Item,
        update: &str,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
        operation: &'static str,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned));
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
