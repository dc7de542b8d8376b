//! Configuration from the environment, read once at start.

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

/// A missing setting.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is required")]
pub struct ConfigError(pub &'static str);

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError(name))
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
