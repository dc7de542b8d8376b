//! Configuration from the environment, read once at start.

pub use apikit::config::ConfigError;
use apikit::config::{number, number_in, required};
use leadrelay::egress::{loopback_allowed_here, EgressPolicy};
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
    /// One test attempt's limit (`ATTEMPT_TIMEOUT_S`, default 15; a value that is not a
    /// whole number is refused, as the deliver function refuses it).
    pub attempt_timeout: Duration,
    /// How long audit entries are kept (`AUDIT_RETENTION_DAYS`, 1 to 3650, default 365).
    pub audit_retention_days: u32,
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let loopback = loopback_allowed_here().map_err(ConfigError::refused)?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            kms_key_id: required("KMS_KEY_ID")?,
            egress: EgressPolicy {
                allow_loopback: loopback,
                allow_http: loopback,
            },
            attempt_timeout: Duration::from_secs(number("ATTEMPT_TIMEOUT_S", 15)?),
            audit_retention_days: number_in(
                "AUDIT_RETENTION_DAYS",
                leadrelay::audit::DEFAULT_RETENTION_DAYS.into(),
                1..=3650,
            )? as u32,
        })
    }
}
