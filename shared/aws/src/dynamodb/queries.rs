//! Campaign, person and overdue queries on the table.

use super::*;

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
        let campaigns: Vec<CampaignId> = q.campaign_id.iter().cloned().collect();
        self.deliveries_of_campaigns(&campaigns, q).await
    }

    async fn deliveries_of_campaigns(
        &self,
        campaigns: &[CampaignId],
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        // Each campaign's 16 shards, and the single partition deliveries written before
        // sharding used.
        let partitions: Vec<String> = campaigns
            .iter()
            .flat_map(|c| {
                std::iter::once(format!("CMP#{c}"))
                    .chain((0..CAMPAIGN_SHARDS).map(move |n| campaign_partition(c, n)))
            })
            .collect();
        self.deliveries_in(&partitions, q).await
    }

    async fn subject_registrations_page(
        &self,
        account: &AccountId,
        subject: &str,
        start: Option<&BTreeMap<String, String>>,
        limit: usize,
    ) -> Result<Page<RegistrationId>, StoreError> {
        self.subject_page(account, subject, start, limit).await
    }
}
