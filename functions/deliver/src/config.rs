//! Configuration from the environment, read once at start.

use leadrelay::egress::{loopback_allowed_here, EgressPolicy, LoopbackRefused};
use leadrelay::schedule::RetrySchedule;
use std::time::Duration;

/// What the deliver function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue (for retries).
    pub queue_url: String,
    /// The retry schedule (`RETRY_SCHEDULE_S`, seconds, comma-separated).
    pub schedule: RetrySchedule,
    /// One attempt's limit (`ATTEMPT_TIMEOUT_S`, default 15).
    pub attempt_timeout: Duration,
    /// Messages of a batch handled at once (`BATCH_CONCURRENCY`, default 10).
    pub concurrency: usize,
    /// Loopback and plain HTTP allowed (`EGRESS_ALLOW_LOOPBACK=true`: local runs only;
    /// refused under AWS Lambda, see [`leadrelay::egress::loopback_allowed`]).
    pub egress: EgressPolicy,
    /// How long opened credentials are kept (`CREDENTIALS_CACHE_S`, default 300).
    pub credentials_cache: Duration,
}

/// A missing or unusable setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required and absent.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// Present and unreadable.
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
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

fn number(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| ConfigError::Invalid(name, v)),
        _ => Ok(default),
    }
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let schedule = match std::env::var("RETRY_SCHEDULE_S") {
            Ok(v) if !v.is_empty() => RetrySchedule::parse(&v)
                .map_err(|e| ConfigError::Invalid("RETRY_SCHEDULE_S", e.to_string()))?,
            _ => RetrySchedule::default(),
        };
        let loopback = loopback_allowed_here()?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
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
