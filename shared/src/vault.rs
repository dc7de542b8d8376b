//! Integration credentials at rest: sealed on write, opened only by the deliver function.
//!
//! The real vault is KMS ([`KmsVault`]): `Encrypt` with the integration's account and id
//! as encryption context, so a ciphertext copied onto another integration does not open.
//! Only the management function may `kms:Encrypt` and only deliver may `kms:Decrypt`; the
//! logs function reads the same items and cannot open them. Credentials are small (a few
//! keys of under 4 KB in all), so KMS encrypts them directly, without data keys.
//!
//! Deliver caches opened credentials for a short time ([`CachedVault`]), keyed by the
//! integration and its `credentials_version`, so a rotation is picked up at once.

use crate::exchange::Credentials;
use crate::ids::{AccountId, IntegrationId};
use crate::keys::Secret;
use crate::model::{Integration, SealedCredentials};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Largest credential value KMS encrypts directly.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;

/// A vault failure.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key service refused or failed.
    #[error("key service call {operation} failed")]
    Backend {
        /// Which call.
        operation: &'static str,
        /// What it said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value does not fit.
    #[error("credential '{0}' is longer than {MAX_PLAINTEXT_BYTES} bytes")]
    TooLarge(String),
    /// A sealed value did not open.
    #[error("stored credential '{0}' is unreadable")]
    Unreadable(String),
}

/// Seals and opens credential values, one at a time.
pub trait Vault: Send + Sync {
    /// Seals one value for one integration; returns base64 ciphertext.
    fn seal_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        value: &str,
    ) -> impl Future<Output = Result<String, VaultError>> + Send;

    /// Opens one sealed value of an integration.
    fn open_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        ciphertext: &str,
    ) -> impl Future<Output = Result<Secret, VaultError>> + Send;

    /// Seals every value of a map.
    fn seal(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        credentials: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<SealedCredentials, VaultError>> + Send {
        async move {
            let mut sealed = SealedCredentials::default();
            for (name, value) in credentials {
                if value.len() > MAX_PLAINTEXT_BYTES {
                    return Err(VaultError::TooLarge(name.clone()));
                }
                let c = self.seal_value(account, integration, value).await?;
                sealed.values.insert(name.clone(), c);
            }
            Ok(sealed)
        }
    }

    /// Opens an integration's credentials (none sealed: empty).
    fn open(
        &self,
        integration: &Integration,
    ) -> impl Future<Output = Result<Credentials, VaultError>> + Send {
        async move {
            let mut out = Credentials::default();
            if let Some(sealed) = &integration.credentials {
                for (name, c) in &sealed.values {
                    let value = self
                        .open_value(&integration.account_id, &integration.id, c)
                        .await
                        .map_err(|e| match e {
                            VaultError::Unreadable(_) => VaultError::Unreadable(name.clone()),
                            other => other,
                        })?;
                    out.0.insert(name.clone(), value);
                }
            }
            Ok(out)
        }
    }
}

/// A vault for unit tests only: it "seals" by reversible scrambling bound to the
/// integration, which protects nothing. Never used outside tests and local tools.
#[derive(Debug, Default)]
pub struct InsecureTestVault;

impl InsecureTestVault {
    fn scramble(integration: &IntegrationId, bytes: &[u8]) -> Vec<u8> {
        let key = integration.as_str().as_bytes();
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % key.len()] ^ 0x5a)
            .collect()
    }
}

impl Vault for InsecureTestVault {
    async fn seal_value(
        &self,
        _account: &AccountId,
        integration: &IntegrationId,
        value: &str,
    ) -> Result<String, VaultError> {
        use base64::Engine;
        Ok(base64::engine::general_purpose::STANDARD
            .encode(Self::scramble(integration, value.as_bytes())))
    }

    async fn open_value(
        &self,
        _account: &AccountId,
        integration: &IntegrationId,
        ciphertext: &str,
    ) -> Result<Secret, VaultError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(ciphertext)
            .map_err(|_| VaultError::Unreadable(String::new()))?;
        String::from_utf8(Self::scramble(integration, &bytes))
            .map(Secret::new)
            .map_err(|_| VaultError::Unreadable(String::new()))
    }
}

/// A vault in front of another, remembering opened credentials for `ttl`.
#[derive(Debug)]
pub struct CachedVault<V> {
    inner: V,
    ttl: Duration,
    cache: Mutex<HashMap<(IntegrationId, u32), (Instant, Credentials)>>,
}

impl<V: Vault> CachedVault<V> {
    /// Caches `inner`'s openings for `ttl`.
    pub fn new(inner: V, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The vault behind the cache.
    pub fn inner(&self) -> &V {
        &self.inner
    }
}

impl<V: Vault> Vault for CachedVault<V> {
    fn seal_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        value: &str,
    ) -> impl Future<Output = Result<String, VaultError>> + Send {
        self.inner.seal_value(account, integration, value)
    }

    fn open_value(
        &self,
        account: &AccountId,
        integration: &IntegrationId,
        ciphertext: &str,
    ) -> impl Future<Output = Result<Secret, VaultError>> + Send {
        self.inner.open_value(account, integration, ciphertext)
    }

    async fn open(&self, integration: &Integration) -> Result<Credentials, VaultError> {
        let key = (integration.id.clone(), integration.credentials_version);
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, creds)) = cache.get(&key) {
                if at.elapsed() < self.ttl {
                    return Ok(creds.clone());
                }
            }
        }
        let mut creds = Credentials::default();
        if let Some(sealed) = &integration.credentials {
            for (name, c) in &sealed.values {
                let value = self
                    .inner
                    .open_value(&integration.account_id, &integration.id, c)
                    .await
                    .map_err(|e| match e {
                        VaultError::Unreadable(_) => VaultError::Unreadable(name.clone()),
                        other => other,
                    })?;
                creds.0.insert(name.clone(), value);
            }
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
        cache.insert(key, (Instant::now(), creds.clone()));
        Ok(creds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IntegrationStatus;
    use leadrelay_explain::provider::Provider;

    #[tokio::test]
    async fn sealed_credentials_open_and_cache_per_version() {
        let vault = CachedVault::new(InsecureTestVault, Duration::from_secs(60));
        let account = AccountId::generate();
        let id = IntegrationId::generate();
        let creds = BTreeMap::from([("api_key".to_owned(), "k-123".to_owned())]);

        let sealed = vault.seal(&account, &id, &creds).await.unwrap();
        let mut integration = Integration {
            id,
            account_id: account,
            name: "x".into(),
            provider: Provider::Webhook,
            settings: Default::default(),
            credentials: Some(sealed.clone()),
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            created_at: 0,
            updated_at: 0,
            cooldown_until: None,
        };
        let opened = vault.open(&integration).await.unwrap();

        assert!(!sealed.values["api_key"].contains("k-123"));
        assert_eq!(sealed.names(), ["api_key"]);
        assert_eq!(opened.get("api_key").map(Secret::expose), Some("k-123"));
        integration.credentials = None;
        assert!(
            vault
                .open(&integration)
                .await
                .unwrap()
                .get("api_key")
                .is_some(),
            "cached"
        );
        integration.credentials_version = 2;
        assert!(
            vault
                .open(&integration)
                .await
                .unwrap()
                .get("api_key")
                .is_none(),
            "new version re-opened"
        );
    }
}
