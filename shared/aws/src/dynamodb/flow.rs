//! Concurrency slots, circuit breakers and waiting lines on the table.

use super::*;

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
