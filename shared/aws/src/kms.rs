//! The vault on AWS KMS: integration secrets sealed with one KMS key, each bound to its
//! account and integration by the encryption context (a ciphertext moved to another
//! integration does not open).

use leadrelay::ids::{AccountId, IntegrationId};
use leadrelay::keys::Secret;
use leadrelay::vault::{Vault, VaultError};

/// The KMS vault.
#[derive(Debug, Clone)]
pub struct KmsVault {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsVault {
    /// A vault sealing with the KMS key `key_id` (id, ARN or alias).
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

impl Vault for KmsVault {
    async fn seal_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        value: &str,
    ) -> Result<String, VaultError> {
        use base64::Engine;
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(value.as_bytes()))
            .encryption_context("account_id", account.as_str())
            .encryption_context("integration_id", integration.as_str())
            .send()
            .await
            .map_err(|e| VaultError::Backend {
                operation: "encrypt",
                source: Box::new(e),
            })?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| VaultError::Unreadable(String::new()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob.as_ref()))
    }

    async fn open_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        ciphertext: &str,
    ) -> Result<Secret, VaultError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(ciphertext)
            .map_err(|_| VaultError::Unreadable(String::new()))?;
        let out = self
            .client
            .decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(bytes))
            .encryption_context("account_id", account.as_str())
            .encryption_context("integration_id", integration.as_str())
            .send()
            .await
            .map_err(|e| VaultError::Backend {
                operation: "decrypt",
                source: Box::new(e),
            })?;
        let plain = out
            .plaintext
            .ok_or_else(|| VaultError::Unreadable(String::new()))?;
        String::from_utf8(plain.into_inner())
            .map(Secret::new)
            .map_err(|_| VaultError::Unreadable(String::new()))
    }
}
