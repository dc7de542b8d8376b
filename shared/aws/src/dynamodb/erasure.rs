//! The single steps of an erasure on the table.

use super::*;

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
        self.update_if(
            key(
                registration_pk(registration),
                attempt_sk(integration, number),
            ),
            "SET erased = :yes",
            Some("slot = :claimed"),
            &[
                (":yes", AttributeValue::Bool(true)),
                (":claimed", s("claimed")),
            ],
            "mark_claim_erased",
        )
        .await
    }

    async fn put_scrubbed_attempt(&self, a: &Attempt) -> Result<(), StoreError> {
        // An update, so the item keeps its own expiry.
        self.update_if(
            key(
                registration_pk(&a.registration_id),
                attempt_sk(&a.integration_id, a.number),
            ),
            "SET doc = :doc, slot = :done, erased = :yes",
            None,
            &[
                (":doc", doc_value(a)),
                (":done", s("done")),
                (":yes", AttributeValue::Bool(true)),
            ],
            "put_scrubbed_attempt",
        )
        .await?;
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
