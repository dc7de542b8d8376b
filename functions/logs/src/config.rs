//! Configuration from the environment, read once at start.

pub use apikit::config::ConfigError;
use apikit::config::{number_in, required};
use leadrelay::keys::Secret;

/// What the logs function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue (for resends).
    pub queue_url: String,
    /// The key that seals page cursors (`CURSOR_SECRET`).
    pub cursor_secret: Secret,
    /// How long audit entries of resends are kept (`AUDIT_RETENTION_DAYS`, 1 to 3650,
    /// default 365).
    pub audit_retention_days: u32,
}

impl Config {
    /// Reads `TABLE_NAME`, `QUEUE_URL`, `CURSOR_SECRET` and `AUDIT_RETENTION_DAYS`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            cursor_secret: Secret::new(required("CURSOR_SECRET")?),
            audit_retention_days: number_in(
                "AUDIT_RETENTION_DAYS",
                leadrelay::audit::DEFAULT_RETENTION_DAYS.into(),
                1..=3650,
            )? as u32,
        })
    }
}
