//! Reads across registrations that page: a set of campaigns' deliveries merged by time
//! (one campaign's, or every campaign of an account), and one address's registrations.

use super::*;

/// How many partition reads one listing runs at once.
const PARALLEL_READS: usize = 32;

impl DynamoStore {
    /// Matching deliveries of the `gsi1` partitions named, merged by sort key and paged.
    pub(super) async fn deliveries_in(
        &self,
        partitions: &[String],
        q: &DeliveryQuery,
    ) -> Result<Page<Delivery>, StoreError> {
        if partitions.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
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
        // An account's view reads every partition of each of its campaigns: a bounded
        // number at a time, so many campaigns do not open hundreds of requests at once.
        let mut reads = Vec::with_capacity(partitions.len());
        for chunk in partitions.chunks(PARALLEL_READS) {
            reads.extend(
                futures::future::join_all(chunk.iter().map(|p| self.campaign_partition(p, &range)))
                    .await,
            );
        }
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

    /// One page of an address's registrations, newest first: one Query on its
    /// `SUBJ#<account>#<hash>` partition (the position is the sort key alone, so a cursor
    /// carries no hash of the address).
    pub(super) async fn subject_page(
        &self,
        account: &AccountId,
        subject: &str,
        start: Option<&BTreeMap<String, String>>,
        limit: usize,
    ) -> Result<Page<RegistrationId>, StoreError> {
        let pk = subject_pk(account, subject);
        let exclusive = start
            .and_then(|p| p.get("sk"))
            .filter(|sk| sk.starts_with("REG#"))
            .map(|sk| key(pk.clone(), sk.clone()));
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :reg)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":reg", s("REG#"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(exclusive)
            .send()
            .await
            .map_err(backend("subject_registrations_page"))?;
        let items = out
            .items()
            .iter()
            .filter(|i| is_live(i))
            .filter_map(|i| get_s(i, "sk")?.strip_prefix("REG#")?.parse().ok())
            .collect();
        let next = out
            .last_evaluated_key()
            .and_then(|k| get_s(k, "sk"))
            .map(|sk| BTreeMap::from([("sk".to_owned(), sk.to_owned())]));
        Ok(Page { items, next })
    }
}
