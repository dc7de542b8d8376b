//! Campaigns and integrations on the table.

use super::*;

impl CampaignStore for DynamoStore {
    async fn put_campaign(&self, c: &Campaign) -> Result<(), StoreError> {
        let item = doc_item(account_pk(&c.account_id), format!("CMP#{}", c.id), c);
        self.put(item, "put_campaign").await
    }

    async fn campaign(
        &self,
        account: &AccountId,
        id: &CampaignId,
    ) -> Result<Option<Campaign>, StoreError> {
        self.get_doc(account_pk(account), format!("CMP#{id}"), "campaign")
            .await
    }

    async fn list_campaigns(&self, account: &AccountId) -> Result<Vec<Campaign>, StoreError> {
        self.list_docs(account_pk(account), "CMP#", "list_campaigns")
            .await
    }

    async fn put_integration(&self, i: &Integration) -> Result<(), StoreError> {
        self.put(integration_item(i), "put_integration").await
    }

    async fn change_integration(&self, next: &Integration) -> Result<bool, StoreError> {
        let Some(read) = next.version.checked_sub(1) else {
            return Ok(false);
        };
        // An item written before versions existed has none: it reads as version 0.
        let condition = if read == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(int_version) OR int_version = :v)"
        } else {
            "int_version = :v"
        };
        self.put_if(
            integration_item(next),
            condition,
            &[(":v", n(read))],
            "change_integration",
        )
        .await
    }

    async fn integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        self.get_doc(account_pk(account), format!("INT#{id}"), "integration")
            .await
    }

    async fn list_integrations(&self, account: &AccountId) -> Result<Vec<Integration>, StoreError> {
        self.list_docs(account_pk(account), "INT#", "list_integrations")
            .await
    }

    async fn delete_integration(
        &self,
        account: &AccountId,
        id: &IntegrationId,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(account_pk(account), format!("INT#{id}"))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend("delete_integration"))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
