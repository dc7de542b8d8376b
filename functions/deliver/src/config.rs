//! Configuration from the environment, read once at start.

pub use apikit::config::ConfigError;
use apikit::config::{number, optional, required};
use leadrelay::egress::{loopback_allowed_here, EgressPolicy};
use leadrelay::schedule::RetrySchedule;
use std::time::Duration;

/// What the deliver function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue (for retries).
    pub queue_url: String,
    /// The KMS key credentials were sealed with (`KMS_KEY_ID`; may be empty: opening
    /// reads the key from the sealed blob).
    pub kms_key_id: String,
    /// The retry schedule (`RETRY_SCHEDULE_S`, seconds, comma-separated).
    pub schedule: RetrySchedule,
    /// One attempt's limit (`ATTEMPT_TIMEOUT_S`, default 15).
    pub attempt_timeout: Duration,
    /// Messages of a batch handled at once (`BATCH_CONCURRENCY`, default 10, kept within
    /// 1 to 100).
    pub concurrency: usize,
    /// Loopback and plain HTTP allowed (`EGRESS_ALLOW_LOOPBACK=true`: local runs only;
    /// refused under AWS Lambda, see [`leadrelay::egress::loopback_allowed`]).
    pub egress: EgressPolicy,
    /// How long opened credentials are kept (`CREDENTIALS_CACHE_S`, default 300).
    pub credentials_cache: Duration,
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let schedule = match optional("RETRY_SCHEDULE_S") {
            Some(v) => RetrySchedule::parse(&v)
                .map_err(|e| ConfigError::Invalid("RETRY_SCHEDULE_S", e.to_string()))?,
            None => RetrySchedule::default(),
        };
        let loopback = loopback_allowed_here().map_err(ConfigError::refused)?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            kms_key_id: optional("KMS_KEY_ID").unwrap_or_default(),
            schedule,
            attempt_timeout: Duration::from_secs(number("ATTEMPT_TIMEOUT_S", 15)?),
            concurrency: number("BATCH_CONCURRENCY", 10)?.clamp(1, 100) as usize,
            egress: EgressPolicy {
                allow_loopback: loopback,
                allow_http: loopback,
            },
            credentials_cache: Duration::from_secs(number("CREDENTIALS_CACHE_S", 300)?),
        })
    }
}
