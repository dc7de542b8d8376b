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
