//! Configuration from the environment, read once at start.

use apikit::config::required;
pub use apikit::config::ConfigError;

/// What the ingest function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue.
    pub queue_url: String,
}

impl Config {
    /// Reads `TABLE_NAME` and `QUEUE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
        })
    }
}
