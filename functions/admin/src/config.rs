//! Configuration from the environment, read once at start.

use leadrelay::egress::{loopback_allowed_here, EgressPolicy, LoopbackRefused};
use std::time::Duration;

/// What the admin function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue (resuming paused integrations, test sends).
    pub queue_url: String,
    /// The KMS key that seals credentials (`KMS_KEY_ID`).
    pub kms_key_id: String,
    /// Loopback and plain HTTP allowed as destinations (`EGRESS_ALLOW_LOOPBACK=true`:
    /// local runs only; refused under AWS Lambda, see
    /// [`leadrelay::egress::loopback_allowed`]).
    pub egress: EgressPolicy,
    /// One test attempt's limit (`ATTEMPT_TIMEOUT_S`, default 15).
    pub attempt_timeout: Duration,
}

/// A missing or refused setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required and absent.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// `EGRESS_ALLOW_LOOPBACK` outside a local run.
    #[error(transparent)]
    Loopback(#[from] LoopbackRefused),
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(name))
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let loopback = loopback_allowed_here()?;
        let timeout = std::env::var("ATTEMPT_TIMEOUT_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(15);
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            kms_key_id: required("KMS_KEY_ID")?,
            egress: EgressPolicy {
                allow_loopback: loopback,
                allow_http: loopback,
            },
            attempt_timeout: Duration::from_secs(timeout),
        })
    }
}
