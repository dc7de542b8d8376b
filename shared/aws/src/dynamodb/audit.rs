//! The audit log on the table: one partition per account (`AUDIT#<account>`), sorted by
//! entry id (time first), so a time range is one key range read newest first; filters
//! on the action, target and key are filter expressions on attributes of their own.

use super::*;
use leadrelay::audit::{AuditEntry, AuditQuery};
use leadrelay::store::AuditStore;

fn audit_pk(account: &AccountId) -> String {
    format!("AUDIT#{account}")
}

impl AuditStore for DynamoStore {
    async fn put_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let mut item = doc_item(audit_pk(&e.account_id), e.id.clone(), e);
        item.insert("action".into(), s(e.action.as_str()));
        item.insert("target".into(), s(e.target.clone()));
        item.insert("key_id".into(), s(e.key_id.to_string()));
        item.insert("expires_at".into(), n(e.expires_at));
        self.put(item, "put_audit").await
    }

    async fn audit_entries(&self, q: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        // Ids start with their 13-digit time, so "from <= at < to" is this key range;
        // `after` (an id, exclusive) narrows its top.
        let low = format!("{:013}", q.from_ms);
        let to = format!("{:013}", q.to_ms.min(9_999_999_999_999));
        let high = match &q.after {
            Some(after) if after.as_str() < to.as_str() => after.clone(),
            _ => to,
        };
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":pk".to_owned(), s(audit_pk(&q.account_id))),
            (":low".to_owned(), s(low)),
            (":high".to_owned(), s(high.clone())),
            (":now".to_owned(), n(now_s())),
        ]);
        let mut names: HashMap<String, String> = HashMap::new();
        let mut filter = vec!["expires_at > :now".to_owned()];
        let mut add = |name: &str, value: String| {
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(format!(":{name}"), s(value));
            filter.push(format!("#{name} = :{name}"));
        };
        if let Some(a) = q.action {
            add("action", a.as_str().to_owned());
        }
        if let Some(t) = &q.target {
            add("target", t.clone());
        }
        if let Some(k) = &q.key_id {
            add("key_id", k.to_string());
        }
        let limit = q.limit.clamp(1, 1000);
        let mut items: Vec<AuditEntry> = Vec::new();
        let mut start: Option<Item> = None;
        // A filtered page can come back short; read on, within a bound, to fill it.
        for _ in 0..20 {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .filter_expression(filter.join(" AND "))
                .set_expression_attribute_values(Some(values.clone()))
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .scan_index_forward(false)
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend("audit_entries"))?;
            for item in out.items.unwrap_or_default() {
                if get_s(&item, "sk") == Some(high.as_str()) {
                    continue;
                }
                items.push(read_doc(&item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() > limit {
                break;
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| e.id.clone())
        } else {
            // Stopped at the bound with more unread: go on from where reading stopped.
            start
                .as_ref()
                .and_then(|k| get_s(k, "sk"))
                .map(str::to_owned)
        };
        Ok(Page {
            items,
            next: next.map(|after| BTreeMap::from([("after".to_owned(), after)])),
        })
    }
}
