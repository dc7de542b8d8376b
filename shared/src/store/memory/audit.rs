//! The audit log in memory.

use super::MemoryStore;
use crate::audit::{AuditEntry, AuditQuery};
use crate::clock;
use crate::store::{AuditStore, Page, StoreError};
use std::collections::BTreeMap;

impl AuditStore for MemoryStore {
    async fn put_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.check("put_audit")?;
        self.lock()
            .audit
            .insert((entry.account_id.clone(), entry.id.clone()), entry.clone());
        Ok(())
    }

    async fn audit_entries(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, StoreError> {
        self.check("audit_entries")?;
        let now_s = clock::now_ms() / 1000;
        let inner = self.lock();
        let mut items: Vec<AuditEntry> = inner
            .audit
            .values()
            .rev()
            .filter(|e| e.expires_at > now_s && query.matches(e))
            .take(query.limit + 1)
            .cloned()
            .collect();
        let next = (items.len() > query.limit).then(|| {
            items.truncate(query.limit);
            let last = items.last().map(|e| e.id.clone()).unwrap_or_default();
            BTreeMap::from([("after".to_owned(), last)])
        });
        Ok(Page { items, next })
    }
}
