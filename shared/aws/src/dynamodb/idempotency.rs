//! Idempotency keys on the table.

use super::*;

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
        self.update_if(
            key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            ),
            "SET lease_until = :new",
            Some("lease_until = :old AND queued = :no"),
            &[
                (":new", n(record.lease_until)),
                (":old", n(expired_lease)),
                (":no", AttributeValue::Bool(false)),
            ],
            "take_over_idempotency",
        )
        .await
    }

    async fn finish_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        self.update_if(
            key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            ),
            "SET queued = :yes",
            None,
            &[(":yes", AttributeValue::Bool(true))],
            "finish_idempotency",
        )
        .await?;
        Ok(())
    }

    async fn release_idempotency(&self, record: &Idempotency) -> Result<(), StoreError> {
        self.update_if(
            key(
                idempotency_pk(&record.campaign_id, &record.key_hash),
                "IDEM".into(),
            ),
            "SET lease_until = :zero",
            None,
            &[(":zero", n(0))],
            "release_idempotency",
        )
        .await?;
        Ok(())
    }
}
