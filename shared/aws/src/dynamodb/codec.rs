//! The table's codec: how entities become items (keys, index and condition attributes,
//! the JSON document) and how items are read back.

use aws_sdk_dynamodb::types::AttributeValue;
use leadrelay::erasure;
use leadrelay::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use leadrelay::model::{Delivery, DeliveryState, Integration, Registration};
use leadrelay::store::{
    gsi1_partition, gsi1_sort_key, gsi3_sort_key, waiting_due, waiting_shard, Idempotency,
    StoreError, Waiting,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

/// A DynamoDB item: attribute names to values.
pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse().ok())
}

/// An item with its keys and its document.
pub(super) fn doc_item(pk: String, sk: String, doc: &impl Serialize) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(pk)),
        ("sk".to_owned(), s(sk)),
        ("doc".to_owned(), doc_value(doc)),
    ])
}

/// An entity as the JSON document kept in `doc`.
pub(super) fn doc_value(doc: &impl Serialize) -> AttributeValue {
    s(serde_json::to_string(doc).expect("domain types serialize to JSON"))
}

pub(super) fn read_doc<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        pk: get_s(item, "pk").unwrap_or("?").to_owned(),
        sk: get_s(item, "sk").unwrap_or("?").to_owned(),
        reason,
    };
    let text = get_s(item, "doc").ok_or_else(|| corrupt("no doc attribute".into()))?;
    serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))
}

pub(super) fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// An integration's item: the document, and its version on its own for the conditions.
pub(super) fn integration_item(i: &Integration) -> Item {
    let mut item = doc_item(account_pk(&i.account_id), format!("INT#{}", i.id), i);
    item.insert("int_version".into(), n(i.version));
    item
}

pub(super) fn account_pk(id: &AccountId) -> String {
    format!("ACC#{id}")
}

pub(super) fn registration_pk(id: &RegistrationId) -> String {
    format!("REG#{id}")
}

pub(super) fn delivery_sk(integration: &IntegrationId) -> String {
    format!("DLV#{integration}")
}

pub(super) fn attempt_sk(integration: &IntegrationId, number: u32) -> String {
    format!("DLV#{integration}#ATT#{number:04}")
}

pub(super) fn order_sk(integration: &IntegrationId) -> String {
    format!("ORD#{integration}")
}

pub(super) fn integration_pk(id: &IntegrationId) -> String {
    format!("INT#{id}")
}

pub(super) fn slot_sk(slot: u32) -> String {
    format!("SLOT#{slot:03}")
}

pub(super) fn subject_pk(account: &AccountId, subject: &str) -> String {
    format!("SUBJ#{account}#{subject}")
}

/// The item that finds a registration by its address, if it has one.
pub(super) fn subject_item(r: &Registration) -> Option<Item> {
    let email = r.data.email.as_deref()?;
    let mut item = key(
        subject_pk(&r.account_id, &erasure::subject_hash(email)),
        registration_pk(&r.id),
    );
    item.insert("expires_at".into(), n(r.expires_at));
    Some(item)
}

pub(super) fn idempotency_pk(campaign: &CampaignId, key_hash: &str) -> String {
    format!("IDEM#{campaign}#{key_hash}")
}

pub(super) fn now_s() -> u64 {
    leadrelay::clock::now_ms() / 1000
}

pub(super) fn is_live(item: &Item) -> bool {
    get_n(item, "expires_at").is_none_or(|t| t > now_s())
}

/// The item of a delivery: its document plus what indexes, filters and conditions read.
pub(super) fn delivery_item(d: &Delivery, expires_at: u64) -> Item {
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

pub(super) fn waiting_pk(shard: u32) -> String {
    format!("WAIT#{shard:02}")
}

/// A waiting-index entry read back from its sort key.
pub(super) fn read_waiting(item: &Item) -> Option<Waiting> {
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

pub(super) fn idempotency_item(r: &Idempotency) -> Item {
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

pub(super) fn read_idempotency(
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

#[cfg(test)]
mod tests {
    use super::*;
    use leadrelay::model::{LastAttempt, Trigger};
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::Class;
    use leadrelay_explain::verdict::Outcome;

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
