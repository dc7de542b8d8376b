//! Configuration from the environment, read once at start.

use apikit::config::required;
pub use apikit::config::ConfigError;
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
}

impl Config {
    /// Reads `TABLE_NAME`, `QUEUE_URL` and `CURSOR_SECRET`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            cursor_secret: Secret::new(required("CURSOR_SECRET")?),
        })
    }
}
