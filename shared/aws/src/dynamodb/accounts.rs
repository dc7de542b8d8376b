//! Accounts and their API keys on the table.

use super::*;

impl AccountStore for DynamoStore {
    async fn put_account(&self, account: &Account) -> Result<(), StoreError> {
        let pk = account_pk(&account.id);
        self.put(doc_item(pk, "ACC".into(), account), "put_account")
            .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        self.get_doc(account_pk(id), "ACC".into(), "account").await
    }

    async fn put_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let by_hash = Put::builder()
            .table_name(&self.table)
            .set_item(Some(doc_item(
                format!("KEYHASH#{}", k.hash),
                "KEY".into(),
                k,
            )))
            .build()
            .map_err(backend("put_key"))?;
        let listed = Put::builder()
            .table_name(&self.table)
            .set_item(Some(doc_item(
                account_pk(&k.account_id),
                format!("KEY#{}", k.id),
                k,
            )))
            .build()
            .map_err(backend("put_key"))?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(by_hash).build())
            .transact_items(TransactWriteItem::builder().put(listed).build())
            .send()
            .await
            .map_err(backend("put_key"))?;
        Ok(())
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_doc(format!("KEYHASH#{hash}"), "KEY".into(), "key_by_hash")
            .await
    }

    async fn list_keys(&self, account: &AccountId) -> Result<Vec<ApiKey>, StoreError> {
        self.list_docs(account_pk(account), "KEY#", "list_keys")
            .await
    }

    async fn delete_key(&self, account: &AccountId, id: &KeyId) -> Result<bool, StoreError> {
        let Some(item) = self
            .get(account_pk(account), format!("KEY#{id}"), "delete_key")
            .await?
        else {
            return Ok(false);
        };
        let k: ApiKey = read_doc(&item)?;
        let del = |pk: String, sk: String| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .build()
                .map_err(backend("delete_key"))
        };
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .delete(del(format!("KEYHASH#{}", k.hash), "KEY".into())?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .delete(del(account_pk(account), format!("KEY#{id}"))?)
                    .build(),
            )
            .send()
            .await
            .map_err(backend("delete_key"))?;
        Ok(true)
    }
}
